"""The proxy forwards unchanged and judges what passes with the suite's checks: no violation
for the mock driven by the official SDK, the right check for a mock broken on purpose, a
client finding for what the application gets wrong, never a secret in what it writes."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import requests
from letta_client import Letta
from suite.broken import (
    Answer,
    Environ,
    Middleware,
    WSGIApp,
    created_201,
    is_async_post,
    json_answer,
    serve,
    serve_wsgi,
    set_request_json,
    status_goes_back,
)

from letta_contract_kit.contract_tests.proxy import ProxyConfig, ProxyServer, forwarder, server
from letta_contract_kit.contract_tests.proxy.judge import Traffic, TrafficJudge
from letta_contract_kit.mockserver import MockServer
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import TERMINAL_STATUSES

from .conftest import AUTH, TOKEN, proxied

pytestmark = pytest.mark.sdk
VALID = {"input": "What is the capital of Portugal?", "max_steps": 1}


@pytest.fixture
def mock(letta_mock: MockServer) -> MockServer:
    assert letta_mock.config.clock == "per-poll"
    return letta_mock


@pytest.fixture
def agent_id() -> str:
    return f"agent-{uuid.uuid4()}"


def poll(client: Letta, run_id: str) -> list[str]:
    seen = []
    for _ in range(20):
        status = str(client.runs.retrieve(run_id).status)
        seen.append(status)
        if status in TERMINAL_STATUSES:
            return seen
    raise AssertionError(f"no end after 20 polls: {seen}")


def post(url: str, agent: str, body: Any = VALID) -> requests.Response:
    return requests.post(f"{url}/v1/agents/{agent}/messages/async", json=body, headers=AUTH)


def checks_of(result: Any) -> set[str]:
    return {v.check for v in result.violations}


def test_the_sdk_flow_through_the_proxy_has_no_violation(mock: MockServer) -> None:
    with proxied(mock.base_url) as proxy:
        client = Letta(base_url=proxy.url, api_key=TOKEN, max_retries=0)
        other = client.agents.create(name="second").id
        run = client.agents.messages.create_async(mock.agent_id, input="hello")
        assert poll(client, run.id) == ["running", "completed"]
        assert client.runs.retrieve(run.id).stop_reason == "end_turn"
        kinds = [m.message_type for m in client.runs.messages.list(run.id).items]
        assert kinds == ["user_message", "reasoning_message", "assistant_message"]
        assert run.id in [r.id for r in client.runs.list(agent_id=mock.agent_id).items]
        long = client.agents.messages.create_async(other, input="long job")
        assert client.agents.messages.cancel(other, run_ids=[long.id]) == {long.id: "cancelled"}
        assert client.runs.retrieve(long.id).status == "cancelled"
    result = proxy.result
    assert result.violations == [], [(v.check, v.message) for v in result.violations]
    assert [f for f in result.findings if f.kind == "client"] == []
    assert result.cases >= 8 and result.runs_created == 2
    assert "run_reaches_terminal" in result.skipped
    assert "VIOLATION" not in proxy.log.getvalue()


def test_a_201_for_a_new_run_is_a_status_code_violation_marked_only_when_asked(
    agent_id: str,
) -> None:
    with serve(created_201, agent_id) as upstream:
        direct = post(upstream, agent_id)
        with proxied(upstream, fail_on_violation=True) as marking:
            marked = post(marking.url, agent_id)
        with proxied(upstream) as quiet:
            plain = post(quiet.url, agent_id)
    assert (marked.status_code, plain.status_code, direct.status_code) == (201, 201, 201)
    assert marked.headers["X-Letta-Contract-Violation"] == "valid-body-200"
    assert "X-Letta-Contract-Violation" not in plain.headers
    assert marked.json().keys() == direct.json().keys()
    for proxy in (marking, quiet):
        assert [(v.check, v.rule_id) for v in proxy.result.violations] == [
            ("status_code_conformance", "valid-body-200")
        ]
        assert "VIOLATION [status_code_conformance] valid-body-200" in proxy.log.getvalue()


def test_a_status_going_backwards_is_caught_by_status_moves_forward(agent_id: str) -> None:
    with (
        serve(status_goes_back, agent_id) as upstream,
        proxied(upstream, fail_on_violation=True) as proxy,
    ):
        run_id = post(proxy.url, agent_id).json()["id"]
        answers = [requests.get(f"{proxy.url}/v1/runs/{run_id}", headers=AUTH) for _ in range(3)]
    assert [a.json()["status"] for a in answers] == ["running", "completed", "running"]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[2].headers["X-Letta-Contract-Violation"] == "terminal-final"
    assert "X-Letta-Contract-Violation" not in answers[1].headers
    violation = next(v for v in proxy.result.violations if v.check == "status_moves_forward")
    assert violation.rule_id == "terminal-final" and violation.history


def accepts_anything(app: WSGIApp) -> WSGIApp:
    """Every async POST is run as a valid body, whatever was sent."""

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ):
            set_request_json(environ, VALID)
        return None

    return Middleware(app, before, None)


def test_an_invalid_body_is_a_client_finding_also_when_the_upstream_accepts_it(
    agent_id: str, mock: MockServer
) -> None:
    invalid = {"input": 5}
    with serve(accepts_anything, agent_id) as upstream, proxied(upstream) as lenient:
        assert post(lenient.url, agent_id, invalid).status_code == 200
    with proxied(mock.base_url) as strict:
        assert post(strict.url, mock.agent_id, invalid).status_code == 422
    for proxy in (lenient, strict):
        clients = [f for f in proxy.result.findings if f.kind == "client"]
        assert len(clients) == 1 and "invalid under both readings" in clients[0].message
        assert "CLIENT the body is invalid under both readings" in proxy.log.getvalue()
    # the upstream that took it broke a rule of its own; the strict one did not
    assert ("status_code_conformance", "invalid-body-refused") in {
        (v.check, v.rule_id) for v in lenient.result.violations
    }
    assert strict.result.violations == []


def refuses_first_then_accepts(app: WSGIApp) -> WSGIApp:
    """The first async POST is answered 404 (as if the agent did not exist), the rest run."""
    calls: list[int] = []

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ):
            calls.append(1)
            if len(calls) == 1:
                return json_answer(404, {"detail": "Agent not found"})
        return None

    return Middleware(app, before, None)


def test_a_refusal_is_judged_once_a_later_answer_shows_the_agent_exists(agent_id: str) -> None:
    with serve(refuses_first_then_accepts, agent_id) as upstream, proxied(upstream) as proxy:
        assert post(proxy.url, agent_id).status_code == 404
        unknown = f"agent-{uuid.uuid4()}"
        assert post(proxy.url, unknown).status_code == 404  # never shown to exist: no verdict
        assert post(proxy.url, agent_id).status_code == 200
    rules = [(v.check, v.rule_id) for v in proxy.result.violations]
    assert rules == [("status_code_conformance", "valid-body-accepted")]
    assert any("not judged on their status" in n for n in proxy.result.notices)


def test_runs_not_seen_ended_are_a_note_never_stuck(mock: MockServer) -> None:
    with proxied(mock.base_url) as proxy:
        run_id = post(proxy.url, mock.agent_id).json()["id"]
    assert proxy.result.violations == []
    assert any("not seen ended" in n and run_id in n for n in proxy.result.notices)


def test_the_recording_validates_and_no_secret_is_written_anywhere(
    mock: MockServer, tmp_path: Path
) -> None:
    cassette, report, junit = tmp_path / "c.jsonl", tmp_path / "r.json", tmp_path / "r.xml"
    headers = {**AUTH, "Cookie": f"session={TOKEN}", "X-Api-Key": TOKEN}
    with proxied(
        mock.base_url, record=str(cassette), report=str(report), junit_xml=str(junit)
    ) as p:
        created = requests.post(
            f"{p.url}/v1/agents/{mock.agent_id}/messages/async", json=VALID, headers=headers
        ).json()
        requests.get(f"{p.url}/v1/runs/{created['id']}", headers=headers)
        requests.post(
            f"{p.url}/v1/agents/{mock.agent_id}/messages/async", json={"input": 5}, headers=headers
        )
        requests.get(f"{p.url}/v1/health/", headers=headers)
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert len(lines) == 4
    for line in lines:
        assert validator("cassette-line").problems(line) == []
        assert line["redacted_headers"] == ["Authorization", "Cookie", "X-Api-Key"]
    assert [line["run_id"] for line in lines[:2]] == [created["id"]] * 2
    assert json.loads(lines[0]["response"]["body"]["text"]) == created
    assert json.loads(report.read_text())["findings"][0]["kind"] == "client"
    for written in (cassette.read_text(), report.read_text(), junit.read_text(), p.log.getvalue()):
        assert TOKEN not in written


def test_an_unreachable_upstream_answers_502_with_a_json_detail() -> None:
    with proxied("http://127.0.0.1:9") as proxy:
        answer = requests.get(f"{proxy.url}/v1/runs/run-x", headers=AUTH)
    assert answer.status_code == 502
    detail = answer.json()["detail"]
    assert detail.startswith("cannot reach upstream http://127.0.0.1:9: ")
    assert proxy.result.violations == []


def test_a_target_that_names_another_host_is_refused(mock: MockServer) -> None:
    with proxied(mock.base_url) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.server.port, timeout=5)
        connection.request("GET", "http://example.invalid/v1/health/")
        answer = connection.getresponse()
        body = json.loads(answer.read())
        connection.close()
    assert answer.status == 400 and "origin-form" in body["detail"]


def test_the_upstream_must_be_one_url_both_parsers_read_alike() -> None:
    for bad in ("ftp://x", "http://u:p@host/", "http://0.0.0.0:9\\@127.0.0.1/", "http://h/?q=1"):
        with pytest.raises(ValueError):
            ProxyServer(ProxyConfig(upstream=bad, port=0))


@pytest.mark.parametrize(
    "options", [{}, {"judge_inline": True}, {"fail_on_violation": True}], ids=str
)
def test_a_judgement_that_raises_is_a_notice_and_the_answer_and_its_record_stand(
    mock: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, bool]
) -> None:
    def breaks(judge: TrafficJudge, traffic: Traffic) -> None:
        raise RuntimeError("the judge fell over")

    monkeypatch.setattr(TrafficJudge, "judge", breaks)
    cassette = tmp_path / "c.jsonl"
    with proxied(mock.base_url, record=str(cassette), **options) as proxy:
        answer = post(proxy.url, mock.agent_id)
    assert answer.status_code == 200 and answer.json()["status"] == "created"
    assert "X-Letta-Contract-Violation" not in answer.headers
    path = f"/v1/agents/{mock.agent_id}/messages/async"
    assert f"judging or recording exchange #1 (POST {path}) failed: RuntimeError(" in "".join(
        proxy.result.notices
    )
    [line] = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert line["response"]["status"] == 200 and line["response"]["answered_by"] == "upstream"


HEAD_ONLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n"


@pytest.mark.parametrize("path", ["/v1/runs/run-x", "/v1/health/"], ids=["judged", "streamed"])
def test_an_upstream_that_breaks_off_before_its_body_is_answered_502_never_500(path: str) -> None:
    with raw_upstream(lambda *_: HEAD_ONLY) as (upstream, _), proxied(upstream) as proxy:
        answer = requests.get(f"{proxy.url}{path}", headers=AUTH)
    assert answer.status_code == 502
    assert answer.json()["detail"].startswith(f"upstream {upstream} broke off its answer: ")


def test_an_upstream_that_breaks_off_mid_body_is_cut_short_as_it_was() -> None:
    with raw_upstream(lambda *_: HEAD_ONLY + b"{") as (upstream, _), proxied(upstream) as proxy:
        answer = requests.get(f"{proxy.url}/v1/health/", headers=AUTH, stream=True)
        assert answer.status_code == 200  # the upstream's status line was already out
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(answer.iter_content(chunk_size=None))
        judged = requests.get(f"{proxy.url}/v1/runs/run-x", headers=AUTH)
    assert judged.status_code == 502  # a judged answer is read whole before it goes out


def test_as_many_exchanges_as_the_proxy_has_connections_are_in_flight_at_once() -> None:
    """Each exchange holds a connection of the proxy to the upstream while the upstream takes
    its time (a real server takes 0.1-0.2 s over the async POST): the upstream here answers
    none of them until all have arrived, so every answer is a 200 only if the proxy
    forwarded them all at once."""
    at_once = server.DEFAULT_CONNECTIONS
    arrived = threading.Barrier(at_once, timeout=60)  # a guard against a hang, not a measure

    def upstream(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        try:
            arrived.wait()
        except threading.BrokenBarrierError:
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return []
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]

    with (
        serve_wsgi(upstream) as url,
        proxied(url) as proxy,
        ThreadPoolExecutor(at_once) as clients,
    ):
        answers = list(
            clients.map(
                lambda _: requests.get(f"{proxy.url}/v1/health/", headers=AUTH).status_code,
                range(at_once),
            )
        )
    assert answers == [200] * at_once


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def first_hung_up(connection: int, request: int) -> bytes | None:
    """The first connection is closed unanswered (as one closed as idle would be)."""
    return None if connection == 0 else OK


def test_a_get_the_upstream_hung_up_on_unanswered_goes_once_more_on_a_new_connection() -> None:
    with raw_upstream(first_hung_up) as (upstream, seen), proxied(upstream) as proxy:
        answer = requests.get(f"{proxy.url}/v1/health/", headers=AUTH)
    assert (answer.status_code, answer.json()) == (200, {})
    assert seen == [1, 1]  # two connections, one request each


def test_a_post_the_upstream_hung_up_on_is_not_sent_again() -> None:
    """It may have been carried out: the application decides (502, as for any lost answer)."""
    with raw_upstream(first_hung_up) as (upstream, seen), proxied(upstream) as proxy:
        answer = requests.post(f"{proxy.url}/v1/echo", json={}, headers=AUTH)
    assert answer.status_code == 502 and seen == [1]


@pytest.mark.parametrize("idle_reuse", [forwarder.IDLE_REUSE_SECONDS, 0.0], ids=["kept", "idle"])
def test_a_connection_idle_too_long_is_not_reused(
    idle_reuse: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forwarder, "IDLE_REUSE_SECONDS", idle_reuse)
    with (
        raw_upstream(lambda *_: OK, close_after=False) as (upstream, seen),
        proxied(upstream) as proxy,
    ):
        for _ in range(2):
            assert requests.get(f"{proxy.url}/v1/health/", headers=AUTH).status_code == 200
    assert seen == ([2] if idle_reuse > 0 else [1, 1])


@contextmanager
def raw_upstream(
    answer: Callable[[int, int], bytes | None], close_after: bool = True
) -> Iterator[tuple[str, list[int]]]:
    """A loopback server that reads each request's head and writes ``answer(connection,
    request)`` as it is (numbered from 0; None: hang up without answering), then closes the
    connection unless ``close_after`` is False. Also yields the requests read on each
    connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[int] = []

    def serve_forever() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            seen.append(0)
            with connection:
                while True:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        head += chunk
                    if not head:
                        break
                    data = answer(len(seen) - 1, seen[-1])
                    seen[-1] += 1
                    if data is None:
                        break
                    connection.sendall(data)
                    if close_after:
                        break

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        listener.close()
        thread.join(timeout=10)
