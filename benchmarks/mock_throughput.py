"""Throughput, latency, CPU per request, start-up time and memory: the mock beside Prism.

    python -m benchmarks.mock_throughput            # full run, about 4 minutes
    python -m benchmarks.mock_throughput --smoke    # a few seconds per cell, to try the harness

The mock (``letta-mock``, on its default server waitress as ``mock``, with ``--server granian``
as ``mock-granian``, and as two Granian workers sharing an LMDB store as ``mock-workers``) and
Stoplight Prism (static and ``-d`` dynamic, mocking
the OpenAPI document generated from ``schemas/``) are measured; wrk drives ``POST .../messages/async`` with a
realistic body and ``GET /v1/runs/{id}`` spread over existing runs, at each concurrency. All
servers are measured in the same run, one after the other, and compared by ratio only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.processes import MissingTool, ServerProcess, console_script, free_port
from benchmarks.report import table, verdict, write_results
from benchmarks.workload import (
    AGENT_ID,
    AUTH_HEADERS,
    async_path,
    create_runs,
    new_run_id,
    realistic_body_text,
)
from benchmarks.wrk import WrkResult, get_script, post_script, run_wrk, wrk_version

HERE = Path(__file__).resolve().parent
GET_IDS = 1_000

# Goals the figures are reported against (never asserted in tests).
GOAL_POST_VS_PRISM_STATIC = 1.5
GOAL_POST_VS_PRISM_DYNAMIC = 4.0
GOAL_P99_MS_AT_64 = 50.0
GOAL_GET_VS_POST = 1.5
GOAL_STARTUP_S = 0.5


def prism_binary(explicit: str | None) -> str:
    """Where Prism is: ``--prism``, ``$PRISM``, ``benchmarks/.prism``, then ``$PATH``."""
    candidates = [
        explicit,
        os.environ.get("PRISM"),
        str(HERE / ".prism" / "node_modules" / ".bin" / "prism"),
        shutil.which("prism"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise MissingTool(
        "Stoplight Prism is not installed; install it with\n"
        "  npm install --prefix benchmarks/.prism @stoplight/prism-cli\n"
        "or point --prism / $PRISM at an existing prism executable"
    )


def write_openapi(folder: Path) -> Path:
    from letta_contract_kit.schemas.openapi import build_openapi

    path = folder / "openapi.json"
    path.write_text(json.dumps(build_openapi()))
    return path


@dataclass
class Target:
    """One server under test and how to start it on a given port."""

    name: str
    make: Callable[[int], ServerProcess]
    stores_runs: bool


# The mock's targets: name -> its flags beyond host, port and agent (``{store}``: a fresh
# file for each start). ``mock-workers``: two Granian workers sharing runs in one LMDB file,
# one thread each (measured best for two workers on two cores).
MOCK_SERVERS: dict[str, list[str]] = {
    "mock": ["--server", "waitress"],
    "mock-granian": ["--server", "granian"],
    "mock-workers": [
        *("--server", "granian", "--workers", "2", "--threads", "1"),
        *("--store", "lmdb", "--lmdb-path", "{store}"),
    ],
}


def targets(names: Sequence[str], prism: str | None, folder: Path) -> list[Target]:
    found: list[Target] = []
    mock = console_script("letta-mock") if set(MOCK_SERVERS) & set(names) else ""
    for name, flags in MOCK_SERVERS.items():
        if name not in names:
            continue

        def make_mock(port: int, name: str = name, flags: list[str] = flags) -> ServerProcess:
            store = folder / f"{name}-{port}.lmdb"
            argv = [mock, "--host", "127.0.0.1", "--port", str(port), "--agent", AGENT_ID]
            argv += [flag.replace("{store}", str(store)) for flag in flags]
            return ServerProcess(name, argv, port, log_path=folder / f"{name}.log")

        found.append(Target(name, make_mock, stores_runs=True))
    prism_names = [n for n in names if n.startswith("prism")]
    if prism_names:
        prism_bin = prism_binary(prism)
        document = write_openapi(folder)
        for name in prism_names:
            dynamic = name == "prism-dynamic"

            def make_prism(port: int, dynamic: bool = dynamic, name: str = name) -> ServerProcess:
                argv = [prism_bin, "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn"]
                argv += ["-d"] if dynamic else []
                argv.append(str(document))
                return ServerProcess(
                    name, argv, port, headers=AUTH_HEADERS, log_path=folder / f"{name}.log"
                )

            found.append(Target(name, make_prism, stores_runs=False))
    return found


def measure_cell(
    server: ServerProcess, script: str, connections: int, seconds: float, threads: int
) -> tuple[WrkResult, float]:
    """One wrk run; with the server's CPU microseconds per request over the same interval."""
    before = server.cpu_seconds()
    result = run_wrk(
        server.base_url, script, connections=connections, seconds=seconds, threads=threads
    )
    spent = server.cpu_seconds() - before
    per_request = spent / result.requests * 1e6 if result.requests else float("nan")
    return result, per_request


