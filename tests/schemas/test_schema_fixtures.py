"""The example payloads in ``fixtures``: each is what its label says it is."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from letta_contract_kit import fixtures
from letta_contract_kit.fixtures import DivergentRequest, InvalidRequest, MalformedId
from letta_contract_kit.schemas import READINGS, Reading, Verdict, classify, validator
from letta_contract_kit.schemas.contract import (
    MESSAGE_TYPE,
    REQUEST_FIELDS,
    RUN_FIELDS,
    RUN_STATUS,
    STOP_REASON,
    tag_of,
    union_members,
)
from letta_contract_kit.schemas.versions import DOC_VERSIONS

REQUEST = "letta-async-request"
VALID = fixtures.valid_requests()
INVALID = fixtures.invalid_requests()
DIVERGENT = fixtures.divergent_requests()
RUNS = fixtures.runs()
MESSAGES = fixtures.run_messages()
DOC_KEYS = {version.key for version in DOC_VERSIONS}

UUID4 = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
MESSAGE_ID = re.compile(f"message-{UUID4}")
RUN_ID = re.compile(f"run-{UUID4}")
AGENT_ID = re.compile(f"agent-{UUID4}")
TOOL_CALL_ID = re.compile(r"(toolu_[0-9A-Za-z]{20,}|call_[0-9A-Za-z]{20,})")

# How a real server maps a stop reason to the status of the run it ends (notes §3.1).
STATUS_OF_STOP_REASON = {
    "end_turn": "completed",
    "max_steps": "completed",
    "tool_rule": "completed",
    "requires_approval": "completed",
    "error": "failed",
    "llm_api_error": "failed",
    "invalid_llm_response": "failed",
    "invalid_tool_call": "failed",
    "max_tokens_exceeded": "failed",
    "no_tool_call": "failed",
    "context_window_overflow_in_system_prompt": "failed",
    "insufficient_credits": "failed",
    "cancelled": "cancelled",
}
PLACEHOLDERS = {"string", "agent_id", "foo", "bar"}


def placeholders_in(node: Any, key: str = "") -> Iterator[str]:
    """Values written the way the documentation writes its placeholders.

    The seed examples fill a field with its own name (``"callback_url": "callback_url"``) or
    with its type (``"text": "string"``); a JSON Schema's ``"type": "string"`` is fine.
    """
    if isinstance(node, str):
        if node == key or (node in PLACEHOLDERS and key != "type"):
            yield f"{key}={node}"
    elif isinstance(node, dict):
        for child_key, value in node.items():
            yield from placeholders_in(value, child_key)
    elif isinstance(node, list):
        for item in node:
            yield from placeholders_in(item, key)


def parts_of(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each content part of a body, with where it stands: ``input`` or ``messages``."""
    if isinstance(body.get("input"), list):
        for part in body["input"]:
            yield "input", part
    for message in body.get("messages") or []:
        if isinstance(message.get("content"), list):
            for part in message["content"]:
                yield "messages", part


def message_items() -> Iterator[dict[str, Any]]:
    for body in VALID.values():
        yield from body.get("messages") or []


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- valid requests -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VALID))
def test_valid_request_is_valid_under_both_readings(name: str) -> None:
    result = classify(REQUEST, VALID[name])
    assert result.verdict is Verdict.VALID, [*result.documented, *result.server]


def test_valid_requests_use_every_content_part_type_in_input() -> None:
    used = {part["type"] for where, part in parts_of_all() if where == "input"}
    assert used == {tag_of(member) for member in union_members("input-content-union")}
    assert len(used) == 8


def test_valid_requests_use_every_documented_content_part_type_in_message_content() -> None:
    # The eighth type, summarized_reasoning, is accepted there by the server only: see the
    # divergent request "summarized-reasoning-in-message-content".
    used = {part["type"] for where, part in parts_of_all() if where == "messages"}
    assert used == {tag_of(member) for member in union_members("message-content-union")}
    assert len(used) == 7


def parts_of_all() -> Iterator[tuple[str, dict[str, Any]]]:
    for body in VALID.values():
        yield from parts_of(body)


