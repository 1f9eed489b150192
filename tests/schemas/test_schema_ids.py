"""Agent ids and run ids: what each reading accepts, edge by edge."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from letta_contract_kit.schemas import READINGS, Reading, Verdict, classify, validator
from letta_contract_kit.schemas.contract import AGENT_ID, AGENT_ID_LENGTH, DOCUMENTED_RUN_ID, RUN_ID

GOOD_AGENT = "agent-3ceaaf30-8142-48ea-91d9-3080f9b439fc"
GOOD_RUN = "run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b"

BAD_AGENT_IDS = {
    "upper-case-hex": GOOD_AGENT.upper().replace("AGENT-", "agent-"),
    "one-upper-case-digit": GOOD_AGENT[:-1] + "C",
    "uuid-version-1": "agent-123e4567-e89b-12d3-a456-426614174000",
    "uuid-version-7": "agent-0190f3a2-7b4c-7d1e-9f20-3a4b5c6d7e8f",
    "rfc-variant-missing": "agent-3ceaaf30-8142-48ea-c1d9-3080f9b439fc",
    "41-characters": GOOD_AGENT[:-1],
    "43-characters": GOOD_AGENT + "0",
    "missing-prefix": GOOD_AGENT.removeprefix("agent-"),
    "upper-case-prefix": "AGENT-" + GOOD_AGENT.removeprefix("agent-"),
    "wrong-prefix": "tool-" + GOOD_AGENT.removeprefix("agent-"),
    "underscore-prefix": "agent_" + GOOD_AGENT.removeprefix("agent-"),
    "trailing-newline": GOOD_AGENT + "\n",
    "leading-space": " " + GOOD_AGENT[:-1],
    "braces": "agent-{" + GOOD_AGENT.removeprefix("agent-")[:-2] + "}",
    "empty": "",
}


def test_the_agent_id_length_is_42() -> None:
    assert AGENT_ID_LENGTH == 42 == len(GOOD_AGENT)


@pytest.mark.parametrize("reading", READINGS)
def test_a_lower_case_uuid4_agent_id_is_valid(reading: Reading) -> None:
    assert validator("agent-id", reading).problems(GOOD_AGENT) == []


@pytest.mark.parametrize("value", list(BAD_AGENT_IDS.values()), ids=list(BAD_AGENT_IDS))
def test_the_agent_id_schema_rejects_a_malformed_id_in_both_readings(value: str) -> None:
    assert classify("agent-id", value).verdict is Verdict.INVALID


@pytest.mark.parametrize("value", list(BAD_AGENT_IDS.values()), ids=list(BAD_AGENT_IDS))
def test_the_agent_id_pattern_on_its_own_rejects_a_malformed_id(value: str) -> None:
    # JSON Schema's `pattern` is searched, not anchored: the compiled pattern must reject on
    # its own, with search() as with match(), whatever length check comes with it.
    assert AGENT_ID.search(value) is None
    assert AGENT_ID.match(value) is None


def test_the_agent_id_pattern_accepts_a_well_formed_id() -> None:
    assert AGENT_ID.fullmatch(GOOD_AGENT)


@given(st.uuids())
def test_an_agent_id_is_valid_exactly_when_its_uuid_is_an_rfc_4122_version_4(
    value: uuid.UUID,
) -> None:
    candidate = f"agent-{value}"
    expected = value.variant == uuid.RFC_4122 and value.version == 4
    for reading in READINGS:
        assert validator("agent-id", reading).is_valid(candidate) is expected
    assert bool(AGENT_ID.fullmatch(candidate)) is expected


@given(st.uuids(version=4))
def test_an_agent_id_with_any_upper_case_hex_digit_is_never_valid(value: uuid.UUID) -> None:
    upper = str(value).upper()
    assume(upper != str(value))
    assert classify("agent-id", f"agent-{upper}").verdict is Verdict.INVALID


# --- run ids --------------------------------------------------------------------------------

RUN_ID_CASES = [
    # (name, value, documented reading accepts, server reading accepts)
    ("lower-case-uuid4", GOOD_RUN, True, True),
    (
        "documentation-example-uuid-version-1",
        "run-123e4567-e89b-12d3-a456-426614174000",
        True,
        False,
    ),
    ("upper-case-hex", "run-4B3F1E0A-9C2D-4E5F-8A6B-7C8D9E0F1A2B", True, False),
    ("job-prefix", "job-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b", True, False),
    ("prefix-and-8-hex-digits-only", "run-4b3f1e0a", True, False),
    ("trailing-newline", GOOD_RUN + "\n", True, False),
    ("41-characters", GOOD_RUN + "0", True, False),
    ("39-characters", GOOD_RUN[:-1], True, False),
    ("7-hex-digits", "run-4b3f1e0", False, False),
    ("no-prefix", "4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b", False, False),
    ("agent-id", GOOD_AGENT, False, False),
    ("upper-case-prefix", "RUN-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b", False, False),
]


@pytest.mark.parametrize(
    ("value", "documented", "server"),
    [case[1:] for case in RUN_ID_CASES],
    ids=[case[0] for case in RUN_ID_CASES],
)
def test_run_id_edge_case_in_each_reading(value: str, documented: bool, server: bool) -> None:
    assert validator("run-id", "documented").is_valid(value) is documented
    assert validator("run-id", "server").is_valid(value) is server


@pytest.mark.parametrize(
    ("value", "server"),
    [(case[1], case[3]) for case in RUN_ID_CASES],
    ids=[case[0] for case in RUN_ID_CASES],
)
def test_the_server_run_id_pattern_on_its_own_agrees_with_the_server_reading(
    value: str, server: bool
) -> None:
    assert (RUN_ID.search(value) is not None) is server


def test_the_documented_run_id_pattern_only_checks_a_prefix() -> None:
    assert DOCUMENTED_RUN_ID.search("run-4b3f1e0a and anything after it")
    assert DOCUMENTED_RUN_ID.search("job-ABCDEF01")
    assert not DOCUMENTED_RUN_ID.search("task-4b3f1e0a")


@given(st.uuids(version=4))
def test_a_generated_run_id_is_valid_in_both_readings(value: uuid.UUID) -> None:
    assert classify("run-id", f"run-{value}").verdict is Verdict.VALID


@given(st.uuids().filter(lambda u: u.version != 4 or u.variant != uuid.RFC_4122))
def test_a_run_id_with_another_uuid_kind_is_valid_as_documented_only(value: uuid.UUID) -> None:
    assert classify("run-id", f"run-{value}").verdict is Verdict.DOCUMENTED_ONLY
