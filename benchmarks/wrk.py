"""Driving ``wrk`` with generated Lua scripts and reading its figures back as JSON.

Each script ends with a ``done`` hook that prints one ``WRK-JSON`` line (requests, errors,
latency percentiles in microseconds), so nothing depends on wrk's human-readable output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.processes import MissingTool

_DONE_HOOK = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def _lua_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal that cannot be closed by its own content."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _headers_lua(headers: Mapping[str, str]) -> str:
    return "".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}\n" for k, v in headers.items()
    )


def post_script(path: str, body: str, headers: Mapping[str, str]) -> str:
    """Every request: ``POST path`` with ``body`` as JSON."""
    return (
        'wrk.method = "POST"\n'
        f"wrk.path = {_lua_string(path)}\n"
        f"wrk.body = {_lua_string(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n' + _headers_lua(headers) + _DONE_HOOK
    )


def get_script(paths: Sequence[str], headers: Mapping[str, str]) -> str:
    """Requests spread round-robin over ``paths``; each wrk thread starts at its own offset."""
    listed = ",\n".join(_lua_string(p) for p in paths)
    return (
        f"local paths = {{\n{listed}\n}}\n"
        "local n = #paths\n"
        "local i = 0\n"
        "local threads = 0\n"
        "setup = function(thread) threads = threads + 1; thread:set('offset', threads * 7919) end\n"
        "init = function(args) i = (offset or 0) % n end\n"
        + _headers_lua(headers)
        + "request = function()\n"
        "  i = i % n + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n" + _DONE_HOOK
    )


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    socket_errors: int
    timeouts: int
    non_2xx_3xx: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# How much longer than its duration a wrk run may take before it is taken for a pause of the
# machine rather than a measurement (see overran).
PAUSE_SLACK_SECONDS = 1.5

# The share of the server's CPU time the hypervisor may give to other guests during a wrk run
# before the run is taken for a measurement of the neighbours rather than of the server (see
# disturbance). On this project's quiet runs steal stays under 1%; in the disturbed ones it
# was 4-69%, and the mock's CPU per POST rose by a quarter or more with it.
STEAL_LIMIT = 0.02


def overran(result: WrkResult, seconds: float) -> bool:
    """Whether wrk ran for longer than it was asked to. wrk stops within a tenth of a second of
    its duration whatever the server does (its own timer ends the run; a server that stalls
    shows as timeouts inside the duration), so a run that lasted longer means wrk itself was
    stopped: the machine paused (a virtual machine suspended or snapshotted). Such a cell
    measured the pause, not the server."""
    return result.seconds > max(1, round(seconds)) + PAUSE_SLACK_SECONDS


def disturbance(result: WrkResult, seconds: float, steal: float) -> str | None:
    """Why a wrk run measured the machine rather than the server, or None if it did not: the
    machine paused (``overran``), or the hypervisor took more than ``STEAL_LIMIT`` of the
    server's CPUs (``steal``, a share of their time; NaN when unknown, which is no reason)."""
    if overran(result, seconds):
        return f"wrk ran {result.seconds:.1f} s of {max(1, round(seconds))}: the machine paused"
    if steal > STEAL_LIMIT:
        return f"the hypervisor took {steal:.1%} of the server's CPU time"
    return None


def measured_undisturbed(
    measure: Callable[[], tuple[WrkResult, dict[str, Any]]],
    seconds: float,
    label: str,
    set_aside: list[dict[str, Any]],
) -> dict[str, Any]:
    """``measure()`` (one wrk run of ``seconds`` and the figures made of it, with the server
    CPUs' ``steal`` if known); if the machine disturbed it (``disturbance``), its figures go to
    ``set_aside`` with the reason (``set_aside``) and it is measured once more, whose figures
    are kept whatever they are; if that one was disturbed too, it says why (``disturbed``),
    and a goal judged on it is not judged. The same rule holds for every server measured."""
    result, figures = measure()
    why = disturbance(result, seconds, float(figures.get("steal", float("nan"))))
    if why is None:
        return figures
    print(f"  {label}: {why}; measured again", file=sys.stderr, flush=True)
    set_aside.append({**figures, "set_aside": why})
    result, figures = measure()
    again = disturbance(result, seconds, float(figures.get("steal", float("nan"))))
    if again is not None:
        print(f"  {label}: {again} again; kept, marked disturbed", file=sys.stderr, flush=True)
        figures = {**figures, "disturbed": again}
    return figures


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise MissingTool(
            "wrk is not installed; on Debian/Ubuntu: apt-get update && apt-get install -y wrk"
        )
    return found


def wrk_version() -> str:
    completed = subprocess.run(
        [wrk_binary(), "-v"], capture_output=True, text=True, timeout=10, check=False
    )
    return (completed.stdout + completed.stderr).splitlines()[0].strip()


def run_wrk(
    base_url: str,
    script: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    request_timeout: float = 5.0,
) -> WrkResult:
    """Run wrk once against ``base_url`` with ``script``; bounded by ``seconds`` plus a margin."""
    with tempfile.TemporaryDirectory(prefix="letta-bench-") as folder:
        script_path = Path(folder) / "load.lua"
        script_path.write_text(script)
        argv = [
            wrk_binary(),
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={max(1, round(request_timeout))}s",
            "-s",
            str(script_path),
            base_url,
        ]
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    for line in completed.stdout.splitlines():
        if line.startswith("WRK-JSON "):
            raw = json.loads(line.removeprefix("WRK-JSON "))
            break
    else:
        raise RuntimeError(
            f"wrk printed no figures (exit {completed.returncode}): {completed.stderr.strip()}"
        )
    duration = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        seconds=round(duration, 3),
        requests_per_second=round(raw["requests"] / duration, 1) if duration else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
        socket_errors=raw["connect"] + raw["read"] + raw["write"],
        timeouts=raw["timeout"],
        non_2xx_3xx=raw["status"],
    )
