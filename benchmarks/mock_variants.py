"""What would make the mock faster: the shipped mock beside patched variants, same harness.

    python -m benchmarks.mock_variants                 # about 2 minutes
    python -m benchmarks.mock_variants --seconds 3     # quicker, noisier

Each variant runs in its own child process: the mock's app served by waitress in that
process (as ``MockServer`` does), with a change applied before the app is built, driven by wrk
with the same realistic POST and with GETs of existing runs. The changes stand for proposals
to the mock; none of them is shipped. ``no-sweep`` disables the wall-clock background sweep,
an upper bound for a sweep that visits only runs that are due.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.processes import cpu_seconds, free_port
from benchmarks.report import table, write_results
from benchmarks.workload import AGENT_ID, AUTH_HEADERS, async_path, create_runs, realistic_body_text
from benchmarks.wrk import get_script, post_script, run_wrk


def cache_schema_fields() -> None:
    """``schemas.contract.fields`` deep-copies a whole schema file per call; cache the tuple."""
    import mockserver.conversation
    import schemas.contract

    cached = functools.cache(schemas.contract.fields)
    schemas.contract.fields = cached
    mockserver.conversation.fields = cached  # type: ignore[attr-defined]


def disable_sweep() -> None:
    """No wall-clock background sweep (runs still move when looked at)."""
    from mockserver.service import MockService

    MockService.start = lambda self: None  # type: ignore[method-assign]


def coercion_fast_path() -> None:
    """Skip the lax-value walk when the strict (documented) reading already accepts the body.

    Such a body holds no lax value (``"2"`` for 2, ``"yes"`` for true), so the walk would
    return it unchanged.
    """
    import mockserver.routes.agents as agents
    from schemas.validation import validator

    strict = validator("letta-async-request", "documented")
    walk = vars(agents)["canonical"]

    def canonical(name: str, instance: Any, *args: Any, **kwargs: Any) -> Any:
        if name == "letta-async-request" and strict.is_valid(instance):
            return instance
        return walk(name, instance, *args, **kwargs)

    vars(agents)["canonical"] = canonical


def no_store_copies() -> None:
    """The memory store hands out and keeps the caller's objects instead of deep copies.

    An upper bound for a store that keeps runs as immutable or serialized values.
    """
    import types

    import mockserver.store.memory

    vars(mockserver.store.memory)["copy"] = types.SimpleNamespace(deepcopy=lambda value: value)


PATCHES: dict[str, Callable[[], None]] = {
    "cache-fields": cache_schema_fields,
    "no-sweep": disable_sweep,
    "coercion-fast-path": coercion_fast_path,
    "no-store-copies": no_store_copies,
}
ALL = ["coercion-fast-path", "cache-fields", "no-sweep"]

VARIANTS: dict[str, tuple[list[str], int]] = {
    "shipped": ([], 8),
    "coercion-fast-path": (["coercion-fast-path"], 8),
    "cache-fields": (["cache-fields"], 8),
    "no-sweep": (["no-sweep"], 8),
    "all three": (ALL, 8),
    "all three, 4 threads": (ALL, 4),
    "all three, 2 threads": (ALL, 2),
    "all three + no-store-copies, 4 threads": ([*ALL, "no-store-copies"], 4),
}


def measure_variant(name: str, seconds: float, connections: int) -> dict[str, Any]:
    patches, threads = VARIANTS[name]
    for patch in patches:
        PATCHES[patch]()
    from waitress.server import create_server

    from mockserver import MockConfig, create_app

    port = free_port()
    config = MockConfig(agents=[AGENT_ID], port=port, threads=threads)
    server = create_server(create_app(config), host="127.0.0.1", port=port, threads=threads)
    threading.Thread(target=server.run, daemon=True).start()
    base_url = f"http://127.0.0.1:{port}"
    post = post_script(async_path(), realistic_body_text(), AUTH_HEADERS)
    ids = create_runs("127.0.0.1", port, 1_000)
    get = get_script([f"/v1/runs/{run_id}" for run_id in ids], AUTH_HEADERS)
    figures: dict[str, Any] = {"variant": name}
    for endpoint, script in (("post", post), ("get", get)):
        before = cpu_seconds(os.getpid())
        result = run_wrk(base_url, script, connections=connections, seconds=seconds)
        spent = cpu_seconds(os.getpid()) - before
        figures[endpoint] = {
            **result.as_dict(),
            "cpu_us_per_req": spent / result.requests * 1e6 if result.requests else None,
        }
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mock_variants")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        figures = measure_variant(args.child, args.seconds, args.connections)
        print("VARIANT-JSON " + json.dumps(figures), flush=True)
        os._exit(0)
    rows: list[dict[str, Any]] = []
    for name in args.variants:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "benchmarks.mock_variants", "--child", name]
        command += ["--seconds", str(args.seconds), "--connections", str(args.connections)]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=args.seconds * 2 + 180, check=False
        )
        lines = [x for x in completed.stdout.splitlines() if x.startswith("VARIANT-JSON ")]
        if not lines:
            print(f"{name} failed: {completed.stderr[-2000:]}", file=sys.stderr)
            return 1
        rows.append(json.loads(lines[0].removeprefix("VARIANT-JSON ")))
    base = rows[0]
    shown = [
        {
            "variant": r["variant"],
            "POST rps": r["post"]["requests_per_second"],
            "POST p99 ms": r["post"]["p99_ms"],
            "POST cpu us": r["post"]["cpu_us_per_req"],
            "POST x": round(
                r["post"]["requests_per_second"] / base["post"]["requests_per_second"], 2
            ),
            "GET rps": r["get"]["requests_per_second"],
            "GET p99 ms": r["get"]["p99_ms"],
            "GET cpu us": r["get"]["cpu_us_per_req"],
            "GET x": round(r["get"]["requests_per_second"] / base["get"]["requests_per_second"], 2),
            "errors": r["post"]["non_2xx_3xx"] + r["get"]["non_2xx_3xx"],
        }
        for r in rows
    ]
    print(table(shown, list(shown[0])))
    path = write_results("mock_variants", {"settings": vars(args), "results": rows})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