@pytest.mark.parametrize("where", ["input", "messages"])
def test_valid_requests_use_every_image_source_in_input_and_in_message_content(
    where: str,
) -> None:
    used = {
        part["source"]["type"]
        for place, part in parts_of_all()
        if place == where and part["type"] == "image"
    }
    assert used == {tag_of(member) for member in union_members("image-source")}


def test_valid_requests_use_every_member_of_the_messages_union() -> None:
    used = {
        item.get("type", "approval" if "approve" in item else "message") for item in message_items()
    }
    assert used == {tag_of(member) for member in union_members("message-create-union")}


def test_valid_requests_include_the_deprecated_approve_form_without_a_type() -> None:
    assert any(
        "type" not in item and "approve" in item and "approval_request_id" in item
        for item in message_items()
    )


def test_valid_requests_include_approvals_with_an_approval_return_and_a_tool_return() -> None:
    kinds = {
        approval["type"] for item in message_items() for approval in item.get("approvals") or []
    }
    assert kinds == {"approval", "tool"}


def test_valid_requests_include_tool_returns_as_a_string_and_as_parts() -> None:
    returns = [
        tool_return["tool_return"]
        for item in message_items()
        for tool_return in item.get("tool_returns") or []
    ]
    assert any(isinstance(r, str) for r in returns)
    assert any(isinstance(r, list) for r in returns)


def test_valid_requests_set_every_request_option_at_least_once() -> None:
    used = {key for body in VALID.values() for key, value in body.items() if value is not None}
    assert set(REQUEST_FIELDS) - used == set()


def test_valid_requests_ask_for_every_message_type_in_include_return_message_types() -> None:
    asked = {
        kind for body in VALID.values() for kind in body.get("include_return_message_types") or []
    }
    assert asked == set(MESSAGE_TYPE)


def test_valid_requests_use_every_message_role() -> None:
    roles = {item["role"] for item in message_items() if "role" in item}
    assert roles == {"user", "system", "assistant"}


def test_a_client_tool_carries_a_real_json_schema_for_its_parameters() -> None:
    from jsonschema import Draft202012Validator

    tools = [tool for body in VALID.values() for tool in body.get("client_tools") or []]
    with_parameters = [tool for tool in tools if tool.get("parameters")]
    assert with_parameters
    for tool in with_parameters:
        Draft202012Validator.check_schema(tool["parameters"])
        assert tool["parameters"]["type"] == "object"
        assert tool["parameters"]["properties"]


def test_base64_images_hold_a_real_png() -> None:
    sources = [
        part["source"]
        for _, part in parts_of_all()
        if part["type"] == "image" and part["source"]["type"] == "base64"
    ]
    assert sources
    for source in sources:
        png = base64.b64decode(source["data"], validate=True)
        assert source["media_type"] == "image/png"
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        length, kind = struct.unpack(">I4s", png[8:16])
        assert kind == b"IHDR" and length == 13
        width, height = struct.unpack(">II", png[16:24])
        assert width > 0 and height > 0
        (crc,) = struct.unpack(">I", png[16 + length : 20 + length])
        assert crc == zlib.crc32(png[12 : 16 + length])
        assert png.endswith(b"IEND\xaeB`\x82")


def test_tool_call_ids_look_like_real_provider_ids() -> None:
    ids: set[str] = set()
    for _, part in parts_of_all():
        if part["type"] == "tool_call":
            ids.add(part["id"])
        if part["type"] == "tool_return":
            ids.add(part["tool_call_id"])
    for item in message_items():
        for entry in [*(item.get("approvals") or []), *(item.get("tool_returns") or [])]:
            ids.add(entry["tool_call_id"])
    assert ids
    assert sorted(i for i in ids if not TOOL_CALL_ID.fullmatch(i)) == []


def test_no_fixture_uses_a_documentation_placeholder_as_a_value() -> None:
    everything = [VALID, RUNS, MESSAGES, [case.body for case in INVALID]]
    found = sorted(set(placeholders_in(everything)))
    assert found == []


