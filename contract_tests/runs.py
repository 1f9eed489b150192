"""Following a run: polling it, cancelling it, waiting for its callback, judging its trace.

A verdict that a run is stuck, or that its callback is missing, rests on looks taken after
the deadline passed: a run is called stuck only when at least ``STUCK_POLLS`` polls in a row
showed it active and the last of them was made after its deadline. A suite slowed by a
loaded machine, which reaches a run only once its deadline is already up, so gives it its
polls before judging (a server whose runs advance as they are polled ends them then).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from letta_contract_kit.contract_tests import reproduce
from letta_contract_kit.contract_tests.cases import cancel_case, retrieve_case
from letta_contract_kit.contract_tests.checks.cancel import BARE_CANCELS
from letta_contract_kit.contract_tests.checks.registry import Check
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.exchanges import try_case, try_optional
from letta_contract_kit.contract_tests.observations import CancelSent, RunTrace
from letta_contract_kit.schemas.contract import TERMINAL_STATUSES

CALLBACK_GRACE = 10.0
STUCK_POLLS = 5
RECORD_GRACE = 2.0


def terminal(trace: RunTrace) -> bool:
    return trace.last is not None and trace.last.get("status") in TERMINAL_STATUSES


def retrieve(ctx: SuiteContext, trace: RunTrace) -> dict[str, Any] | None:
    """Poll the run once; its answer joins the trace."""
    case = retrieve_case(trace.run_id, trace.agent_id, ctx.phase)
    exchange, _ = try_case(ctx, case)
    body = exchange.response.json() if exchange.response is not None else None
    if exchange.response is not None and exchange.response.status == 200 and isinstance(body, dict):
        trace.add("retrieve", body, exchange)
        return body
    return None


def cancel(
    ctx: SuiteContext,
    trace: RunTrace,
    label: str,
    *,
    by_id: bool = True,
    urgent: bool = False,
    elements: tuple[str, ...] = (),
) -> CancelSent | None:
    """Cancel the run (by id, or with a bare cancel of its agent); None when the target has
    no cancel route."""
    if not ctx.has_route("cancel"):
        return None
    before = str(trace.last.get("status")) if trace.last else None
    case = cancel_case(
        trace.agent_id,
        label,
        ctx.phase,
        [trace.run_id] if by_id else None,
        elements=elements,
    )
    sent_at = time.monotonic()
    if not by_id:
        notes = ctx.for_checks().notes.setdefault(BARE_CANCELS, {})
        notes.setdefault(trace.agent_id, []).append(sent_at)
    tried = _watched(ctx, trace, lambda: try_optional(ctx, case, "cancel", urgent=urgent))
    if tried is None:
        return None
    exchange, _ = tried
    response = exchange.response
    body = response.json() if response is not None else None
    answer = body.get(trace.run_id) if isinstance(body, dict) else body
    sent = CancelSent(sent_at, before, exchange, answer, by_id, answered_at=time.monotonic())
    trace.cancels.append(sent)
    return sent


T = TypeVar("T")
WATCH_AFTER = 0.25  # a cancel still unanswered after this long is watched from the side
WATCH_POLLS = 20


def _watched(ctx: SuiteContext, trace: RunTrace, send: Callable[[], T]) -> T:
    """Send a cancel; while a slow one is in flight, poll the run beside it. Some servers set
    a run cancelled at once and answer the cancel only seconds later (Letta sends the
    callback first), by when a late step may already have overwritten the cancel: the polls
    beside it are what shows the run cancelled at all."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="letta-contract-cancel") as pool:
        future = pool.submit(send)
        try:
            return future.result(timeout=WATCH_AFTER)
        except FutureTimeout:
            pass
        for _ in range(WATCH_POLLS):
            if future.done() or ctx.out_of_time():
                break
            retrieve(ctx, trace)
            try:
                return future.result(timeout=max(ctx.config.poll_interval, 0.1))
            except FutureTimeout:
                continue
        return future.result()


