"""The runner's comparison and the findings' attribution work on known differences."""

from __future__ import annotations

from typing import Any

import pytest
from differential import Difference, Observation, Played, compare_played
from findings import FINDINGS, attribute, from_environment

pytestmark = pytest.mark.real_letta

MOCK_RUN: dict[str, Any] = {
    "id": "run-0b5d7c1e-3f2a-4c8b-9d6e-1a2b3c4d5e6f",
    "status": "completed",
    "completed_at": "2026-11-22T03:01:03.654321Z",
    "ttft_ns": 1234,
}
REAL_RUN: dict[str, Any] = {
    "id": "run-aaacc755-4943-4507-b6cf-932eed22a8a2",
    "status": "completed",
    "completed_at": "2026-11-22T01:57:34.634083",
    "ttft_ns": None,
}


def played(side: str, run: dict[str, Any], statuses: list[str]) -> Played:
    found = Played("mock" if side == "mock" else "real")
    found.observations = {
        "post.status": Observation(200, literal=True),
        "poll.statuses": Observation(statuses, literal=True),
        "poll.terminal": Observation(run),
    }
    found.replacements = {str(run["id"]): "⟨run⟩"}
    return found


def test_the_runner_reports_each_difference_once_and_where_it_is() -> None:
    mock = played("mock", MOCK_RUN, ["created", "running", "completed"])
    real = played("real", REAL_RUN, ["created", "completed"])
    found = compare_played("case/x", mock, real)
    assert [(d.aspect, d.path) for d in found] == [
        ("value", "poll.statuses"),
        ("format", "poll.terminal.completed_at"),
        ("null", "poll.terminal.ttft_ns"),
    ]
    assert compare_played("case/x", real, real) == []


def test_an_observation_only_one_side_made_is_a_difference() -> None:
    mock = played("mock", MOCK_RUN, ["created", "completed"])
    real = played("real", REAL_RUN, ["created", "completed"])
    del mock.observations["poll.terminal"]
    found = compare_played("case/x", mock, real)
    assert [(d.aspect, d.path) for d in found] == [("missing-observation", "poll.terminal")]


@pytest.mark.parametrize(
    ("difference", "name"),
    [
        (
            Difference(
                "valid/input-plain-text",
                "format",
                "poll.terminal.completed_at",
                "timestamp (microseconds, Z): 2026-11-22T03:01:03.654321Z",
                "timestamp (microseconds, no offset): 2026-11-22T01:57:34.634083",
            ),
            "naive-completed-at",
        ),
        (
            Difference(
                "valid/input-plain-text",
                "value",
                "poll.statuses",
                ["created", "running", "completed"],
                ["created", "completed"],
            ),
            "no-running-status",
        ),
        (
            Difference(
                "invalid/input-number",
                "type",
                "post.body.detail",
                {"array of length": 1},
                "[{'type': 'string_type'}]",
            ),
            "string-422-detail",
        ),
        (
            Difference(
                "cancel/in-flight",
                "value",
                "poll.statuses",
                ["created", "cancelled"],
                ["created", "cancelled", "completed"],
            ),
            "cancel-overwritten-by-completion",
        ),
    ],
)
def test_known_differences_are_attributed_to_their_finding(
    difference: Difference, name: str
) -> None:
    finding = attribute(difference)
    assert finding is not None
    assert finding.name == name


def test_a_difference_no_finding_explains_stays_unattributed() -> None:
    odd = Difference(
        "valid/input-plain-text", "value", "poll.statuses", ["created", "failed"], ["created"]
    )
    assert attribute(odd) is None
    assert not from_environment(odd)


def test_finding_names_are_unique() -> None:
    names = [f.name for f in FINDINGS]
    assert len(names) == len(set(names))
