"""Throughput, latency, CPU per request, start-up time and memory: the mock beside Prism.

    python -m benchmarks.mock_throughput            # full run, pinned, about 9 minutes
    python -m benchmarks.mock_throughput --smoke    # a few seconds per cell, to try the harness
    python -m benchmarks.mock_throughput --no-pin   # every process on every core, as before

The mock (``letta-mock``, on its default server waitress as ``mock``, with ``--server granian``
as ``mock-granian``, and as two Granian workers sharing an LMDB store as ``mock-workers``) and
Stoplight Prism (static and ``-d`` dynamic, mocking
the OpenAPI document generated from ``schemas/``) are measured; wrk drives ``POST .../messages/async`` with a
realistic body and ``GET /v1/runs/{id}`` spread over existing runs, at each concurrency. All
servers are started together and kept up for the run, and measured in ``--rounds`` rounds
(benchmarks/rounds.py): each round measures every server once at each concurrency, in an order
that turns, so the cells a ratio compares are seconds apart rather than minutes; a goal is
judged on the median of the rounds' ratios, and the spread of the rounds is shown beside it.
Servers are compared by ratio only. Each round measures POSTs, then GETs of runs created just
before them, so that no POST evicts them and a GET/POST ratio compares cells seconds apart.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import rounds
from benchmarks.pinning import (
    affinity,
    checked_cpus,
    cpu_ticks,
    parse_cpus,
    ticks_between,
)
from benchmarks.processes import (
    CLOCK_TICKS,
    MissingTool,
    ServerProcess,
    console_script,
    descendants,
    free_port,
)
from benchmarks.report import table, verdict, write_results
from benchmarks.rounds import Spread, order, paired, spread
from benchmarks.workload import (
    AGENT_ID,
    AUTH_HEADERS,
    async_path,
    create_runs,
    new_run_id,
    realistic_body_text,
)
from benchmarks.wrk import (
    WrkResult,
    get_script,
    measured_undisturbed,
    post_script,
    run_wrk,
    wrk_version,
)

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
    ticks = ticks_between(machine_before, machine_after, server_cpus)
    return result, {
        "cpu": spent / result.requests * 1e6 if result.requests else float("nan"),
        "server_cores": round(spent / wall, 2),
        "others_cores": round(ticks.busy / CLOCK_TICKS / wall - spent / wall, 2),
        "steal": ticks.steal,
    }


@dataclass
class Running:
    """A target's server, kept up for the whole run, and what has been measured of it."""

    target: Target
    pinning: Pinning
    server: ServerProcess
    server_cpus: set[int]  # the CPUs whose steal and other load its cells report
    allowed: list[str]
    startups: list[float]
    served: int = 0
    cells: list[dict[str, Any]] = field(default_factory=list)
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # cells the machine disturbed

    @property
    def name(self) -> str:
        return self.target.name

    def cell(self, endpoint: str, script: str, connections: int, args: argparse.Namespace) -> None:
        """One measured wrk run, wrk on the target's load CPUs. A run the machine disturbed
        (paused, or steal over the limit: ``wrk.disturbance``) is set aside in ``set_aside``
        and measured once more."""

        def measure() -> tuple[WrkResult, dict[str, Any]]:
            with affinity(self.pinning.load):
                result, spent = measure_cell(
                    self.server,
                    script,
                    connections,
                    args.seconds,
                    args.wrk_threads,
                    self.server_cpus,
                )
            self.served += result.requests
            cell = {"endpoint": endpoint, "connections": connections, **spent, **result.as_dict()}
            return result, cell

        label = f"{self.name} {endpoint} @{connections}"
        self.cells.append(measured_undisturbed(measure, args.seconds, label, self.set_aside))

    def warm_up(self, script: str, args: argparse.Namespace) -> None:
        """``--warmup`` seconds of ``script`` at 64 connections, not measured: Prism's JIT takes
        several seconds to reach its steady state (its first seconds run at a third of it)."""
        if args.warmup > 0:
            with affinity(self.pinning.load):
                result = run_wrk(
                    self.server.base_url,
                    script,
                    connections=64,
                    seconds=args.warmup,
                    threads=args.wrk_threads,
                )
            self.served += result.requests


