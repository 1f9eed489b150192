"""The callback guard judges a URL exactly as the HTTP client will connect.

Hypothesis builds URLs out of the pieces that make parsers disagree (backslashes, userinfo,
fragments and queries before an ``@``, whitespace and control characters, percent-escapes,
brackets, odd ports, other spellings of loopback) and sends each as a run's callback, with
only loopback hosts allowed. Where the HTTP client opens a connection is recorded at the
socket (``urllib3.util.connection.create_connection``, which every request passes through):
it must only ever be a loopback address, a refused URL must open no connection at all, and
every URL, called or not, must leave its outcome on the run (a status or a ``callback_error``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.util.connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_contract_kit.mockserver.callback_url import Refused, judge
from letta_contract_kit.mockserver.callbacks import CallbackDispatcher, CallbackOutcome
from letta_contract_kit.mockserver.conversation import RunOutput
from letta_contract_kit.mockserver.records import RunRecord

from .receiver import Receiver

LOOPBACK_ONLY = ["loopback", "localhost"]
SCHEMES = ["http://", "https://", "HTTP://", "http:/", "http:\\\\", "http:///", " http://"]
HOSTS = [
    "127.0.0.1",
    "localhost",
    "[::1]",
    "0.0.0.0",
    "10.0.0.1",
    "169.254.169.254",
    "evil.example",
    "[::ffff:127.0.0.1]",
    "[::ffff:a00:1]",
    "2130706433",
    "0x7f.1",
    "127.1",
    "localhost.evil.example",
    "evil.example.localhost",
]
TRICKS = [
    "\\",
    "@",
    ":",
    "#",
    "?",
    "/",
    ";",
    "%",
    "%2f",
    "%40",
    "%5c",
    "%00",
    "%2e",
    " ",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\x7f",
    "\u3002",
    "\uff20",
    "\u2044",
    "[",
    "]",
    "user",
    "user:pass@",
    ":80",
    ":9",
    ":65536",
    ":-1",
    ":0x50",
]
PIECES = st.sampled_from(HOSTS + TRICKS)


@st.composite
def tricky_urls(draw: st.DrawFn) -> str:
    """A scheme, two hosts with tricks between and after them, in any mix."""
    tricks = st.lists(PIECES, max_size=4).map("".join)
    hosts = st.sampled_from(HOSTS)
    return (
        draw(st.sampled_from(SCHEMES))
        + draw(tricks)
        + draw(hosts)
        + draw(tricks)
        + draw(hosts)
        + draw(tricks)
        + draw(st.sampled_from(["", "/p"]))
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Connections:
    """Every address the HTTP client tries to open, on any thread; none is opened."""

    def __init__(self) -> None:
        self.tried: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def create_connection(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.tried.append((address[0], address[1]))
        raise ConnectionRefusedError("refused by the test")


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[Connections]:
    seen = Connections()
    monkeypatch.setattr(urllib3.util.connection, "create_connection", seen.create_connection)
    yield seen


def record_for(callback_url: str) -> RunRecord:
    run = {"id": "run-1", "agent_id": "agent-1", "status": "completed", "stop_reason": None}
    return RunRecord(
        run={**run, "metadata": None, "callback_url": callback_url},
        request={},
        scenario="succeed",
        plan=[],
    )


def send(url: str) -> CallbackOutcome:
    """Dispatch one callback to ``url`` (loopback hosts allowed); the outcome it records."""
    outcomes: list[CallbackOutcome] = []
    dispatcher = CallbackDispatcher(1.0, LOOPBACK_ONLY, output=lambda _: RunOutput([], [], {}))
    try:
        future = dispatcher.dispatch(
            record_for(url), now=lambda: 0.0, record_outcome=lambda _, o: outcomes.append(o)
        )
        future.result(timeout=30)
    finally:
        dispatcher.close()
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=tricky_urls())
def test_the_client_only_ever_connects_where_the_guard_allowed(
    url: str, connections: Connections
) -> None:
    connections.tried.clear()
    try:
        judge(url, LOOPBACK_ONLY)
        allowed = True
    except Refused:
        allowed = False
    outcome = send(url)
    assert outcome.error is not None or outcome.status_code is not None, outcome
    assert all(is_loopback(host) for host, _ in connections.tried), (url, connections.tried)
    if not allowed:
        assert connections.tried == [], (url, connections.tried)
        assert outcome.error is not None and "not sent" in outcome.error, outcome


SEPARATORS = ["\\", "@", "#", "?", "/", ";", " ", "\t", "%40", "%5c", ":9", "\uff20", ""]
LOOPBACK_LOOKING = ["127.0.0.1", "localhost", "[::1]", "127.0.0.1:9"]
ELSEWHERE = ["0.0.0.0", "0.0.0.0:9", "evil.example", "10.0.0.1", "169.254.169.254", "[::2]"]


def corpus() -> Iterator[str]:
    """Every pair of a loopback-looking and another host, either way round, joined by every
    sequence of up to two separators."""
    joins = [a + b for a in SEPARATORS for b in SEPARATORS]
    for near in LOOPBACK_LOOKING:
        for far in ELSEWHERE:
            for join in joins:
                yield f"http://{far}{join}{near}/p"
                yield f"http://{near}{join}{far}/p"


def test_no_url_of_the_corpus_lets_the_client_connect_beyond_loopback() -> None:
    """Where requests' adapter connects is the host urllib3 reads in the prepared URL."""
    import requests
    from urllib3.util import parse_url

    judged = called = 0
    for url in corpus():
        judged += 1
        try:
            target = judge(url, LOOPBACK_ONLY)
        except Refused:
            continue
        called += 1
        prepared = requests.Request("POST", target.url, json={}).prepare()
        host = parse_url(str(prepared.url)).host or ""
        assert is_loopback(host), (url, host)
    assert judged > 8_000 and 0 < called < judged, (judged, called)


