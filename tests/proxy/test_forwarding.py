"""What crosses the proxy: the request as the client sent it (its target not re-quoted, its
headers in their order and case, nothing added but ``Host`` and ``Content-Length``, the
hop-by-hop ones left out; a body outside the contract streamed on as it comes) and the
answer as the upstream sent it, byte for byte, with ``Via`` added."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from letta_contract_kit.contract_tests.proxy import cassette, http_layer, server

from .conftest import GUARD_SECONDS, exchange, proxied

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
def recording_upstream(
    answer: bytes = ANSWER, body_ends: bytes = b"hello"
) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that keeps the request of its one connection as it arrived (up to
    a body ending with ``body_ends``) and sends ``answer``."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(body_ends):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
            seen.append(data)
            connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()
        thread.join(timeout=GUARD_SECONDS)


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


def test_an_answer_of_a_contract_route_over_4_mib_is_passed_through_whole_unjudged(
    tmp_path: Path,
) -> None:
    large = b'{"id": "' + b"x" * (server.MAX_JUDGED_BYTES + 10) + b'"}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(large)).encode() + b"\r\n\r\n" + large
    )
    run = "/v1/runs/run-123e4567-e89b-42d3-8456-426614174000"
    cassette = tmp_path / "c.jsonl"
    with (
        recording_upstream(answer, body_ends=b"") as (upstream, _),
        proxied(upstream, record=str(cassette)) as proxy,
    ):
        got = exchange(proxy.server.port, f"GET {run} HTTP/1.1\r\nHost: p\r\n\r\n".encode())
    assert got.partition(b"\r\n\r\n")[2] == large
    assert f"#1 GET {run}: answer over 4 MiB, not judged" in proxy.log.getvalue()
    assert proxy.result.cases == 0
    [line] = [json.loads(text) for text in cassette.read_text().splitlines()]
    assert line["response"]["body"]["truncated"] is True


def test_a_body_outside_the_contract_is_streamed_on_with_its_length_and_no_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload to a route the proxy does not judge is not held (the limit for bodies it
    judges does not apply); the cassette keeps its first 4 MiB."""
    monkeypatch.setattr(http_layer, "MAX_REQUEST_BYTES", 1024)
    upload = b"u" * (cassette.MAX_BODY_BYTES + 1000) + b"END"
    head = f"PUT /v1/sources/upload HTTP/1.1\r\nHost: p\r\nContent-Length: {len(upload)}\r\n\r\n"
    recorded = tmp_path / "c.jsonl"
    with (
        recording_upstream(body_ends=b"END") as (upstream, seen),
        proxied(upstream, record=str(recorded)) as proxy,
    ):
        answer = exchange(proxy.server.port, head.encode() + upload)
    assert answer.startswith(b"HTTP/1.1 200 Fine")
    [arrived] = seen
    arrived_head, _, arrived_body = arrived.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(upload)}".encode() in arrived_head.split(b"\r\n")
    assert b"Transfer-Encoding" not in arrived_head and arrived_body == upload
    [line] = [json.loads(text) for text in recorded.read_text().splitlines()]
    assert line["request"]["body"]["truncated"] is True
    assert len(line["request"]["body"]["text"]) == cassette.MAX_BODY_BYTES


def test_a_chunked_body_outside_the_contract_goes_on_chunked() -> None:
    chunks = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    head = b"POST /v1/echo HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n"
    with (
        recording_upstream(body_ends=b"0\r\n\r\n") as (upstream, seen),
        proxied(upstream) as proxy,
    ):
        answer = exchange(proxy.server.port, head + chunks)
    assert answer.startswith(b"HTTP/1.1 200 Fine")
    [arrived] = seen
    arrived_head, _, arrived_body = arrived.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in arrived_head.split(b"\r\n")
    assert b"".join(arrived_body.split(b"\r\n")[1::2]) == b"hello world"
