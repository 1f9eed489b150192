"""Server processes under measurement: start-up time, CPU time and resident memory.

CPU and memory are read from ``/proc`` for the process and every descendant it has (Prism's
``node`` may fork, waitress does not), so a figure covers the whole server, not its launcher.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class MissingTool(RuntimeError):
    """A program the benchmark needs is not installed; the message says how to get it."""


def console_script(name: str) -> str:
    """The path of one of the project's commands (``letta-mock``, ``letta-contract``)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        raise MissingTool(f"{name} is not on PATH; install the project: pip install -e .")
    return found


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, as the kernel reports them now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the tree under ``pid``, reaped children included."""
    ticks = 0
    for member in descendants(pid):
        fields = _stat_fields(member)
        if fields is not None:
            # utime, stime, cutime, cstime are fields 14-17 (1-based) of the full line.
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of the tree under ``pid``."""
    total = 0
    for member in descendants(pid):
        try:
            resident = Path(f"/proc/{member}/statm").read_text().split()[1]
        except (OSError, IndexError):
            continue
        total += int(resident) * PAGE_BYTES
    return total


def own_rss_bytes() -> int:
    """Resident set size of this Python process."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_BYTES


def answers_healthy(host: str, port: int, path: str, headers: Mapping[str, str]) -> bool:
    """Whether one GET of ``path`` answers 200 right now."""
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


@dataclass
class ServerProcess:
    """A server started as a child process in its own session, stopped by its own id."""

    name: str
    argv: Sequence[str]
    port: int
    health_path: str = "/v1/health/"
    headers: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    env: Mapping[str, str] | None = None
    host: str = "127.0.0.1"
    start_deadline: float = 60.0
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> float:
        """Start the server; the seconds from launch to the first 200 on the health path."""
        env = {**os.environ, **(self.env or {})}
        began = time.perf_counter()
        with open(self.log_path or os.devnull, "ab") as log:
            self.process = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        while time.perf_counter() - began < self.start_deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before answering"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if answers_healthy(self.host, self.port, self.health_path, self.headers):
                self.startup_seconds = time.perf_counter() - began
                return self.startup_seconds
            time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {self.start_deadline:.0f} s")

    def stop(self) -> None:
        """Stop the server's own process group: SIGTERM, then SIGKILL after 5 s."""
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(wait)
        self.process = None

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
