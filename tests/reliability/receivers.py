"""Callback receivers that misbehave on purpose, and servers that answer the suite badly.

Each is a small raw-socket server on loopback, run in a daemon thread and closed by its
context manager. They record what happened as events, so tests can assert on order.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read_request(conn: socket.socket) -> bytes:
    """Read until the end of the headers and a Content-Length body, or until the peer stops."""
    data = b""
    conn.settimeout(10)
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        data = head + b"\r\n\r\n" + body
    return data


class SocketServer:
    """Accepts connections on loopback and hands each to ``handle`` in its own thread."""

    def __init__(self, handle: Callable[[SocketServer, socket.socket], None]) -> None:
        self._handle = handle
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self.release = threading.Event()
        self.requests: list[bytes] = []
        self.got_request = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, request: bytes) -> None:
        with self._lock:
            self.requests.append(request)
        self.got_request.set()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handle(self, conn)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> SocketServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()


OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def hang(server: SocketServer, conn: socket.socket) -> None:
    """Read the request, then say nothing until released; then close without answering."""
    server.record(_read_request(conn))
    server.release.wait(60)


def answer_when_released(server: SocketServer, conn: socket.socket) -> None:
    """A slow receiver: read the request, wait to be released, then answer 200."""
    server.record(_read_request(conn))
    server.release.wait(60)
    conn.sendall(OK_ANSWER)


def reset(server: SocketServer, conn: socket.socket) -> None:
    """Read the request, then reset the connection (RST, no answer)."""
    server.record(_read_request(conn))
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def garbage(server: SocketServer, conn: socket.socket) -> None:
    """Read the request, answer bytes that are not HTTP, and close."""
    server.record(_read_request(conn))
    conn.sendall(b"\x00\xffthis is not HTTP at all\r\n\x07\x08" * 20)


def garbage_json(server: SocketServer, conn: socket.socket) -> None:
    """Answer well-formed HTTP whose JSON body is nonsense for every endpoint."""
    server.record(_read_request(conn))
    body = b'{"id": 42, "status": ["nonsense"], "version": null}'
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
