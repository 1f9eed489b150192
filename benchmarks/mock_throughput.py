"""Throughput, latency, CPU per request, start-up time and memory: the mock beside Prism.

    python -m benchmarks.mock_throughput            # full run, pinned, about 7 minutes
    python -m benchmarks.mock_throughput --smoke    # a few seconds per cell, to try the harness
    python -m benchmarks.mock_throughput --no-pin   # every process on every core, as before

The mock (``letta-mock``, on its default server waitress as ``mock``, with ``--server granian``
as ``mock-granian``, and as two Granian workers sharing an LMDB store as ``mock-workers``) and
Stoplight Prism (static and ``-d`` dynamic, mocking
the OpenAPI document generated from ``schemas/``) are measured; wrk drives ``POST .../messages/async`` with a
realistic body and ``GET /v1/runs/{id}`` spread over existing runs, at each concurrency. All
servers are measured in the same run, one after the other, and compared by ratio only.

``--pin`` (the default) measures per core: each one-process server (``mock``,
``mock-granian``, both Prisms: every process and thread of it) is started under
``taskset -c 0`` (``--server-cpus``) and wrk runs on core 1 (``--load-cpus``), so every server
gets the same one core and the load generator never competes with it. ``mock-workers`` is the
N-core figure: it is never pinned (its two workers and wrk share every core), and its rows are
reported apart from the per-core goals. ``--no-pin`` runs everything unpinned.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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

from benchmarks.pinning import affinity, checked_cpus, parse_cpus
from benchmarks.processes import (
    CLOCK_TICKS,
    MissingTool,
    ServerProcess,
    console_script,
    descendants,
    free_port,
)
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
# The targets that use more than one core by design: never pinned, reported apart.
MULTI_CORE = frozenset({"mock-workers"})


@dataclass(frozen=True)
class Pinning:
    """Where a target's server and its load generator may run (None: wherever they like)."""

    server: str | None
    load: str | None

    @property
    def label(self) -> str:
        if self.server is None:
            return "none"
        return f"{self.server}/{self.load}"


UNPINNED = Pinning(None, None)


def taskset() -> str:
    found = shutil.which("taskset")
    if found is None:
        raise MissingTool("taskset is not installed (util-linux); or run with --no-pin")
    return found


def pinned_argv(argv: Sequence[str], cpus: str | None) -> list[str]:
    """``argv`` started under ``taskset -c cpus``: every thread and child it makes inherits it."""
    return [taskset(), "-c", cpus, *argv] if cpus is not None else list(argv)


