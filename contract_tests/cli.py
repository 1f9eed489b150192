"""``letta-contract``: run the suite, list its checks and their sources, show what a run
covered, print the OpenAPI document, proxy an application's traffic."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from letta_contract_kit.contract_tests.options import OPTIONS, config_from

EXIT_USAGE = 2
# What a program killed by SIGPIPE exits with: the reader of its output left early.
EXIT_CLOSED_PIPE = 141
REQUIRED = ("base-url",)

RUN_EXAMPLES = """\
examples:
  letta-contract run --base-url http://127.0.0.1:8283 --profile quick
  letta-contract run --base-url https://staging.example.com --agent-id agent-... \\
      --rate-limit 5/s --max-runs 50 --report contract.json --junit-xml contract.xml
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The examples as written, and every option's default: argparse's, unless the help says
    it (where it depends on other options, or there is none)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def kit_version() -> str:
    """The installed kit's version (``unknown`` when run from a tree that is not installed)."""
    try:
        return version("letta-contract-kit")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="letta-contract",
        description="Conformance suite for Letta's Send Message Async endpoint. "
        "Exit codes: 0 conforming, 1 violations found, 2 usage or connection error.",
    )
    parser.add_argument("--version", action="version", version=f"letta-contract {kit_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="Test a server against the contract.",
        description="Test a server against the contract. Exit codes: 0 conforming, "
        "1 violations found, 2 usage or connection error, 130 interrupted.",
        epilog=RUN_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    required = run.add_argument_group("required")
    for name, kwargs in OPTIONS:
        if name in REQUIRED:
            marked = {**kwargs, "help": f"{kwargs['help']} (required)."}
            required.add_argument(f"--{name}", required=True, **marked)
        else:
            run.add_argument(f"--{name}", **kwargs)
    run.add_argument(
        "-v", "--verbose", action="store_true", help="Show divergences as found (default: off)."
    )
    spec = commands.add_parser("openapi", help="Print the generated OpenAPI document (JSON).")
    spec.add_argument("--server-url", default="http://127.0.0.1:8283")
    listing = commands.add_parser("list-checks", help="List the checks and what each verifies.")
    listing.add_argument(
        "--verbose", action="store_true", help="Also list each check's rules and their sources."
    )
    table = commands.add_parser(
        "coverage", help="Show what a run exercised, from its JSON report (--report)."
    )
    table.add_argument("report", metavar="REPORT", help="A JSON report of `letta-contract run`.")
    table.add_argument("--all", action="store_true", help="List every element, not only gaps.")
    _proxy_parser(commands)
    return parser


def _proxy_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proxy = commands.add_parser(
        "proxy",
        help="Forward an application's traffic to a server and judge it against the contract.",
        description="Forward every request to --upstream unchanged, judge the contract's "
        "exchanges with the suite's checks (findings on stderr as they happen) and write the "
        "reports on exit (Ctrl-C or SIGTERM). Exit codes: 0 no violation, 1 violations "
        "found (or client findings, with --fail-on-client), 2 the proxy could not start.",
        formatter_class=HelpFormatter,
    )
    proxy.add_argument("--upstream", required=True, metavar="URL", help="The server (required).")
    proxy.add_argument("--host", default="127.0.0.1", help="The address to listen on.")
    proxy.add_argument("--port", type=int, default=8299, help="The port (0: any free one).")
    proxy.add_argument("--report", metavar="FILE", help="Write the JSON report here on exit.")
    proxy.add_argument("--junit-xml", metavar="FILE", help="Write JUnit XML here on exit.")
    proxy.add_argument(
        "--fail-on-violation",
        action="store_true",
        help="Add X-Letta-Contract-Violation: <rule ids> to violating answers (default: off; "
        "status and body stay the upstream's).",
    )
    proxy.add_argument(
        "--judge-inline",
        action="store_true",
        help="Judge each exchange before its answer goes back (default: off, judged in the "
        "background in the order answers ended; always on with --fail-on-violation).",
    )
    proxy.add_argument(
        "--record", metavar="FILE", help="Append each exchange to FILE as a JSON line."
    )
    proxy.add_argument(
        "--connections",
        type=int,
        metavar="N",
        help="Exchanges in flight at once (default: 100): each holds a connection to the "
        "upstream for as long as the upstream takes; further requests wait for a free one.",
    )
    proxy.add_argument(
        "--fail-on-client",
        action="store_true",
        help="Exit 1 also when the application sent a request the contract rejects (a "
        "client finding; default: off, the exit code counts the server's violations only).",
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader of stdout left (``letta-contract list-checks | head -1``): no traceback.
        # What is still buffered goes to devnull, as the Python docs' recipe does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED_PIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "openapi":
        from letta_contract_kit.schemas.openapi import build_openapi

        print(json.dumps(build_openapi(args.server_url), indent=2, ensure_ascii=False))
        return 0
    if args.command == "list-checks":
        return _list_checks(args.verbose)
    if args.command == "coverage":
        return _coverage(Path(args.report), args.all)
    if args.command == "proxy":
        from letta_contract_kit.contract_tests.proxy import ProxyConfig, run_proxy

        config = ProxyConfig(
            args.upstream,
            args.host,
            args.port,
            args.report,
            args.junit_xml,
            args.fail_on_violation,
            args.record,
            judge_inline=args.judge_inline,
            fail_on_client=args.fail_on_client,
            **({} if args.connections is None else {"connections": args.connections}),
        )
        return run_proxy(config)
    return _run(args)


def _list_checks(verbose: bool) -> int:
    from letta_contract_kit.contract_tests.checks.selection import all_checks

    checks = all_checks()
    width = max(len(n) for n in checks)
    for name, check in checks.items():
        print(f"{name:<{width}}  {check.purpose}")
        if verbose:
            for rule in check.rules:
                verdict = "violation" if rule.binding else "divergence"
                print(f"    - {rule.id} ({verdict}): {rule.text}")
                print(f"      source: {rule.source}")
    return 0


def _coverage(path: Path, show_all: bool) -> int:
    from letta_contract_kit.contract_tests.coverage import summary

    try:
        rows = json.loads(path.read_text("utf-8"))["coverage"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(
            f"letta-contract: error: {path} is not a report with a coverage table: {exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    for group, covered, total in summary(rows):
        print(f"{group:<16} {covered:>4} of {total:<4} exercised")
    shown = [r for r in rows if show_all or not r["covered"]]
    if shown:
        print()
    for row in shown:
        by = "; ".join(row["by"]) if row["by"] else "NOT EXERCISED"
        print(f"  {row['group']}: {row['element']} -> {by}")
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        config = config_from(vars(args))
    except ValueError as exc:
        print(f"letta-contract: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from letta_contract_kit.contract_tests.engine import run_suite
    from letta_contract_kit.contract_tests.events import Listener
    from letta_contract_kit.contract_tests.reporting import (
        ConsoleReporter,
        JsonReporter,
        JUnitReporter,
    )

    listeners: list[Listener] = [ConsoleReporter(sys.stdout, verbose=args.verbose)]
    if args.junit_xml:
        listeners.append(JUnitReporter(args.junit_xml))
    if args.report:
        listeners.append(JsonReporter(args.report))
    return run_suite(config, listeners).exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
