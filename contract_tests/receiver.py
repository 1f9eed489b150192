"""A tiny HTTP server on loopback that receives callbacks and serves a test image."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from letta_contract_kit.contract_tests.observations import CallbackDelivery
from letta_contract_kit.contract_tests.strategies import TINY_PNG

IMAGE_PATH = "/images/pixel.png"


class CallbackReceiver:
    """Listens on ``host`` (a free port); each run gets its own URL under ``/callbacks/``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.deliveries: dict[str, list[CallbackDelivery]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                key = self.path.rsplit("/", 1)[-1]
                delivery = CallbackDelivery(time.monotonic(), body, dict(self.headers.items()))
                with receiver._lock:
                    receiver.deliveries.setdefault(key, []).append(delivery)
                self._answer(200, b'{"ok": true}', "application/json")

            def do_GET(self) -> None:
                if self.path == IMAGE_PATH:
                    self._answer(200, base64.b64decode(TINY_PNG), "image/png")
                else:
                    self._answer(404, b"{}", "application/json")

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def image_url(self) -> str:
        return f"{self.base_url}{IMAGE_PATH}"

    def new_url(self) -> tuple[str, str]:
        key = uuid.uuid4().hex
        return key, f"{self.base_url}/callbacks/{key}"

    def owns(self, url: str) -> bool:
        """Whether ``url`` is one of this receiver's callback URLs."""
        return url.startswith(f"{self.base_url}/callbacks/")

    def received(self, key: str) -> list[CallbackDelivery]:
        with self._lock:
            return list(self.deliveries.get(key, []))
