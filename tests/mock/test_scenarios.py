"""Scenarios decide how a run ends; chosen per request, by queue, or as the server default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from letta_contract_kit.mockserver.scenarios import ScenarioError, parse_scenario
from letta_contract_kit.schemas import validator

from .conftest import AGENT, poll_to_end, post_async

SCENARIO = "X-Letta-Mock-Scenario"


def finish(client: FlaskClient, scenario: str | None = None, body: Any = None) -> dict[str, Any]:
    headers = {SCENARIO: scenario} if scenario else {}
    answer = post_async(client, body, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return poll_to_end(client, answer.get_json()["id"])[-1]


def messages(client: FlaskClient, run_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/v1/runs/{run_id}/messages").get_json()
    for message in found:
        assert validator("letta-message", "server").problems(message) == [], message
    return found


def kinds(client: FlaskClient, run_id: str) -> list[str]:
    return [m["message_type"] for m in messages(client, run_id)]


def test_succeed_completes_with_end_turn_and_a_reply_derived_from_the_input(
    client: FlaskClient,
) -> None:
    run = finish(client, "succeed", {"input": "the quick brown fox"})
    assert (run["status"], run["stop_reason"]) == ("completed", "end_turn")
    found = messages(client, run["id"])
    assert [m["message_type"] for m in found] == [
        "user_message",
        "reasoning_message",
        "assistant_message",
    ]
    assert found[0]["content"] == "the quick brown fox"
    assert "the quick brown fox" in found[-1]["content"]
    assert all(m["run_id"] == run["id"] for m in found)


def test_tools_scenario_calls_a_tool_and_gets_its_return_before_answering(
    client: FlaskClient,
) -> None:
    run = finish(client, "tools")
    assert kinds(client, run["id"]) == [
        "user_message",
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "reasoning_message",
        "assistant_message",
    ]
    found = messages(client, run["id"])
    assert found[2]["tool_call"]["tool_call_id"] == found[3]["tool_call_id"]
    assert len(client.get(f"/v1/runs/{run['id']}/steps").get_json()) == 2


@pytest.mark.parametrize("reason", ["error", "llm_api_error", "invalid_llm_response"])
def test_fail_ends_failed_with_the_stop_reason_and_an_error_in_metadata(
    client: FlaskClient, reason: str
) -> None:
    run = finish(client, f"fail:{reason}" if reason != "error" else "fail")
    assert (run["status"], run["stop_reason"]) == ("failed", reason)
    assert run["metadata"]["run_type"] == "send_message_async"
    assert reason in run["metadata"]["error"]
    assert run["ttft_ns"] is None and run["total_duration_ns"] is not None
    assert messages(client, run["id"]) == []  # a failed step keeps no messages
    steps = client.get(f"/v1/runs/{run['id']}/steps").get_json()
    assert [s["status"] for s in steps] == ["failed"]


def test_stop_max_steps_loops_tool_calls_without_a_final_answer(client: FlaskClient) -> None:
    run = finish(client, "stop:max_steps", {"input": "search", "max_steps": 2})
    assert (run["status"], run["stop_reason"]) == ("completed", "max_steps")
    found = kinds(client, run["id"])
    assert found.count("tool_call_message") == 2
    assert "assistant_message" not in found
    assert len(client.get(f"/v1/runs/{run['id']}/steps").get_json()) == 2


def test_stop_requires_approval_ends_with_an_approval_request(client: FlaskClient) -> None:
    run = finish(client, "stop:requires_approval")
    assert (run["status"], run["stop_reason"]) == ("completed", "requires_approval")
    assert kinds(client, run["id"])[-1] == "approval_request_message"


def test_stop_max_tokens_exceeded_cuts_the_reply_short(client: FlaskClient) -> None:
    full = finish(client, "succeed", {"input": "a fairly long question about rivers"})
    cut = finish(
        client, "stop:max_tokens_exceeded", {"input": "a fairly long question about rivers"}
    )
    assert cut["stop_reason"] == "max_tokens_exceeded"
    full_reply = messages(client, full["id"])[-1]["content"]
    cut_reply = messages(client, cut["id"])[-1]["content"]
    assert full_reply.startswith(cut_reply) and len(cut_reply) < len(full_reply)


def test_slow_takes_more_polls_than_succeed(client: FlaskClient) -> None:
    quick = post_async(client, headers={SCENARIO: "succeed"}).get_json()["id"]
    slow = post_async(client, headers={SCENARIO: "slow"}).get_json()["id"]
    assert len(poll_to_end(client, slow)) > len(poll_to_end(client, quick))


def test_never_stays_running_until_cancelled(client: FlaskClient) -> None:
    run_id = post_async(client, headers={SCENARIO: "never"}).get_json()["id"]
    for _ in range(20):
        assert client.get(f"/v1/runs/{run_id}").get_json()["status"] in ("created", "running")
    answer = client.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [run_id]})
    assert answer.get_json() == {run_id: "cancelled"}
    assert client.get(f"/v1/runs/{run_id}").get_json()["status"] == "cancelled"


def test_queued_scenarios_apply_to_the_next_runs_in_order(client: FlaskClient) -> None:
    answer = client.post("/_mock/scenarios", json={"scenarios": ["fail", "stop:max_steps"]})
    assert answer.get_json()["queue"] == ["fail", "stop:max_steps"]
    assert finish(client)["status"] == "failed"
    assert finish(client)["stop_reason"] == "max_steps"
    assert finish(client)["stop_reason"] == "end_turn"  # queue used up: the default again
    assert client.get("/_mock/scenarios").get_json()["queue"] == []


def test_a_header_wins_over_the_queue_and_leaves_it_untouched(client: FlaskClient) -> None:
    client.post("/_mock/scenarios", json={"scenarios": ["fail"]})
    assert finish(client, "succeed")["status"] == "completed"
    assert client.get("/_mock/scenarios").get_json()["queue"] == ["fail"]


def test_the_server_default_scenario_applies_without_header_or_queue(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(scenario="fail:llm_api_error")
    assert finish(client)["stop_reason"] == "llm_api_error"


def test_queueing_a_bad_scenario_is_422_and_queues_nothing(client: FlaskClient) -> None:
    answer = client.post("/_mock/scenarios", json={"scenarios": ["succeed", "explode"]})
    assert answer.status_code == 422
    assert client.get("/_mock/scenarios").get_json()["queue"] == []


def test_clearing_the_queue(client: FlaskClient) -> None:
    client.post("/_mock/scenarios", json={"scenarios": ["fail"]})
    client.delete("/_mock/scenarios")
    assert finish(client)["status"] == "completed"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "explode",
        "fail:end_turn",
        "fail:cancelled",
        "stop",
        "stop:cancelled",
        "stop:nope",
        "slow:soon",
        "slow:-1",
        "never:1",
        "succeed:x",
    ],
)
def test_scenario_texts_that_make_no_sense_are_refused(text: str) -> None:
    with pytest.raises(ScenarioError):
        parse_scenario(text)


def test_every_message_of_every_scenario_is_valid_against_the_schema(client: FlaskClient) -> None:
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ]
    }
    for scenario in (
        "succeed",
        "tools",
        "stop:max_steps",
        "stop:requires_approval",
        "stop:max_tokens_exceeded",
        "stop:no_tool_call",
    ):
        run = finish(client, scenario, body)
        assert messages(client, run["id"])[0]["message_type"] == "system_message"


def test_approval_and_tool_return_inputs_are_stored_as_their_message_types(
    client: FlaskClient,
) -> None:
    approve = finish(client, None, {"messages": [{"approve": True, "approval_request_id": "m1"}]})
    assert kinds(client, approve["id"])[0] == "approval_response_message"
    returned = finish(
        client,
        None,
        {
            "messages": [
                {
                    "type": "tool_return",
                    "tool_returns": [
                        {"tool_call_id": "t1", "status": "success", "tool_return": "ok"}
                    ],
                }
            ]
        },
    )
    assert kinds(client, returned["id"])[0] == "tool_return_message"


def test_lax_inputs_reach_the_messages_as_plain_values(client: FlaskClient) -> None:
    run = finish(client, "stop:max_steps", {"input": "x", "max_steps": " 2.0 "})
    assert kinds(client, run["id"]).count("tool_call_message") == 2
    approved = finish(client, None, {"messages": [{"approve": "yes", "approval_request_id": "m1"}]})
    assert messages(client, approved["id"])[0]["approve"] is True
