"""The official letta-client SDK, pointed at the mock, works end to end."""

from __future__ import annotations

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError

from letta_contract_kit.mockserver import MockServer
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import RUN_FIELDS, TERMINAL_STATUSES

pytestmark = pytest.mark.sdk


@pytest.fixture
def mock(letta_mock: MockServer) -> MockServer:
    """The plugin's session server (per-poll clock), reset for this test."""
    assert letta_mock.config.clock == "per-poll"
    return letta_mock


@pytest.fixture
def client(mock: MockServer) -> Letta:
    return Letta(base_url=mock.base_url, api_key="test-key", max_retries=0)


def poll(client: Letta, run_id: str, limit: int = 20) -> list[str]:
    seen = []
    for _ in range(limit):
        run = client.runs.retrieve(run_id)
        seen.append(str(run.status))
        if run.status in TERMINAL_STATUSES:
            return seen
    raise AssertionError(f"no terminal status after {limit} polls: {seen}")


def test_create_async_answers_a_created_background_run(client: Letta, mock: MockServer) -> None:
    run = client.agents.messages.create_async(mock.agent_id, input="What is the capital of France?")
    assert run.status == "created"
    assert run.background is True
    assert run.agent_id == mock.agent_id
    assert run.metadata == {"run_type": "send_message_async", "lettuce": None}
    assert run.request_config is not None
    assert run.request_config.use_assistant_message is True
    assert run.created_at is not None and run.created_at.utcoffset() is not None
    assert run.completed_at is None and run.stop_reason is None


def test_raw_run_json_has_all_seventeen_fields_in_schema_order(mock: MockServer) -> None:
    client = Letta(base_url=mock.base_url, api_key="k", max_retries=0)
    raw = client.agents.messages.with_raw_response.create_async(mock.agent_id, input="hi")
    body = raw.http_response.json()
    assert tuple(body) == RUN_FIELDS
    assert validator("run", "server").problems(body) == []


def test_polling_with_runs_retrieve_reaches_completed(client: Letta, mock: MockServer) -> None:
    run = client.agents.messages.create_async(mock.agent_id, input="hello")
    assert poll(client, run.id) == ["running", "completed"]
    done = client.runs.retrieve(run.id)
    assert done.stop_reason == "end_turn"
    assert done.completed_at is not None and done.completed_at >= done.created_at
    assert done.total_duration_ns is not None and done.ttft_ns is not None
    assert 0 <= done.ttft_ns <= done.total_duration_ns


def test_run_messages_list_echoes_the_input_and_answers_it(client: Letta, mock: MockServer) -> None:
    run = client.agents.messages.create_async(mock.agent_id, input="tell me about otters")
    poll(client, run.id)
    messages = client.runs.messages.list(run.id).items
    kinds = [m.message_type for m in messages]
    assert kinds == ["user_message", "reasoning_message", "assistant_message"]
    assert messages[0].content == "tell me about otters"
    assert "otters" in str(messages[-1].content)


def test_include_return_message_types_filters_the_run_messages(
    client: Letta, mock: MockServer
) -> None:
    run = client.agents.messages.create_async(
        mock.agent_id, input="hi", include_return_message_types=["assistant_message"]
    )
    poll(client, run.id)
    assert [m.message_type for m in client.runs.messages.list(run.id).items] == [
        "assistant_message"
    ]


def test_runs_list_filters_by_agent_status_and_stop_reason(client: Letta, mock: MockServer) -> None:
    other = client.agents.create(name="second").id
    finished = client.agents.messages.create_async(mock.agent_id, input="one")
    poll(client, finished.id)
    pending = client.agents.messages.create_async(mock.agent_id, input="two")
    elsewhere = client.agents.messages.create_async(other, input="three")

    mine = [r.id for r in client.runs.list(agent_id=mock.agent_id).items]
    assert mine == [pending.id, finished.id]  # newest first
    assert [r.id for r in client.runs.list(agent_id=mock.agent_id, order="asc").items] == [
        finished.id,
        pending.id,
    ]
    assert [r.id for r in client.runs.list(statuses=["completed"]).items] == [finished.id]
    active = {r.id for r in client.runs.list(active=True).items}
    assert active == {pending.id, elsewhere.id}
    assert [r.id for r in client.runs.list(stop_reason="end_turn").items] == [finished.id]
    assert len(client.runs.list(limit=1).items) == 1