@pytest.mark.parametrize(
    "url",
    [
        "http://0.0.0.0:9\\@127.0.0.1/p",  # urllib3 ends the host at the backslash
        "http://evil.example\\.127.0.0.1/p",
        "http://evil.example#@127.0.0.1/p",
        "http://evil.example?@127.0.0.1/p",
        "http://127.0.0.1 @evil.example/p",
        "http://127.0.0.1\t.evil.example/p",
        "http://127.0.0.1%00.evil.example/p",
        "http://127.0.0.1\uff20evil.example/p",
        "http://[::ffff:127.0.0.1]/p",
    ],
)
def test_urls_that_parsers_read_differently_are_refused(url: str, connections: Connections) -> None:
    outcome = send(url)
    assert connections.tried == []
    assert outcome.error is not None and "not sent" in outcome.error, outcome


@pytest.mark.parametrize(
    "url",
    ["http://[::1/", "http://127.0.0.1:99999/", "http://127.0.0.1:abc/", "http://[zz]/", "http://"],
)
def test_a_url_no_parser_accepts_is_recorded_not_lost(url: str, connections: Connections) -> None:
    outcome = send(url)
    assert connections.tried == []
    assert outcome.error is not None and "not sent" in outcome.error, outcome
    assert outcome.status_code is None


def test_plain_loopback_urls_are_called() -> None:
    with Receiver() as receiver:
        for url in (receiver.url, receiver.url.replace("127.0.0.1", "localhost")):
            outcome = send(url)
            assert outcome.status_code == 200 and outcome.error is None, outcome
        assert len(receiver.received) == 2


def test_callbacks_never_use_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as proxy, Receiver() as receiver:
        proxy_url = proxy.url.removesuffix("/hook")
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy_url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        outcome = send(receiver.url)
        assert outcome.status_code == 200, outcome
        assert len(receiver.received) == 1 and receiver.received[0]["run_id"] == "run-1"
        assert proxy.received == []


def test_the_guards_address_is_the_sockets_address() -> None:
    """The connection goes to the port the guard judged, and only there."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    target = judge(f"http://127.0.0.1:{port}/p", LOOPBACK_ONLY)
    assert (target.host, target.port) == ("127.0.0.1", port)
    assert target.still_names(f"http://127.0.0.1:{port}/p?x=1")
    assert not target.still_names(f"http://127.0.0.2:{port}/p")
