"""Inputs the documentation and the real server judge differently, sent to see which reading
the target follows (divergences, never violations), and the documented omissions that settle
it: a part or image source that leaves out its optional `type` must be accepted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import SUCCESS, Case, expect, positive_case
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.examples import labelled
from letta_contract_kit.contract_tests.phases import Phase, lifecycle_checks_on, response_checks_on
from letta_contract_kit.contract_tests.probes import probe_divergence
from letta_contract_kit.contract_tests.runs import follow, look_again


# The documentation (001) marks these tags optional in so many words; a body that leaves them
# out is valid under the documentation and must be accepted (the real server refuses it).
def omitted_tags(image_url: str) -> dict[str, dict[str, Any]]:
    return {
        "text part without type": {
            "input": [{"text": "Is the Oceanário open on Mondays?"}],
            "max_steps": 1,
        },
        "url image source without type": {
            "input": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image", "source": {"url": image_url}},
            ],
            "max_steps": 1,
        },
    }


def omitted_tag_cases(ctx: SuiteContext) -> list[Case]:
    cases = []
    for label, body in omitted_tags(ctx.bodies.image_url).items():
        case = positive_case(body, ctx.agent_id, phase="divergence", label=label)
        cases.append(
            replace(
                case,
                family="documented omission",
                expect=(expect(SUCCESS, R.OMITTED_TAG_ACCEPTED),),
                elements=(f"omission: {label}",),
            )
        )
    return cases


def fixture_cases(ctx: SuiteContext) -> list[Case]:
    """The project's labelled divergent bodies (``fixtures``), when that package is there."""
    cases = []
    for item in labelled(ctx.config, "divergent"):
        case = positive_case(item.body, ctx.agent_id, phase="divergence", label=item.name)
        if case.classification is not None and case.classification.verdict.diverges:
            ctx.verdicts.explain(item.name, item.reason)
            cases.append(replace(case, family="divergent body"))
    return cases


def run(ctx: SuiteContext) -> None:
    for case in omitted_tag_cases(ctx):
        probe_divergence(ctx, case, keep_expect=True)
    for case in fixture_cases(ctx):
        ctx.pending.setdefault(case.label, replace(case, expect=()))
    for case in list(ctx.pending.values()):
        probe_divergence(ctx, case, keep_expect=True)
    if lifecycle_checks_on(ctx):
        for trace in ctx.runs.unfinished():
            follow(ctx, trace)
        look_again(ctx)


PHASE = Phase(
    "divergence",
    "inputs the documentation and the real server judge differently",
    run,
    response_checks_on,
    sends_runs=False,
)
