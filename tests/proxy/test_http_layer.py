"""What the proxy answers itself to a client that sends broken HTTP: a 4xx with a JSON detail
that says what is wrong, at once, and the proxy goes on serving; never a 5xx, a hang, or a
traceback in its log."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_contract_kit.contract_tests.proxy import http_layer, server
from letta_contract_kit.mockserver import MockServer

from .conftest import AUTH, GUARD_SECONDS, Proxied, complete, exchange, proxied

HEALTH = b"GET /v1/health/ HTTP/1.1\r\nHost: proxy\r\n\r\n"
POST_HEAD = b"POST /v1/echo HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\n"
# A route the proxy judges, so it holds the body whole (others it streams on as it comes).
JUDGED_HEAD = POST_HEAD.replace(
    b"/v1/echo", b"/v1/agents/agent-123e4567-e89b-42d3-8456-426614174000/messages/async"
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockServer]:
    with MockServer(port=0) as mock:
        yield mock


@pytest.fixture(scope="module")
def proxy(upstream: MockServer) -> Iterator[Proxied]:
    with proxied(upstream.base_url) as running:
        yield running


def status_and_detail(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), answer[:300]
    return int(head.split(b" ", 2)[1]), json.loads(body)["detail"]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"GARBAGE\r\n\r\n", "Invalid method encountered: b'GARBAGE'"),
        (b"GET /v1/health/ HTTP/1.1\r\nBad Header\r\n\r\n", "Invalid header token"),
        (
            POST_HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "Transfer-Encoding",
        ),
        (POST_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", "chunk size: b'zz'"),
        (
            POST_HEAD + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "Duplicate Content-Length",
        ),
        (
            b"GET /v1/health/ HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
            "Got more than 65536 bytes",
        ),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "PRI"),
        (b"GET /v1/\x00 HTTP/1.1\r\n\r\n", "Invalid char in url"),
    ],
    ids=[
        "method",
        "header",
        "length-and-chunked",
        "chunk-size",
        "two-lengths",
        "long-header",
        "http2",
        "nul",
    ],
)
def test_broken_framing_is_answered_400_with_a_json_detail(
    proxy: Proxied, data: bytes, said: str
) -> None:
    status, detail = status_and_detail(exchange(proxy.server.port, data))
    assert status == 400 and detail.startswith("Bad Request: ") and said in detail
    assert requests.get(f"{proxy.url}/v1/health/", headers=AUTH).status_code == 200
    assert "Traceback" not in proxy.log.getvalue()


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_request_broken_anywhere_gets_an_answer_never_a_5xx_or_a_hang(
    proxy: Proxied, data: st.DataObject
) -> None:
    """A byte changed, added or dropped anywhere in a valid request: the answer is the
    upstream's or a 4xx of the proxy's own, with a JSON detail."""
    valid = POST_HEAD + b"Content-Length: 2\r\n\r\n{}"
    at = data.draw(st.integers(0, len(valid) - 1), label="at")
    byte = data.draw(st.binary(min_size=0, max_size=1), label="byte")
    drop = data.draw(st.integers(0, 1), label="drop")
    broken = valid[:at] + byte + valid[at + drop :]
    answer = exchange(proxy.server.port, broken, half_close=True)
    if not answer:
        return  # a body shorter than announced: the connection ends with the client's
    status = int(answer.split(b" ", 2)[1])
    assert status < 500, answer[:300]
    if b"Via: 1.1 letta-contract-proxy" not in answer:  # answered by the proxy itself
        assert 400 <= status < 500 and status_and_detail(answer)[1]


def test_a_judged_body_announced_over_the_limit_is_refused_413_before_it_is_sent(
    proxy: Proxied,
) -> None:
    too_long = http_layer.MAX_REQUEST_BYTES + 1
    head = JUDGED_HEAD + f"Content-Length: {too_long}\r\nExpect: 100-continue\r\n\r\n".encode()
    answer = exchange(proxy.server.port, head)
    assert not answer.startswith(b"HTTP/1.1 100 "), "no 100 Continue for a body refused"
    status, detail = status_and_detail(answer)
    assert status == 413 and f"of {too_long} bytes is over the proxy's limit of 64 MiB" in detail


def test_a_judged_chunked_body_that_grows_over_the_limit_is_refused_413(
    upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_layer, "MAX_REQUEST_BYTES", 1024)
    chunk = b"400\r\n" + b"a" * 1024 + b"\r\n"
    with proxied(upstream.base_url) as proxy:
        answer = exchange(
            proxy.server.port, JUDGED_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2
        )
    status, detail = status_and_detail(answer)
    assert status == 413 and "the request body is over" in detail


@pytest.mark.parametrize("head", [JUDGED_HEAD, POST_HEAD], ids=["judged", "streamed"])
def test_a_body_that_stops_arriving_is_answered_408(
    upstream: MockServer, monkeypatch: pytest.MonkeyPatch, head: bytes
) -> None:
    """A chunk announced as 4 GiB, of which three bytes come: the proxy does not wait for
    the rest for longer than ``BODY_IDLE_SECONDS`` (made short here), whether it holds the
    body or streams it on."""
    monkeypatch.setattr(http_layer, "BODY_IDLE_SECONDS", 0.2)
    with proxied(upstream.base_url) as proxy:
        sent = head + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\nabc"
        status, detail = status_and_detail(exchange(proxy.server.port, sent))
    assert status == 408 and "the request body stopped arriving" in detail


def test_expect_100_continue_is_answered_and_the_body_then_forwarded(proxy: Proxied) -> None:
    with socket.create_connection(("127.0.0.1", proxy.server.port), timeout=GUARD_SECONDS) as c:
        c.sendall(
            b"GET /v1/health/ HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        assert c.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.sendall(b"{}")
        answer = b""
        while not complete(answer):
            answer += c.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Via: 1.1 letta-contract-proxy" in answer


def test_a_defect_of_the_proxy_is_answered_500_with_a_json_detail_and_logged(
    upstream: MockServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The one 5xx the proxy gives for a request it was asked to forward: its own bug."""

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug of the proxy's")

    monkeypatch.setattr(server.ForwardingApp, "_forwarded", broken)
    with proxied(upstream.base_url) as proxy:
        answer = requests.get(f"{proxy.url}/v1/health/", headers=AUTH)
    assert answer.status_code == 500
    assert "a defect of the proxy's; please report it" in answer.json()["detail"]
    assert any("a bug of the proxy's" in (r.exc_text or "") for r in caplog.records)
