"""Cancelling: the answer to POST /v1/agents/{agent_id}/messages/cancel, and what a cancel
does (and does not do) to runs, at every moment the suite sends one."""

from __future__ import annotations

from collections.abc import Iterator

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.checks.status import status_failures
from letta_contract_kit.contract_tests.client import Exchange
from letta_contract_kit.contract_tests.observations import RunTrace
from letta_contract_kit.schemas.contract import RUN_STATUS, TERMINAL_STATUSES

BYSTANDER = "bystander"  # a run of the second agent while the first got a bare cancel
BARE_CANCELS = "bare_cancels"  # notes: agent id -> times the suite sent it a bare cancel


@check(
    "cancel_conformance",
    "A cancel is answered with a JSON object (on the real server: each run id mapped to "
    "`cancelled` or `failed`; 409 when there is nothing to cancel).",
)
def cancel_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if case.family != "cancel" or response is None or response.status >= 500:
        return
    yield from status_failures(case, response.status, R.CANCEL_SCOPE)
    if not 200 <= response.status < 300:
        return
    body = response.json()
    if not isinstance(body, dict):
        yield Failure(
            R.CANCEL_ANSWER,
            f"the cancel answered {type(body).__name__} {response.text[:80]!r}, not an object",
            "cancel answer not an object",
            excerpt=response.text[:200],
        )
        return
    ids = case.body.get("run_ids") if isinstance(case.body, dict) else None
    for run_id in ids or []:
        if body.get(run_id) not in (RUN_STATUS.cancelled, RUN_STATUS.failed):
            yield Failure(
                R.CANCEL_ANSWER_MAP,
                f"the cancel answer gives {body.get(run_id)!r} for {run_id}",
                "cancel answer without the run",
                excerpt=body,
            )


def _after(trace: RunTrace, at: float) -> list[tuple[str, Exchange]]:
    return [(str(o.run.get("status")), o.exchange) for o in trace.observations if o.at > at]


@check(
    "cancel_sticks",
    "A run seen cancelled stays cancelled; a cancel of an ended run changes nothing; a bare "
    "cancel of one agent leaves another agent's runs alone.",
    kind="run",
    phases=("lifecycle",),
)
def cancel_sticks(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    seen_cancelled = False
    for o in trace.observations:
        status = o.run.get("status")
        if status == RUN_STATUS.cancelled:
            seen_cancelled = True
        elif seen_cancelled and isinstance(status, str):
            yield Failure(
                R.CANCEL_STAYS,
                f"run {trace.run_id} was seen cancelled, then {status!r}",
                f"cancelled -> {status}",
                o.exchange,
                {"id": trace.run_id, "status": status, "stop_reason": o.run.get("stop_reason")},
            )
            break
    first = next((o for o in trace.observations if o.run.get("status") == "cancelled"), None)
    named_before = first is not None and any(c.at <= first.at for c in trace.cancels)
    if first is not None and not named_before:
        bare = ctx.notes.get(BARE_CANCELS, {}).get(trace.agent_id, [])
        if BYSTANDER in trace.roles:
            yield Failure(
                R.CANCEL_OTHER_AGENT,
                f"run {trace.run_id} of agent {trace.agent_id} became cancelled after a cancel "
                "without run_ids sent for another agent",
                "bare cancel reached another agent's run",
                first.exchange,
                {"id": trace.run_id, "agent_id": trace.agent_id},
            )
        elif not any(trace.started <= at <= first.at for at in bare):
            yield Failure(
                R.CANCEL_ONLY_NAMED,
                f"run {trace.run_id} became cancelled though no cancel named it and its agent "
                "got no cancel without run_ids while it ran",
                "a run no cancel named was cancelled",
                first.exchange,
                {"id": trace.run_id, "status": "cancelled"},
            )
    for sent in trace.cancels:
        later = _after(trace, sent.answered_at or sent.at)
        if not later or not sent.answered:
            continue
        if sent.status_before in TERMINAL_STATUSES:
            changed = next(((s, e) for s, e in later if s != sent.status_before), None)
            if changed is not None:
                yield Failure(
                    R.CANCEL_AFTER_END,
                    f"run {trace.run_id} had ended {sent.status_before!r}; after a cancel it "
                    f"is {changed[0]!r}",
                    "cancel after the end changed the run",
                    changed[1],
                    {"id": trace.run_id, "before": sent.status_before, "after": changed[0]},
                )
            continue
        first_status, first_exchange = later[0]
        if first_status != RUN_STATUS.cancelled and not seen_cancelled:
            # Not a violation: the run may have ended before the cancel could take effect.
            # The real server sets the status at once, so this differs from it.
            rule = R.CANCEL_EFFECT if sent.by_id else R.CANCEL_BARE
            yield Failure(
                rule,
                f"after a cancel {'by id' if sent.by_id else 'without run_ids'} answered "
                f"{sent.exchange.response.status if sent.exchange.response else '?'}, run "
                f"{trace.run_id} was next seen {first_status!r}",
                f"cancel {'by id' if sent.by_id else 'bare'} not seen to take effect",
                first_exchange,
                {"id": trace.run_id, "status": first_status},
            )
