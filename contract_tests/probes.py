"""Divergence probes: requests the two readings judge differently, sent to see which reading
the target follows. Reported as divergences, never as violations (the rules a probe's case
still carries, such as no 5xx, are judged as usual)."""

from __future__ import annotations

from dataclasses import replace

from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.client import BudgetExhausted, DeadlineReached
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.exchanges import try_case
from letta_contract_kit.schemas import Verdict


def probe_divergence(ctx: SuiteContext, case: Case, *, keep_expect: bool = False) -> None:
    """Send a case the readings disagree on (once). Bodies one reading accepts may create
    runs: they wait for the divergence phase, so they never take the budget the other phases
    need. The case's status expectations are dropped (either answer is one reading's) unless
    ``keep_expect`` says the documentation settles it."""
    if ctx.verdicts.known(case.label) or ctx.out_of_time():
        return
    if not keep_expect:
        case = replace(case, expect=())
    if case.method != "GET" and ctx.phase != "divergence":
        ctx.pending.setdefault(case.label, case)
        return
    exchange = None
    # A body the real server would accept is sent only while the budget on runs lasts (a
    # documentation-only body may create a run too, but is refused by the real server).
    may_create = case.classification is not None and case.classification.verdict in (
        Verdict.SERVER_ONLY,
        Verdict.DOCUMENTED_ONLY,
    )
    if case.method == "GET" or not ctx.config.negative_only:
        try:
            exchange, _ = try_case(ctx, case, spend=case.method != "GET" and may_create)
        except (BudgetExhausted, DeadlineReached):
            exchange = None
    ctx.verdicts.request_divergence(case, exchange)
