"""Random valid bodies generated from the schemas (Hypothesis), on top of the coverage
phase's fixed ones."""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests.cases import Case, positive_case
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.explore import explore
from letta_contract_kit.contract_tests.phases import Phase, response_checks_on

# Runs the lifecycle phase needs for its own scenarios (cancel at each moment, callback,
# second agent); the random bodies leave them in the budget.
LIFECYCLE_RUNS = 6


def _short(body: dict[str, Any]) -> str:
    return f"valid body ({','.join(sorted(body))})"


def run(ctx: SuiteContext) -> None:
    examples = min(ctx.config.settings.positive_examples, ctx.budget.remaining - LIFECYCLE_RUNS)
    if examples <= 0:
        ctx.notice("no random valid bodies: the budget on runs is kept for the lifecycle")
        return

    def to_case(body: dict[str, Any]) -> Case | None:
        case = positive_case(body, ctx.agent_id, phase="positive", label=_short(body))
        verdict = case.classification.verdict if case.classification else None
        return case if verdict is not None and verdict.name == "VALID" else None

    explore(ctx, ctx.bodies.valid_body(), to_case, examples, spend=True)


PHASE = Phase("positive", "random valid bodies generated from the schemas", run, response_checks_on)