def allowed_cpus(pid: int) -> list[str]:
    """The distinct CPU lists every thread of the process tree under ``pid`` may run on."""
    found: set[str] = set()
    for member in descendants(pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{member}/task").iterdir():
                with contextlib.suppress(OSError):
                    for line in (task / "status").read_text().splitlines():
                        if line.startswith("Cpus_allowed_list:"):
                            found.add(line.split(":", 1)[1].strip())
    return sorted(found)


def check_pinned(server: ServerProcess, cpus: str | None) -> list[str]:
    """What the server's threads may run on; an error if pinning did not take."""
    allowed = allowed_cpus(server.pid)
    if cpus is not None and any(parse_cpus(text) != parse_cpus(cpus) for text in allowed):
        raise RuntimeError(f"{server.name} should run on CPUs {cpus} only, but may use {allowed}")
    return allowed


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


def source_digest() -> str:
    """A digest of the mock's and the schemas' source as measured (the commit in the results
    does not show uncommitted changes)."""
    digest = hashlib.sha256()
    root = HERE.parent
    for folder in ("mockserver", "schemas"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def write_openapi(folder: Path) -> Path:
    from letta_contract_kit.schemas.openapi import build_openapi

    path = folder / "openapi.json"
    path.write_text(json.dumps(build_openapi()))
    return path


@dataclass
class Target:
    """One server under test and how to start it on a given port."""

    name: str
    make: Callable[[int, str | None], ServerProcess]
    stores_runs: bool

    @property
    def multi_core(self) -> bool:
        return self.name in MULTI_CORE


# The mock's targets: name -> its flags beyond host, port and agent (``{store}``: a fresh
# file for each start). ``mock``: no flags, as shipped (waitress, memory store).
# ``mock-workers``: two Granian workers sharing runs in one LMDB file, one thread each
# (measured best for two workers on two cores).
MOCK_SERVERS: dict[str, list[str]] = {
    "mock": [],
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

        def make_mock(
            port: int, cpus: str | None, name: str = name, flags: list[str] = flags
        ) -> ServerProcess:
            store = folder / f"{name}-{port}.lmdb"
            argv = [mock, "--host", "127.0.0.1", "--port", str(port), "--agent", AGENT_ID]
            argv += [flag.replace("{store}", str(store)) for flag in flags]
            return ServerProcess(
                name, pinned_argv(argv, cpus), port, log_path=folder / f"{name}.log"
            )

        found.append(Target(name, make_mock, stores_runs=True))
    prism_names = [n for n in names if n.startswith("prism")]
    if prism_names:
        prism_bin = prism_binary(prism)
        document = write_openapi(folder)
        for name in prism_names:
            dynamic = name == "prism-dynamic"

            def make_prism(
                port: int, cpus: str | None, dynamic: bool = dynamic, name: str = name
            ) -> ServerProcess:
                argv = [prism_bin, "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn"]
                argv += ["-d"] if dynamic else []
                argv.append(str(document))
                return ServerProcess(
                    name,
                    pinned_argv(argv, cpus),
                    port,
                    headers=AUTH_HEADERS,
                    log_path=folder / f"{name}.log",
                )

            found.append(Target(name, make_prism, stores_runs=False))
    return found


def pinning_for(target: Target, args: argparse.Namespace) -> Pinning:
    if not args.pin or target.multi_core:
        return UNPINNED
    return Pinning(args.server_cpus, args.load_cpus)


def cpu_ticks() -> dict[int, tuple[int, int, int]]:
    """Each CPU's busy, stolen and total clock ticks so far, machine-wide (``/proc/stat``)."""
    ticks: dict[int, tuple[int, int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user).
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in values[:8])
        busy = user + nice + system + irq + softirq
        ticks[int(name[3:])] = (busy, steal, busy + idle + iowait + steal)
    return ticks


def measure_cell(
    server: ServerProcess,
    script: str,
    connections: int,
    seconds: float,
    threads: int,
    server_cpus: set[int],
) -> tuple[WrkResult, dict[str, float]]:
    """One wrk run, and what the server spent over the same interval: its CPU microseconds
    per request, the cores it kept busy (CPU seconds per second), and on its CPUs what else
    ran (``others_cores``: busy time not the server's) and what the hypervisor took
    (``steal``, a fraction of those CPUs' time)."""
    machine_before = cpu_ticks()
    before = server.cpu_seconds()
    result = run_wrk(
        server.base_url, script, connections=connections, seconds=seconds, threads=threads
    )
    spent = server.cpu_seconds() - before
    machine_after = cpu_ticks()
    wall = result.seconds or float("nan")
    busy_ticks = stolen = total = 0
    for cpu in server_cpus:
        then, now = machine_before.get(cpu, (0, 0, 0)), machine_after.get(cpu, (0, 0, 0))
        busy_ticks += now[0] - then[0]
        stolen += now[1] - then[1]
        total += now[2] - then[2]
    return result, {
        "cpu": spent / result.requests * 1e6 if result.requests else float("nan"),
        "server_cores": round(spent / wall, 2),
        "others_cores": round(busy_ticks / CLOCK_TICKS / wall - spent / wall, 2),
        "steal": round(stolen / total, 3) if total else float("nan"),
    }


def measure_target(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Start-ups, the cells, then RSS; the harness (and so wrk) on the load CPUs throughout."""
    pinning = pinning_for(target, args)
    with affinity(pinning.load):
        measured = _measure(target, pinning, args)
    return {"pinning": pinning.label, **measured}


def warm_up(server: ServerProcess, script: str, args: argparse.Namespace) -> int:
    """``--warmup`` seconds of ``script`` at 64 connections, not measured: Prism's JIT takes
    several seconds to reach its steady state (its first seconds run at a third of it).
    The requests served."""
    if args.warmup <= 0:
        return 0
    result = run_wrk(
        server.base_url, script, connections=64, seconds=args.warmup, threads=args.wrk_threads
    )
    return result.requests


def _measure(target: Target, pinning: Pinning, args: argparse.Namespace) -> dict[str, Any]:
    body = realistic_body_text()
    post = post_script(async_path(), body, AUTH_HEADERS)
    startups: list[float] = []
    for _ in range(args.startup_repeats - 1):
        server = target.make(free_port(), pinning.server)
        startups.append(server.start())
        server.stop()
    server = target.make(free_port(), pinning.server)
    startups.append(server.start())
    cells: list[dict[str, Any]] = []
    served = 0
    try:
        allowed = check_pinned(server, pinning.server)
        server_cpus = (
            parse_cpus(pinning.server) if pinning.server is not None else os.sched_getaffinity(0)
        )
        served += warm_up(server, post, args)
        for connections in args.connections:
            result, spent = measure_cell(
                server, post, connections, args.seconds, args.wrk_threads, server_cpus
            )
            served += result.requests
            cells.append(
                {"endpoint": "POST async", "connections": connections, **spent, **result.as_dict()}
            )
        if target.stores_runs:
            ids = create_runs(server.host, server.port, GET_IDS)
            served += GET_IDS
        else:
            ids = [new_run_id() for _ in range(GET_IDS)]
        get = get_script([f"/v1/runs/{run_id}" for run_id in ids], AUTH_HEADERS)
        served += warm_up(server, get, args)
        for connections in args.connections:
            result, spent = measure_cell(
                server, get, connections, args.seconds, args.wrk_threads, server_cpus
            )
            served += result.requests
            cells.append(
                {"endpoint": "GET run", "connections": connections, **spent, **result.as_dict()}
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
        "cpus_allowed": allowed,
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


def scope(name: str, results: dict[str, dict[str, Any]]) -> str:
    """How many cores a target's figures were taken on: ``1 core`` when it was pinned to one,
    ``N cores`` for the multi-core figure of a pinned run, ``unpinned`` without ``--pin``."""
    pinning = results[name].get("pinning", "none")
    if pinning != "none":
        count = len(parse_cpus(pinning.split("/")[0]))
    elif any(r.get("pinning", "none") != "none" for r in results.values()):
        count = len(os.sched_getaffinity(0))
    else:
        return "unpinned"
    return "1 core" if count == 1 else f"{count} cores"


def comparisons(
    results: dict[str, dict[str, Any]], connections: Sequence[int]
) -> list[dict[str, Any]]:
    """The goals, for each mock target, with the ratio or figure measured in this run: first
    the per-core targets (pinned like Prism), then the N-core figure, whose ratios to a Prism
    pinned to one core are reported without a verdict."""
    rows: list[dict[str, Any]] = []
    for name in MOCK_SERVERS:
        if name in results:
            rows += _mock_goals(name, results, connections)
    return rows


def _mock_goals(
    name: str, results: dict[str, dict[str, Any]], connections: Sequence[int]
) -> list[dict[str, Any]]:
    mock = results[name]
    where = scope(name, results)
    # A target on more cores than Prism had is not judged by its ratio to Prism.
    judged = not (
        mock.get("pinning", "none") == "none"
        and any(r.get("pinning", "none") != "none" for r in results.values())
    )
    rows: list[dict[str, Any]] = []

    def add(goal: str, target: str, measured: Any, met: bool | str | None) -> None:
        shown = met if isinstance(met, str) else verdict(met)
        rows.append(
            {"scope": where, "goal": goal, "target": target, "measured": measured, "verdict": shown}
        )

    for c in connections:
        post = _rps(mock, "POST async", c)
        get = _rps(mock, "GET run", c)
        if not judged:
            add(f"POST rps {name} @{c}", "(reported)", post, "-")
            add(f"GET rps {name} @{c}", "(reported)", get, "-")
        for other, goal in (
            ("prism-static", GOAL_POST_VS_PRISM_STATIC),
            ("prism-dynamic", GOAL_POST_VS_PRISM_DYNAMIC),
        ):
            if other in results:
                ratio = _ratio(post, _rps(results[other], "POST async", c))
                if judged:
                    add(
                        f"POST rps {name}/{other} @{c}",
                        f">= {goal}",
                        ratio,
                        None if ratio is None else ratio >= goal,
                    )
                else:
                    add(
                        f"POST rps {name}/{other} @{c}",
                        f"(reported; Prism on {scope(other, results)})",
                        ratio,
                        "-",
                    )
                get_ratio = _ratio(get, _rps(results[other], "GET run", c))
                add(f"GET rps {name}/{other} @{c}", "(reported)", get_ratio, "-")
        ratio = _ratio(get, post)
        add(
            f"GET rps / POST rps ({name}) @{c}",
            f">= {GOAL_GET_VS_POST}",
            ratio,
            None if ratio is None else ratio >= GOAL_GET_VS_POST,
        )
    for cell in mock["cells"]:
        if cell["connections"] == 64:
            add(
                f"p99 {cell['endpoint']} @64 (ms, {name})",
                f"<= {GOAL_P99_MS_AT_64:.0f}",
                cell["p99_ms"],
                cell["p99_ms"] <= GOAL_P99_MS_AT_64,
            )
    failed = sum(c["non_2xx_3xx"] + c["socket_errors"] + c["timeouts"] for c in mock["cells"])
    add(f"answers not 2xx/3xx, socket errors ({name})", "0", failed, failed == 0)
    add(
        f"start-up to first healthy answer (s, {name})",
        f"< {GOAL_STARTUP_S}",
        round(mock["startup_s"], 3),
        mock["startup_s"] < GOAL_STARTUP_S,
    )
    for other in ("prism-static", "prism-dynamic"):
        if other in results:
            add(
                f"start-up {name}/{other}",
                "(reported)",
                _ratio(mock["startup_s"], results[other]["startup_s"]),
                "-",
            )
            add(
                f"RSS {name}/{other} after ~{mock['requests_before_rss']:,} req",
                "(reported)",
                _ratio(mock["rss_mb"], results[other]["rss_mb"]),
                "-",
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
        "--warmup",
        type=float,
        default=8.0,
        help="seconds of unmeasured load before the POST cells, and again before the GET "
        "cells (0: none)",
    )
    parser.add_argument(
        "--rss-requests",
        type=int,
        default=100_000,
        help="requests served before RSS is read (topped up with GETs)",
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
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="per core: each one-process server on --server-cpus, wrk on --load-cpus "
        "(default; --no-pin: every process on every core)",
    )
    parser.add_argument(
        "--server-cpus", default="0", help="the CPUs of a pinned server (taskset -c list)"
    )
    parser.add_argument(
        "--load-cpus", default="1", help="the CPUs of wrk and of this script when pinned"
    )
    parser.add_argument("--prism", help="path to the prism executable")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="2 s cells, 1 s warm-ups, 5k requests before RSS, 1 start",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.rss_requests, args.startup_repeats = 2.0, 5_000, 1
        args.rss_seconds, args.warmup = 5.0, 1.0
    args.startup_repeats = max(1, args.startup_repeats)
    if args.pin:
        args.server_cpus, args.load_cpus = checked_cpus(parser, args.server_cpus, args.load_cpus)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = wrk_version()
        if args.pin:
            taskset()
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
    if args.pin:
        apart = sorted(MULTI_CORE & set(results))
        print(
            f"pinned: servers on CPU {args.server_cpus}, wrk on CPU {args.load_cpus}"
            + (f"; {', '.join(apart)} unpinned (all cores)" if apart else "")
            + "\n"
        )
    rows = [
        {
            "target": name,
            "pin": result["pinning"],
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
                "pin",
                "endpoint",
                "connections",
                "requests_per_second",
                "ok_rps",
                "p50_ms",
                "p99_ms",
                "cpu_us_per_req",
                "server_cores",
                "others_cores",
                "steal",
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
    print(table(goals, ["scope", "goal", "target", "measured", "verdict"]))
    path = write_results(
        "mock_throughput",
        {
            "settings": {k: v for k, v in vars(args).items() if k != "prism"},
            "source_digest": source_digest(),
            "wrk": wrk,
            "results": results,
            "goals": goals,
        },
    )
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