def follow(ctx: SuiteContext, trace: RunTrace, *, judge: bool = True) -> None:
    """Poll the run to its end (and past it, for cancels and callbacks), then judge it."""
    deadline = trace.started + ctx.config.run_deadline
    interval = ctx.config.poll_interval
    polls = 0
    while not ctx.out_of_time():
        polled_at = time.monotonic()
        retrieve(ctx, trace)
        polls += 1
        if terminal(trace) or (polled_at >= deadline and polls >= STUCK_POLLS):
            break
        time.sleep(interval)
    if not terminal(trace):
        # Stuck only if it was polled enough and the last look was taken after the deadline
        # (not cut short by the suite's own overall deadline).
        trace.gave_up = (
            polls >= STUCK_POLLS
            and bool(trace.observations)
            and trace.observations[-1].at >= deadline
        )
    else:
        if trace.cancels:
            _settle(ctx, trace)
        if _awaits_callback(ctx, trace):
            _await_callback(ctx, trace, deadline)
    trace.finished = True
    if _awaits_callback(ctx, trace):
        assert ctx.receiver is not None and trace.callback_url is not None
        trace.callbacks = ctx.receiver.received(trace.callback_url.rsplit("/", 1)[-1])
    if judge:
        judge_trace(ctx, trace)


def _awaits_callback(ctx: SuiteContext, trace: RunTrace) -> bool:
    """Whether the run's callback goes to the suite's own receiver (the only one it sees)."""
    url = trace.callback_url
    return url is not None and ctx.receiver is not None and ctx.receiver.owns(url)


def judge_trace(ctx: SuiteContext, trace: RunTrace, only: list[Check] | None = None) -> None:
    """Every run check (or ``only`` these) on what was seen of the run."""
    checks_ctx = ctx.for_checks()
    for check in only if only is not None else ctx.checks:
        if check.kind != "run" or check not in ctx.checks:
            continue
        for failure in check.run_on_trace(checks_ctx, trace):
            ctx.verdicts.record(
                check,
                failure,
                trace.case,
                trace.created,
                ctx.phase,
                trace.history(),
                reproduce.script(trace),
            )


def _settle(ctx: SuiteContext, trace: RunTrace) -> None:
    until = time.monotonic() + ctx.config.cancel_settle
    polls = 0
    while (polls < 3 or time.monotonic() < until) and not ctx.out_of_time():
        time.sleep(ctx.config.poll_interval)
        retrieve(ctx, trace)
        polls += 1


def _await_callback(ctx: SuiteContext, trace: RunTrace, deadline: float) -> None:
    """Wait for the callback and for the run to record it, at most until the run deadline;
    then look once more (so that a missing callback is judged on a look after the deadline)."""
    assert ctx.receiver is not None and trace.callback_url is not None
    key = trace.callback_url.rsplit("/", 1)[-1]
    ended = next(
        (o.at for o in trace.observations if o.run.get("status") in TERMINAL_STATUSES),
        time.monotonic(),
    )
    # The callback may follow the end by seconds (Letta sends it after the end is stored and
    # gives the receiver 5 s): wait at least CALLBACK_GRACE past the end seen.
    until = max(deadline, ended + min(ctx.config.run_deadline, CALLBACK_GRACE))
    while not ctx.out_of_time():
        last = trace.last or {}
        delivered = ctx.receiver.received(key)
        if delivered and last.get("callback_sent_at") is not None:
            break
        if delivered and time.monotonic() - delivered[0].at > RECORD_GRACE:
            break  # delivered; the run does not record it (the documentation allows that)
        if time.monotonic() >= until:
            break
        time.sleep(max(ctx.config.poll_interval, 0.05))
        retrieve(ctx, trace)
    time.sleep(min(0.3, max(ctx.config.poll_interval, 0.05)))  # a second callback?
    trace.roles.add("callback-awaited")


LATE_CHECKS = ("cancel_sticks", "status_moves_forward", "terminal_fields_consistent")


def look_again(ctx: SuiteContext) -> None:
    """Poll every run the suite cancelled once more, now that time has passed: a cancel that
    a late step of the run overwrites shows only seconds after the cancel."""
    checks = [c for c in ctx.checks if c.name in LATE_CHECKS]
    for trace in [t for t in ctx.runs.traces.values() if t.cancels and terminal(t)]:
        if ctx.out_of_time():
            return
        retrieve(ctx, trace)
        judge_trace(ctx, trace, checks)
