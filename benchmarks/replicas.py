"""Replicas over Redis beside one process over memory and two Granian workers over LMDB.

    python -m benchmarks.replicas                   # 16 and 64 connections, 5 s cells
    python -m benchmarks.replicas --seconds 3 --connections 32

Three targets, measured one after the other in the same run, with the same request body:

* ``memory``: one ``letta-mock --server granian`` process over the memory store (the baseline);
* ``lmdb-workers``: ``--server granian --workers 2 --threads 1 --store lmdb`` (two processes
  on one port, sharing one file: the fastest shared store on one machine);
* ``redis-replicas``: two ``letta-mock --server granian --threads 1 --store redis`` processes on
  two ports over one redis-server started here (``--save ''``, no AOF): replicas as behind a
  load balancer. Two wrk processes drive them at once, each with half the connections; the
  requests per second are the two added, p99 the larger of the two.

wrk drives ``POST .../messages/async`` and ``GET /v1/runs/{id}`` over 1,000 existing runs.
Figures are printed as ratios against ``memory``; CPU per request is the servers' (for Redis,
the replicas' and redis-server's). Before the load, 2,000 runs are posted to the replicas and
Redis' ``used_memory`` (INFO memory) and ``MEMORY USAGE`` of the store's keys say how many
bytes a run takes in Redis.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.processes import MissingTool, ServerProcess, console_script, cpu_seconds, free_port
from benchmarks.report import table, write_results
from benchmarks.workload import AGENT_ID, AUTH_HEADERS, async_path, create_runs, realistic_body_text
from benchmarks.wrk import WrkResult, get_script, post_script, run_wrk, wrk_version

GET_IDS = 1_000
SIZED_RUNS = 2_000
PREFIX = "letta-mock:"
TARGETS = ("memory", "lmdb-workers", "redis-replicas")


class RedisProcess:
    """A redis-server of the benchmark's own, on a free loopback port, saving nothing."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise MissingTool("redis-server is not installed; apt-get install -y redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                *(binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(folder)),
                *("--save", "", "--appendonly", "no", "--logfile", str(folder / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            if self.command("PING"):  # True once it answers
                return
            time.sleep(0.025)
        self.stop()
        raise RuntimeError("redis-server did not come up")

    def command(self, *words: str) -> Any:
        """One command and its answer, through redis-py (the [redis] extra)."""
        import redis

        try:
            client = redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)
            with client:
                return client.execute_command(*words)
        except (OSError, redis.ConnectionError):
            return None

    def used_memory(self) -> int:
        return int(self.command("INFO", "memory")["used_memory"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class Target:
    """One way of serving: one or more processes, each with its own port."""

    name: str
    servers: list[ServerProcess]
    redis: RedisProcess | None = None

    def cpu_seconds(self) -> float:
        spent = sum(server.cpu_seconds() for server in self.servers)
        if self.redis is not None:
            spent += cpu_seconds(self.redis.process.pid)
        return spent


def mock_process(name: str, folder: Path, flags: list[str]) -> ServerProcess:
    port = free_port()
    argv = [console_script("letta-mock"), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--agent", AGENT_ID, "--server", "granian", *flags]
    return ServerProcess(name, argv, port, log_path=folder / f"{name}-{port}.log")


def build(name: str, folder: Path, redis: RedisProcess | None) -> Target:
    if name == "memory":
        return Target(name, [mock_process(name, folder, [])])
    if name == "lmdb-workers":
        flags = ["--workers", "2", "--threads", "1", "--store", "lmdb"]
        return Target(
            name, [mock_process(name, folder, [*flags, "--lmdb-path", str(folder / "runs.lmdb")])]
        )
    assert redis is not None
    flags = [
        "--threads",
        "1",
        "--store",
        "redis",
        "--redis-url",
        redis.url,
        "--redis-prefix",
        PREFIX,
    ]
    return Target(name, [mock_process(name, folder, flags) for _ in range(2)], redis)


def drive(target: Target, script: str, connections: int, seconds: float) -> dict[str, Any]:
    """wrk against every process of the target at once, the connections shared out."""
    share = max(1, connections // len(target.servers))
    before = target.cpu_seconds()
    with ThreadPoolExecutor(len(target.servers)) as pool:
        results: list[WrkResult] = list(
            pool.map(
                lambda server: run_wrk(
                    server.base_url, script, connections=share, seconds=seconds, threads=1
                ),
                target.servers,
            )
        )
    spent = target.cpu_seconds() - before
    requests = sum(r.requests for r in results)
    return {
        "connections": share * len(results),
        "requests": requests,
        "requests_per_second": round(sum(r.requests_per_second for r in results), 1),
        "p50_ms": max(r.p50_ms for r in results),
        "p99_ms": max(r.p99_ms for r in results),
        "errors": sum(r.socket_errors + r.timeouts + r.non_2xx_3xx for r in results),
        "cpu_us_per_req": round(spent / requests * 1e6, 1) if requests else None,
    }


def bytes_per_run(target: Target) -> dict[str, Any]:
    """Post SIZED_RUNS runs (half to each replica) and read what Redis took for them."""
    redis = target.redis
    assert redis is not None
    before = redis.used_memory()
    for server in target.servers:
        create_runs(server.host, server.port, SIZED_RUNS // len(target.servers))
    after = redis.used_memory()
    keys = [PREFIX + k for k in ("runs", "order", "agent-of", "settled", "due")]
    keys.append(f"{PREFIX}agent:{AGENT_ID}")
    usage = {key.removeprefix(PREFIX): redis.command("MEMORY", "USAGE", key) or 0 for key in keys}
    records = int(redis.command("HSTRLEN", PREFIX + "runs", _any_run(redis)) or 0)
    return {
        "runs": SIZED_RUNS,
        "used_memory_per_run": round((after - before) / SIZED_RUNS),
        "memory_usage_per_run": round(sum(usage.values()) / SIZED_RUNS),
        "record_bytes": records,
        "memory_usage_by_key": usage,
    }


def _any_run(redis: RedisProcess) -> str:
    found = redis.command("ZRANGE", PREFIX + "order", "0", "0")
    return str(found[0]) if found else ""


def measure(name: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    redis = RedisProcess(folder) if name == "redis-replicas" else None
    target = build(name, folder, redis)
    try:
        for server in target.servers:
            server.start()
        sized = bytes_per_run(target) if redis is not None else None
        post = post_script(async_path(), realistic_body_text(), AUTH_HEADERS)
        cells = [
            {"endpoint": "POST async", **drive(target, post, c, args.seconds)}
            for c in args.connections
        ]
        first = target.servers[0]
        ids = create_runs(first.host, first.port, GET_IDS)
        get = get_script([f"/v1/runs/{run_id}" for run_id in ids], AUTH_HEADERS)
        cells += [
            {"endpoint": "GET run", **drive(target, get, c, args.seconds)} for c in args.connections
        ]
    finally:
        for server in target.servers:
            server.stop()
        if redis is not None:
            redis.stop()
    return {"target": name, "processes": len(target.servers), "cells": cells, "redis": sized}


def ratios(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target's requests/s and p99 against the memory baseline's, cell by cell."""
    base = {(c["endpoint"], c["connections"]): c for c in results["memory"]["cells"]}
    rows = []
    for name, result in results.items():
        for cell in result["cells"]:
            ref = base.get((cell["endpoint"], cell["connections"]))
            if ref is None:
                continue
            rows.append(
                {
                    "target": name,
                    "endpoint": cell["endpoint"],
                    "connections": cell["connections"],
                    "rps / memory": round(
                        cell["requests_per_second"] / ref["requests_per_second"], 2
                    )
                    if ref["requests_per_second"]
                    else None,
                    "p99 / memory": round(cell["p99_ms"] / ref["p99_ms"], 2)
                    if ref["p99_ms"]
                    else None,
                }
            )
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.replicas", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--connections", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = wrk_version()
        results: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="letta-replicas-") as folder:
            for name in TARGETS:
                print(f"measuring {name} ...", file=sys.stderr, flush=True)
                try:
                    results[name] = measure(name, args, Path(folder))
                except (RuntimeError, subprocess.SubprocessError) as exc:
                    print(f"{name} failed: {exc}", file=sys.stderr)
                    return 1
    except MissingTool as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return 2
    rows = [{"target": name, **cell} for name, r in results.items() for cell in r["cells"]]
    columns = ["target", "endpoint", "connections", "requests_per_second", "p50_ms", "p99_ms"]
    print(table(rows, [*columns, "cpu_us_per_req", "requests", "errors"]))
    print()
    compared = ratios(results)
    print(table(compared, ["target", "endpoint", "connections", "rps / memory", "p99 / memory"]))
    sized = results["redis-replicas"]["redis"]
    print()
    print(
        f"bytes per run in Redis, over {sized['runs']:,} runs: {sized['used_memory_per_run']:,} "
        f"(INFO used_memory), {sized['memory_usage_per_run']:,} (MEMORY USAGE of the store's "
        f"keys); the record itself: {sized['record_bytes']:,}"
    )
    path = write_results(
        "replicas", {"settings": vars(args), "wrk": wrk, "results": results, "ratios": compared}
    )
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
