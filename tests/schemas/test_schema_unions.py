"""How union members are told apart: by `type`, and what happens when it is missing."""

from __future__ import annotations

from typing import Any

import pytest

from letta_contract_kit.schemas import READINGS, Reading, Verdict, classify, validator
from letta_contract_kit.schemas.contract import tag_of, union_members

REQUEST = "letta-async-request"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGOQm/AfiBggFAArdga1oJlfgAAAAABJRU5ErkJggg=="
FILE_ID = "file-7b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
TOOL_CALL_ID = "toolu_01HkX4qN8vTz3bWmPaYc2RdE"

# One well-formed part of each type, without its `type` key.
UNTYPED_PARTS: dict[str, dict[str, Any]] = {
    "text": {"text": "Is the Oceanário open on Mondays?"},
    "image": {"source": {"type": "url", "url": "https://images.example-travel.com/oceanario.jpg"}},
    "tool_call": {"id": TOOL_CALL_ID, "name": "get_weather", "input": {"city": "Lisbon"}},
    "tool_return": {"tool_call_id": TOOL_CALL_ID, "content": "21°C, clear", "is_error": False},
    "reasoning": {"is_native": True, "reasoning": "Sunday looks rainy; plan museums."},
    "redacted_reasoning": {"data": "EmwKAhgBEgy3vX9kLq2ZpR8tN4sGiDCh5mWb1Jx7Yc0FeT6uQ3aK9oP2dL8s"},
    "omitted_reasoning": {
        "signature": "gAAAAABoX3k1mZ8pQ2tV7wR4yN0cL6sJ9hF1dK3gB5aE8uT2iO7xM4nP6rW0qY"
    },
    "summarized_reasoning": {
        "id": "rs_68a1f0c2e4b7d39a0c5e1f2a3b4c5d6e",
        "summary": [{"index": 0, "text": "Tram 15E goes straight to Belém."}],
    },
}
INPUT_TAGS = [tag_of(member) for member in union_members("input-content-union")]


def as_input(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"input": list(parts)}


def as_message(item: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [item]}


def rules_at(name: str, reading: Reading, instance: Any) -> list[tuple[tuple[Any, ...], str]]:
    return [(p.location, p.rule) for p in validator(name, reading).problems(instance)]


# --- content parts --------------------------------------------------------------------------


def test_the_untyped_part_table_covers_every_input_part_type() -> None:
    assert sorted(UNTYPED_PARTS) == sorted(INPUT_TAGS)


@pytest.mark.parametrize("tag", INPUT_TAGS)
def test_a_part_with_its_type_is_valid_in_both_readings(tag: str) -> None:
    part = {"type": tag, **UNTYPED_PARTS[tag]}
    assert classify(REQUEST, as_input(part)).verdict is Verdict.VALID


@pytest.mark.parametrize("tag", INPUT_TAGS)
def test_a_part_without_type_is_the_member_its_fields_name_as_documented(tag: str) -> None:
    # 001 and 002 document `type` as optional with a default: a part without it still reads
    # as the member whose required fields it carries.
    assert validator("input-content-union", "documented").problems(UNTYPED_PARTS[tag]) == []


@pytest.mark.parametrize("tag", INPUT_TAGS)
def test_a_part_without_type_is_rejected_by_the_server_with_union_tag_not_found(tag: str) -> None:
    assert rules_at(REQUEST, "server", as_input(UNTYPED_PARTS[tag])) == [
        (("input", 0, "type"), "union_tag_not_found")
    ]


def test_a_text_part_without_type_in_message_content_is_a_text_content_as_documented() -> None:
    item = {"type": "message", "role": "user", "content": [UNTYPED_PARTS["text"]]}
    assert validator("message-create", "documented").problems(item) == []


@pytest.mark.parametrize("reading", READINGS)
def test_a_part_with_an_unknown_type_is_rejected_with_union_tag_invalid(reading: Reading) -> None:
    part = {"type": "video", "url": "https://videos.example-travel.com/tram28.mp4"}
    assert rules_at(REQUEST, reading, as_input(part)) == [
        (("input", 0, "type"), "union_tag_invalid")
    ]


@pytest.mark.parametrize("reading", READINGS)
def test_a_part_shaped_like_two_members_is_the_one_its_type_names(reading: Reading) -> None:
    # Carries the fields of a TextContent and of a RedactedReasoningContent.
    both = {"text": "Belém by tram 15E.", "data": "EmwKAhgBEgy3vX9kLq2ZpR8t"}
    assert rules_at(REQUEST, reading, as_input({"type": "redacted_reasoning", **both})) == []
    assert rules_at(REQUEST, reading, as_input({"type": "text", **both})) == []


@pytest.mark.parametrize("reading", READINGS)
def test_a_part_is_checked_against_the_member_its_type_names_not_the_one_it_resembles(
    reading: Reading,
) -> None:
    # Shaped like a RedactedReasoningContent but tagged text: text is missing.
    part = {"type": "text", "data": "EmwKAhgBEgy3vX9kLq2ZpR8t"}
    assert rules_at(REQUEST, reading, as_input(part)) == [(("input", 0, "text"), "missing")]


def test_summarized_reasoning_is_a_message_content_part_for_the_server_only() -> None:
    part = {"type": "summarized_reasoning", **UNTYPED_PARTS["summarized_reasoning"]}
    body = as_message({"type": "message", "role": "assistant", "content": [part]})
    result = classify(REQUEST, body)
    assert result.verdict is Verdict.SERVER_ONLY
    assert [(p.location, p.rule) for p in result.documented] == [
        (("messages", 0, "content", 0, "type"), "union_tag_invalid")
    ]


