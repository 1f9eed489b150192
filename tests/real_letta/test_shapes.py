"""The shape comparer finds the differences the differential test relies on, and no others."""

from __future__ import annotations

from typing import Any

import pytest
from shapes import compare, literal_under, string_format, substitute

pytestmark = pytest.mark.real_letta

REAL_RUN: dict[str, Any] = {
    "id": "run-aaacc755-4943-4507-b6cf-932eed22a8a2",
    "status": "completed",
    "created_at": "2026-11-22T01:57:32.800459Z",
    "completed_at": "2026-11-22T01:57:34.634083",
    "metadata": {"run_type": "send_message_async", "lettuce": None},
    "request_config": {"use_assistant_message": True},
    "ttft_ns": None,
}


def mock_run(**changes: Any) -> dict[str, Any]:
    run = {
        "id": "run-0b5d7c1e-3f2a-4c8b-9d6e-1a2b3c4d5e6f",
        "status": "completed",
        "created_at": "2026-11-22T03:01:02.123456Z",
        "completed_at": "2026-11-22T03:01:03.654321",
        "metadata": {"run_type": "send_message_async", "lettuce": None},
        "request_config": {"use_assistant_message": True},
        "ttft_ns": None,
    }
    run.update(changes)
    return run


def aspects(mock: Any, real: Any, **kwargs: Any) -> list[tuple[str, str]]:
    return [(m.aspect, m.path) for m in compare(mock, real, **kwargs)]


def test_same_shape_with_other_ids_times_and_texts_is_no_difference() -> None:
    assert compare(mock_run(), REAL_RUN) == []


def test_a_timestamp_with_an_offset_differs_from_a_naive_one() -> None:
    found = aspects(mock_run(completed_at="2026-11-22T03:01:03.654321Z"), REAL_RUN)
    assert found == [("format", "$.completed_at")]


def test_enum_values_are_compared_literally() -> None:
    assert aspects(mock_run(status="failed"), REAL_RUN) == [("value", "$.status")]


def test_null_against_a_number_is_a_null_difference() -> None:
    assert aspects(mock_run(ttft_ns=123), REAL_RUN) == [("null", "$.ttft_ns")]


def test_missing_extra_and_reordered_keys_are_found() -> None:
    real = {"trace_id": "", "detail": "[{'type': 'missing'}]"}
    mock = {"detail": [{"type": "missing"}], "hint": "x"}
    assert aspects(mock, real) == [
        ("missing-key", "$.trace_id"),
        ("extra-key", "$.hint"),
        ("type", "$.detail"),
    ]
    reordered = {"status": "completed", "id": REAL_RUN["id"]}
    assert aspects(reordered, {"id": REAL_RUN["id"], "status": "completed"}) == [("key-order", "$")]


def test_echoes_under_a_literal_path_are_compared_by_value() -> None:
    real = {"request_config": {"include": ["assistant_message"], "name": "send_message"}}
    mock = {"request_config": {"include": ["assistant_message"], "name": "yes"}}
    assert aspects(mock, real) == []
    assert aspects(mock, real, literal=literal_under("$.request_config")) == [
        ("value", "$.request_config.name")
    ]


def test_array_lengths_and_item_shapes_are_compared() -> None:
    assert aspects([1, 2], [1]) == [("length", "$")]
    assert aspects([{"a": 1}], [{"a": "x"}]) == [("type", "$[0].a")]


def test_string_formats() -> None:
    assert string_format("run-aaacc755-4943-4507-b6cf-932eed22a8a2") == "id run-<uuid4>"
    assert string_format("run-123e4567-e89b-12d3-a456-426614174000").startswith("id run-<uuid, not")
    assert string_format("2026-11-22T01:57:33+00:00") == "timestamp (seconds, +00:00)"
    assert string_format("2026-11-22T01:57:34.634083") == "timestamp (microseconds, no offset)"
    assert string_format("CONFLICT: nothing to do") == "text with code CONFLICT"
    assert string_format("⟨run⟩") == "reference ⟨run⟩"


def test_placeholders_make_side_specific_ids_comparable() -> None:
    mock = substitute({"run-1": "cancelled"}, {"run-1": "⟨run⟩"})
    real = substitute({"run-2": "cancelled"}, {"run-2": "⟨run⟩"})
    assert compare(mock, real) == []
    other = substitute({"run-3": "cancelled"}, {"run-1": "⟨run⟩"})
    assert aspects(other, real) == [("missing-key", "$['⟨run⟩']"), ("extra-key", "$['run-3']")]
