"""``letta-mock`` as users start it: a separate process on a loopback port."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reliability.raw_http import request_json

START_ATTEMPTS = 300
START_PAUSE = 0.05
# How long to wait for the "listening" line before calling the start hung (a hang guard: a
# start that prints it later still passes, one that never does fails instead of hanging).
LINE_GUARD = 60.0


class CliMock:
    """A ``letta-mock`` process; ``base_url`` once ``start()`` has returned."""

    # Run in the child before the mock starts (e.g. to set a resource limit).
    preexec: Callable[[], None] | None = None

    def __init__(self, port: int, log: Path, *args: str) -> None:
        self.port = port
        self.log = log
        self.args = args
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-c",
            "import sys; from letta_contract_kit.mockserver.cli import main; sys.exit(main())",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.args,
        ]

    def start(self) -> CliMock:
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, preexec_fn=self.preexec
            )
        self.process = process
        for _ in range(START_ATTEMPTS):
            if process.poll() is not None:
                raise AssertionError(f"letta-mock exited early: {self.log.read_text()[-2000:]}")
            try:
                status, _ = request_json(self.base_url, "GET", "/v1/health/", timeout=1)
            except OSError:
                status = 0
            if status == 200:
                return self
            time.sleep(START_PAUSE)
        process.kill()
        raise AssertionError(f"letta-mock did not come up: {self.log.read_text()[-2000:]}")

    def start_announced(self) -> dict[str, Any]:
        """Start and return the "listening" line the moment it is printed, without first
        waiting for health to answer (as a script that reads the line does)."""
        with self.log.open("ab") as err:
            process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=err)
        self.process = process
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], LINE_GUARD)
        line = process.stdout.readline() if ready else b""
        if not line:
            process.kill()
            process.wait(10)
            raise AssertionError(f"letta-mock printed no line: {self.log.read_text()[-2000:]}")
        announced = json.loads(line)
        assert isinstance(announced, dict), line
        return announced

    def kill(self) -> int:
        """SIGKILL, as a crash would; the exit status."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(10)

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