def test_runs_list_pages_with_the_sdk_cursor(client: Letta, mock: MockServer) -> None:
    ids = [client.agents.messages.create_async(mock.agent_id, input=f"m{i}").id for i in range(5)]
    seen = [r.id for r in client.runs.list(agent_id=mock.agent_id, limit=2, order="asc")]
    assert seen == ids


def test_cancel_with_run_ids_cancels_the_run(client: Letta, mock: MockServer) -> None:
    run = client.agents.messages.create_async(mock.agent_id, input="long job")
    answer = client.agents.messages.cancel(mock.agent_id, run_ids=[run.id])
    assert answer == {run.id: "cancelled"}
    done = client.runs.retrieve(run.id)
    assert (done.status, done.stop_reason) == ("cancelled", "cancelled")
    assert done.completed_at is not None


def test_cancel_without_ids_cancels_every_active_run_of_the_agent(
    client: Letta, mock: MockServer
) -> None:
    first = client.agents.messages.create_async(mock.agent_id, input="a")
    second = client.agents.messages.create_async(mock.agent_id, input="b")
    answer = client.agents.messages.cancel(mock.agent_id)
    assert answer == {second.id: "cancelled", first.id: "cancelled"}


def test_unknown_agent_raises_the_sdk_not_found_error_and_creates_no_run(
    client: Letta, mock: MockServer
) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.agents.messages.create_async(
            "agent-00000000-0000-4000-8000-000000000000", input="hi"
        )
    assert caught.value.status_code == 404
    assert caught.value.body == {"detail": "Agent not found"}
    assert client.runs.list().items == []


def test_unknown_run_raises_the_sdk_not_found_error(client: Letta) -> None:
    with pytest.raises(NotFoundError):
        client.runs.retrieve("run-00000000-0000-4000-8000-000000000000")


def test_invalid_body_raises_the_sdk_unprocessable_entity_error(
    client: Letta, mock: MockServer
) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.messages.create_async(mock.agent_id)  # neither input nor messages
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["detail"][0]["loc"] == ["body"]
    assert body["detail"][0]["type"] == "value_error"


def test_malformed_agent_id_raises_unprocessable_entity(client: Letta) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.messages.create_async("agent-123", input="hi")
    assert caught.value.body["detail"][0]["loc"] == ["path", "agent_id"]


def test_scenario_header_sent_as_an_extra_header_makes_the_run_fail(
    client: Letta, mock: MockServer
) -> None:
    run = client.agents.messages.create_async(
        mock.agent_id,
        input="hi",
        extra_headers={"X-Letta-Mock-Scenario": "fail:llm_api_error"},
    )
    poll(client, run.id)
    done = client.runs.retrieve(run.id)
    assert (done.status, done.stop_reason) == ("failed", "llm_api_error")
    assert "error" in (done.metadata or {})


def test_steps_and_usage_match(client: Letta, mock: MockServer) -> None:
    run = client.agents.messages.create_async(mock.agent_id, input="count my tokens please")
    poll(client, run.id)
    steps = client.runs.steps.list(run.id).items
    usage = client.runs.usage.retrieve(run.id)
    assert len(steps) == 1 and steps[0].status == "success"
    assert usage.total_tokens == sum(s.total_tokens or 0 for s in steps) > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_agents_create_and_retrieve(client: Letta) -> None:
    agent = client.agents.create(name="helper", model="openai/gpt-4o-mini")
    again = client.agents.retrieve(agent.id)
    assert (again.id, again.name) == (agent.id, "helper")
    assert (
        validator("agent-state", "server").problems(
            client.agents.with_raw_response.retrieve(agent.id).http_response.json()
        )
        == []
    )
