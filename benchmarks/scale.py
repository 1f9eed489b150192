"""How the mock's cost grows with the number of stored runs: memory per run and throughput.

    python -m benchmarks.scale                      # 10k, 100k, 1M runs; memory, SQLite, LMDB
    python -m benchmarks.scale --sizes 10000 100000 --stores memory --seconds 5

Each (store, size) cell runs in a child process of its own, so memory figures do not mix.
The child drives one run to completion through the service, then fills the store with copies of
it (new ids, separately allocated): through ``add_run`` for the memory store and for LMDB
(10,000 runs to a transaction), and by a bulk insert into the tables ``SqliteStore`` defines for
SQLite (one transaction instead of a million; the per-call cost of ``create_run`` at that size
is measured separately). Then it serves the store, with the default configuration (wall clock,
background sweep), the way the mock's docs say to serve it:

* the memory store with the mock's app on its default server (waitress) in the same process;
* a file store with ``letta-mock --server granian --workers 2 --threads 1`` over the filled
  file (``--file-server waitress`` serves it in-process instead, where the file stores' POSTs
  are governed by lock waits rather than by size; see docs/performance.md).

Every size of a store is filled and kept up side by side, and wrk drives them in ``--rounds``
rounds (benchmarks/rounds.py): each round measures every size once, in an order that turns, so
the cells a change compares are seconds apart, not minutes (one cell per size moved by a fifth
between identical runs). First ``GET /v1/runs/{id}`` over 10,000 ids drawn from the whole store
(each cell's ``--max-store-bytes`` is raised to hold all its runs; a GET that finds no run is a
missed goal), then ``POST`` (at capacity, so each new run evicts the oldest finished one).
Flatness is judged on the median of the rounds' changes, largest size against smallest.

``--pin`` (the default) runs a child that serves in-process on ``--server-cpus`` (core 0:
the whole child, its sweep thread included) and wrk on ``--load-cpus`` (core 1), as
``mock_throughput`` does, so that cells of different
sizes get the same core; unpinned, single cells moved by a half between runs. The two Granian
workers of a file store use both cores by design and are never pinned.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import queue
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
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
from benchmarks.processes import ServerProcess, cpu_seconds, free_port, own_rss_bytes
from benchmarks.report import table, verdict, write_results
from benchmarks.rounds import Spread, order, paired, spread
from benchmarks.workload import AGENT_ID, AUTH_HEADERS, REALISTIC_BODY, async_path
from benchmarks.wrk import WrkResult, get_script, measured_undisturbed, post_script, run_wrk

SAMPLED_IDS = 10_000
ADD_RUN_SAMPLES = 200
GOAL_BYTES_PER_RUN = 2048
GOAL_FLATNESS = 0.10
MEMORY_SHARE = 0.5  # a cell whose projected memory is over this share of MemAvailable is skipped
# The store's byte bound for a cell of N runs: N times this, so that it holds all N (the
# default 256 MiB of ``--max-store-bytes`` holds about 180,000 realistic runs and would evict
# the rest of a million as they are filled).
STORE_BYTES_PER_RUN = 4096


def store_bytes(size: int) -> int:
    """``--max-store-bytes`` for a cell of ``size`` runs (and the one its POSTs add)."""
    return (size + 1) * STORE_BYTES_PER_RUN


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _template(service: Any) -> Any:
    """One run of the realistic request, driven to its end, as the store keeps it."""
    run = service.create_run(AGENT_ID, dict(REALISTIC_BODY))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        record = service.get_record(run["id"], polled=True)
        if record is not None and record.terminal:
            return record
        time.sleep(0.05)
    raise RuntimeError("the template run never ended")


def _fill_through_store(store: Any, template_json: str, template_id: str, size: int) -> list[str]:
    """Fill with ``add_run``, 10,000 runs to a transaction (memory and LMDB stores)."""
    from letta_contract_kit.mockserver.conversation import new_id
    from letta_contract_kit.mockserver.records import RunRecord

    wanted = set(random.sample(range(size), min(SAMPLED_IDS, size)))
    sample: list[str] = []
    for start in range(0, size, 10_000):
        with store.transaction():
            for index in range(start, min(size, start + 10_000)):
                run_id = new_id("run")
                store.add_run(RunRecord.from_json(template_json.replace(template_id, run_id)))
                if index in wanted:
                    sample.append(run_id)
    return sample


INSERT_RUN = "INSERT INTO runs (id, agent_id, settled, due, data) VALUES (?, ?, ?, ?, ?)"


def _fill_sqlite(path: str, template: Any, template_json: str, size: int) -> list[str]:
    from letta_contract_kit.mockserver.conversation import new_id

    wanted = set(random.sample(range(size), min(SAMPLED_IDS, size)))
    sample: list[str] = []
    connection = sqlite3.connect(path)
    try:
        connection.execute("BEGIN")
        batch: list[tuple[str, str, int, None, str]] = []
        for index in range(size):
            run_id = new_id("run")
            data = template_json.replace(template.id, run_id)
            batch.append((run_id, template.agent_id, 1, None, data))
            if index in wanted:
                sample.append(run_id)
            if len(batch) >= 10_000:
                connection.executemany(INSERT_RUN, batch)
                batch.clear()
        if batch:
            connection.executemany(INSERT_RUN, batch)
        connection.execute("UPDATE counts SET value = (SELECT COUNT(*) FROM runs)")
        connection.execute("COMMIT")
    finally:
        connection.close()
    return sample


def _add_run_cost(service: Any, count: int, budget_seconds: float = 10.0) -> float:
    """Microseconds per ``create_run`` through the service (no HTTP, no validation).

    At most ``count`` calls and about ``budget_seconds``: at capacity each call evicts.
    """
    began = time.perf_counter()
    done = 0
    while done < count and (done < 3 or time.perf_counter() - began < budget_seconds):
        service.create_run(AGENT_ID, dict(REALISTIC_BODY))
        done += 1
    return (time.perf_counter() - began) / done * 1e6


def _file_server(store_kind: str, path: str, size: int, port: int, folder: str) -> ServerProcess:
    """Two Granian workers of the mock over the filled file, as docs/mock.md advises."""
    argv = [
        sys.executable,
        "-m",
        "letta_contract_kit.mockserver",
        "--port",
        str(port),
        "--agent",
        AGENT_ID,
    ]
    argv += ["--store", store_kind, f"--{store_kind}-path", path, "--max-runs", str(size + 1)]
    argv += ["--max-store-bytes", str(store_bytes(size))]
    argv += ["--server", "granian", "--workers", "2", "--threads", "1"]
    return ServerProcess(f"{store_kind}-workers", argv, port, log_path=Path(folder, "mock.log"))


def serve_cell(
    store_kind: str,
    size: int,
    file_server: str,
    pin: tuple[str, str] | None = None,
) -> None:
    """Runs in the child: fill the store, serve it, report (``SCALE-READY``), then answer the
    parent's commands on stdin until it says ``quit``. ``pin``: the server's CPUs and wrk's,
    for a server in this process."""
    from letta_contract_kit.mockserver import MockConfig, create_app
    from letta_contract_kit.mockserver.dispatch import answered_at_once
    from letta_contract_kit.mockserver.server import freeze_start_up_heap
    from letta_contract_kit.mockserver.service import MockService
    from letta_contract_kit.mockserver.waitress_json import create_json_server

    in_process = store_kind == "memory" or file_server == "waitress"
    server_cpus = load_cpus = None
    if in_process and pin is not None:
        # The whole child on the server's CPUs before it makes a thread, so that every one of
        # them (the service's sweep, the server's) inherits them; wrk runs in the parent.
        server_cpus, load_cpus = pin
        os.sched_setaffinity(0, parse_cpus(server_cpus))
    folder = tempfile.mkdtemp(prefix="letta-scale-")
    sqlite_path = os.path.join(folder, "runs.sqlite") if store_kind == "sqlite" else None
    lmdb_path = os.path.join(folder, "runs.lmdb") if store_kind == "lmdb" else None
    config = MockConfig(
        agents=[AGENT_ID],
        store=store_kind,  # type: ignore[arg-type]
        sqlite_path=sqlite_path,
        lmdb_path=lmdb_path,
        max_runs=size + 1,
        max_store_bytes=store_bytes(size),
        port=free_port(),
    )
    service = MockService(config)
    template = _template(service)
    template_json = template.to_json()
    gc.collect()
    rss_before = own_rss_bytes()
    began = time.perf_counter()
    if store_kind in ("memory", "lmdb"):
        sample = _fill_through_store(service.store, template_json, template.id, size)
    else:
        assert sqlite_path is not None
        sample = _fill_sqlite(sqlite_path, template, template_json, size)
    fill_seconds = time.perf_counter() - began
    gc.collect()
    rss_after = own_rss_bytes()
    disk = 0  # what the files take on disk (the LMDB file is sparse: its size says more)
    if sqlite_path:
        disk = sum(
            os.stat(p).st_blocks * 512
            for p in (sqlite_path, sqlite_path + "-wal")
            if os.path.exists(p)
        )
    if lmdb_path:
        disk = os.stat(lmdb_path).st_blocks * 512
    file_path = sqlite_path or lmdb_path
    external: ServerProcess | None = None
    if not in_process:
        assert file_path is not None and config.port is not None
        external = _file_server(store_kind, file_path, size, config.port, folder)
        external.start()
        pid = external.pid
        served_by = "granian, 2 workers"
    else:
        app = create_app(service=service)
        server = create_json_server(app, config, at_once=answered_at_once(app))
        freeze_start_up_heap()  # as ``letta-mock`` does before it serves
        threading.Thread(target=server.run, daemon=True).start()
        pid = os.getpid()
        served_by = "waitress, in-process"
    ready = {
        "store": store_kind,
        "size": size,
        "served_by": served_by,
        "pinning": f"{server_cpus}/{load_cpus}" if server_cpus is not None else "none",
        "load_cpus": load_cpus,
        "fill_seconds": round(fill_seconds, 1),
        "bytes_per_run_rss": (rss_after - rss_before) / size,
        "bytes_per_run_disk": disk / size if disk else None,
        "base_url": f"http://127.0.0.1:{config.port}",
        "pid": pid,
        "sample": sample,
    }
    print("SCALE-READY " + json.dumps(ready), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "create-cost":  # at capacity: each create evicts a run
                cost = _add_run_cost(service, ADD_RUN_SAMPLES)
                print(f"SCALE-CREATE {cost:.1f}", flush=True)
            elif line.strip() == "quit":
                break
    finally:
        if external is not None:
            external.stop()


class Cell:
    """One (store, size) cell: a child process that filled its store and serves it until
    told to quit; the parent drives it with wrk and reads its CPU time."""

    def __init__(self, store_kind: str, size: int, args: argparse.Namespace, folder: str) -> None:
        self.label = f"{store_kind} {size:,}"
        # the CPUs the serving process runs on, whose steal each measurement reports
        self.server_cpus = parse_cpus(args.server_cpus) if args.pin else os.sched_getaffinity(0)
        self.timeout = args.cell_timeout
        self.log = Path(folder, f"{store_kind}-{size}.log")
        command = [sys.executable, "-m", "benchmarks.scale", "--child", store_kind, str(size)]
        command += ["--file-server", args.file_server]
        command += ["--server-cpus", args.server_cpus, "--load-cpus", args.load_cpus]
        command += ["--pin" if args.pin else "--no-pin"]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready: dict[str, Any] = json.loads(self._expect("SCALE-READY "))
        self.rounds: dict[str, list[dict[str, Any]]] = {"get": [], "post": []}
        self.set_aside: list[dict[str, Any]] = []  # wrk runs the machine disturbed
        self.create_us = 0.0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _expect(self, prefix: str) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(
                    f"{self.label}: no {prefix.strip()} within {self.timeout:.0f} s"
                ) from None
            if line is None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.label}: the child ended ({self.process.wait()}): {tail}")
            if line.startswith(prefix):
                return line.removeprefix(prefix)

    def _say(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def measure(self, name: str, script: str, connections: int, seconds: float) -> None:
        """One wrk run of ``script`` (wrk on the cell's load CPUs when pinned), with the CPU
        the serving process spent over it and the steal on its CPUs. A run the machine
        disturbed (paused, or steal over the limit: ``wrk.disturbance``) is set aside in
        ``set_aside`` and measured once more."""
        pid = self.ready["pid"]

        def measure() -> tuple[WrkResult, dict[str, Any]]:
            cpu_before, machine_before = cpu_seconds(pid), cpu_ticks()
            with affinity(self.ready["load_cpus"]):
                result = run_wrk(
                    self.ready["base_url"], script, connections=connections, seconds=seconds
                )
            spent = cpu_seconds(pid) - cpu_before
            ticks = ticks_between(machine_before, cpu_ticks(), self.server_cpus)
            return result, {
                "endpoint": name,
                **result.as_dict(),
                "cpu_us_per_req": spent / result.requests * 1e6 if result.requests else None,
                "steal": ticks.steal,
            }

        label = f"{self.label} {name.upper()}"
        self.rounds[name].append(measured_undisturbed(measure, seconds, label, self.set_aside))

    def measure_create(self) -> None:
        self._say("create-cost")
        self.create_us = float(self._expect("SCALE-CREATE "))

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self._say("quit")
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def row(self) -> dict[str, Any]:
        ready = {k: v for k, v in self.ready.items() if k not in ("sample", "base_url", "pid")}
        return {
            **ready,
            "create_run_us": round(self.create_us, 1),
            "get": summed(self.rounds["get"]),
            "post": summed(self.rounds["post"]),
            "get_rounds": self.rounds["get"],
            "post_rounds": self.rounds["post"],
            "set_aside_runs": self.set_aside,
        }


def summed(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """A cell's rounds in one: median throughput and CPU a request, the worst p99, every
    error counted."""
    rps = spread(c["requests_per_second"] for c in cells)
    cpu = spread(c["cpu_us_per_req"] for c in cells)
    return {
        "requests_per_second": None if rps is None else rps.median,
        "cpu_us_per_req": None if cpu is None else cpu.median,
        "p99_ms": max((c["p99_ms"] for c in cells), default=None),
        "non_2xx_3xx": sum(c["non_2xx_3xx"] for c in cells),
        "socket_errors": sum(c["socket_errors"] for c in cells),
    }


def measure_store(
    store_kind: str, args: argparse.Namespace, folder: str, skipped: list[str]
) -> list[dict[str, Any]]:
    """Every size of one store filled and served side by side, then driven in rounds: GETs
    (each round every size once, in turning order), the create cost, POSTs."""
    cells: list[Cell] = []
    try:
        per_run = 0.0
        for size in sorted(args.sizes):
            projected = per_run * size
            if projected > available_bytes() * MEMORY_SHARE:
                skipped.append(
                    f"{store_kind} with {size:,} runs: projected {projected / 2**30:.1f} GiB "
                    f"({per_run:,.0f} B/run) is over {MEMORY_SHARE:.0%} of available memory"
                )
                print("skipped: " + skipped[-1], file=sys.stderr)
                continue
            print(f"filling {store_kind} with {size:,} runs ...", file=sys.stderr, flush=True)
            cells.append(Cell(store_kind, size, args, folder))
            per_run = max(per_run, cells[-1].ready["bytes_per_run_rss"])
        gets = {
            cell.label: get_script(
                [f"/v1/runs/{run_id}" for run_id in cell.ready["sample"]], AUTH_HEADERS
            )
            for cell in cells
        }
        post = post_script(async_path(), json.dumps(REALISTIC_BODY), AUTH_HEADERS)
        for name in ("get", "post"):
            if name == "post":  # after the GETs: the runs this creates evict sampled ones
                for cell in cells:
                    cell.measure_create()
            for index in range(args.rounds):
                for cell in order(cells, index):
                    script = gets[cell.label] if name == "get" else post
                    cell.measure(name, script, args.connections, args.seconds)
                print(
                    f"  {store_kind} {name.upper()}: round {index + 1} of {args.rounds} done",
                    file=sys.stderr,
                    flush=True,
                )
        return [cell.row() for cell in cells]
    finally:
        for cell in cells:
            cell.stop()


def flatness(rows: list[dict[str, Any]], store_kind: str, endpoint: str) -> Spread | None:
    """Throughput at the largest size relative to the smallest, minus one, round by round."""
    mine = sorted((r for r in rows if r["store"] == store_kind), key=lambda r: r["size"])
    if len(mine) < 2:
        return None
    first = [c["requests_per_second"] for c in mine[0][f"{endpoint}_rounds"]]
    last = [c["requests_per_second"] for c in mine[-1][f"{endpoint}_rounds"]]
    changes = [None if r is None else r - 1 for r in paired(last, first)]
    return spread(changes)


def disturbed_flatness(rows: list[dict[str, Any]], store_kind: str, endpoint: str) -> str | None:
    """Why a round the flatness rests on (the smallest and the largest size) did not measure
    the store (disturbed on both tries: ``wrk.measured_undisturbed``), or None."""
    mine = sorted((r for r in rows if r["store"] == store_kind), key=lambda r: r["size"])
    for row in mine[:1] + mine[-1:] if len(mine) >= 2 else []:
        for index, cell in enumerate(row[f"{endpoint}_rounds"]):
            if cell.get("disturbed"):
                return f"{row['size']:,} runs, round {index + 1}: {cell['disturbed']}"
    return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--stores",
        nargs="+",
        default=["memory", "sqlite", "lmdb"],
        choices=["memory", "sqlite", "lmdb"],
    )
    rounds.add_arguments(parser, "every size of a store")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=1200.0,
        help="seconds a cell's child may take to fill its store (or to answer), at most",
    )
    parser.add_argument(
        "--file-server",
        choices=["granian", "waitress"],
        default="granian",
        help="how SQLite and LMDB are served: two Granian workers (default) or in-process",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the in-process server on --server-cpus, wrk on --load-cpus (default; --no-pin: "
        "every thread on every core)",
    )
    parser.add_argument("--server-cpus", default="0", help="the CPUs of a pinned server")
    parser.add_argument("--load-cpus", default="1", help="the CPUs of wrk when pinned")
    parser.add_argument("--child", nargs=2, metavar=("STORE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rounds.check_arguments(parser, args)
    if args.pin:
        args.server_cpus, args.load_cpus = checked_cpus(parser, args.server_cpus, args.load_cpus)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        pin = (args.server_cpus, args.load_cpus) if args.pin else None
        serve_cell(args.child[0], int(args.child[1]), args.file_server, pin)
        os._exit(0)  # the server thread and the sweep need no orderly shutdown
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="letta-scale-logs-") as folder:
        for store_kind in args.stores:
            rows += measure_store(store_kind, args, folder, skipped)
    shown = [
        {
            "store": r["store"],
            "runs": r["size"],
            "served by": r["served_by"],
            "pin": r.get("pinning", "none"),
            "fill_s": r["fill_seconds"],
            "bytes/run (RSS)": r["bytes_per_run_rss"],
            "bytes/run (disk)": r["bytes_per_run_disk"],
            "create_run_us": r["create_run_us"],
            "GET rps": r["get"]["requests_per_second"],
            "GET p99 ms": r["get"]["p99_ms"],
            "GET cpu us/req": r["get"]["cpu_us_per_req"],
            "POST rps": r["post"]["requests_per_second"],
            "POST p99 ms": r["post"]["p99_ms"],
            "errors": r["get"]["non_2xx_3xx"]
            + r["post"]["non_2xx_3xx"]
            + r["get"]["socket_errors"]
            + r["post"]["socket_errors"],
        }
        for r in rows
    ]
    print(table(shown, list(shown[0]) if shown else []))
    for line in skipped:
        print("skipped: " + line)
    goals: list[dict[str, Any]] = []
    for store_kind in args.stores:
        for endpoint in ("get", "post"):
            change = flatness(rows, store_kind, endpoint)
            shaken = disturbed_flatness(rows, store_kind, endpoint)
            goals.append(
                {
                    "goal": f"{endpoint.upper()} rps {store_kind}, largest vs smallest size",
                    "target": f"within {GOAL_FLATNESS:.0%}",
                    "measured": None if change is None else f"{change.median:+.1%}",
                    "rounds": "-"
                    if change is None or change.rounds == 1
                    else f"{change.low:+.1%} to {change.high:+.1%} ({change.rounds} rounds)",
                    "verdict": verdict(
                        None if change is None else abs(change.median) <= GOAL_FLATNESS, shaken
                    ),
                }
            )
    for r in rows:
        missing = r["get"]["non_2xx_3xx"] + r["get"]["socket_errors"]
        goals.append(
            {
                "goal": f"GETs of stored runs answered ({r['store']}, {r['size']:,} runs)",
                "target": "all",
                "measured": f"{missing:,} not",
                "verdict": verdict(missing == 0),
            }
        )
        if r["store"] == "memory":
            goals.append(
                {
                    "goal": f"bytes per stored run in memory ({r['size']:,} runs)",
                    "target": f"< {GOAL_BYTES_PER_RUN}",
                    "measured": round(r["bytes_per_run_rss"]),
                    "verdict": verdict(r["bytes_per_run_rss"] < GOAL_BYTES_PER_RUN),
                }
            )
    print()
    print(table(goals, ["goal", "target", "measured", "rounds", "verdict"]))
    path = write_results(
        "scale", {"settings": vars(args), "results": rows, "skipped": skipped, "goals": goals}
    )
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
