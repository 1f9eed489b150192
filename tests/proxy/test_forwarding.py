"""What crosses the proxy: the request as the client sent it (its target not re-quoted, its
headers in their order and case, nothing added but ``Host`` and ``Content-Length``, the
hop-by-hop ones left out) and the answer as the upstream sent it, byte for byte, with
``Via`` added."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .conftest import proxied

GUARD_SECONDS = 10  # against a hang, not a measure
BODY = gzip.compress(b'{"status": "ok"}')
ANSWER = (
    b"HTTP/1.1 200 Fine\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Encoding: gzip\r\n"
    b"Set-Cookie: a=1\r\n"
    b"Set-Cookie: b=2\r\n"
    b"X-Upstream-Case: Kept\r\n"
    b"Connection: keep-alive, X-Upstream-Hop\r\n"
    b"X-Upstream-Hop: dropped\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


@contextmanager
def recording_upstream() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that keeps each request as it arrived and answers ``ANSWER``."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"hello"):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
            seen.append(data)
            connection.sendall(ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()
        thread.join(timeout=GUARD_SECONDS)


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), GUARD_SECONDS) as connection:
        connection.sendall(request)
        answer = b""
        while not answer.endswith(BODY):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_the_request_goes_on_as_sent_and_the_answer_comes_back_as_answered() -> None:
    request = (
        b"POST /v1/echo/%7Ea%2Fb?q=%20x&q=y HTTP/1.1\r\n"
        b"Host: proxy.example\r\n"
        b"x-lower-case: 1\r\n"
        b"X-Twice: first\r\n"
        b"X-Twice: second\r\n"
        b"Connection: keep-alive, X-Client-Hop\r\n"
        b"X-Client-Hop: dropped\r\n"
        b"Keep-Alive: timeout=5\r\n"
        b"Content-Length: 5\r\n\r\nhello"
    )
    with recording_upstream() as (upstream, seen), proxied(upstream) as proxy:
        answer = exchange(proxy.server.port, request)
    [arrived] = seen
    head, _, body = arrived.partition(b"\r\n\r\n")
    line, *headers = head.split(b"\r\n")
    assert line == b"POST /v1/echo/%7Ea%2Fb?q=%20x&q=y HTTP/1.1"
    port = upstream.rsplit(":", 1)[1].encode()
    assert sorted(headers) == sorted(
        [
            b"x-lower-case: 1",
            b"X-Twice: first",
            b"X-Twice: second",
            b"Host: 127.0.0.1:" + port,
            b"Content-Length: 5",
        ]
    )
    assert body == b"hello"
    answer_head, _, answer_body = answer.partition(b"\r\n\r\n")
    status, *answer_headers = answer_head.split(b"\r\n")
    assert status == b"HTTP/1.1 200 Fine" and answer_body == BODY  # still gzip
    for kept in (
        b"Content-Encoding: gzip",
        b"Set-Cookie: a=1",
        b"Set-Cookie: b=2",
        b"X-Upstream-Case: Kept",
        b"Via: 1.1 letta-contract-proxy",
    ):
        assert kept in answer_headers, kept
    assert not [h for h in answer_headers if h.lower().startswith(b"x-upstream-hop")]