def test_request_fixture_names_are_unique_across_the_three_sets() -> None:
    names = [*VALID, *(c.name for c in INVALID), *(c.name for c in DIVERGENT)]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_fixtures_hand_out_fresh_copies() -> None:
    first = fixtures.valid_requests()
    first["input-plain-text"]["input"] = "changed"
    assert fixtures.valid_requests()["input-plain-text"]["input"] != "changed"


def test_load_refuses_an_unknown_data_file() -> None:
    with pytest.raises(KeyError):
        fixtures.load("no-such-file")


# --- invalid requests -----------------------------------------------------------------------


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_invalid_request_is_rejected_by_both_readings(case: InvalidRequest) -> None:
    assert classify(REQUEST, case.body).verdict is Verdict.INVALID


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_invalid_request_breaks_exactly_its_labelled_rule_at_its_labelled_location(
    case: InvalidRequest, reading: Reading
) -> None:
    problems = validator(REQUEST, reading).problems(case.body)
    assert [(p.location, p.rule) for p in problems] == [(case.location, case.rule)]


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_invalid_request_is_labelled_with_a_422_a_reason_and_a_documentation_version(
    case: InvalidRequest,
) -> None:
    assert case.status == 422
    assert case.reason.strip()
    assert case.doc_version in DOC_KEYS
    assert case.detail_loc == ("body", *case.location)


# --- divergent requests ---------------------------------------------------------------------


@pytest.mark.parametrize("case", DIVERGENT, ids=lambda c: c.name)
def test_divergent_request_is_accepted_by_its_labelled_reading_only(
    case: DivergentRequest,
) -> None:
    result = classify(REQUEST, case.body)
    expected = Verdict.DOCUMENTED_ONLY if case.accepted_by == "documented" else Verdict.SERVER_ONLY
    assert result.verdict is expected, [*result.documented, *result.server]


@pytest.mark.parametrize("case", DIVERGENT, ids=lambda c: c.name)
def test_divergent_request_says_why_and_where_the_rule_comes_from(case: DivergentRequest) -> None:
    assert case.reason.strip()
    assert case.doc_version in DOC_KEYS
    assert {case.accepted_by, case.rejected_by} == set(READINGS)


def test_divergent_requests_include_both_directions() -> None:
    assert {case.accepted_by for case in DIVERGENT} == set(READINGS)


# --- runs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("name", list(RUNS))
def test_run_fixture_is_a_valid_run(name: str, reading: Reading) -> None:
    assert validator("run", reading).problems(RUNS[name]) == []


@pytest.mark.parametrize("name", list(RUNS))
def test_run_fixture_has_all_17_keys_in_schema_order(name: str) -> None:
    assert tuple(RUNS[name]) == RUN_FIELDS
    assert len(RUN_FIELDS) == 17


@pytest.mark.parametrize("name", list(RUNS))
def test_run_fixture_ids_are_lower_case_uuid4(name: str) -> None:
    assert RUN_ID.fullmatch(RUNS[name]["id"])
    assert AGENT_ID.fullmatch(RUNS[name]["agent_id"])


def test_run_fixture_ids_are_unique() -> None:
    ids = [run["id"] for run in RUNS.values()]
    assert len(set(ids)) == len(ids)


def test_runs_cover_every_status() -> None:
    assert {run["status"] for run in RUNS.values()} == set(RUN_STATUS)


def test_runs_cover_every_stop_reason() -> None:
    assert {run["stop_reason"] for run in RUNS.values()} - {None} == set(STOP_REASON)


@pytest.mark.parametrize("name", list(RUNS))
def test_run_fixture_timestamps_carry_an_offset(name: str) -> None:
    run = RUNS[name]
    for key in ("created_at", "completed_at", "callback_sent_at"):
        if run[key] is not None:
            assert when(run[key]).utcoffset() is not None, key


