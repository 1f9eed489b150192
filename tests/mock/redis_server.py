"""A redis-server of the tests' own: on a free loopback port, in a folder of the test's, with
nothing saved unless asked, stopped by the process id it was started with.

Without redis-server installed the tests that need it are skipped, with the command that
installs it; in CI (``CI`` set) they fail instead, so a missing install step cannot pass.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

START_ATTEMPTS = 200
START_PAUSE = 0.025
INSTALL = "apt-get install -y redis-server"


def redis_server_binary() -> str:
    """Where redis-server is; skips the test (fails it in CI) when it is not installed."""
    found = shutil.which("redis-server")
    if found is None:
        why = f"redis-server is not installed ({INSTALL}): the Redis store cannot be tested"
        if os.environ.get("CI"):
            pytest.fail(why + "; CI must install it (.ci/run)", pytrace=False)
        pytest.skip(why)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """``start()``, ``stop()`` (SIGTERM: with ``append_only`` what it held is kept for the
    next start) and ``kill()``; the same port and folder on every start."""

    def __init__(self, folder: Path, append_only: bool = False) -> None:
        self.folder = folder
        self.append_only = append_only
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            redis_server_binary(),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)),
            *("--save", "", "--appendonly", "yes" if self.append_only else "no"),
            *("--logfile", str(self.folder / "redis.log")),
        ]

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.process = process
        for _ in range(START_ATTEMPTS):
            if process.poll() is not None:
                raise AssertionError(f"redis-server exited early: {self.log()}")
            if self.answers():
                return self
            time.sleep(START_PAUSE)
        self.kill()
        raise AssertionError(f"redis-server did not come up: {self.log()}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _end(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)


_SESSION: list[RedisServer] = []


def session_server(folder: Path) -> RedisServer:
    """The session's server (started on first use), which store tests share, each under a
    prefix of its own."""
    if not _SESSION:
        redis_server_binary()
        _SESSION.append(RedisServer(folder).start())
    return _SESSION[0]


def session_url() -> str:
    """The URL of the session's server; the test must have asked for the ``redis_url``
    fixture, which starts it."""
    if not _SESSION:
        raise RuntimeError("the session's redis-server is not running: use the redis_url fixture")
    return _SESSION[0].url


def stop_session_server() -> None:
    while _SESSION:
        _SESSION.pop().stop()
