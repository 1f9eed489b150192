"""The test-double controls: request journal, reset, fault injection, auth, agents."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
from flask.testing import FlaskClient
from letta_client import APIConnectionError, InternalServerError, Letta, RateLimitError

from letta_contract_kit.mockserver import MockServer
from letta_contract_kit.mockserver.faults import FaultError, parse_fault

from .conftest import AGENT, post_async

FAULT = "X-Letta-Mock-Fault"


def test_the_journal_records_api_requests_with_their_answers(client: FlaskClient) -> None:
    post_async(client, {"input": "hi"})
    post_async(client, {})
    client.get("/v1/runs/")
    entries = client.get("/_mock/requests").get_json()
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", f"/v1/agents/{AGENT}/messages/async", 200),
        ("POST", f"/v1/agents/{AGENT}/messages/async", 422),
        ("GET", "/v1/runs/", 200),
    ]
    assert entries[0]["body"] == {"input": "hi"}


def test_answers_are_json_in_utf_8_whatever_the_values_hold(client: FlaskClient) -> None:
    huge = 2**70  # beyond what the fast encoder takes: the standard one answers instead
    post_async(client, {"input": "héllo ✓", "max_steps": huge})
    answer = client.get("/_mock/requests")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_json()[0]["body"] == {"input": "héllo ✓", "max_steps": huge}
    agent = client.post("/v1/agents/", json={"name": "héllo ✓"})
    assert agent.status_code == 200 and "héllo ✓".encode() in agent.data  # text as UTF-8


def test_the_journal_filters_by_method_path_and_status(client: FlaskClient) -> None:
    post_async(client, {"input": "hi"})
    post_async(client, {})
    client.get("/v1/runs/")
    assert len(client.get("/_mock/requests?method=get").get_json()) == 1
    assert len(client.get("/_mock/requests?status=422").get_json()) == 1
    path = f"/v1/agents/{AGENT}/messages/async"
    assert len(client.get(f"/_mock/requests?path={path}").get_json()) == 2
    assert len(client.get("/_mock/requests?path_prefix=/v1/runs").get_json()) == 1
    assert len(client.get("/_mock/requests?limit=1").get_json()) == 1
    assert client.get("/_mock/requests?status=abc").status_code == 422


def test_admin_requests_are_not_journaled(client: FlaskClient) -> None:
    client.get("/_mock/requests")
    client.get("/_mock/scenarios")
    assert client.get("/_mock/requests").get_json() == []


def test_reset_forgets_runs_created_agents_queue_and_journal_but_keeps_seeded_agents(
    client: FlaskClient,
) -> None:
    created = client.post("/v1/agents/", json={"name": "temp"}).get_json()["id"]
    post_async(client)
    client.post("/_mock/scenarios", json={"scenarios": ["fail"]})
    assert client.post("/_mock/reset").status_code == 200
    assert client.get("/v1/runs/").get_json() == []
    assert client.get(f"/v1/agents/{created}").status_code == 404
    assert client.get(f"/v1/agents/{AGENT}").status_code == 200
    assert client.get("/_mock/scenarios").get_json()["queue"] == []
    paths = [e["path"] for e in client.get("/_mock/requests").get_json()]
    assert paths == ["/v1/runs/", f"/v1/agents/{created}", f"/v1/agents/{AGENT}"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_fault_header_answers_that_5xx_and_creates_no_run(
    client: FlaskClient, status: int
) -> None:
    answer = post_async(client, headers={FAULT: str(status)})
    assert answer.status_code == status
    assert "detail" in answer.get_json()
    assert client.get("/v1/runs/").get_json() == []
    assert client.get(f"/_mock/requests?status={status}").get_json()[0]["fault"] == str(status)


def test_a_429_fault_carries_retry_after(client: FlaskClient) -> None:
    answer = client.get("/v1/runs/", headers={FAULT: "429:7"})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"


def test_a_latency_fault_delays_then_answers_normally(client: FlaskClient) -> None:
    answer = client.get("/v1/runs/", headers={FAULT: "latency:0.01"})
    assert answer.status_code == 200


def test_a_bad_fault_header_is_400(client: FlaskClient) -> None:
    answer = client.get("/v1/runs/", headers={FAULT: "explode"})
    assert answer.status_code == 400
    assert "latency" in answer.get_json()["detail"]


@pytest.mark.parametrize("text", ["latency", "latency:-1", "latency:99", "404", "429:x", "drop:1"])
def test_fault_texts_that_make_no_sense_are_refused(text: str) -> None:
    with pytest.raises(FaultError):
        parse_fault(text)


def test_a_fault_rate_of_one_fails_every_api_request_but_not_admin_ones(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(fault_rate=1.0, faults=["503"])
    assert client.get("/v1/runs/").status_code == 503
    assert client.get("/_mock/requests").status_code == 200


def test_a_fault_rate_hits_about_that_share_reproducibly(
    make_client: Callable[..., FlaskClient],
) -> None:
    def share() -> list[int]:
        client = make_client(fault_rate=0.3, faults=["500"], fault_seed=7)
        return [client.get("/v1/runs/").status_code for _ in range(200)]

    first = share()
    assert first == share()
    assert 30 <= first.count(500) <= 90


def test_the_sdk_sees_injected_faults_as_its_error_classes(
    make_server: Callable[..., MockServer],
) -> None:
    mock = make_server(clock="per-poll")
    client = Letta(base_url=mock.base_url, api_key="k", max_retries=0)
    with pytest.raises(InternalServerError):
        client.runs.list(extra_headers={FAULT: "500"})
    with pytest.raises(RateLimitError):
        client.runs.list(extra_headers={FAULT: "429:1"})
    with pytest.raises(APIConnectionError):
        client.runs.list(extra_headers={FAULT: "drop"})
    assert client.runs.list().items == []  # the server survives a dropped connection


def test_a_429_on_create_async_creates_no_run_and_is_journaled_with_its_header(
    make_server: Callable[..., MockServer],
) -> None:
    mock = make_server(clock="per-poll")
    client = Letta(base_url=mock.base_url, api_key="k", max_retries=0)
    with pytest.raises(RateLimitError):
        client.agents.messages.create_async(
            mock.agent_id, input="x", extra_headers={FAULT: "429:0"}
        )
    assert mock.requests(status=429)[0]["headers"][FAULT] == "429:0"
    assert client.runs.list().items == []


def test_a_dropped_connection_cuts_the_answer_short(make_server: Callable[..., MockServer]) -> None:
    mock = make_server(clock="per-poll")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{mock.base_url}/v1/runs/", headers={FAULT: "drop"}, timeout=5)


def test_token_guards_every_api_route_except_health(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(token="s3cret")
    refused = client.get("/v1/runs/")
    assert refused.status_code == 401 and "Bearer" in refused.get_json()["detail"]
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert post_async(client, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/runs/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/v1/health/").status_code == 200
    assert client.get("/_mock/requests").status_code == 200  # admin needs its own token


def test_admin_token_guards_the_admin_routes(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(admin_token="adm")
    assert client.post("/_mock/reset").status_code == 401
    assert client.post("/_mock/reset", headers={"Authorization": "Bearer adm"}).status_code == 200
    assert client.get("/v1/runs/").status_code == 200


def test_the_sdk_sends_its_api_key_as_the_bearer_token(
    make_server: Callable[..., MockServer],
) -> None:
    mock = make_server(clock="per-poll", token="tok")
    assert Letta(base_url=mock.base_url, api_key="tok").runs.list().items == []


def test_health_and_openapi(client: FlaskClient) -> None:
    assert client.get("/v1/health/").get_json() == {"version": "0.16.8", "status": "ok"}
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert "/v1/agents/{agent_id}/messages/async" in document["paths"]


def test_mock_server_binds_loopback_by_default(make_server: Callable[..., MockServer]) -> None:
    mock = make_server()
    assert mock.base_url.startswith("http://127.0.0.1:")
    assert requests.get(f"{mock.base_url}/v1/health/", timeout=5).status_code == 200


def test_health_is_never_faulted_at_random_so_readiness_checks_pass(
    make_server: Callable[..., MockServer],
) -> None:
    mock = make_server(fault_rate=1.0, faults=["503"])  # start() waits for health
    assert requests.get(f"{mock.base_url}/v1/health/", timeout=5).status_code == 200
    assert requests.get(f"{mock.base_url}/v1/runs/", timeout=5).status_code == 503
    faulted = requests.get(f"{mock.base_url}/v1/health/", headers={FAULT: "500"}, timeout=5)
    assert faulted.status_code == 500


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/runs/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/runs/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_broken_http_gets_a_json_error_from_the_server_itself(
    make_server: Callable[..., MockServer], head: bytes
) -> None:
    import json
    import socket

    mock = make_server()
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 400")
    assert b"Content-Type: application/json" in headers
    assert "Bad Request" in json.loads(body)["detail"]


def test_stop_closes_the_server_even_when_its_wake_up_pipe_is_gone() -> None:
    from letta_contract_kit.mockserver import MockConfig

    mock = MockServer(MockConfig(clock="per-poll")).start()
    url = f"{mock.base_url}/v1/health/"
    assert requests.get(url, timeout=5).status_code == 200
    # Closed by the loop itself, as waitress does when the pipe's read end sees end-of-file.
    pipe = mock._server.trigger
    pipe.pull_trigger(pipe.close)
    deadline = time.monotonic() + 5
    while not pipe._closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pipe._closed
    mock.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_an_idle_in_process_mock_waits_in_select_instead_of_spinning() -> None:
    # waitress reads its loop timeout as whole seconds: a fraction would become 0, a loop
    # that never sleeps, and a core taken from the tests of whoever uses the fixture.
    with MockServer() as mock:
        assert mock._server is not None
        assert mock._server.adj.asyncore_loop_timeout >= 1
