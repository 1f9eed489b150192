"""``letta-contract``: run the suite, print the OpenAPI document, list the checks."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from contract_tests.options import OPTIONS, config_from

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="letta-contract",
        description="Conformance suite for Letta's Send Message Async endpoint. "
        "Exit codes: 0 conforming, 1 violations found, 2 usage or connection error.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Test a server against the contract.")
    for name, kwargs in OPTIONS:
        run.add_argument(f"--{name}", **kwargs)
    run.add_argument("-v", "--verbose", action="store_true", help="Show divergences as found.")
    spec = commands.add_parser("openapi", help="Print the generated OpenAPI document (JSON).")
    spec.add_argument("--server-url", default="http://127.0.0.1:8283")
    commands.add_parser("list-checks", help="List the checks and what each verifies.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "openapi":
        from schemas.openapi import build_openapi

        print(json.dumps(build_openapi(args.server_url), indent=2, ensure_ascii=False))
        return 0
    if args.command == "list-checks":
        from contract_tests.checks.registry import all_checks

        checks = all_checks()
        width = max(len(n) for n in checks)
        for name, check in checks.items():
            print(f"{name:<{width}}  {check.purpose}")
        return 0
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        config = config_from(vars(args))
    except ValueError as exc:
        print(f"letta-contract: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from contract_tests.engine import run_suite
    from contract_tests.events import Listener
    from contract_tests.reporting import ConsoleReporter, JsonReporter, JUnitReporter

    listeners: list[Listener] = [ConsoleReporter(sys.stdout, verbose=args.verbose)]
    if args.junit_xml:
        listeners.append(JUnitReporter(args.junit_xml))
    if args.report:
        listeners.append(JsonReporter(args.report))
    return run_suite(config, listeners).exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
