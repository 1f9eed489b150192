"""Slow and idle clients cannot lock out the default server (waitress).

Many connections that send half a request head, announce a 100 MB body and never send it, or
start a chunked body and never end it must not stop others from being served: waitress's own
defaults (100 connections, idle ones dropped after 120 s) let 100 of them lock it. A body
announced larger than the limit is refused on the announcement; a silent connection is closed
and a request that does not arrive whole is answered 408, after ``idle_timeout``.

The timeouts here are hang guards, not measures: a socket read waits up to ``GUARD`` seconds,
and only a server that never answers (or never closes) fails on it.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
from collections.abc import Iterator

import pytest

from letta_contract_kit.mockserver import MockConfig, MockServer
from reliability.hostile_corpus import AGENT
from reliability.raw_http import host_port, request_json

GUARD = 10.0
# More than waitress's default connection limit (100), of each kind below together.
SLOW_CLIENTS = 150
ASYNC = f"/v1/agents/{AGENT}/messages/async"
LIMIT = 1_048_576
HUNDRED_MB = 100 * 1024 * 1024

HALF_HEAD = b"GET /v1/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Still-Typing: "
UNSENT_BODY = (
    f"POST {ASYNC} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    f"Content-Length: {HUNDRED_MB}\r\n\r\n"
).encode() + b'{"messages": ['
ENDLESS_CHUNKS = (
    f"POST {ASYNC} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
).encode() + b'5\r\n{"mes\r\n'
SLOW_KINDS = (HALF_HEAD, UNSENT_BODY, ENDLESS_CHUNKS)
# Within the limit, so waited for (and then given up on) rather than refused at once.
HALF_BODY = (
    f"POST {ASYNC} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Content-Length: 1000\r\n\r\n"
).encode() + b'{"messages": ['


@contextlib.contextmanager
def connections(base_url: str, openings: list[bytes]) -> Iterator[list[socket.socket]]:
    """One open connection per opening, each sent its opening and then left hanging."""
    opened: list[socket.socket] = []
    try:
        for opening in openings:
            sock = socket.create_connection(host_port(base_url), timeout=GUARD)
            opened.append(sock)
            if opening:
                sock.sendall(opening)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def read_to_end(sock: socket.socket) -> bytes:
    """Everything until the server closes; a socket timeout (the guard) fails the test."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the server did not close the connection: {data!r}") from None
        if not chunk:
            return data
        data += chunk


def status_and_detail(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), answer
    return status, str(json.loads(body)["detail"])


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(agents=[AGENT], clock="per-poll", max_body_bytes=LIMIT)) as server:
        yield server


def test_health_answers_while_many_slow_clients_hold_connections(mock: MockServer) -> None:
    openings = [SLOW_KINDS[index % len(SLOW_KINDS)] for index in range(SLOW_CLIENTS)]
    with connections(mock.base_url, openings):
        status, body = request_json(mock.base_url, "GET", "/v1/health/", timeout=GUARD)
        assert status == 200, body
        status, run = request_json(mock.base_url, "POST", ASYNC, {"input": "still served"})
        assert status == 200, run


def test_an_announced_oversized_body_is_refused_before_it_is_sent(mock: MockServer) -> None:
    huge_chunk = (
        f"POST {ASYNC} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{HUNDRED_MB:x}\r\n"
    ).encode() + b"{"
    with connections(mock.base_url, [UNSENT_BODY, huge_chunk]) as (by_length, by_chunk):
        for sock in (by_length, by_chunk):
            status, detail = status_and_detail(read_to_end(sock))
            assert status == 413, detail
            assert str(HUNDRED_MB) in detail and str(LIMIT) in detail, detail


def test_silent_and_unfinished_connections_are_ended() -> None:
    """With ``idle_timeout`` 1 s: a silent connection is closed without an answer (there is no
    request to answer), an unfinished request is answered 408, also one still trickling in."""
    config = MockConfig(agents=[AGENT], idle_timeout=1)
    with MockServer(config) as server:
        openings = [b"", HALF_HEAD, HALF_BODY, ENDLESS_CHUNKS, b"GET /v1/hea"]
        with connections(server.base_url, openings) as (silent, *unfinished, trickling):
            assert read_to_end(silent) == b""
            for sock in unfinished:
                status, detail = status_and_detail(read_to_end(sock))
                assert status == 408, detail
            for byte in b"lth/ HTTP/1.1\r\nX-Slow: " + b"x" * 1000:  # never the whole head
                readable, _, _ = select.select([trickling], [], [], 0.05)
                if readable:
                    break
                with contextlib.suppress(OSError):  # closed under it: the answer is read below
                    trickling.sendall(bytes([byte]))
            status, detail = status_and_detail(read_to_end(trickling))
            assert status == 408, detail
        status, body = request_json(server.base_url, "GET", "/v1/health/", timeout=GUARD)
        assert status == 200, body
