"""Sending a case and judging its answer: the one path every request of every phase takes."""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.checks.registry import Check, Failure
from letta_contract_kit.contract_tests.client import (
    DeadlineReached,
    Exchange,
    RequestTimedOut,
    TargetUnreachable,
)
from letta_contract_kit.contract_tests.context import Abort, SuiteContext
from letta_contract_kit.contract_tests.events import CaseFinished


def send(ctx: SuiteContext, case: Case, *, spend: bool = False, urgent: bool = False) -> Exchange:
    """Send ``case``; a run it creates is recorded (and, with ``spend``, paid for)."""
    if spend:
        ctx.budget.spend()
    kwargs: dict[str, Any] = {"content_type": case.content_type, "urgent": urgent}
    if case.raw_body is not None:
        kwargs["raw_body"] = case.raw_body
    elif case.has_body:
        kwargs["json_body"] = case.body
    if case.params:
        kwargs["params"] = case.params
    try:
        exchange = ctx.client.send(case.method, case.path, **kwargs)
    except RequestTimedOut as exc:
        exchange = exc.exchange
        ctx.verdicts.finding(
            "timeout", f"no complete answer within {exc.seconds:g} s", case, exchange
        )
    except TargetUnreachable as exc:
        if spend:
            ctx.budget.refund()
        ctx.gone = f"the target stopped answering: {exc}"
        raise Abort(ctx.gone) from None
    ctx.result.cases += 1
    if exchange.response is not None and exchange.response.truncated:
        ctx.verdicts.finding(
            "too-large",
            f"the answer was longer than {ctx.client.max_response_bytes} bytes "
            "(--max-response-bytes): read no further, and not judged",
            case,
            exchange,
        )
    run = _created_run(ctx, exchange, case)
    if spend and run is None:
        ctx.budget.refund()
    elif run is not None and ctx.runs.get(run["id"]) is None:
        ctx.runs.adopt(run, case.agent_id or ctx.agent_id, case, exchange)
    budget = ctx.config.latency_budget
    response = exchange.response
    if budget and response is not None and response.elapsed > budget:
        ctx.verdicts.finding(
            "slow",
            f"answered in {response.elapsed:.2f} s, over the latency budget of {budget:g} s",
            case,
            exchange,
        )
    return exchange


def _created_run(ctx: SuiteContext, exchange: Exchange, case: Case) -> dict[str, Any] | None:
    response = exchange.response
    if not case.may_create_run or response is None or not 200 <= response.status < 300:
        return None
    run = response.json()
    if not isinstance(run, dict) or not isinstance(run.get("id"), str):
        return None
    ctx.budget.record(run["id"], case.agent_id or ctx.agent_id)
    return run


def judge(ctx: SuiteContext, exchange: Exchange, case: Case) -> list[tuple[Check, Failure, str]]:
    """Every response check on one answer; each failure with its mark (``x`` or ``~``)."""
    found: list[tuple[Check, Failure, str]] = []
    if exchange.response is not None and exchange.response.truncated:
        return found  # cut short: send() reported it, and half an answer proves nothing
    checks_ctx = ctx.for_checks()
    for check in ctx.checks:
        if check.kind != "response":
            continue
        try:
            failures = check.run_on_response(checks_ctx, exchange, case)
        except (TargetUnreachable, DeadlineReached):
            raise
        except Exception as exc:  # a check must not take the suite down
            ctx.notice(f"check {check.name} crashed on {case.describe()}: {exc!r}", "error")
            continue
        for failure in failures:
            mark = ctx.verdicts.record(check, failure, case, exchange, ctx.phase)
            found.append((check, failure, mark))
    return found


def try_case(
    ctx: SuiteContext, case: Case, *, spend: bool = False, urgent: bool = False
) -> tuple[Exchange, list[tuple[Check, Failure, str]]]:
    """Send, judge and tell the reporters how it went."""
    exchange = send(ctx, case, spend=spend, urgent=urgent)
    failures = judge(ctx, exchange, case)
    _tell(ctx, case, exchange, failures)
    return exchange, failures


def _tell(
    ctx: SuiteContext, case: Case, exchange: Exchange, failures: list[tuple[Check, Failure, str]]
) -> None:
    marks = {mark for _, _, mark in failures}
    mark = "x" if "x" in marks else "~" if "~" in marks else "."
    status = exchange.response.status if exchange.response else None
    ctx.emit(CaseFinished(ctx.phase, case.describe(), status, mark))


ABSENT = (404, 405, 501)


def try_optional(
    ctx: SuiteContext, case: Case, route: str, *, urgent: bool = False
) -> tuple[Exchange, list[tuple[Check, Failure, str]]] | None:
    """``try_case`` for a route the target may not have: the first answer of 404, 405 or 501
    notes the route absent (and is judged by nothing); None once it is known absent."""
    if not ctx.has_route(route):
        return None
    if route in ctx.routes:
        return try_case(ctx, case, urgent=urgent)
    exchange = send(ctx, case, urgent=urgent)
    response = exchange.response
    status = response.status if response is not None else None
    if status in ABSENT:
        ctx.route_absent(route, f"{case.method} {case.path} answered {status}")
        _tell(ctx, case, exchange, [])
        return None
    if status is not None and status < 500:
        ctx.route_present(route)
    failures = judge(ctx, exchange, case)
    _tell(ctx, case, exchange, failures)
    return exchange, failures


def violations_in(failures: list[tuple[Check, Failure, str]]) -> list[tuple[Check, Failure]]:
    return [(c, f) for c, f, mark in failures if mark == "x"]
