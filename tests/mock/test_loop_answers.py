"""Under waitress, the loop thread answers the async send and the retrieve of a run itself
when nothing on their way can wait (no hand-off to a worker thread). Everything else, and
anything that might wait, goes to the worker threads: a slow request, or a client that does
not read its answers, holds up a worker thread, never the loop."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from waitress import wasyncore

from letta_contract_kit.mockserver import MockServer, hooks
from letta_contract_kit.mockserver.config import MockConfig
from letta_contract_kit.mockserver.dispatch import PreparedDispatch
from letta_contract_kit.mockserver.faults import FAULT_HEADER
from letta_contract_kit.mockserver.waitress_json import (
    AT_ONCE_OUTBUF_LIMIT,
    bound_port,
    create_json_server,
)

GUARD_SECONDS = 10  # against a hang, not a measure
LOOP = "letta-mock"  # MockServer's loop thread; its workers are "waitress-N"
UNKNOWN_RUN = "run-00000000-0000-4000-8000-000000000000"


@pytest.fixture
def answered_by(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The threads that answered the prepared dispatch's requests, in order."""
    seen: list[str] = []
    answer = PreparedDispatch._answer

    def recording(self: PreparedDispatch, *args: Any) -> Any:
        seen.append(threading.current_thread().name)
        return answer(self, *args)

    monkeypatch.setattr(PreparedDispatch, "_answer", recording)
    yield seen


def send(mock: MockServer, **headers: str) -> dict[str, Any]:
    url = f"{mock.base_url}/v1/agents/{mock.agent_id}/messages/async"
    answer = requests.post(url, json={"input": "hi"}, headers=headers, timeout=GUARD_SECONDS)
    assert answer.status_code == 200
    run: dict[str, Any] = answer.json()
    return run


def test_the_send_and_the_retrieve_are_answered_by_the_loop_thread(
    make_server: Callable[..., MockServer], answered_by: list[str]
) -> None:
    mock = make_server()
    run = send(mock)
    assert requests.get(f"{mock.base_url}/v1/runs/{run['id']}", timeout=GUARD_SECONDS).ok
    missing = requests.get(f"{mock.base_url}/v1/runs/{UNKNOWN_RUN}", timeout=GUARD_SECONDS)
    assert missing.status_code == 404 and "detail" in missing.json()
    assert answered_by == [LOOP, LOOP, LOOP]


@pytest.mark.parametrize(
    ("fields", "headers"),
    [
        ({}, {FAULT_HEADER: "latency:0"}),  # a fault asked for: a latency fault sleeps
        ({"fault_rate": 1.0, "faults": ["latency:0"]}, {}),  # faults chosen at random
        ({"store": "sqlite"}, {}),  # a store in a file may wait on the disk or its lock
    ],
    ids=["fault-header", "fault-rate", "sqlite"],
)
def test_requests_that_might_wait_go_to_the_worker_threads(
    make_server: Callable[..., MockServer],
    answered_by: list[str],
    tmp_path: Path,
    fields: dict[str, Any],
    headers: dict[str, str],
) -> None:
    if fields.get("store") == "sqlite":
        fields = {**fields, "sqlite_path": tmp_path / "runs.sqlite"}
    mock = make_server(**fields)
    run = send(mock, **headers)
    requests.get(f"{mock.base_url}/v1/runs/{run['id']}", headers=headers, timeout=GUARD_SECONDS)
    assert len(answered_by) == 2
    assert all(name.startswith("waitress-") for name in answered_by), answered_by


