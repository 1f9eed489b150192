"""After the phases: cancel what the suite started and did not see end, delete its agents.

The clean-up has a deadline of its own, one ``--timeout`` in all from its start, so a
target that stopped answering cannot hold the suite (and its report) past that.
"""

from __future__ import annotations

import time

from letta_contract_kit.contract_tests.client import (
    DeadlineReached,
    RequestTimedOut,
    TargetUnreachable,
)
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.runs import terminal
from letta_contract_kit.schemas.contract import AGENT_ID


def clean_up(ctx: SuiteContext) -> None:
    ctx.client.deadline = time.monotonic() + ctx.config.timeout
    ctx.phase = "cleanup"
    if ctx.config.cancel_at_end and ctx.has_route("cancel"):
        by_agent: dict[str, list[str]] = {}
        for run_id, agent in ctx.budget.created.items():
            trace = ctx.runs.get(run_id)
            if trace is not None and terminal(trace):
                continue
            by_agent.setdefault(agent, []).append(run_id)
        for agent, ids in by_agent.items():
            if not AGENT_ID.fullmatch(agent):
                continue
            try:
                answer = ctx.client.send(
                    "POST", f"/v1/agents/{agent}/messages/cancel", json_body={"run_ids": ids}
                )
            except (TargetUnreachable, RequestTimedOut, DeadlineReached):
                ctx.notice(f"could not cancel {len(ids)} run(s) at the end", "error")
                continue
            if answer.response is not None and 200 <= answer.response.status < 300:
                ctx.result.runs_cancelled += len(ids)
    for agent in ctx.targets.created if ctx.targets else ():
        try:
            ctx.client.send("DELETE", f"/v1/agents/{agent}")
        except (TargetUnreachable, RequestTimedOut, DeadlineReached):
            ctx.notice(f"could not delete agent {agent}", "error")
