"""Sending exact bytes over a socket and reading the answer with the standard parser."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawAnswer:
    """What came back: status 0 when the connection ended without an HTTP answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_json(self) -> bool:
        media = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return False
        try:
            self.json()
        except ValueError:
            return False
        return True

    def describe(self) -> str:
        preview = self.body[:300]
        return f"{self.status} {self.headers.get('content-type', '')!r} {preview!r}" + (
            f" ({self.error})" if self.error else ""
        )


def host_port(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def send_raw(base_url: str, data: bytes, method: str = "POST", timeout: float = 20.0) -> RawAnswer:
    """Send ``data`` as it is on a fresh connection and read one answer."""
    host, port = host_port(base_url)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        send_error: str | None = None
        try:
            sock.sendall(data)
        except OSError as exc:  # the server may answer and close before reading it all
            send_error = f"send stopped: {exc!r}"
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return RawAnswer(0, error=f"{send_error or ''} no answer: {exc!r}".strip())
        finally:
            with contextlib.suppress(OSError):
                response.close()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return RawAnswer(response.status, headers, body, send_error)


def request_json(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """One well-formed JSON request; the status and the decoded body (None when not JSON)."""
    host, port = host_port(base_url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        sent_headers = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        connection.request(method, path, body=payload, headers=sent_headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        decoded = json.loads(data) if data else None
    except ValueError:
        decoded = None
    return response.status, decoded