def measure_target(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    body = realistic_body_text()
    post = post_script(async_path(), body, AUTH_HEADERS)
    startups: list[float] = []
    for _ in range(args.startup_repeats - 1):
        server = target.make(free_port())
        startups.append(server.start())
        server.stop()
    server = target.make(free_port())
    startups.append(server.start())
    cells: list[dict[str, Any]] = []
    served = 0
    try:
        for connections in args.connections:
            result, cpu = measure_cell(server, post, connections, args.seconds, args.wrk_threads)
            served += result.requests
            cells.append(
                {
                    "endpoint": "POST async",
                    "connections": connections,
                    "cpu": cpu,
                    **result.as_dict(),
                }
            )
        if target.stores_runs:
            ids = create_runs(server.host, server.port, GET_IDS)
            served += GET_IDS
        else:
            ids = [new_run_id() for _ in range(GET_IDS)]
        get = get_script([f"/v1/runs/{run_id}" for run_id in ids], AUTH_HEADERS)
        for connections in args.connections:
            result, cpu = measure_cell(server, get, connections, args.seconds, args.wrk_threads)
            served += result.requests
            cells.append(
                {"endpoint": "GET run", "connections": connections, "cpu": cpu, **result.as_dict()}
            )
        # Top up to --rss-requests with GETs (the cheapest request for every target), for at
        # most --rss-seconds; the count actually served is reported beside the RSS.
        topping = time.monotonic()
        while served < args.rss_requests and time.monotonic() - topping < args.rss_seconds:
            left = args.rss_seconds - (time.monotonic() - topping)
            extra = run_wrk(
                server.base_url,
                get,
                connections=64,
                seconds=max(1.0, min(10.0, left)),
                threads=args.wrk_threads,
            )
            served += extra.requests
        rss = server.rss_bytes()
    finally:
        server.stop()
    return {
        "target": target.name,
        "startup_s": statistics.median(startups),
        "startup_all_s": startups,
        "requests_before_rss": served,
        "rss_mb": rss / 2**20,
        "cells": cells,
    }


def _rps(result: dict[str, Any], endpoint: str, connections: int) -> float | None:
    for cell in result["cells"]:
        if cell["endpoint"] == endpoint and cell["connections"] == connections:
            return float(cell["requests_per_second"])
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def comparisons(
    results: dict[str, dict[str, Any]], connections: Sequence[int]
) -> list[dict[str, Any]]:
    """The goals, for each mock target, with the ratio or figure measured in this run."""
    rows: list[dict[str, Any]] = []
    for name in MOCK_SERVERS:
        if name in results:
            rows += _mock_goals(name, results, connections)
    return rows


def _mock_goals(
    name: str, results: dict[str, dict[str, Any]], connections: Sequence[int]
) -> list[dict[str, Any]]:
    mock = results[name]
    rows: list[dict[str, Any]] = []
    for c in connections:
        post = _rps(mock, "POST async", c)
        get = _rps(mock, "GET run", c)
        for other, goal in (
            ("prism-static", GOAL_POST_VS_PRISM_STATIC),
            ("prism-dynamic", GOAL_POST_VS_PRISM_DYNAMIC),
        ):
            if other in results:
                ratio = _ratio(post, _rps(results[other], "POST async", c))
                rows.append(
                    {
                        "goal": f"POST rps {name}/{other} @{c}",
                        "target": f">= {goal}",
                        "measured": ratio,
                        "verdict": verdict(None if ratio is None else ratio >= goal),
                    }
                )
                get_ratio = _ratio(get, _rps(results[other], "GET run", c))
                rows.append(
                    {
                        "goal": f"GET rps {name}/{other} @{c}",
                        "target": "(reported)",
                        "measured": get_ratio,
                        "verdict": "-",
                    }
                )
        ratio = _ratio(get, post)
        rows.append(
            {
                "goal": f"GET rps / POST rps ({name}) @{c}",
                "target": f">= {GOAL_GET_VS_POST}",
                "measured": ratio,
                "verdict": verdict(None if ratio is None else ratio >= GOAL_GET_VS_POST),
            }
        )
    for cell in mock["cells"]:
        if cell["connections"] == 64:
            rows.append(
                {
                    "goal": f"p99 {cell['endpoint']} @64 (ms, {name})",
                    "target": f"< {GOAL_P99_MS_AT_64:.0f}",
                    "measured": cell["p99_ms"],
                    "verdict": verdict(cell["p99_ms"] < GOAL_P99_MS_AT_64),
                }
            )
    rows.append(
        {
            "goal": f"start-up to first healthy answer (s, {name})",
            "target": f"< {GOAL_STARTUP_S}",
            "measured": round(mock["startup_s"], 3),
            "verdict": verdict(mock["startup_s"] < GOAL_STARTUP_S),
        }
    )
    for other in ("prism-static", "prism-dynamic"):
        if other in results:
            rows.append(
                {
                    "goal": f"start-up {name}/{other}",
                    "target": "(reported)",
                    "measured": _ratio(mock["startup_s"], results[other]["startup_s"]),
                    "verdict": "-",
                }
            )
            rows.append(
                {
                    "goal": f"RSS {name}/{other} after ~{mock['requests_before_rss']:,} req",
                    "target": "(reported)",
                    "measured": _ratio(mock["rss_mb"], results[other]["rss_mb"]),
                    "verdict": "-",
                }
            )
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mock_throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        default=[*MOCK_SERVERS, "prism-static", "prism-dynamic"],
        choices=[*MOCK_SERVERS, "prism-static", "prism-dynamic"],
    )
    parser.add_argument("--connections", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument(
        "--rss-requests",
        type=int,
        default=100_000,
        help="requests served before RSS is read (topped up with POSTs)",
    )
    parser.add_argument(
        "--rss-seconds", type=float, default=60.0, help="most seconds spent topping up"
    )
    parser.add_argument("--startup-repeats", type=int, default=5)
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (1 leaves the other core to the server on a 2-core box)",
    )
    parser.add_argument("--prism", help="path to the prism executable")
    parser.add_argument(
        "--smoke", action="store_true", help="2 s cells, 5k requests before RSS, 1 start"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.rss_requests, args.startup_repeats = 2.0, 5_000, 1
        args.rss_seconds = 5.0
    args.startup_repeats = max(1, args.startup_repeats)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = wrk_version()
        with tempfile.TemporaryDirectory(prefix="letta-bench-") as folder:
            chosen = targets(args.targets, args.prism, Path(folder))
            results: dict[str, dict[str, Any]] = {}
            for target in chosen:
                print(f"measuring {target.name} ...", file=sys.stderr, flush=True)
                try:
                    results[target.name] = measure_target(target, args)
                except (RuntimeError, subprocess.SubprocessError) as exc:
                    log = Path(folder) / f"{target.name}.log"
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    print(f"{target.name} failed: {exc}\n{tail}", file=sys.stderr)
                    return 1
    except MissingTool as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return 2
    rows = [
        {
            "target": name,
            **cell,
            "cpu_us_per_req": cell["cpu"],
            "ok_rps": round((cell["requests"] - cell["non_2xx_3xx"]) / cell["seconds"], 1),
        }
        for name, result in results.items()
        for cell in result["cells"]
    ]
    print(
        table(
            rows,
            [
                "target",
                "endpoint",
                "connections",
                "requests_per_second",
                "ok_rps",
                "p50_ms",
                "p99_ms",
                "cpu_us_per_req",
                "requests",
                "non_2xx_3xx",
                "socket_errors",
            ],
        )
    )
    print()
    summary = [
        {
            "target": name,
            "startup_s": r["startup_s"],
            "requests_before_rss": r["requests_before_rss"],
            "rss_mb": r["rss_mb"],
        }
        for name, r in results.items()
    ]
    print(table(summary, ["target", "startup_s", "requests_before_rss", "rss_mb"]))
    print()
    goals = comparisons(results, args.connections)
    print(table(goals, ["goal", "target", "measured", "verdict"]))
    path = write_results(
        "mock_throughput",
        {
            "settings": {k: v for k, v in vars(args).items() if k != "prism"},
            "wrk": wrk,
            "results": results,
            "goals": goals,
        },
    )
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
