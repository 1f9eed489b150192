"""The problems a validator reports: where, which rule, and a message a person can act on."""

from __future__ import annotations

from typing import Any

import pytest

from letta_contract_kit.schemas import READINGS, Problem, Reading, validator

REQUEST = "letta-async-request"
QUESTION = "Which day is the Gulbenkian museum closed?"


def only_problem(reading: Reading, body: Any) -> Problem:
    problems = validator(REQUEST, reading).problems(body)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize("reading", READINGS)
def test_a_part_with_an_unknown_type_is_reported_at_its_type_as_union_tag_invalid(
    reading: Reading,
) -> None:
    body = {"messages": [{"type": "message", "role": "user", "content": [{"type": "audio"}]}]}
    problem = only_problem(reading, body)
    assert problem.location == ("messages", 0, "content", 0, "type")
    assert problem.rule == "union_tag_invalid"
    assert "'audio'" in problem.message and "'text'" in problem.message


def test_a_part_without_type_is_reported_by_the_server_reading_as_union_tag_not_found() -> None:
    problem = only_problem("server", {"input": [{"text": QUESTION}]})
    assert problem.location == ("input", 0, "type")
    assert problem.rule == "union_tag_not_found"
    assert "`type` is required" in problem.message


@pytest.mark.parametrize(
    "body",
    [{}, {"input": None, "messages": None}, {"input": QUESTION, "messages": []}],
    ids=["empty-body", "both-null", "both-given"],
)
def test_the_server_reading_asks_for_exactly_one_of_input_and_messages(body: Any) -> None:
    problem = only_problem("server", body)
    assert problem.location == ()
    assert problem.rule == "value_error"
    assert "Exactly one of 'input' and 'messages'" in problem.message


@pytest.mark.parametrize("body", [{}, {"input": QUESTION, "messages": []}], ids=["empty", "both"])
def test_the_documented_reading_does_not_ask_for_exactly_one_of_input_and_messages(
    body: Any,
) -> None:
    assert validator(REQUEST, "documented").problems(body) == []


@pytest.mark.parametrize("reading", READINGS)
def test_a_missing_required_field_is_reported_at_the_field_as_missing(reading: Reading) -> None:
    body = {"input": [{"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo="}}]}
    problem = only_problem(reading, body)
    assert problem.location == ("input", 0, "source", "media_type")
    assert (problem.rule, problem.message) == ("missing", "Field required")


@pytest.mark.parametrize("reading", READINGS)
def test_a_message_create_missing_its_content_is_reported_as_missing_content(
    reading: Reading,
) -> None:
    problem = only_problem(reading, {"messages": [{"type": "message", "role": "user"}]})
    assert (problem.location, problem.rule) == (("messages", 0, "content"), "missing")


@pytest.mark.parametrize("reading", READINGS)
def test_a_value_of_the_wrong_kind_in_a_nullable_union_names_every_allowed_kind(
    reading: Reading,
) -> None:
    problem = only_problem(reading, {"input": QUESTION, "include_return_message_types": "all"})
    assert (problem.location, problem.rule) == (("include_return_message_types",), "type")
    assert "array" in problem.message and "null" in problem.message


@pytest.mark.parametrize("reading", READINGS)
def test_every_problem_of_a_body_with_several_is_reported_in_location_order(
    reading: Reading,
) -> None:
    body = {
        "input": QUESTION,
        "max_steps": "five",
        "callback_url": 123,
        "include_return_message_types": ["debug_message"],
    }
    problems = validator(REQUEST, reading).problems(body)
    assert [p.location for p in problems] == [
        ("callback_url",),
        ("include_return_message_types", 0),
        ("max_steps",),
    ]
    assert len(set(problems)) == len(problems)


def test_a_valid_body_has_no_problems_and_is_valid() -> None:
    body = {"input": QUESTION}
    for reading in READINGS:
        assert validator(REQUEST, reading).problems(body) == []
        assert validator(REQUEST, reading).is_valid(body)


def test_a_problem_reads_as_location_message_and_rule() -> None:
    problem = Problem(("messages", 0, "role"), "enum", "'tool' is not one of the roles")
    assert str(problem) == "messages/0/role: 'tool' is not one of the roles [enum]"
    assert str(Problem((), "value_error", "neither")) == "(root): neither [value_error]"


@pytest.mark.parametrize("reading", READINGS)
def test_a_problem_becomes_a_detail_item_that_is_a_valid_validation_error(
    reading: Reading,
) -> None:
    body = {"messages": [{"type": "message", "role": "tool", "content": QUESTION}]}
    item = only_problem(reading, body).as_dict(prefix=("body",))
    assert item["loc"] == ["body", "messages", 0, "role"]
    assert item["type"] == "enum"
    assert validator("validation-error", reading).problems(item) == []


def test_a_body_with_thousands_of_problems_is_explained_by_its_first_fifty_and_a_note() -> None:
    from letta_contract_kit.schemas.validation import MAX_PROBLEMS

    problems = validator("letta-async-request", "server").problems({"messages": [{}] * 20_000})
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].rule == "too_many_problems"
    assert all(p.location[0] == "messages" for p in problems[:-1])


def test_a_problem_quotes_a_huge_value_only_in_part() -> None:
    from letta_contract_kit.schemas.validation import MAX_MESSAGE

    problems = validator("letta-async-request", "server").problems({"messages": "z" * 900_000})
    assert problems
    assert all(len(p.message) <= MAX_MESSAGE for p in problems)
    assert problems[0].location == ("messages",)
    assert problems[0].message.endswith("is not of type 'array', 'null'")
