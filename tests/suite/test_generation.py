"""What the suite sends: positive bodies valid under both readings, negatives invalid under both."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from letta_contract_kit.contract_tests.boundaries import (
    COSTLY,
    boundaries,
    is_hostile,
    locations,
    pack,
    with_steps,
)
from letta_contract_kit.contract_tests.cases import REQUEST, id_verdict, negative_case
from letta_contract_kit.contract_tests.families import negative_families
from letta_contract_kit.contract_tests.strategies import (
    ID_MUTATIONS,
    BodyStrategies,
    agent_ids,
    mutated_ids,
    run_ids,
)
from letta_contract_kit.schemas import Verdict, classify
from letta_contract_kit.schemas.contract import MESSAGE_TYPE, tag_of, union_members

FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
BODIES = BodyStrategies("http://127.0.0.1:9/pixel.png")


@FAST
@given(BODIES.valid_body())
def test_generated_valid_bodies_are_valid_under_both_readings(body: dict[str, Any]) -> None:
    assert classify(REQUEST, body).verdict is Verdict.VALID


@FAST
@given(BODIES.valid_body())
def test_generated_bodies_keep_costly_options_small(body: dict[str, Any]) -> None:
    assert 1 <= body["max_steps"] <= 2
    assert "override_model" not in body and "callback_url" not in body


@FAST
@given(
    st.sampled_from(sorted(negative_families(BODIES))).flatmap(
        lambda family: st.tuples(st.just(family), negative_families(BODIES)[family])
    )
)
def test_negative_cases_carry_problems_under_both_readings(drawn: Any) -> None:
    family, (label, body) = drawn
    case = negative_case(family, label, body, "agent-" + "0" * 8 + "-0000-4000-8000-" + "0" * 12)
    assert case.classification is not None
    if case.classification.verdict is Verdict.INVALID:  # the only ones sent as negatives
        assert case.classification.documented and case.classification.server
    assert case.expected == frozenset({422})
    assert [e.rule.id for e in case.expect] == ["invalid-body-refused", "invalid-body-422"]


def test_most_negative_families_are_invalid_under_both_readings() -> None:
    found: dict[str, set[Verdict]] = {}

    @settings(max_examples=25, database=None, derandomize=True)
    @given(st.data())
    def sample(data: st.DataObject) -> None:
        for family, strategy in negative_families(BODIES).items():
            _label, body = data.draw(strategy)
            found.setdefault(family, set()).add(classify(REQUEST, body).verdict)

    sample()
    invalid = [f for f, verdicts in found.items() if Verdict.INVALID in verdicts]
    assert len(invalid) >= len(found) - 1  # "input and messages" only ever diverges
    assert found["input and messages"] == {Verdict.DOCUMENTED_ONLY}


@FAST
@given(mutated_ids("agent", ("agents", "tool", "run")))
def test_agent_id_mutations_are_invalid_under_both_readings(drawn: tuple[str, str]) -> None:
    label, value = drawn
    assert id_verdict("agent-id", value) is Verdict.INVALID, (label, value)


@FAST
@given(agent_ids(), run_ids())
def test_well_formed_ids_are_valid(agent: str, run: str) -> None:
    assert id_verdict("agent-id", agent) is Verdict.VALID
    assert id_verdict("run-id", run) is Verdict.VALID


def test_every_named_id_mutation_breaks_the_agent_id() -> None:
    base = "agent-123e4567-e89b-42d3-8456-426614174000"
    for label, mutate in ID_MUTATIONS.items():
        assert id_verdict("agent-id", mutate(base)) is Verdict.INVALID, label


@seed(5)
@FAST
@given(mutated_ids("run", ("runs", "step")))
def test_run_id_mutations_are_never_valid(drawn: tuple[str, str]) -> None:
    assert id_verdict("run-id", drawn[1]) is not Verdict.VALID


def test_the_boundaries_are_the_same_every_time() -> None:
    first = [(b.label, b.body) for b in boundaries()]
    assert first == [(b.label, b.body) for b in boundaries()]
    assert len(first) > 500


def test_every_location_is_present_in_a_valid_body() -> None:
    present = {b.location.label for b in boundaries() if b.kind == "present"}
    costly = {b.location.label for b in boundaries() if b.location.key in COSTLY}
    assert present | costly == {location.label for location in locations()}
    # the costly fields appear as null (and callback_url with the receiver's URL, later)
    assert {b.location.label for b in boundaries() if b.kind == "null"} >= costly
    for b in boundaries():
        if b.kind == "present" and b.location.label not in ("messages", "input"):
            assert classify(REQUEST, with_steps(b.body)).verdict is Verdict.VALID, b.label


def test_every_union_member_and_enum_value_has_its_boundary() -> None:
    kinds = {(b.location.label, b.kind) for b in boundaries()}
    for tag in (tag_of(m) for m in union_members("input-content-union")):
        assert ("input[]", f"member {tag}") in kinds
    for tag in (tag_of(m) for m in union_members("message-create-union")):
        assert ("messages[]", f"member {tag}") in kinds
    for value in MESSAGE_TYPE:
        assert ("include_return_message_types[]", f"value {value}") in kinds
    for role in ("user", "system", "assistant"):
        assert ("messages[]<MessageCreate>.role", f"value {role}") in kinds


def test_valid_boundaries_pack_into_few_valid_bodies_that_keep_every_value() -> None:
    def valid(body: Any) -> bool:
        return classify(REQUEST, with_steps(body)).verdict is Verdict.VALID

    chosen = [b for b in boundaries() if not is_hostile(b) and valid(b.body)]
    groups = pack(chosen, valid)
    assert sum(len(members) for members, _ in groups) == len(chosen)
    assert len(groups) <= 16
    for _, body in groups:
        assert valid(body)


def test_invalid_boundaries_break_the_request_under_both_readings() -> None:
    verdicts = {
        classify(REQUEST, with_steps(b.body)).verdict
        for b in boundaries()
        if b.kind.startswith(("wrong type", "missing ", "outside", "unknown tag"))
    }
    assert verdicts <= {Verdict.INVALID, Verdict.DOCUMENTED_ONLY, Verdict.SERVER_ONLY}
    assert Verdict.INVALID in verdicts
