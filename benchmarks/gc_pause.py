"""How long a full garbage collection stops the mock's serving process, with the start-up heap
frozen (as ``letta-mock`` serves: ``server.freeze_start_up_heap``) beside without, in fresh
processes.

    python -m benchmarks.gc_pause [--rounds 5] [--requests 20000]

Each round starts one child of each kind, in alternating order. A child builds the service
and the app as ``letta-mock`` does, freezes the start-up heap or not, answers ``--requests``
async sends and as many run retrieves through the app (so the store is full at its default
bound and serving has left what it leaves), then times ``--collections`` full collections and
prints their median. The figure is the ratio of the medians of the rounds (frozen / not), with
each side's median in ms. A full collection stops every request in flight.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks.report import table, write_results
from benchmarks.workload import AGENT_ID, AUTH_HEADERS, async_path, realistic_body_text

KINDS = ("not frozen", "frozen")


def child(frozen: bool, requests: int, collections: int) -> None:
    """One process: build, maybe freeze, serve ``requests`` pairs in process, time collections."""
    import gc

    from letta_contract_kit.mockserver.app import create_app
    from letta_contract_kit.mockserver.config import MockConfig
    from letta_contract_kit.mockserver.server import freeze_start_up_heap
    from letta_contract_kit.mockserver.service import MockService

    app = create_app(service=MockService(MockConfig(agents=[AGENT_ID])))
    if frozen:
        freeze_start_up_heap()
    client = app.test_client()
    body = realistic_body_text()
    headers = {**AUTH_HEADERS, "Content-Type": "application/json"}
    for _ in range(requests):
        answer = client.post(async_path(), data=body, headers=headers)
        read = client.get(f"/v1/runs/{answer.get_json()['id']}", headers=AUTH_HEADERS)
        if answer.status_code >= 300 or read.status_code >= 300:
            raise RuntimeError(f"the mock answered {answer.status_code} / {read.status_code}")
    pauses = []
    for _ in range(collections):
        began = time.perf_counter()
        gc.collect()
        pauses.append(time.perf_counter() - began)
    tracked = len(gc.get_objects())
    print(json.dumps({"median_ms": statistics.median(pauses) * 1000, "tracked": tracked}))


def _one(kind: str, args: argparse.Namespace) -> dict[str, float]:
    argv = [sys.executable, "-m", "benchmarks.gc_pause", "--child", kind]
    argv += ["--requests", str(args.requests), "--collections", str(args.collections)]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes of each kind")
    parser.add_argument("--requests", type=int, default=20_000, help="sends (and retrieves)")
    parser.add_argument("--collections", type=int, default=20, help="timed full collections")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1 or args.collections < 1:
        parser.error("--rounds, --requests and --collections must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        child(args.child == "frozen", args.requests, args.collections)
        return 0
    measured: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    for index in range(args.rounds):
        for kind in KINDS if index % 2 == 0 else reversed(KINDS):
            measured[kind].append(_one(kind, args))
    medians = {kind: statistics.median(r["median_ms"] for r in measured[kind]) for kind in KINDS}
    rows = [
        {
            "start-up heap": kind,
            "full collection ms (median)": medians[kind],
            "tracked objects": statistics.median(r["tracked"] for r in measured[kind]),
            "ratio": medians[kind] / medians["not frozen"],
        }
        for kind in KINDS
    ]
    print(table(rows, list(rows[0])))
    path = write_results(
        "gc_pause",
        {"rounds": args.rounds, "requests": args.requests, "measured": measured, "rows": rows},
    )
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
