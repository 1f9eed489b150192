"""What the kit's two pytest plugins add to every pytest start in a virtualenv that has the
kit installed: the time to import them, beside importing pytest alone, in fresh processes.

    python -m benchmarks.plugin_import [--rounds 15]

Each round starts one interpreter that imports pytest (the baseline) and one that imports
pytest and both plugins, in alternating order; the figure is the difference of the medians
(goal: < 50 ms), printed with the ratio to the baseline. ``-X importtime`` of one import
shows which modules the plugins pull in.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks.report import table, verdict, write_results

BASELINE = "import pytest"
PLUGINS = (
    "import pytest, letta_contract_kit.mockserver.plugin, letta_contract_kit.contract_tests.plugin"
)
GOAL_MS = 50.0


def _seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def _own_modules() -> list[str]:
    """The modules the plugins import beyond pytest's, heaviest first (from -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PLUGINS],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[0].isdigit():
            name = parts[2]
            if name.startswith(
                ("letta_contract_kit.mockserver", "letta_contract_kit.contract_tests")
            ):
                rows.append((int(parts[1]), name))
    return [f"{name} ({micros / 1000:.1f} ms)" for micros, name in sorted(rows, reverse=True)[:5]]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="fresh processes of each kind")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    base: list[float] = []
    with_plugins: list[float] = []
    for i in range(args.rounds):
        pair = [(BASELINE, base), (PLUGINS, with_plugins)]
        for code, into in pair if i % 2 == 0 else reversed(pair):
            into.append(_seconds(code))
    base_ms = statistics.median(base) * 1000
    plugins_ms = statistics.median(with_plugins) * 1000
    added = plugins_ms - base_ms
    rows = [
        {"import": "pytest (baseline)", "median ms": base_ms, "ratio": 1.0},
        {"import": "pytest + both plugins", "median ms": plugins_ms, "ratio": plugins_ms / base_ms},
    ]
    print(table(rows, ["import", "median ms", "ratio"]))
    print(
        f"added by the plugins: {added:.1f} ms (goal < {GOAL_MS:g} ms: {verdict(added < GOAL_MS)})"
    )
    heaviest = _own_modules()
    print("the plugins' own modules, cumulative:", ", ".join(heaviest))
    path = write_results(
        "plugin_import",
        {
            "rounds": args.rounds,
            "baseline_ms": base_ms,
            "with_plugins_ms": plugins_ms,
            "added_ms": added,
            "goal_ms": GOAL_MS,
            "modules": heaviest,
        },
    )
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
