"""``letta-mock``: serve the mock (waitress or Granian). Flags override the config file's values."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from letta_contract_kit.mockserver.compat import COMPAT_PROFILE, QUIRK_NAMES, quirk_table
from letta_contract_kit.mockserver.config import (
    CLOCK_MODES,
    DEFAULT_PORT,
    DEFAULT_THREADS,
    LOG_FORMATS,
    PROFILES,
    REPLAY_MISSES,
    ROUTE_SETS,
    SERVER_KINDS,
    STORE_KINDS,
    MockConfig,
    Timings,
    config_from_mapping,
    load_config_file,
)

EXIT_USAGE = 2
# What a program killed by SIGPIPE exits with: the reader of its output left early.
EXIT_CLOSED_PIPE = 141

EXAMPLES = """\
examples:
  letta-mock --clock per-poll --agent agent-123e4567-e89b-42d3-8456-426614174000
  letta-mock --port 0 --auto-agents --log-requests --log-format json
  letta-mock --compat letta-0.16.8 --no-quirk string-422-detail
  letta-mock --server granian --workers 2 --threads 1 --store lmdb --lmdb-path runs.lmdb
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The examples as written, and every flag's default: argparse's, unless the help says it
    (where it depends on other flags, or there is none)."""

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


def build_parser(*, given_only: bool = False) -> argparse.ArgumentParser:
    """The flags, grouped as ``--help`` shows them.

    ``given_only``: without defaults, so that parsing yields only the flags given (they win
    over a config file's values, which the defaults must not).
    """
    defaults = MockConfig()
    timings = Timings()

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if given_only else value

    parser = argparse.ArgumentParser(
        prog="letta-mock",
        description="A stateful mock of Letta's Send Message Async endpoint and its runs. "
        "Flags win over the config file's values.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
        argument_default=argparse.SUPPRESS if given_only else None,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a JSON (.json) or TOML config file; flags win over it (default: none)",
    )
    parser.add_argument("--version", action="version", version=f"letta-mock {kit_version()}")

    server = parser.add_argument_group("server", "where and how it serves")
    add = server.add_argument
    add("--host", default=default(defaults.host), help="address to bind")
    add("--port", type=int, default=default(DEFAULT_PORT), help="port to bind; 0 picks a free one")
    add(
        "--server",
        choices=SERVER_KINDS,
        default=default(defaults.server),
        help="the HTTP server: waitress (pure Python, JSON errors even for broken HTTP) or "
        "granian (HTTP parsed in Rust, faster, the app in --workers processes)",
    )
    add(
        "--threads",
        type=int,
        help="threads that run the app (default: "
        + ", ".join(f"{v} under {k}" for k, v in DEFAULT_THREADS.items())
        + ")",
    )
    add(
        "--workers",
        type=int,
        default=default(defaults.workers),
        help="processes that serve requests; more than one needs --server granian and a "
        "shared store (--store lmdb, sqlite or redis)",
    )
    add(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        default=default(defaults.idle_timeout),
        help="a connection silent this long is closed, and a request not received whole "
        "this long after its first byte is answered 408",
    )
    add(
        "--max-connections",
        type=int,
        default=default(defaults.max_connections),
        help="open connections waitress accepts (fewer if the open-file limit is lower); "
        "more wait to be accepted",
    )
    add(
        "--max-body-bytes",
        type=int,
        default=default(defaults.max_body_bytes),
        help="larger bodies get 413",
    )
    add(
        "--routes",
        choices=ROUTE_SETS,
        default=default(defaults.routes),
        help="all, or minimal: only the contract's routes (the async POST, the run routes and "
        "cancel); agent create/retrieve, health and /openapi.json answer 404",
    )
    add(
        "--server-version",
        default=default(defaults.server_version),
        help="version GET /v1/health/ reports",
    )
    add(
        "--token",
        help="require 'Authorization: Bearer TOKEN' on every /v1 route but health "
        "(default: none, no token needed)",
    )

    lifecycle = parser.add_argument_group("lifecycle", "agents, clocks and how runs end")
    add = lifecycle.add_argument
    add(
        "--agent",
        dest="agents",
        action="append",
        metavar="AGENT_ID",
        help="pre-seed this agent id (repeatable; default: none)",
    )
    add(
        "--auto-agents",
        action="store_true",
        help="create an unknown well-formed agent id on first use instead of answering 404",
    )
    add(
        "--clock",
        choices=CLOCK_MODES,
        default=default(defaults.clock),
        help="wall (real time), virtual (moved by POST /_mock/clock/advance) or per-poll "
        "(each GET of a run moves it one phase)",
    )
    add(
        "--queued-seconds",
        type=float,
        help=f"time a run stays created (default: {timings.queued}; with per-poll: 1 poll)",
    )
    add(
        "--running-seconds",
        type=float,
        help=f"time a run stays running (default: {timings.running}; with per-poll: 1 poll)",
    )
    add(
        "--slow-seconds",
        type=float,
        help=f"running time of the 'slow' scenario (default: {timings.slow_running}; "
        "with per-poll: 5 polls)",
    )
    add(
        "--scenario",
        default=default(defaults.scenario),
        help="default scenario of every run, e.g. fail:llm_api_error or slow",
    )

    store = parser.add_argument_group("store", "where runs live")
    add = store.add_argument
    add("--store", choices=STORE_KINDS, default=default(defaults.store), help="the store of runs")
    add("--sqlite-path", metavar="FILE", help="the SQLite file of --store sqlite (default: none)")
    add("--lmdb-path", metavar="FILE", help="the LMDB file of --store lmdb (default: none)")
    add(
        "--redis-url",
        metavar="URL",
        help="the Redis of --store redis, e.g. redis://host:6379/0; replicas given the same "
        "URL and prefix share their runs (default: none)",
    )
    add(
        "--redis-prefix",
        metavar="PREFIX",
        default=default(defaults.redis_prefix),
        help="the start of every key of --store redis, so that several mocks share one Redis",
    )
    add(
        "--max-runs",
        type=int,
        default=default(defaults.max_runs),
        help="runs kept; the oldest ended runs are evicted first",
    )
    add(
        "--max-store-bytes",
        type=int,
        default=default(defaults.max_store_bytes),
        metavar="BYTES",
        help="bytes of stored runs kept (each keeps its request body); the oldest ended runs "
        "are evicted first",
    )

    callbacks = parser.add_argument_group("callbacks", "the POST a run with callback_url sends")
    add = callbacks.add_argument
    add(
        "--callback-timeout",
        type=float,
        default=default(defaults.callback_timeout),
        help="seconds a callback may take",
    )
    add(
        "--callback-host",
        dest="callback_hosts",
        action="append",
        metavar="HOST",
        help="a host callbacks may go to (repeatable; 'loopback' = any loopback address, "
        "'*' = any host; default: loopback and localhost)",
    )

    compat = parser.add_argument_group(
        "compat", "the documented contract, or a real server's quirks"
    )
    add = compat.add_argument
    add(
        "--profile",
        choices=PROFILES,
        default=default(defaults.profile),
        help="strict (the documented contract) or a compatibility profile",
    )
    add(
        "--compat",
        dest="profile",
        choices=[p for p in PROFILES if p != defaults.profile],
        default=argparse.SUPPRESS,
        help=f"reproduce a real server's quirks, e.g. --compat {COMPAT_PROFILE} "
        "(the same as --profile)",
    )
    add(
        "--quirk",
        dest="quirks",
        action="append",
        choices=sorted(QUIRK_NAMES),
        metavar="NAME",
        help="switch one quirk on, over the profile (repeatable; --list-quirks names them; "
        "default: the profile's)",
    )
    add(
        "--no-quirk",
        dest="no_quirks",
        action="append",
        choices=sorted(QUIRK_NAMES),
        metavar="NAME",
        help="switch one quirk off (repeatable; wins over --quirk; default: none)",
    )
    add(
        "--list-quirks",
        action="store_true",
        default=argparse.SUPPRESS,
        help="list the quirks and their profiles, and exit",
    )
    add(
        "--image-host",
        dest="image_hosts",
        action="append",
        metavar="HOST",
        help="a host whose image URLs count as fetchable under the "
        "image-url-fetched-in-background quirk (repeatable; '*' = any; default: none)",
    )

    faults = parser.add_argument_group("faults", "errors and delays injected at random")
    add = faults.add_argument
    add(
        "--fault-rate",
        type=float,
        default=default(defaults.fault_rate),
        help="share (0..1) of /v1 requests that get a random fault",
    )
    add(
        "--fault",
        dest="faults",
        action="append",
        metavar="FAULT",
        help="a fault the rate picks from (repeatable): latency:SECONDS, 5xx code, 429[:SECONDS], "
        "drop (default: 500)",
    )
    add(
        "--fault-seed",
        type=int,
        help="seed of the fault picker, for reproducible runs (default: random)",
    )

    admin = parser.add_argument_group("admin", "the test-double controls under /_mock")
    add = admin.add_argument
    add(
        "--admin-token",
        help="require 'Authorization: Bearer TOKEN' on the /_mock routes (default: none, open)",
    )
    add(
        "--journal-size",
        type=int,
        default=default(defaults.journal_size),
        help="requests kept in the journal (GET /_mock/requests)",
    )
    add(
        "--journal-body-bytes",
        type=int,
        default=default(defaults.journal_body_bytes),
        help="bytes of each request body the journal keeps",
    )

    replay = parser.add_argument_group(
        "replay", "answers recorded by letta-contract proxy --record (docs/mock.md)"
    )
    add = replay.add_argument
    add(
        "--replay",
        metavar="FILE",
        help="answer the requests this cassette recorded as they were answered: matched by "
        "method, path, query and body (JSON by value), not headers; a recorded POST answers "
        "once, a GET gives the next recorded answer, then the last again (default: none)",
    )
    add(
        "--replay-miss",
        choices=REPLAY_MISSES,
        default=default(defaults.replay_miss),
        help="who answers a request the cassette does not cover (or whose recorded answers "
        "are used up): mock (the mock, as without --replay) or 404 (a JSON 404 naming it)",
    )

    logging = parser.add_argument_group("logging", "what it writes on stderr")
    add = logging.add_argument
    add(
        "-v",
        "--log-requests",
        action="store_true",
        help="one line per request: method, path, status, milliseconds, run id",
    )
    add(
        "--log-format",
        choices=LOG_FORMATS,
        default=default(defaults.log_format),
        help="text, or json: one JSON object per line",
    )
    return parser


def config_from_args(argv: list[str] | None = None) -> MockConfig:
    build_parser().parse_args(argv)  # --help (with the defaults), --version, bad flags: exit
    args = vars(build_parser(given_only=True).parse_args(argv))
    args.pop("list_quirks", None)
    path = args.pop("config", None)
    base = load_config_file(path) if path else MockConfig()
    timing_flags = {
        "queued": args.pop("queued_seconds", None),
        "running": args.pop("running_seconds", None),
        "slow_running": args.pop("slow_seconds", None),
    }
    known = {f.name for f in fields(MockConfig)}
    overrides: dict[str, Any] = {k: v for k, v in args.items() if v is not None and k in known}
    config = config_from_mapping(overrides, base)
    given = {k: v for k, v in timing_flags.items() if v is not None}
    if given:
        config = replace(config, timings=replace(config.phase_timings, **given))
    if config.port is None:
        config = replace(config, port=DEFAULT_PORT)
    return config


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader of stdout left (``letta-mock --list-quirks | head -1``): no traceback.
        # What is still buffered goes to devnull, as the Python docs' recipe does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED_PIPE
    return code


def _main(argv: list[str]) -> int:
    if "--list-quirks" in argv:
        print(quirk_table())
        return 0
    try:
        config = config_from_args(argv)
    except OSError as exc:
        print(
            f"letta-mock: cannot read the config file {exc.filename}: {exc.strerror}; "
            "check the --config path.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except ValueError as exc:
        print(f"letta-mock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from letta_contract_kit.mockserver.server import serve

    try:
        if config.replay:  # what the cassette holds, and what of it is not replayed
            from letta_contract_kit.mockserver.cassettes import read

            print(f"letta-mock: {read(config.replay).summary()}", file=sys.stderr, flush=True)
        serve(config)
    except KeyboardInterrupt:
        return 0
    except ValueError as exc:  # e.g. a SQLite file of another version
        print(f"letta-mock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"letta-mock: cannot serve on {config.host}:{config.port}: {exc.strerror or exc}; "
            "choose another --host or --port (0 picks a free one).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
