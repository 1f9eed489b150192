"""With callback_url, a run POSTs its end once, off the request path, and records the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from letta_contract_kit.mockserver.callback_url import host_allowed
from letta_contract_kit.schemas import validator

from .conftest import AGENT, poll_to_end, post_async
from .receiver import Receiver, closed_port_url


def run_to_end(client: FlaskClient, body: dict[str, Any], scenario: str = "succeed") -> str:
    answer = post_async(client, body, headers={"X-Letta-Mock-Scenario": scenario})
    assert answer.status_code == 200, answer.get_json()
    run_id: str = answer.get_json()["id"]
    poll_to_end(client, run_id)
    return run_id


def settled(client: FlaskClient, run_id: str) -> dict[str, Any]:
    assert client.post("/_mock/callbacks/wait", json={"timeout": 10}).get_json() == {
        "delivered": True
    }
    run: dict[str, Any] = client.get(f"/v1/runs/{run_id}").get_json()
    return run


def test_a_completed_run_posts_one_callback_with_the_result(client: FlaskClient) -> None:
    with Receiver() as receiver:
        run_id = run_to_end(client, {"input": "ping", "callback_url": receiver.url})
        run = settled(client, run_id)
        for _ in range(3):
            client.get(f"/v1/runs/{run_id}")  # more polls: still one callback
        settled(client, run_id)
    assert len(receiver.received) == 1
    payload = receiver.received[0]
    assert list(payload) == ["run_id", "status", "completed_at", "metadata"]
    assert (payload["run_id"], payload["status"]) == (run_id, "completed")
    assert validator("date-time").problems(payload["completed_at"]) == []
    result = payload["metadata"]["result"]
    assert payload["metadata"]["run_type"] == "send_message_async"
    assert result["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    assert result["usage"]["message_type"] == "usage_statistics"
    assert result["usage"]["total_tokens"] > 0 and result["usage"]["step_count"] == 1
    assert [m["message_type"] for m in result["messages"]] == [
        "user_message",
        "reasoning_message",
        "assistant_message",
    ]
    assert receiver.headers[0]["Content-Type"] == "application/json"
    assert run["callback_status_code"] == 200 and run["callback_error"] is None
    assert validator("date-time").problems(run["callback_sent_at"]) == []


def test_failed_and_cancelled_runs_call_back_too(client: FlaskClient) -> None:
    with Receiver() as receiver:
        failed = run_to_end(client, {"input": "x", "callback_url": receiver.url}, "fail")
        never = post_async(
            client,
            {"input": "y", "callback_url": receiver.url},
            headers={"X-Letta-Mock-Scenario": "never"},
        ).get_json()["id"]
        client.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [never]})
        settled(client, never)
    by_run = {p["run_id"]: p for p in receiver.received}
    assert by_run[failed]["status"] == "failed"
    assert "error" in by_run[failed]["metadata"]
    assert by_run[never]["status"] == "cancelled"
    assert by_run[never]["metadata"]["result"]["stop_reason"]["stop_reason"] == "cancelled"


def test_callback_messages_follow_include_return_message_types(client: FlaskClient) -> None:
    with Receiver() as receiver:
        body = {
            "input": "hi",
            "callback_url": receiver.url,
            "include_return_message_types": ["assistant_message"],
        }
        settled(client, run_to_end(client, body))
    assert [m["message_type"] for m in receiver.received[0]["metadata"]["result"]["messages"]] == [
        "assistant_message"
    ]


def test_the_receivers_status_code_is_recorded_even_when_it_is_an_error(
    client: FlaskClient,
) -> None:
    with Receiver(status=500) as receiver:
        run = settled(client, run_to_end(client, {"input": "x", "callback_url": receiver.url}))
    assert (run["callback_status_code"], run["callback_error"]) == (500, None)
    assert run["status"] == "completed"


def test_a_receiver_that_is_down_is_recorded_as_a_callback_error(client: FlaskClient) -> None:
    url = closed_port_url()
    run = settled(client, run_to_end(client, {"input": "x", "callback_url": url}))
    assert run["callback_status_code"] is None
    assert run["callback_error"].startswith(f"Failed to dispatch callback for run {run['id']}")
    assert "ConnectionError" in run["callback_error"]
    assert run["callback_sent_at"] is not None
    assert run["status"] == "completed"  # a callback never changes the run


def test_a_slow_receiver_times_out_without_holding_up_any_request(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(callback_timeout=0.2)
    with Receiver(delay=1.0) as receiver:
        answer = post_async(client, {"input": "x", "callback_url": receiver.url})
        run_id = answer.get_json()["id"]
        seen = poll_to_end(client, run_id)  # the poll that ends the run triggers the callback
        assert seen[-1]["status"] == "completed"
        # The attempt is recorded once it ends: still null, so the poll did not wait for it.
        assert seen[-1]["callback_sent_at"] is None
        run = settled(client, run_id)
    assert run["callback_status_code"] is None
    assert "Timeout" in run["callback_error"]


def test_a_host_that_is_not_allowed_is_never_called_and_the_refusal_recorded(
    client: FlaskClient,
) -> None:
    url = "http://callbacks.example.com/hook"
    run = settled(client, run_to_end(client, {"input": "x", "callback_url": url}))
    assert run["callback_sent_at"] is None and run["callback_status_code"] is None
    assert "not an allowed callback host" in run["callback_error"]
    assert client.get("/_mock/requests?method=POST").status_code == 200


def test_a_callback_url_that_is_not_a_url_is_accepted_and_its_failure_recorded(
    client: FlaskClient,
) -> None:
    run = settled(client, run_to_end(client, {"input": "x", "callback_url": "not a url"}))
    assert "http://" in run["callback_error"]


def test_allowed_hosts_are_configurable() -> None:
    assert host_allowed("http://127.0.0.1:9/x", ["loopback"])[0]
    assert host_allowed("http://127.0.0.2:9/x", ["loopback"])[0]
    assert host_allowed("http://localhost:9/x", ["localhost"])[0]
    assert not host_allowed("http://10.0.0.1/x", ["loopback", "localhost"])[0]
    assert host_allowed("http://hooks.internal/x", ["hooks.internal"])[0]
    assert host_allowed("https://anything.example/x", ["*"])[0]
    assert not host_allowed("ftp://127.0.0.1/x", ["*"])[0]


def test_a_run_without_callback_url_records_nothing(client: FlaskClient) -> None:
    run = settled(client, run_to_end(client, {"input": "x"}))
    assert [run[k] for k in ("callback_sent_at", "callback_status_code", "callback_error")] == [
        None,
        None,
        None,
    ]


def test_a_callback_url_no_parser_accepts_still_leaves_its_refusal_on_the_run(
    client: FlaskClient,
) -> None:
    run = settled(client, run_to_end(client, {"input": "x", "callback_url": "http://[::1/"}))
    assert run["callback_status_code"] is None
    assert "not sent" in run["callback_error"] and "cannot be parsed" in run["callback_error"]
