"""A tiny webhook recorder on 127.0.0.1 that both the mock and the real server can reach.

Every request is kept with its path, headers and body. The answer's status is the last path
segment when it is a number (``/cb/real/case-1/500`` answers 500), else 200.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
MAX_BODY = 1_048_576


@dataclass(frozen=True)
class Delivery:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received: float


class _Handler(BaseHTTPRequestHandler):
    server: _RecordingServer

    def _record(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        self.server.add(
            Delivery(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
        )
        last = self.path.rstrip("/").rsplit("/", 1)[-1]
        status = int(last) if last.isdigit() and 200 <= int(last) <= 599 else 200
        answer = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = _record
    do_PUT = _record
    do_GET = _record

    def log_message(self, format: str, *args: Any) -> None:
        return


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _Handler)
        self.deliveries: list[Delivery] = []
        self.arrived = threading.Condition()

    def add(self, delivery: Delivery) -> None:
        with self.arrived:
            self.deliveries.append(delivery)
            self.arrived.notify_all()


class CallbackRecorder:
    """``with CallbackRecorder() as rec: rec.url("/cb/x")`` ... ``rec.wait_for("/cb/x", 5)``."""

    def __init__(self) -> None:
        self._server = _RecordingServer()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> CallbackRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CallbackRecorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def received(self, prefix: str) -> list[Delivery]:
        with self._server.arrived:
            return [d for d in self._server.deliveries if d.path.startswith(prefix)]

    def wait_for(self, prefix: str, timeout: float, count: int = 1) -> list[Delivery]:
        """The deliveries under ``prefix`` once there are ``count`` of them, or at the deadline."""
        deadline = time.monotonic() + timeout
        with self._server.arrived:
            while True:
                found = [d for d in self._server.deliveries if d.path.startswith(prefix)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._server.arrived.wait(timeout=min(left, 0.2))
