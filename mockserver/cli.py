"""``letta-mock``: serve the mock with waitress. Flags override the config file's values."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace
from typing import Any

from letta_contract_kit.mockserver.compat import COMPAT_PROFILE, QUIRK_NAMES, quirk_table
from letta_contract_kit.mockserver.config import (
    CLOCK_MODES,
    DEFAULT_THREADS,
    PROFILES,
    ROUTE_SETS,
    SERVER_KINDS,
    STORE_KINDS,
    MockConfig,
    Timings,
    config_from_mapping,
    load_config_file,
)

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    defaults = MockConfig()
    parser = argparse.ArgumentParser(
        prog="letta-mock",
        description="A stateful mock of Letta's Send Message Async endpoint and its runs.",
    )
    add = parser.add_argument
    add("--config", metavar="FILE", help="a JSON (.json) or TOML config file; flags win over it")
    add("--host", help=f"address to bind (default {defaults.host})")
    add("--port", type=int, help=f"port to bind (default {defaults.port}; 0 picks a free one)")
    add(
        "--agent",
        dest="agents",
        action="append",
        metavar="AGENT_ID",
        help="pre-seed this agent id (repeatable)",
    )
    add(
        "--auto-agents",
        action="store_true",
        default=None,
        help="create an unknown well-formed agent id on first use instead of answering 404",
    )
    add(
        "--clock",
        choices=CLOCK_MODES,
        help="wall (real time), virtual (moved by POST /_mock/clock/advance) or per-poll "
        "(each GET of a run moves it one phase); default wall",
    )
    add(
        "--queued-seconds",
        type=float,
        help=f"time a run stays created (default {Timings().queued}; polls with per-poll: 1)",
    )
    add(
        "--running-seconds",
        type=float,
        help=f"time a run stays running (default {Timings().running}; per-poll: 1)",
    )
    add(
        "--slow-seconds",
        type=float,
        help=f"running time of the 'slow' scenario (default {Timings().slow_running}; per-poll: 5)",
    )
    add("--scenario", help=f"default scenario of every run (default {defaults.scenario})")
    add(
        "--profile",
        choices=PROFILES,
        help="strict (the documented contract, default) or a compatibility profile",
    )
    add(
        "--compat",
        dest="profile",
        choices=[p for p in PROFILES if p != defaults.profile],
        help=f"reproduce a real server's quirks, e.g. --compat {COMPAT_PROFILE} "
        "(the same as --profile)",
    )
    add(
        "--quirk",
        dest="quirks",
        action="append",
        choices=sorted(QUIRK_NAMES),
        metavar="NAME",
        help="switch one quirk on, over the profile (repeatable; --list-quirks names them)",
    )
    add(
        "--no-quirk",
        dest="no_quirks",
        action="append",
        choices=sorted(QUIRK_NAMES),
        metavar="NAME",
        help="switch one quirk off (repeatable; wins over --quirk)",
    )
    add("--list-quirks", action="store_true", help="list the quirks and their profiles, and exit")
    add(
        "--image-host",
        dest="image_hosts",
        action="append",
        metavar="HOST",
        help="a host whose image URLs count as fetchable under the "
        "image-url-fetched-in-background quirk (repeatable; '*' = any; default none)",
    )
    add("--token", help="require 'Authorization: Bearer TOKEN' on every /v1 route but health")
    add("--admin-token", help="require 'Authorization: Bearer TOKEN' on the /_mock routes")
    add(
        "--max-body-bytes",
        type=int,
        help=f"larger bodies get 413 (default {defaults.max_body_bytes})",
    )
    add("--store", choices=STORE_KINDS, help="where runs live (default memory)")
    add("--sqlite-path", metavar="FILE", help="the SQLite file of --store sqlite")
    add("--lmdb-path", metavar="FILE", help="the LMDB file of --store lmdb")
    add(
        "--max-runs",
        type=int,
        help=f"runs kept; the oldest ended runs are evicted first (default {defaults.max_runs})",
    )
    add(
        "--callback-timeout",
        type=float,
        help=f"seconds a callback may take (default {defaults.callback_timeout})",
    )
    add(
        "--callback-host",
        dest="callback_hosts",
        action="append",
        metavar="HOST",
        help="a host callbacks may go to (repeatable; 'loopback' = any loopback address, "
        "'*' = any host; default loopback and localhost)",
    )
    add(
        "--fault-rate",
        type=float,
        help="share (0..1) of /v1 requests that get a random fault (default 0)",
    )
    add(
        "--fault",
        dest="faults",
        action="append",
        metavar="FAULT",
        help="a fault the rate picks from (repeatable): latency:SECONDS, 5xx code, 429[:SECONDS], "
        "drop (default 500)",
    )
    add("--fault-seed", type=int, help="seed of the fault picker, for reproducible runs")
    add(
        "--journal-size",
        type=int,
        help=f"requests kept in the journal (default {defaults.journal_size})",
    )
    add(
        "--journal-body-bytes",
        type=int,
        help=f"bytes of each request body the journal keeps (default {defaults.journal_body_bytes})",
    )
    add(
        "--routes",
        choices=ROUTE_SETS,
        help="all (default) or minimal: only the contract's routes (the async POST, the run "
        "routes and cancel); agent create/retrieve, health and /openapi.json answer 404",
    )
    add(
        "--server-version",
        help=f"version GET /v1/health/ reports (default {defaults.server_version})",
    )
    add(
        "--server",
        choices=SERVER_KINDS,
        help="the HTTP server: waitress (default; pure Python, JSON errors even for broken "
        "HTTP) or granian (HTTP parsed in Rust, faster, the app in --workers processes)",
    )
    add(
        "--threads",
        type=int,
        help="threads that run the app (default: "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_THREADS.items())
        + ")",
    )
    add(
        "--workers",
        type=int,
        help="processes that serve requests (default 1); more than one needs --server granian "
        "and a shared store (--store lmdb or sqlite)",
    )
    add(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="a connection silent this long is closed, and a request not received whole "
        f"this long after its first byte is answered 408 (default {defaults.idle_timeout:g})",
    )
    add(
        "--max-connections",
        type=int,
        help="open connections waitress accepts; more wait to be accepted (default "
        f"{defaults.max_connections}, or fewer if the open-file limit is lower)",
    )
    return parser


def config_from_args(argv: list[str] | None = None) -> MockConfig:
    args = vars(build_parser().parse_args(argv))
    args.pop("list_quirks")
    path = args.pop("config")
    base = load_config_file(path) if path else MockConfig()
    timing_flags = {
        "queued": args.pop("queued_seconds"),
        "running": args.pop("running_seconds"),
        "slow_running": args.pop("slow_seconds"),
    }
    known = {f.name for f in fields(MockConfig)}
    overrides: dict[str, Any] = {k: v for k, v in args.items() if v is not None and k in known}
    config = config_from_mapping(overrides, base)
    given = {k: v for k, v in timing_flags.items() if v is not None}
    if given:
        config = replace(config, timings=replace(config.phase_timings, **given))
    return config


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if "--list-quirks" in argv:
        print(quirk_table())
        return 0
    try:
        config = config_from_args(argv)
    except (ValueError, OSError) as exc:
        print(f"letta-mock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from letta_contract_kit.mockserver.server import serve

    try:
        serve(config)
    except KeyboardInterrupt:
        return 0
    except ValueError as exc:  # e.g. a SQLite file of another version
        print(f"letta-mock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"letta-mock: cannot serve on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