def start(target: Target, args: argparse.Namespace) -> Running:
    """The target's start-ups (``--startup-repeats``, all but the last stopped again) and its
    server, checked to run where it was pinned."""
    pinning = pinning_for(target, args)
    startups: list[float] = []
    with affinity(pinning.load):  # the harness waits for a pinned server on the load CPUs
        for _ in range(args.startup_repeats - 1):
            server = target.make(free_port(), pinning.server)
            startups.append(server.start())
            server.stop()
        server = target.make(free_port(), pinning.server)
        startups.append(server.start())
    try:
        allowed = check_pinned(server, pinning.server)
    except RuntimeError:
        server.stop()
        raise
    cpus = parse_cpus(pinning.server) if pinning.server is not None else os.sched_getaffinity(0)
    return Running(target, pinning, server, cpus, allowed, startups)


def measure_round(
    running: Sequence[Running],
    endpoint: str,
    scripts: dict[str, str],
    args: argparse.Namespace,
    index: int,
) -> None:
    """Round ``index`` of the endpoint's cells: at each concurrency, every target in turn, in
    an order that turns each round (see rounds.py). Every cell is tagged with its round."""
    for connections in args.connections:
        for one in order(running, index):
            one.cell(endpoint, scripts[one.name], connections, args)
            one.cells[-1]["round"] = index + 1


def fresh_gets(one: Running) -> str:
    """A GET script over ``GET_IDS`` runs created just now (for a target that keeps runs; the
    POSTs before have evicted older ones from a bounded store), or over unknown ids."""
    if not one.target.stores_runs:
        return get_script([f"/v1/runs/{new_run_id()}" for _ in range(GET_IDS)], AUTH_HEADERS)
    with affinity(one.pinning.load):
        ids = create_runs(one.server.host, one.server.port, GET_IDS)
    one.served += GET_IDS
    return get_script([f"/v1/runs/{run_id}" for run_id in ids], AUTH_HEADERS)


def measure_all(chosen: Sequence[Target], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every target started and kept up side by side and measured in ``--rounds`` rounds; each
    round has every target's POST cells, then (the runs to read created only now, so that no
    POST evicts them) its GET cells, so a GET/POST ratio compares cells seconds apart. Then
    RSS."""
    running: list[Running] = []
    try:
        for target in chosen:
            print(f"starting {target.name} ...", file=sys.stderr, flush=True)
            running.append(start(target, args))
        post = post_script(async_path(), realistic_body_text(), AUTH_HEADERS)
        for one in running:
            one.warm_up(post, args)
        gets: dict[str, str] = {}
        for index in range(args.rounds):
            measure_round(running, "POST async", {one.name: post for one in running}, args, index)
            gets = {one.name: fresh_gets(one) for one in running}
            if index == 0:
                for one in running:
                    one.warm_up(gets[one.name], args)
            measure_round(running, "GET run", gets, args, index)
            print(f"  round {index + 1} of {args.rounds} done", file=sys.stderr, flush=True)
        for one in running:
            top_up(one, gets[one.name], args)
        return {one.name: result_of(one) for one in running}
    finally:
        for one in running:
            one.server.stop()


def top_up(one: Running, script: str, args: argparse.Namespace) -> None:
    """GETs (the cheapest request for every target) until the target has served
    ``--rss-requests``, for at most ``--rss-seconds``; then its RSS is read."""
    topping = time.monotonic()
    while one.served < args.rss_requests and time.monotonic() - topping < args.rss_seconds:
        left = args.rss_seconds - (time.monotonic() - topping)
        with affinity(one.pinning.load):
            extra = run_wrk(
                one.server.base_url,
                script,
                connections=64,
                seconds=max(1.0, min(10.0, left)),
                threads=args.wrk_threads,
            )
        one.served += extra.requests


def result_of(one: Running) -> dict[str, Any]:
    return {
        "target": one.name,
        "pinning": one.pinning.label,
        "cpus_allowed": one.allowed,
        "startup_s": statistics.median(one.startups),
        "startup_all_s": one.startups,
        "requests_before_rss": one.served,
        "rss_mb": one.server.rss_bytes() / 2**20,
        "cells": one.cells,
        "set_aside_cells": one.set_aside,
    }


def rounds_of(result: dict[str, Any], endpoint: str, connections: int) -> list[float | None]:
    """The target's requests per second in each round of a cell, in round order."""
    cells = [
        c for c in result["cells"] if c["endpoint"] == endpoint and c["connections"] == connections
    ]
    cells.sort(key=lambda c: c.get("round", 1))
    return [float(c["requests_per_second"]) for c in cells]


