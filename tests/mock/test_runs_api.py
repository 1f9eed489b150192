"""Run listing, paging, messages, steps, usage and cancel behave as the real server's do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from letta_client import ConflictError, Letta

from letta_contract_kit.mockserver import MockServer, Timings
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.loader import raw

from .conftest import AGENT, poll_to_end, post_async
from .receiver import Receiver

CANCEL = f"/v1/agents/{AGENT}/messages/cancel"


def tools_run(client: FlaskClient) -> str:
    run_id: str = post_async(client, headers={"X-Letta-Mock-Scenario": "tools"}).get_json()["id"]
    poll_to_end(client, run_id)
    return run_id


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["id"]) for item in items]


def test_run_messages_are_oldest_first_and_page_with_cursors(client: FlaskClient) -> None:
    run_id = tools_run(client)
    everything = client.get(f"/v1/runs/{run_id}/messages").get_json()
    assert len(everything) == 6
    first = client.get(f"/v1/runs/{run_id}/messages?limit=2").get_json()
    assert ids(first) == ids(everything[:2])
    after = client.get(f"/v1/runs/{run_id}/messages?limit=2&after={first[-1]['id']}").get_json()
    assert ids(after) == ids(everything[2:4])
    before = client.get(f"/v1/runs/{run_id}/messages?before={everything[3]['id']}").get_json()
    assert ids(before) == ids(everything[:3])
    newest = client.get(f"/v1/runs/{run_id}/messages?order=desc&limit=1").get_json()
    assert ids(newest) == ids(everything[-1:])


def test_what_a_run_leaves_reads_the_same_every_time_and_is_its_own(
    client: FlaskClient,
) -> None:
    """Messages, steps and ids are derived from the run, not stored: reading must not change them."""
    run_id, other_id = tools_run(client), tools_run(client)
    for part in ("messages", "steps"):
        first = client.get(f"/v1/runs/{run_id}/{part}").get_json()
        assert first and client.get(f"/v1/runs/{run_id}/{part}").get_json() == first
        other = client.get(f"/v1/runs/{other_id}/{part}").get_json()
        assert not set(ids(first)) & set(ids(other))
    messages = client.get(f"/v1/runs/{run_id}/messages").get_json()
    steps = client.get(f"/v1/runs/{run_id}/steps").get_json()
    assert {m["step_id"] for m in messages} <= set(ids(steps))
    otids = [m["otid"] for m in messages]
    assert len(set(otids)) == len(otids)


def test_run_steps_are_newest_first_by_default_and_valid(client: FlaskClient) -> None:
    run_id = tools_run(client)
    steps = client.get(f"/v1/runs/{run_id}/steps").get_json()
    assert len(steps) == 2
    assert all(validator("step").problems(step) == [] for step in steps)
    oldest_first = client.get(f"/v1/runs/{run_id}/steps?order=asc").get_json()
    assert ids(oldest_first) == ids(steps[::-1])
    # as Letta 0.16.8 records them: the step that called the tool names no stop reason
    assert [step["stop_reason"] for step in steps] == ["end_turn", None]
    assert [step["status"] for step in steps] == ["success", "success"]


def test_a_step_has_the_servers_keys_in_its_order(client: FlaskClient) -> None:
    run_id = post_async(client, {"input": "hi"}).get_json()["id"]
    poll_to_end(client, run_id)
    (step,) = client.get(f"/v1/runs/{run_id}/steps").get_json()
    assert list(step) == list(raw("step")["properties"])
    assert len(step) == 31 and step["stop_reason"] == "end_turn"
    assert step["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert step["error_type"] is None and step["error_data"] is None


def test_a_failed_step_names_its_error(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(scenario="fail")
    run_id = post_async(client, {"input": "hi"}).get_json()["id"]
    assert poll_to_end(client, run_id)[-1]["stop_reason"] == "error"
    (step,) = client.get(f"/v1/runs/{run_id}/steps").get_json()
    assert (step["status"], step["stop_reason"]) == ("failed", "llm_api_error")
    assert step["error_type"] == "LLMServerError" and step["error_data"]["traceback"]
    assert step["completion_tokens_details"] is None and step["prompt_tokens_details"] is None


def test_usage_is_zero_until_the_run_ends_and_then_sums_the_steps(client: FlaskClient) -> None:
    run_id = post_async(client).get_json()["id"]
    assert client.get(f"/v1/runs/{run_id}/usage").get_json()["total_tokens"] == 0
    assert client.get(f"/v1/runs/{run_id}/messages").get_json() == []
    poll_to_end(client, run_id)
    usage = client.get(f"/v1/runs/{run_id}/usage").get_json()
    steps = client.get(f"/v1/runs/{run_id}/steps").get_json()
    assert validator("usage-statistics").problems(usage) == []
    assert usage["total_tokens"] == sum(s["total_tokens"] for s in steps) > 0


def test_list_runs_pages_backwards_and_forwards(client: FlaskClient) -> None:
    made = [post_async(client).get_json()["id"] for _ in range(5)]
    newest_first = ids(client.get("/v1/runs/").get_json())
    assert newest_first == made[::-1]
    page = ids(client.get(f"/v1/runs/?after={made[3]}&limit=2").get_json())
    assert page == [made[2], made[1]]
    back = ids(client.get(f"/v1/runs/?before={made[1]}&limit=2").get_json())
    assert back == [made[3], made[2]]
    asc = ids(client.get(f"/v1/runs/?order=asc&after={made[0]}&limit=2").get_json())
    assert asc == made[1:3]


def test_list_runs_filters_by_background_and_several_statuses(client: FlaskClient) -> None:
    done = post_async(client).get_json()["id"]
    poll_to_end(client, done)
    running = post_async(client).get_json()["id"]
    client.get(f"/v1/runs/{running}")
    created = post_async(client).get_json()["id"]
    assert ids(client.get("/v1/runs/?statuses=created&statuses=running").get_json()) == [
        created,
        running,
    ]
    assert len(client.get("/v1/runs/?background=true").get_json()) == 3
    assert client.get("/v1/runs/?background=false").get_json() == []
    assert ids(client.get("/v1/runs/?active=false&statuses=completed").get_json()) == [done]


def test_listing_does_not_count_as_a_poll(client: FlaskClient) -> None:
    run_id = post_async(client).get_json()["id"]
    for _ in range(5):
        client.get("/v1/runs/")
        client.get(f"/v1/runs/{run_id}/messages")
    assert client.get(f"/v1/runs/{run_id}").get_json()["status"] == "running"


def test_cancel_with_nothing_active_is_409_conflict(client: FlaskClient) -> None:
    answer = client.post(CANCEL)
    assert answer.status_code == 409
    assert answer.get_json() == {"detail": f"CONFLICT: No active runs to cancel for agent {AGENT}"}


def test_the_sdk_raises_conflict_when_nothing_is_active(
    make_server: Callable[..., MockServer],
) -> None:
    mock = make_server(clock="per-poll")
    with pytest.raises(ConflictError):
        Letta(base_url=mock.base_url, api_key="k", max_retries=0).agents.messages.cancel(
            mock.agent_id
        )


def test_cancel_reports_unknown_and_malformed_ids_as_failed(client: FlaskClient) -> None:
    unknown = "run-00000000-0000-4000-8000-000000000000"
    answer = client.post(CANCEL, json={"run_ids": [unknown, "nonsense"]})
    assert answer.get_json() == {unknown: "failed", "nonsense": "failed"}


def test_cancelling_an_ended_run_reports_cancelled_and_changes_nothing(
    client: FlaskClient,
) -> None:
    run_id = post_async(client).get_json()["id"]
    before = poll_to_end(client, run_id)[-1]
    assert client.post(CANCEL, json={"run_ids": [run_id]}).get_json() == {run_id: "cancelled"}
    assert client.get(f"/v1/runs/{run_id}").get_json() == before


def test_a_cancelled_run_keeps_no_messages_and_stays_cancelled(client: FlaskClient) -> None:
    run_id = post_async(client).get_json()["id"]
    client.get(f"/v1/runs/{run_id}")  # running
    client.post(CANCEL, json={"run_ids": [run_id]})
    for _ in range(3):
        run = client.get(f"/v1/runs/{run_id}").get_json()
        assert (run["status"], run["stop_reason"]) == ("cancelled", "cancelled")
    assert client.get(f"/v1/runs/{run_id}/messages").get_json() == []
    assert [s["status"] for s in client.get(f"/v1/runs/{run_id}/steps").get_json()] == ["cancelled"]


def test_an_empty_cancel_body_or_null_ids_cancel_the_active_runs(client: FlaskClient) -> None:
    first = post_async(client).get_json()["id"]
    assert client.post(CANCEL, json={"run_ids": None}).get_json() == {first: "cancelled"}
    second = post_async(client).get_json()["id"]
    assert client.post(CANCEL, data=b"").get_json() == {second: "cancelled"}


def test_on_the_wall_clock_a_run_ends_and_calls_back_with_nobody_polling(
    make_server: Callable[..., MockServer],
) -> None:
    mock = make_server(clock="wall", timings=Timings(queued=0.0, running=0.05, slow_running=1))
    client = Letta(base_url=mock.base_url, api_key="k", max_retries=0)
    with Receiver() as receiver:
        run = client.agents.messages.create_async(
            mock.agent_id, input="hi", callback_url=receiver.url
        )
        assert receiver.arrived.wait(timeout=5), "the background sweep never ended the run"
    assert receiver.received[0]["run_id"] == run.id
    assert receiver.received[0]["status"] == "completed"


def test_request_config_echoes_the_four_fields_with_defaults(client: FlaskClient) -> None:
    plain = post_async(client, {"input": "x"}).get_json()["request_config"]
    assert plain == {
        "assistant_message_tool_kwarg": "message",
        "assistant_message_tool_name": "send_message",
        "include_return_message_types": None,
        "use_assistant_message": True,
    }
    chosen = post_async(
        client,
        {"input": "x", "use_assistant_message": False, "include_return_message_types": []},
    ).get_json()["request_config"]
    assert chosen["use_assistant_message"] is False
    assert chosen["include_return_message_types"] == []


def test_every_run_field_is_valid_at_every_stage(client: FlaskClient) -> None:
    run = post_async(client, {"input": "x", "callback_url": "http://127.0.0.1:9/x"}).get_json()
    stages = [run, *poll_to_end(client, run["id"])]
    for stage in stages:
        assert validator("run", "server").problems(stage) == []
        assert validator("run", "documented").problems(stage) == []
    assert stages[0]["id"].startswith("run-") and len(stages[0]["id"]) == 40


def test_run_metrics_time_the_run_and_count_its_steps(client: FlaskClient) -> None:
    run = post_async(client, {"input": "hi"}).get_json()
    active = client.get(f"/v1/runs/{run['id']}/metrics").get_json()
    assert validator("run-metrics").problems(active) == []
    assert list(active) == list(raw("run-metrics")["properties"])
    assert (active["id"], active["agent_id"]) == (run["id"], AGENT)
    assert active["run_ns"] is None and active["num_steps"] == 0
    poll_to_end(client, run["id"])
    ended = client.get(f"/v1/runs/{run['id']}/metrics").get_json()
    assert ended["run_start_ns"] == active["run_start_ns"] > 0
    assert ended["run_ns"] is not None and ended["run_ns"] >= 0
    assert ended["num_steps"] == 1 and ended["tools_used"] is None


def test_run_metrics_name_each_tool_the_run_called_once(client: FlaskClient) -> None:
    run_id = tools_run(client)
    metrics = client.get(f"/v1/runs/{run_id}/metrics").get_json()
    assert metrics["num_steps"] == 2
    assert len(metrics["tools_used"]) == 1 and metrics["tools_used"][0].startswith("tool-")
    again = client.get(f"/v1/runs/{tools_run(client)}/metrics").get_json()
    assert again["tools_used"] == metrics["tools_used"]  # the same tool, the same id


def test_run_metrics_of_an_unknown_or_malformed_run_id(client: FlaskClient) -> None:
    unknown = "run-00000000-0000-4000-8000-000000000000"
    answer = client.get(f"/v1/runs/{unknown}/metrics")
    assert answer.status_code == 404
    assert answer.get_json() == {"detail": f"RunMetrics not found with id='{unknown}'"}
    assert client.get("/v1/runs/bad/metrics").status_code == 400


def test_the_steps_of_a_tool_loop_name_no_stop_reason(client: FlaskClient) -> None:
    answer = post_async(
        client, {"input": "hi", "max_steps": 2}, headers={"X-Letta-Mock-Scenario": "stop:max_steps"}
    )
    run_id = answer.get_json()["id"]
    assert poll_to_end(client, run_id)[-1]["stop_reason"] == "max_steps"  # the run says why
    steps = client.get(f"/v1/runs/{run_id}/steps").get_json()
    assert [(s["status"], s["stop_reason"]) for s in steps] == [("success", None)] * 2
