"""Every enum value is accepted where it may stand, and an unknown value is rejected there."""

from __future__ import annotations

from typing import Any

import pytest

from letta_contract_kit import fixtures
from letta_contract_kit.schemas import READINGS, Reading, raw, validator
from letta_contract_kit.schemas.contract import (
    MESSAGE_TYPE,
    RUN_STATUS,
    STATUS_RANK,
    STOP_REASON,
    TERMINAL_STATUSES,
)

REQUEST = "letta-async-request"
QUESTION = "Which day is the Gulbenkian museum closed?"

# What documentation version 002 lists; 001 adds the rest.
MESSAGE_TYPES_002 = {
    "system_message",
    "user_message",
    "assistant_message",
    "reasoning_message",
    "hidden_reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "approval_request_message",
    "approval_response_message",
}
STOP_REASONS_002 = {
    "end_turn",
    "error",
    "llm_api_error",
    "invalid_llm_response",
    "invalid_tool_call",
    "max_steps",
    "no_tool_call",
    "tool_rule",
    "cancelled",
    "requires_approval",
}


def a_run() -> dict[str, Any]:
    return fixtures.runs()["completed-end-turn"]


def locations(name: str, reading: Reading, instance: Any) -> list[tuple[Any, ...]]:
    return [p.location for p in validator(name, reading).problems(instance)]


def with_reading(values: list[str]) -> list[tuple[str, Reading]]:
    return [(value, reading) for value in values for reading in READINGS]


def case_id(case: tuple[str, Reading]) -> str:
    return f"{case[0]}[{case[1]}]"


# --- request enums --------------------------------------------------------------------------


@pytest.mark.parametrize("case", with_reading(list(MESSAGE_TYPE)), ids=case_id)
def test_every_message_type_may_be_asked_for_in_include_return_message_types(
    case: tuple[str, Reading],
) -> None:
    value, reading = case
    body = {"input": QUESTION, "include_return_message_types": [value]}
    assert locations(REQUEST, reading, body) == []


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("value", ["debug_message", "stop_reason", "usage_statistics", "ping"])
def test_an_unknown_or_stream_only_message_type_is_rejected_in_include_return_message_types(
    value: str, reading: Reading
) -> None:
    body = {"input": QUESTION, "include_return_message_types": [value]}
    problems = validator(REQUEST, reading).problems(body)
    assert [(p.location, p.rule) for p in problems] == [
        (("include_return_message_types", 0), "enum")
    ]


@pytest.mark.parametrize("case", with_reading(["user", "system", "assistant"]), ids=case_id)
def test_every_role_is_accepted_on_a_message_create(case: tuple[str, Reading]) -> None:
    role, reading = case
    body = {"messages": [{"type": "message", "role": role, "content": QUESTION}]}
    assert locations(REQUEST, reading, body) == []


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("role", ["tool", "function", "developer", "User"])
def test_an_unknown_role_is_rejected_on_a_message_create(role: str, reading: Reading) -> None:
    body = {"messages": [{"type": "message", "role": role, "content": QUESTION}]}
    assert locations(REQUEST, reading, body) == [("messages", 0, "role")]


@pytest.mark.parametrize("case", with_reading(["success", "error"]), ids=case_id)
def test_every_tool_return_status_is_accepted(case: tuple[str, Reading]) -> None:
    status, reading = case
    item = {
        "tool_call_id": "call_Vb3mYxK8qW2nZr5tLp0cHs1D",
        "status": status,
        "tool_return": "21°C",
    }
    body = {"messages": [{"type": "tool_return", "tool_returns": [item]}]}
    assert locations(REQUEST, reading, body) == []


@pytest.mark.parametrize("reading", READINGS)
def test_an_unknown_tool_return_status_is_rejected(reading: Reading) -> None:
    item = {"tool_call_id": "call_Vb3mYxK8qW2nZr5tLp0cHs1D", "status": "ok", "tool_return": "21°C"}
    body = {"messages": [{"type": "tool_return", "tool_returns": [item]}]}
    assert locations(REQUEST, reading, body) == [("messages", 0, "tool_returns", 0, "status")]


# --- response enums -------------------------------------------------------------------------


@pytest.mark.parametrize("case", with_reading(list(RUN_STATUS)), ids=case_id)
def test_every_run_status_is_accepted_in_a_run(case: tuple[str, Reading]) -> None:
    status, reading = case
    assert locations("run", reading, {**a_run(), "status": status}) == []


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("status", ["pending", "expired", "succeeded", "COMPLETED"])
def test_an_unknown_or_legacy_job_status_is_rejected_in_a_run(
    status: str, reading: Reading
) -> None:
    assert locations("run", reading, {**a_run(), "status": status}) == [("status",)]


