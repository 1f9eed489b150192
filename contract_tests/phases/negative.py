"""Random requests the contract rejects, one broken rule at a time (Hypothesis; shrunk on a
violation). The deterministic boundary values of every location are the coverage phase's."""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests.cases import (
    Case,
    id_verdict,
    malformed_agent_case,
    malformed_run_case,
    negative_case,
    unknown_agent_case,
    unknown_run_case,
)
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.examples import labelled
from letta_contract_kit.contract_tests.exchanges import try_case
from letta_contract_kit.contract_tests.explore import explore
from letta_contract_kit.contract_tests.families import negative_families
from letta_contract_kit.contract_tests.phases import Phase, response_checks_on
from letta_contract_kit.contract_tests.probes import probe_divergence
from letta_contract_kit.contract_tests.strategies import agent_ids, mutated_ids, run_ids
from letta_contract_kit.schemas import Verdict

AGENT_PREFIXES = ("agents", "tool", "run", "Agent", "user")
RUN_PREFIXES = ("runs", "step", "agent", "task")


def run(ctx: SuiteContext) -> None:
    examples = ctx.config.settings.negative_examples
    agent = ctx.agent_id
    for case in _fixture_negatives(ctx):
        if ctx.out_of_time():
            return
        try_case(ctx, case)

    def bad_agent(drawn: tuple[str, str]) -> Case | None:
        label, value = drawn
        if id_verdict("agent-id", value) is not Verdict.INVALID:
            return None
        return malformed_agent_case(label, value, "negative", ())

    explore(ctx, mutated_ids("agent", AGENT_PREFIXES), bad_agent, examples)
    explore(
        ctx,
        agent_ids(),
        lambda value: (
            None if value in (agent, ctx.agent_id_2) else unknown_agent_case(value, "negative")
        ),
        max(1, examples // 3),
    )
    for family, strategy in negative_families(ctx.bodies).items():

        def to_case(drawn: tuple[str, Any], family: str = family) -> Case | None:
            label, body = drawn
            case = negative_case(family, label, body, agent)
            verdict = case.classification.verdict if case.classification else None
            if verdict is Verdict.INVALID:
                return case
            if verdict is not None and verdict.diverges:
                probe_divergence(ctx, case)
            return None

        explore(ctx, strategy, to_case, examples)

    def bad_run(drawn: tuple[str, str]) -> Case | None:
        label, value = drawn
        case = malformed_run_case(label, value, "negative", ())
        return case if id_verdict("run-id", value) is not Verdict.VALID else None

    explore(ctx, mutated_ids("run", RUN_PREFIXES), bad_run, examples)
    explore(ctx, run_ids(), lambda v: unknown_run_case(v, "negative"), max(1, examples // 3))


def _fixture_negatives(ctx: SuiteContext) -> list[Case]:
    """The project's labelled invalid bodies (``fixtures``), when that package is installed."""
    cases = []
    for item in labelled(ctx.config, "invalid"):
        case = negative_case("documented example", item.name, item.body, ctx.agent_id)
        if case.classification is not None and case.classification.verdict is Verdict.INVALID:
            cases.append(case)
    return cases


PHASE = Phase(
    "negative",
    "requests the contract rejects, generated (no run is created)",
    run,
    response_checks_on,
    sends_runs=False,
)