def test_pipelined_requests_are_answered_in_order(
    make_server: Callable[..., MockServer], answered_by: list[str]
) -> None:
    mock = make_server()
    body = b'{"input": "hi"}'
    post = (
        f"POST /v1/agents/{mock.agent_id}/messages/async HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    get = f"GET /v1/runs/{UNKNOWN_RUN} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", mock.port), timeout=GUARD_SECONDS) as conn:
        conn.sendall(post + get + post + get)
        answers = read_answers(conn, 4)
    assert [status for status, _ in answers] == [200, 404, 200, 404]
    first, second = answers[0][1], answers[2][1]
    assert first != second and b'"id":"run-' in first and b'"id":"run-' in second
    assert answered_by == [LOOP] * 4


def test_a_slow_request_does_not_hold_up_the_loop(
    make_server: Callable[..., MockServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()

    def held(_seconds: float) -> None:  # the latency fault's sleep, held by an event
        entered.set()
        release.wait(GUARD_SECONDS)

    monkeypatch.setattr(hooks.time, "sleep", held)
    mock = make_server()
    run = send(mock)
    slow = threading.Thread(target=send, args=(mock,), kwargs={FAULT_HEADER: "latency:1"})
    slow.start()
    try:
        assert entered.wait(GUARD_SECONDS)
        again = requests.get(f"{mock.base_url}/v1/runs/{run['id']}", timeout=GUARD_SECONDS)
        assert again.status_code == 200 and not release.is_set()  # answered while it waits
    finally:
        release.set()
        slow.join(GUARD_SECONDS)


def test_a_client_that_does_not_read_its_answers_does_not_hold_up_the_loop(
    make_server: Callable[..., MockServer], answered_by: list[str]
) -> None:
    """It pipelines far more GETs than the sockets' buffers hold answers for and reads none:
    once its answers wait unsent, waitress reads no more of its requests, and the loop goes on
    answering everyone else."""
    mock = make_server()
    run = send(mock)
    get = f"GET /v1/runs/{run['id']} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    greedy = socket.socket()
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    greedy.settimeout(GUARD_SECONDS)
    greedy.connect(("127.0.0.1", mock.port))
    flood = threading.Thread(target=_send_quietly, args=(greedy, get * 30_000), daemon=True)
    flood.start()
    try:
        never = threading.Event()
        for _ in range(1000):  # until its answers wait unsent (a sync, nothing timed)
            if any(c.total_outbufs_len for c in mock._server.active_channels.values()):
                break
            never.wait(0.01)
        assert any(c.total_outbufs_len for c in mock._server.active_channels.values())
        before = len(answered_by)
        other = requests.get(f"{mock.base_url}/v1/runs/{run['id']}", timeout=GUARD_SECONDS)
        assert other.status_code == 200 and set(answered_by[before:]) == {LOOP}
    finally:
        greedy.close()
        flood.join(GUARD_SECONDS)


@pytest.mark.parametrize(("waiting", "kept"), [(0, True), (AT_ONCE_OUTBUF_LIMIT, False)])
def test_a_connection_with_answers_piling_up_is_served_by_a_worker_thread(
    make_server: Callable[..., MockServer],
    monkeypatch: pytest.MonkeyPatch,
    waiting: int,
    kept: bool,
) -> None:
    """The loop answers a request itself only while its connection has less than
    ``AT_ONCE_OUTBUF_LIMIT`` bytes of answers unsent: a worker thread waits for a client
    that does not read (waitress makes it wait beyond its watermark), the loop must not."""
    server = make_server()._server
    handed: list[Any] = []
    monkeypatch.setattr(server.task_dispatcher, "add_task", handed.append)
    request = SimpleNamespace(error=None, command="GET", path=f"/v1/runs/{UNKNOWN_RUN}", headers={})
    channel = SimpleNamespace(total_outbufs_len=waiting, requests=[request], due_at_once=False)
    server.reading = (threading.get_ident(), channel)  # as if this thread were reading it
    try:
        server.add_task(channel)
    finally:
        server.reading = None
    assert (channel.due_at_once, handed) == ((True, []) if kept else (False, [channel]))


def _send_quietly(connection: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # closed by the test once it has seen what it wants
        connection.sendall(data)


def read_answers(connection: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """``count`` answers read off ``connection``: status and body of each."""
    buffer, answers = b"", []
    while len(answers) < count:
        head, found, rest = buffer.partition(b"\r\n\r\n")
        if found:
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if len(rest) >= length:
                answers.append((int(head.split(b" ", 2)[1]), rest[:length]))
                buffer = rest[length:]
                continue
        chunk = connection.recv(65536)
        assert chunk, "the connection closed early"
        buffer += chunk
    return answers


def answers_nothing(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    return []


@pytest.fixture
def idle_server() -> Iterator[Callable[[MockConfig], Any]]:
    """The mock's waitress server for an app that answers nothing, its loop not running (the
    test turns it by hand); closed after the test, its connections and threads with it."""
    made: list[Any] = []

    def make(config: MockConfig) -> Any:
        made.append(create_json_server(answers_nothing, config))
        return made[-1]

    yield make
    for server in made:
        wasyncore.close_all(server._map)  # the listener, the trigger, accepted connections
        server.task_dispatcher.shutdown()


@pytest.mark.parametrize(("limit", "accepted"), [(1_000, 5), (4, 2)])
def test_a_burst_of_connections_is_accepted_in_one_turn_of_the_loop(
    idle_server: Callable[[MockConfig], Any], limit: int, accepted: int
) -> None:
    """Up to the connection limit: waitress accepts one connection a turn, and a turn lasts
    as long as the requests the loop answers itself, so the last of a burst would wait a turn
    for each connection before it. (The server's own socket and its trigger are two of the
    connections the limit counts.)"""
    server = idle_server(MockConfig(port=0, max_connections=limit))
    channels = server._map
    clients: list[socket.socket] = []
    try:
        for _ in range(5):  # each connect returns once the kernel holds it for accept
            clients.append(socket.create_connection(("127.0.0.1", bound_port(server))))
        before = len(channels)
        server.handle_accept()
        assert len(channels) - before == accepted
        assert len(channels) <= limit
    finally:
        for client in clients:
            client.close()


def test_the_worker_threads_are_waiting_for_work_before_the_server_is_handed_out(
    idle_server: Callable[[MockConfig], Any],
) -> None:
    """Else the first request, on a busy machine, found no thread ready, was queued, and
    waitress warned "Task queue depth is 1" on stderr (a line that is not the request log's)."""
    dispatcher = idle_server(MockConfig(port=0)).task_dispatcher
    assert len(dispatcher.threads) == MockConfig().threads_for("waitress")
    assert dispatcher.active_count == 0


def test_requests_reach_the_app_without_a_proxy_header_middleware(
    idle_server: Callable[[MockConfig], Any],
) -> None:
    """The mock reads no X-Forwarded-* or Forwarded header, so waitress is not asked to clear
    them (which wraps the app in a middleware that looks through every request's environ)."""
    server = idle_server(MockConfig(port=0))
    assert server.application is answers_nothing