def disturbed_in(result: dict[str, Any], endpoint: str, connections: int) -> str | None:
    """Why a kept cell of the target's (endpoint, connections) did not measure the server (the
    machine disturbed it, and its measurement again: ``wrk.measured_undisturbed``), or None."""
    for c in result["cells"]:
        if c["endpoint"] == endpoint and c["connections"] == connections and c.get("disturbed"):
            return f"round {c.get('round', 1)}: {c['disturbed']}"
    return None


def _median(values: Sequence[float | None]) -> float | None:
    found = spread(values)
    return None if found is None else round(found.median, 1)


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

    def add(goal: str, target: str, measured: Any, met: bool | str | None, over: str = "-") -> None:
        shown = met if isinstance(met, str) else verdict(met)
        rows.append(
            {
                "scope": where,
                "goal": goal,
                "target": target,
                "measured": measured,
                "rounds": over,
                "verdict": shown,
            }
        )

    def ratio_row(
        goal: str,
        target: str,
        ratios: Spread | None,
        least: float | None,
        disturbed: str | None = None,
    ) -> None:
        """A ratio over rounds, judged (``least``) on its median; not judged when a cell it
        rests on was disturbed twice (``disturbed``: the verdict says so)."""
        measured = None if ratios is None else round(ratios.median, 2)
        met = "-"
        if least is not None:
            met = verdict(None if ratios is None else ratios.median >= least, disturbed)
        add(goal, target, measured, met, "-" if ratios is None else ratios.shown())

    for c in connections:
        post = rounds_of(mock, "POST async", c)
        get = rounds_of(mock, "GET run", c)
        if not judged:
            add(f"POST rps {name} @{c}", "(reported)", _median(post), "-")
            add(f"GET rps {name} @{c}", "(reported)", _median(get), "-")
        for other, goal in (
            ("prism-static", GOAL_POST_VS_PRISM_STATIC),
            ("prism-dynamic", GOAL_POST_VS_PRISM_DYNAMIC),
        ):
            if other in results:
                ratios = spread(paired(post, rounds_of(results[other], "POST async", c)))
                shaken = disturbed_in(mock, "POST async", c) or disturbed_in(
                    results[other], "POST async", c
                )
                if judged:
                    ratio_row(f"POST rps {name}/{other} @{c}", f">= {goal}", ratios, goal, shaken)
                else:
                    where_other = scope(other, results)
                    ratio_row(
                        f"POST rps {name}/{other} @{c}",
                        f"(reported; Prism on {where_other})",
                        ratios,
                        None,
                    )
                get_ratios = spread(paired(get, rounds_of(results[other], "GET run", c)))
                ratio_row(f"GET rps {name}/{other} @{c}", "(reported)", get_ratios, None)
        ratio_row(
            f"GET rps / POST rps ({name}) @{c}",
            f">= {GOAL_GET_VS_POST}",
            spread(paired(get, post)),
            GOAL_GET_VS_POST,
            disturbed_in(mock, "GET run", c) or disturbed_in(mock, "POST async", c),
        )
    for endpoint in ("POST async", "GET run"):
        p99s = [
            c["p99_ms"]
            for c in mock["cells"]
            if c["endpoint"] == endpoint and c["connections"] == 64
        ]
        if p99s:  # the worst round: a latency bound holds in every round or not at all
            shaken = disturbed_in(mock, endpoint, 64)
            add(
                f"p99 {endpoint} @64 (ms, {name}; worst round)",
                f"<= {GOAL_P99_MS_AT_64:.0f}",
                max(p99s),
                verdict(max(p99s) <= GOAL_P99_MS_AT_64, shaken),
                ", ".join(f"{p:.0f}" for p in p99s) if len(p99s) > 1 else "-",
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


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


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
    rounds.add_arguments(parser, "every target at each concurrency")
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
        help="2 s cells, 2 rounds, 1 s warm-ups, 5k requests before RSS, 1 start",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.rss_requests, args.startup_repeats = 2.0, 5_000, 1
        args.rounds = 2
        args.rss_seconds, args.warmup = 5.0, 1.0
    args.startup_repeats = max(1, args.startup_repeats)
    rounds.check_arguments(parser, args)
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
            try:
                results = measure_all(chosen, args)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                print(f"failed: {exc}", file=sys.stderr)
                for log in sorted(Path(folder).glob("*.log")):
                    tail = log.read_text(errors="replace")[-2000:]
                    print(f"--- {log.name}\n{tail}", file=sys.stderr)
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
            "round": 1,
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
                "round",
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
    print(table(goals, ["scope", "goal", "target", "measured", "rounds", "verdict"]))
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
