"""Printing figures as a table and keeping them as JSON in ``benchmarks/results/``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _git(*argv: str) -> str:
    try:
        return subprocess.run(
            ["git", *argv],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except OSError:
        return ""


# The checkout as it was when the benchmark started (this module is imported at start-up): a
# commit made while a long benchmark runs is not the code the benchmark measured.
_STARTED_AT = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
_COMMIT = _git("rev-parse", "--short", "HEAD") or None
_CHANGED = bool(_git("status", "--porcelain", "--untracked-files=no"))


def machine() -> dict[str, Any]:
    """The machine and checkout the figures were taken on (the checkout at start-up, and
    whether tracked files differed from its commit)."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": _COMMIT,
        "uncommitted_changes": _CHANGED,
        "started_at": _STARTED_AT,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of ``rows`` with one column per name in ``columns``."""
    cells = [[_cell(row.get(name)) for name in columns] for row in rows]
    widths = [max([len(name)] + [len(line[i]) for line in cells]) for i, name in enumerate(columns)]
    out = [
        "  ".join(name.ljust(widths[i]) for i, name in enumerate(columns)),
        "  ".join("-" * width for width in widths),
    ]
    for line in cells:
        out.append(
            "  ".join(
                text.rjust(widths[i]) if i else text.ljust(widths[i]) for i, text in enumerate(line)
            )
        )
    return "\n".join(out)


def write_results(name: str, data: Mapping[str, Any]) -> Path:
    """Write ``data`` (with the machine description) to ``results/<name>-<UTC time>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"{name}-{stamp}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    latest = RESULTS / f"{name}-latest.json"
    latest.write_text(path.read_text())
    return path


def verdict(met: bool | None, disturbed: str | None = None) -> str:
    """A goal's verdict; ``disturbed`` (why the machine, not the server, made a figure it
    rests on) leaves it unjudged whatever ``met`` says."""
    if disturbed is not None:
        return f"disturbed ({disturbed})"
    if met is None:
        return "not measured"
    return "met" if met else "MISSED"
