"""The phases of a suite run, in order. Each module exports ``PHASE``; phases share only the
:class:`~contract_tests.context.SuiteContext` and never import one another."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from letta_contract_kit.contract_tests.context import SuiteContext


@dataclass(frozen=True)
class Phase:
    name: str
    description: str
    run: Callable[[SuiteContext], None]
    needed: Callable[[SuiteContext], bool]
    sends_runs: bool = True  # whether it may create runs (skipped with --negative-only)


def response_checks_on(ctx: SuiteContext) -> bool:
    return any(c.kind == "response" for c in ctx.checks)


# Response checks that judge what polling a run shows (a run's end is seen only by polling).
RUN_ANSWER_CHECKS = frozenset({"run_shape_conformance", "response_enum_values"})


def lifecycle_checks_on(ctx: SuiteContext) -> bool:
    return any("lifecycle" in c.phases or c.name in RUN_ANSWER_CHECKS for c in ctx.checks)