@pytest.mark.parametrize("case", with_reading(list(STOP_REASON)), ids=case_id)
def test_every_stop_reason_is_accepted_in_a_run(case: tuple[str, Reading]) -> None:
    stop_reason, reading = case
    assert locations("run", reading, {**a_run(), "stop_reason": stop_reason}) == []


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("stop_reason", ["stop_sequence", "length", "timeout", "End_Turn"])
def test_an_unknown_stop_reason_is_rejected_in_a_run(stop_reason: str, reading: Reading) -> None:
    assert locations("run", reading, {**a_run(), "stop_reason": stop_reason}) == [("stop_reason",)]


@pytest.mark.parametrize("case", with_reading(list(MESSAGE_TYPE)), ids=case_id)
def test_every_message_type_is_accepted_in_a_runs_request_config(
    case: tuple[str, Reading],
) -> None:
    value, reading = case
    run = a_run()
    run["request_config"]["include_return_message_types"] = [value]
    assert locations("run", reading, run) == []


@pytest.mark.parametrize("reading", READINGS)
def test_an_unknown_message_type_is_rejected_in_a_runs_request_config(reading: Reading) -> None:
    run = a_run()
    run["request_config"]["include_return_message_types"] = ["debug_message"]
    assert locations("run", reading, run) == [("request_config", "include_return_message_types", 0)]


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize(
    ("name", "key", "good", "bad"),
    [
        ("reasoning_message", "source", ["reasoner_model", "non_reasoner_model"], "human"),
        ("hidden_reasoning_message", "state", ["redacted", "omitted"], "hidden"),
        ("tool_return_message", "status", ["success", "error"], "ok"),
        ("event_message", "event_type", ["compaction"], "summary"),
    ],
)
def test_message_enums_accept_their_values_and_reject_another(
    name: str, key: str, good: list[str], bad: str, reading: Reading
) -> None:
    message = fixtures.run_messages()[name]
    for value in good:
        assert locations("letta-message", reading, {**message, key: value}) == [], value
    assert locations("letta-message", reading, {**message, key: bad}) == [(key,)]


@pytest.mark.parametrize("reading", READINGS)
def test_an_unknown_message_type_tag_is_rejected_with_union_tag_invalid(reading: Reading) -> None:
    message = {**fixtures.run_messages()["assistant_message"], "message_type": "stop_reason"}
    problems = validator("letta-message", reading).problems(message)
    assert [(p.location, p.rule) for p in problems] == [(("message_type",), "union_tag_invalid")]


# --- the enums themselves -------------------------------------------------------------------


def test_message_type_values_documented_in_002_are_the_first_nine() -> None:
    documented_in = raw("message-type")["x-documented-in"]
    assert {v for v, versions in documented_in.items() if "002" in versions} == MESSAGE_TYPES_002
    assert set(MESSAGE_TYPE.values[:9]) == MESSAGE_TYPES_002


def test_stop_reasons_documented_in_002_are_ten_of_the_thirteen() -> None:
    documented_in = raw("stop-reason-type")["x-documented-in"]
    assert {v for v, versions in documented_in.items() if "002" in versions} == STOP_REASONS_002
    assert all("001" in versions for versions in documented_in.values())


@pytest.mark.parametrize("name", ["message-type", "run-status", "stop-reason-type"])
def test_every_enum_value_says_which_documentation_versions_list_it(name: str) -> None:
    document = raw(name)
    assert list(document["x-documented-in"]) == document["enum"]


def test_terminal_statuses_are_completed_failed_and_cancelled_and_rank_above_the_others() -> None:
    assert frozenset({"completed", "failed", "cancelled"}) == TERMINAL_STATUSES
    assert all(
        STATUS_RANK[t] > STATUS_RANK["running"] > STATUS_RANK["created"] for t in TERMINAL_STATUSES
    )


def test_enum_values_are_reachable_by_name_and_unknown_names_raise() -> None:
    assert STOP_REASON.end_turn == "end_turn"
    assert RUN_STATUS.cancelled == "cancelled"
    assert "summary_message" in MESSAGE_TYPE
    with pytest.raises(AttributeError):
        _ = RUN_STATUS.pending
