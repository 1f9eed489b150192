"""The proxy in process, in front of the mock (or of a mock broken on purpose), and a raw
socket to talk to it byte for byte."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from letta_contract_kit.contract_tests.proxy import ProxyConfig, ProxyServer

GUARD_SECONDS = 10  # against a hang, not a measure
TOKEN = "sk-proxy-test-9f8e7d6c5b4a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Proxied:
    """A running proxy, the log it wrote, and (after the block) its result."""

    def __init__(self, server: ProxyServer, log: io.StringIO) -> None:
        self.server = server
        self.log = log

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def result(self) -> Any:
        assert self.server.result is not None, "the result is there once the proxy stopped"
        return self.server.result


@contextmanager
def proxied(upstream: str, **options: Any) -> Iterator[Proxied]:
    log = io.StringIO()
    server = ProxyServer(ProxyConfig(upstream=upstream, port=0, **options), stream=log)
    server.start()
    try:
        yield Proxied(server, log)
    finally:
        server.stop()


def exchange(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    """Send ``data`` on a new connection; what came back until the proxy closed it or one
    answer was complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD_SECONDS) as connection:
        connection.sendall(data)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        answer = b""
        while not complete(answer):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def complete(answer: bytes) -> bool:
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found or head.startswith(b"HTTP/1.1 100 "):
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False