@pytest.mark.parametrize(
    "name", [n for n, r in RUNS.items() if r["status"] in ("created", "running")]
)
def test_an_unfinished_run_has_no_end(name: str) -> None:
    run = RUNS[name]
    ended = ("completed_at", "stop_reason", "callback_sent_at", "callback_status_code")
    assert {key: run[key] for key in ended} == dict.fromkeys(ended)
    assert run["callback_error"] is None
    assert run["total_duration_ns"] is None


@pytest.mark.parametrize("name", [n for n, r in RUNS.items() if r["stop_reason"] is not None])
def test_a_finished_run_ends_after_it_starts_and_its_duration_matches(name: str) -> None:
    run = RUNS[name]
    started, ended = when(run["created_at"]), when(run["completed_at"])
    assert ended >= started
    elapsed = ended - started
    elapsed_ns = (elapsed.days * 86_400 + elapsed.seconds) * 10**9 + elapsed.microseconds * 1000
    assert run["total_duration_ns"] == elapsed_ns
    if run["ttft_ns"] is not None:
        assert 0 <= run["ttft_ns"] <= run["total_duration_ns"]


@pytest.mark.parametrize("name", [n for n, r in RUNS.items() if r["stop_reason"] is not None])
def test_a_finished_runs_status_is_the_one_its_stop_reason_maps_to(name: str) -> None:
    run = RUNS[name]
    assert run["status"] == STATUS_OF_STOP_REASON[run["stop_reason"]]


@pytest.mark.parametrize("name", [n for n, r in RUNS.items() if r["callback_sent_at"] is not None])
def test_a_callback_is_sent_after_the_run_ends_and_has_one_outcome(name: str) -> None:
    run = RUNS[name]
    assert run["callback_url"]
    assert when(run["callback_sent_at"]) >= when(run["completed_at"])
    assert (run["callback_status_code"] is None) != (run["callback_error"] is None)


def test_stop_reason_mapping_covers_every_stop_reason() -> None:
    assert set(STATUS_OF_STOP_REASON) == set(STOP_REASON)


# --- run messages ---------------------------------------------------------------------------


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("name", list(MESSAGES))
def test_run_message_fixture_is_a_valid_letta_message(name: str, reading: Reading) -> None:
    assert validator("letta-message", reading).problems(MESSAGES[name]) == []


def test_run_messages_cover_every_message_type() -> None:
    assert {m["message_type"] for m in MESSAGES.values()} == set(MESSAGE_TYPE)
    assert len(set(MESSAGE_TYPE)) == 11


@pytest.mark.parametrize("name", list(MESSAGES))
def test_run_message_fixture_has_a_message_id_a_dated_offset_and_a_run(name: str) -> None:
    message = MESSAGES[name]
    assert MESSAGE_ID.fullmatch(message["id"])
    assert when(message["date"]).utcoffset() is not None
    assert RUN_ID.fullmatch(message["run_id"])


# --- path ids -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", fixtures.malformed_agent_ids(), ids=lambda c: c.name)
def test_malformed_agent_id_is_rejected_by_both_readings_with_422(case: MalformedId) -> None:
    assert case.status == 422
    assert classify("agent-id", case.value).verdict is Verdict.INVALID
    assert not case.documented_accepts


@pytest.mark.parametrize("case", fixtures.malformed_run_ids(), ids=lambda c: c.name)
def test_malformed_run_id_is_rejected_by_the_server_with_400(case: MalformedId) -> None:
    assert case.status == 400
    expected = Verdict.DOCUMENTED_ONLY if case.documented_accepts else Verdict.INVALID
    assert classify("run-id", case.value).verdict is expected


# --- unknown keys ---------------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))


@given(
    name=st.sampled_from(sorted(VALID)),
    extra=st.dictionaries(
        st.text(min_size=1, max_size=20).filter(lambda key: key not in REQUEST_FIELDS),
        JSON_SCALARS,
        min_size=1,
        max_size=3,
    ),
)
def test_a_valid_request_stays_valid_with_unknown_top_level_keys(
    name: str, extra: dict[str, Any]
) -> None:
    assert classify(REQUEST, {**extra, **VALID[name]}).verdict is Verdict.VALID
