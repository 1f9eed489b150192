"""The latency ``letta-contract proxy`` adds: the mock reached directly and through the proxy.

    python -m benchmarks.proxy_overhead                  # 10 s per cell, about 1 minute
    python -m benchmarks.proxy_overhead --seconds 3      # a quick look

One mock (``letta-mock``, waitress) and one proxy in front of it (``letta-contract proxy
--upstream``, judging every exchange, recording nothing) are started as processes; wrk drives
``POST .../messages/async`` with the realistic body and ``GET /v1/runs/{id}`` spread over
existing runs at each concurrency (16 by default), first directly, then through the proxy,
in the same run. The figures are the latency the proxy adds (p50 and p99, through minus
direct) and ratios against the direct connection; on a 2-core machine the mock, the proxy
and wrk share the cores, so the added latency includes their contention.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.processes import MissingTool, ServerProcess, console_script, free_port
from benchmarks.report import table, write_results
from benchmarks.workload import (
    AGENT_ID,
    AUTH_HEADERS,
    async_path,
    create_runs,
    realistic_body_text,
)
from benchmarks.wrk import get_script, post_script, run_wrk, wrk_version

GET_IDS = 500


def _cell(url: str, script: str, connections: int, seconds: float) -> dict[str, Any]:
    result = run_wrk(url, script, connections=connections, seconds=seconds)
    return result.as_dict()


def measure(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    mock_port, proxy_port = free_port(), free_port()
    mock = ServerProcess(
        "mock",
        [console_script("letta-mock"), "--port", str(mock_port), "--agent", AGENT_ID],
        mock_port,
        log_path=folder / "mock.log",
    )
    proxy = ServerProcess(
        "proxy",
        [
            console_script("letta-contract"),
            "proxy",
            "--upstream",
            mock.base_url,
            "--port",
            str(proxy_port),
        ],
        proxy_port,
        log_path=folder / "proxy.log",
    )
    rows: list[dict[str, Any]] = []
    with mock, proxy:
        ids = create_runs("127.0.0.1", mock_port, GET_IDS)
        # GETs first: the POSTs fill the mock's bounded store, which then forgets old runs.
        scripts = {
            "GET run": get_script([f"/v1/runs/{i}" for i in ids], AUTH_HEADERS),
            "POST async": post_script(async_path(), realistic_body_text(), AUTH_HEADERS),
        }
        for endpoint, script in scripts.items():
            for connections in args.connections:
                before = proxy.cpu_seconds()
                direct = _cell(mock.base_url, script, connections, args.seconds)
                through = _cell(proxy.base_url, script, connections, args.seconds)
                proxy_cpu = proxy.cpu_seconds() - before
                rows.append(
                    {
                        "endpoint": endpoint,
                        "connections": connections,
                        "direct_p50_ms": direct["p50_ms"],
                        "proxy_p50_ms": through["p50_ms"],
                        "added_p50_ms": round(through["p50_ms"] - direct["p50_ms"], 3),
                        "direct_p99_ms": direct["p99_ms"],
                        "proxy_p99_ms": through["p99_ms"],
                        "added_p99_ms": round(through["p99_ms"] - direct["p99_ms"], 3),
                        "p50_ratio": round(through["p50_ms"] / direct["p50_ms"], 2),
                        "p99_ratio": round(through["p99_ms"] / direct["p99_ms"], 2),
                        "rps_ratio": round(
                            through["requests_per_second"] / direct["requests_per_second"], 2
                        ),
                        "proxy_cpu_us_per_req": round(
                            proxy_cpu / max(through["requests"], 1) * 1e6, 1
                        ),
                        "errors": direct["socket_errors"]
                        + through["socket_errors"]
                        + direct["non_2xx_3xx"]
                        + through["non_2xx_3xx"],
                        "direct": direct,
                        "through_proxy": through,
                    }
                )
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.proxy_overhead",
        description="The latency letta-contract proxy adds in front of the mock.",
    )
    parser.add_argument("--connections", nargs="+", type=int, default=[16])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = wrk_version()
        with tempfile.TemporaryDirectory(prefix="letta-bench-") as folder:
            try:
                rows = measure(args, Path(folder))
            except RuntimeError as exc:
                logs = "".join(
                    p.read_text(errors="replace")[-1500:] for p in Path(folder).glob("*.log")
                )
                print(f"failed: {exc}\n{logs}", file=sys.stderr)
                return 1
    except MissingTool as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return 2
    columns = [
        "endpoint",
        "connections",
        "direct_p50_ms",
        "proxy_p50_ms",
        "added_p50_ms",
        "direct_p99_ms",
        "proxy_p99_ms",
        "added_p99_ms",
        "p50_ratio",
        "p99_ratio",
        "rps_ratio",
        "proxy_cpu_us_per_req",
        "errors",
    ]
    print(table(rows, columns))
    path = write_results("proxy_overhead", {"settings": vars(args), "wrk": wrk, "results": rows})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
