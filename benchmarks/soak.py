"""Soak: many clients create and poll runs for a fixed number of requests, then everything is
checked.

    python -m benchmarks.soak                          # 64 clients, 40,000 requests, <= 10 min
    python -m benchmarks.soak --requests 5000 --max-runs 500     # a short one
    python -m benchmarks.soak --store lmdb --workers 2           # two processes, one store
    python -m benchmarks.soak --body-bytes 1048000 --max-store-bytes 67108864 --requests 3000
                                                       # 1 MB bodies: RSS bounded by bytes

The mock runs as ``letta-mock`` (wall clock, short phases so runs end, a small ``--max-runs``
so eviction happens during the soak). Afterwards:

* every run a client was told about is retrievable, or was evicted by the documented policy
  (the oldest ended runs go first once ``max_runs`` are stored): an evicted run must not be
  among the newest ``max_runs`` // 2 runs created, and the evictions are counted in the figures;
* no answer was a 5xx, and no run's status ever went backwards (created < running < ended);
* the server's RSS, sampled through the soak, levels off: growth over the second half is
  reported against a bound; with ``--max-store-bytes``, the RSS gained over the soak stays
  within a few times that bound (each stored run keeps its request body).

Exit status: 0 when every check holds, 1 otherwise, 2 when something is missing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.processes import MissingTool, ServerProcess, console_script, free_port
from benchmarks.report import table, verdict, write_results
from benchmarks.workload import AGENT_ID, async_path, realistic_body_text
from letta_contract_kit.schemas.contract import STATUS_RANK

RSS_GROWTH_BOUND = 0.20  # second-half growth of the server's RSS, as a share
# RSS gained over the soak, as a multiple of --max-store-bytes (allocator slack, bodies in
# flight, the journal's previews), plus a fixed allowance.
RSS_PER_STORE_BYTE = 3
RSS_ALLOWANCE = 64 * 2**20
RECORD_OVERHEAD = 4096  # bytes a stored run takes beyond its request body, at most


@dataclass
class RunSeen:
    """What clients learnt about one run."""

    created_at: str
    order: int
    statuses: list[str] = field(default_factory=list)


@dataclass
class SoakState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: dict[str, RunSeen] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    backwards: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing_while_polling: int = 0
    sent: int = 0
    created: int = 0

    def take(self, budget: int) -> bool:
        with self.lock:
            if self.sent >= budget:
                return False
            self.sent += 1
            return True

    def observe(self, run_id: str, status: str) -> None:
        with self.lock:
            seen = self.runs[run_id]
            if seen.statuses and STATUS_RANK[status] < STATUS_RANK[seen.statuses[-1]]:
                self.backwards.append(f"{run_id}: {seen.statuses[-1]} -> {status}")
            seen.statuses.append(status)


def client(
    index: int, port: int, state: SoakState, budget: int, deadline: float, body: str
) -> None:
    chooser = random.Random(index)
    mine: list[str] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    try:
        while time.monotonic() < deadline and state.take(budget):
            create = not mine or chooser.random() < 0.3
            try:
                if create:
                    connection.request("POST", async_path(), body=body, headers=headers)
                else:
                    run_id = chooser.choice(mine[-20:])
                    connection.request("GET", f"/v1/runs/{run_id}")
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with state.lock:
                    state.errors.append(f"client {index}: {exc!r}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            with state.lock:
                state.statuses[response.status] += 1
            if response.status != 200:
                if not create and response.status == 404:
                    with state.lock:
                        state.missing_while_polling += 1
                continue
            run = json.loads(payload)
            if create:
                with state.lock:
                    state.created += 1
                    state.runs[run["id"]] = RunSeen(run["created_at"], state.created)
                mine.append(run["id"])
            state.observe(run["id"], run["status"])
    finally:
        connection.close()


def final_check(port: int, state: SoakState) -> tuple[int, list[str]]:
    """GET every run ever announced; the ids that are gone."""
    gone: list[str] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for run_id in list(state.runs):
            connection.request("GET", f"/v1/runs/{run_id}")
            response = connection.getresponse()
            payload = response.read()
            state.statuses[response.status] += 1
            if response.status == 404:
                gone.append(run_id)
            elif response.status == 200:
                state.observe(run_id, json.loads(payload)["status"])
            else:
                state.errors.append(f"final GET {run_id}: {response.status} {payload[:200]!r}")
    finally:
        connection.close()
    return len(state.runs) - len(gone), gone


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=40_000, help="requests in all")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop sending after")
    parser.add_argument("--max-runs", type=int, default=2_000, help="the mock's --max-runs")
    parser.add_argument("--store", choices=["memory", "sqlite", "lmdb"], default="memory")
    parser.add_argument(
        "--body-bytes", type=int, default=None, help="POST bodies of this size (a long input)"
    )
    parser.add_argument(
        "--max-store-bytes", type=int, default=None, help="the mock's --max-store-bytes"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="the mock's --workers (more than one runs Granian; needs --store lmdb or sqlite)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        binary = console_script("letta-mock")
    except MissingTool as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="letta-soak-"))
    port = free_port()
    argv_ = [
        binary,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--agent",
        AGENT_ID,
        "--queued-seconds",
        "0.05",
        "--running-seconds",
        "0.2",
        "--max-runs",
        str(args.max_runs),
        "--store",
        args.store,
    ]
    if args.store != "memory":
        argv_ += [f"--{args.store}-path", str(folder / f"runs.{args.store}")]
    if args.workers > 1:
        argv_ += ["--server", "granian", "--workers", str(args.workers)]
    if args.max_store_bytes is not None:
        argv_ += ["--max-store-bytes", str(args.max_store_bytes)]
    if args.body_bytes is not None:
        argv_ += ["--max-body-bytes", str(args.body_bytes + 1024)]
    server = ServerProcess("mock", argv_, port, log_path=folder / "mock.log")
    state = SoakState()
    rss: list[tuple[float, int]] = []
    body = (
        realistic_body_text()
        if args.body_bytes is None
        else json.dumps({"input": "x" * (args.body_bytes - 13)})
    )
    server.start()
    rss.append((0.0, server.rss_bytes()))
    began = time.monotonic()
    try:
        deadline = began + args.max_seconds
        threads = [
            threading.Thread(
                target=client, args=(i, port, state, args.requests, deadline, body), daemon=True
            )
            for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            rss.append((time.monotonic() - began, server.rss_bytes()))
            for thread in threads:
                thread.join(timeout=0.5 / len(threads))
            if time.monotonic() > deadline + 60:
                state.errors.append("clients still running 60 s after the deadline")
                break
        load_seconds = time.monotonic() - began
        time.sleep(0.5)  # let the last runs end, so the final check sees settled statuses
        retained, gone = final_check(port, state)
        rss.append((time.monotonic() - began, server.rss_bytes()))
    finally:
        server.stop()

    kept_at_most = args.max_runs
    if args.max_store_bytes is not None:
        kept_at_most = min(kept_at_most, args.max_store_bytes // (len(body) + RECORD_OVERHEAD))
    newest = sorted(state.runs.items(), key=lambda item: item[1].order)[-(kept_at_most // 2) :]
    newest_gone = [run_id for run_id, _ in newest if run_id in set(gone)]
    fives = sum(count for status, count in state.statuses.items() if status >= 500)
    half = [value for at, value in rss if at >= load_seconds / 2]
    growth = (rss[-1][1] / half[0] - 1) if half and half[0] else None
    figures = {
        "clients": args.clients,
        "requests_sent": state.sent,
        "load_seconds": round(load_seconds, 1),
        "requests_per_second": round(state.sent / load_seconds, 1) if load_seconds else None,
        "runs_created": state.created,
        "runs_retrievable_after": retained,
        "runs_evicted": len(gone),
        "evicted_among_newest_half_of_max_runs": len(newest_gone),
        "polls_of_evicted_runs": state.missing_while_polling,
        "status_counts": {str(k): v for k, v in sorted(state.statuses.items())},
        "server_errors_5xx": fives,
        "status_went_backwards": len(state.backwards),
        "client_errors": len(state.errors),
        "rss_mb_max": round(max(v for _, v in rss) / 2**20, 1),
        "rss_mb_final": round(rss[-1][1] / 2**20, 1),
        "rss_growth_second_half": None if growth is None else round(growth, 3),
        "rss_mb_gained": round((max(v for _, v in rss) - rss[0][1]) / 2**20, 1),
    }
    checks = [
        {"check": "no 5xx", "measured": fives, "verdict": verdict(fives == 0)},
        {
            "check": "no status went backwards",
            "measured": len(state.backwards),
            "verdict": verdict(not state.backwards),
        },
        {
            "check": "no client-side errors",
            "measured": len(state.errors),
            "verdict": verdict(not state.errors),
        },
        {
            "check": "runs gone only by eviction (none of the newest max_runs/2)",
            "measured": len(newest_gone),
            "verdict": verdict(not newest_gone),
        },
        {
            "check": "retrievable runs <= max_runs",
            "measured": retained,
            "verdict": verdict(retained <= args.max_runs),
        },
        *(
            []
            if args.max_store_bytes is None
            else [
                {
                    "check": f"RSS gained <= {RSS_PER_STORE_BYTE} x max-store-bytes + 64 MiB",
                    "measured": figures["rss_mb_gained"],
                    "verdict": verdict(
                        max(v for _, v in rss) - rss[0][1]
                        <= RSS_PER_STORE_BYTE * args.max_store_bytes + RSS_ALLOWANCE
                    ),
                }
            ]
        ),
        {
            "check": f"RSS growth over the second half < {RSS_GROWTH_BOUND:.0%}",
            "measured": figures["rss_growth_second_half"],
            "verdict": verdict(None if growth is None else growth < RSS_GROWTH_BOUND),
        },
    ]
    print(
        table(
            [{"figure": k, "value": v} for k, v in figures.items() if k != "status_counts"],
            ["figure", "value"],
        )
    )
    print(f"status counts: {figures['status_counts']}")
    print()
    print(table(checks, ["check", "measured", "verdict"]))
    for line in (state.backwards + state.errors)[:10]:
        print("  " + line)
    path = write_results(
        "soak",
        {
            "settings": vars(args),
            "figures": figures,
            "checks": checks,
            "rss_samples": [(round(at, 2), value) for at, value in rss[:: max(1, len(rss) // 200)]],
            "examples": {"backwards": state.backwards[:20], "errors": state.errors[:20]},
        },
    )
    print(f"\nwritten: {path}")
    return 0 if all(c["verdict"] == "met" for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