# --- image sources --------------------------------------------------------------------------


def test_an_image_source_without_type_is_accepted_as_documented_only() -> None:
    part = {"type": "image", "source": {"url": "https://images.example-travel.com/belem.jpg"}}
    result = classify(REQUEST, as_input(part))
    assert result.verdict is Verdict.DOCUMENTED_ONLY
    assert [(p.location, p.rule) for p in result.server] == [
        (("input", 0, "source", "type"), "union_tag_not_found")
    ]


def test_a_letta_image_source_without_type_that_also_carries_data_is_valid_as_documented() -> None:
    # Shaped like a LettaImage (file_id) and like a Base64Image (data and media_type).
    source = {"file_id": FILE_ID, "data": PNG, "media_type": "image/png"}
    assert validator("image-source", "documented").problems(source) == []


@pytest.mark.parametrize("reading", READINGS)
def test_an_image_source_with_an_unknown_type_is_rejected_with_union_tag_invalid(
    reading: Reading,
) -> None:
    part = {"type": "image", "source": {"type": "file", "path": "/tmp/tram.png"}}
    assert rules_at(REQUEST, reading, as_input(part)) == [
        (("input", 0, "source", "type"), "union_tag_invalid")
    ]


# --- items of `messages` --------------------------------------------------------------------


def test_an_untyped_item_with_approve_is_an_approval_for_the_server_whatever_else_it_holds() -> (
    None
):
    # The server gives it the type `approval`, and ApprovalCreate ignores `role` and
    # `content`: a role MessageCreate would reject does not matter.
    item = {"approve": True, "approval_request_id": "message-0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"}
    assert rules_at(REQUEST, "server", as_message({**item, "role": "tool", "content": "ok"})) == []


def test_an_untyped_item_with_only_approval_request_id_is_an_approval_for_the_server() -> None:
    item = {"approval_request_id": "message-0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"}
    assert classify(REQUEST, as_message(item)).verdict is Verdict.VALID


def test_an_untyped_item_with_only_approvals_is_taken_for_a_message_by_the_server() -> None:
    item = {"approvals": [{"type": "approval", "tool_call_id": TOOL_CALL_ID, "approve": True}]}
    result = classify(REQUEST, as_message(item))
    assert result.verdict is Verdict.DOCUMENTED_ONLY
    assert [(p.location, p.rule) for p in result.server] == [
        (("messages", 0, "content"), "missing"),
        (("messages", 0, "role"), "missing"),
    ]


def test_an_untyped_tool_return_create_is_taken_for_a_message_by_the_server() -> None:
    item = {
        "tool_returns": [{"tool_call_id": TOOL_CALL_ID, "status": "success", "tool_return": "21°C"}]
    }
    result = classify(REQUEST, as_message(item))
    assert result.verdict is Verdict.DOCUMENTED_ONLY
    assert {p.location for p in result.server} == {
        ("messages", 0, "content"),
        ("messages", 0, "role"),
    }


def test_a_typed_tool_return_create_is_valid_in_both_readings() -> None:
    item = {
        "type": "tool_return",
        "tool_returns": [
            {"tool_call_id": TOOL_CALL_ID, "status": "success", "tool_return": "21°C"}
        ],
    }
    assert classify(REQUEST, as_message(item)).verdict is Verdict.VALID


def test_an_approval_return_without_type_is_rejected_by_the_server_only() -> None:
    item = {"type": "approval", "approvals": [{"tool_call_id": TOOL_CALL_ID, "approve": True}]}
    result = classify(REQUEST, as_message(item))
    assert result.verdict is Verdict.DOCUMENTED_ONLY
    assert [(p.location, p.rule) for p in result.server] == [
        (("messages", 0, "approvals", 0, "type"), "union_tag_not_found")
    ]


def test_a_message_create_with_type_null_is_accepted_by_the_server_only() -> None:
    item = {"type": None, "role": "user", "content": "Plan Saturday for us."}
    assert classify(REQUEST, as_message(item)).verdict is Verdict.SERVER_ONLY


@pytest.mark.parametrize("reading", READINGS)
def test_an_item_with_an_unknown_type_is_rejected_at_its_type(reading: Reading) -> None:
    item = {"type": "bogus", "role": "user", "content": "Plan Saturday for us."}
    assert {p.location for p in validator(REQUEST, reading).problems(as_message(item))} == {
        ("messages", 0, "type")
    }


@pytest.mark.parametrize("reading", READINGS)
def test_a_typed_message_item_is_judged_as_a_message_create(reading: Reading) -> None:
    item = {"type": "message", "role": "user"}
    assert rules_at(REQUEST, reading, as_message(item)) == [(("messages", 0, "content"), "missing")]


@pytest.mark.parametrize("reading", READINGS)
def test_a_typed_tool_return_item_is_judged_as_a_tool_return_create(reading: Reading) -> None:
    assert rules_at(REQUEST, reading, as_message({"type": "tool_return"})) == [
        (("messages", 0, "tool_returns"), "missing")
    ]


@pytest.mark.parametrize("reading", READINGS)
def test_the_bare_approval_item_is_accepted(reading: Reading) -> None:
    assert rules_at(REQUEST, reading, as_message({"type": "approval"})) == []
