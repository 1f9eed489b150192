"""The run listing, parameter by parameter, judged against the runs the suite created.

Runs by then have ended, so their statuses and stop reasons hold still: a listing can be
judged both ways (nothing its filters exclude, everything they include when it is not full).
Every documented parameter is used: agent_id (for each agent), limit at its boundaries, order
both ways and by default, after and before in both orders, paging, statuses (each, several),
stop_reason, background, active, conversation_id; and invalid values of each typed one.
"""

from __future__ import annotations

import uuid

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import ANY_ANSWER, CLIENT_ERROR, expect, listing_case
from letta_contract_kit.contract_tests.checks.listing import (
    KNOWLEDGE,
    ListingKnowledge,
    paging_failures,
)
from letta_contract_kit.contract_tests.checks.selection import all_checks
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.listings import compare_listing, list_runs
from letta_contract_kit.contract_tests.phases import Phase
from letta_contract_kit.contract_tests.runs import judge_trace
from letta_contract_kit.schemas.contract import RUN_STATUS, STOP_REASON

MAX_LIMIT = 1000
PAGE = 2
MOST_PAGES = 15


def element(name: str) -> str:
    return f"listing: {name}"


def needed(ctx: SuiteContext) -> bool:
    return ctx.enabled(R.LISTING) or ctx.enabled(R.RETRIEVE_LIST)


def run(ctx: SuiteContext) -> None:
    knowledge = ListingKnowledge()
    for trace in ctx.runs.traces.values():
        knowledge.learn(trace)
    ctx.for_checks().notes[KNOWLEDGE] = knowledge
    agent = ctx.agent_id
    _, full = list_runs(
        ctx,
        "every run of the agent, newest first",
        {"agent_id": agent, "limit": str(MAX_LIMIT), "order": "desc"},
        elements=(element("agent_id"), element("limit maximum"), element("order desc")),
    )
    if not ctx.has_route("run listing"):
        for name in (R.LISTING, R.RETRIEVE_LIST):
            ctx.skip(name, "the target has no GET /v1/runs/ route")
        return
    _, ascending = list_runs(
        ctx,
        "every run of the agent, oldest first",
        {"agent_id": agent, "limit": str(MAX_LIMIT), "order": "asc"},
        elements=(element("order asc"),),
    )
    list_runs(ctx, "default order", {"agent_id": agent}, elements=(element("order default"),))
    _limits(ctx, agent, len(full or []))
    if ascending:
        _cursors(ctx, agent, [str(r.get("id")) for r in ascending])
    _filters(ctx, agent, knowledge)
    _invalid(ctx, agent)
    if ctx.agent_id_2 is not None:
        list_runs(
            ctx,
            "the second agent's runs",
            {"agent_id": ctx.agent_id_2, "limit": str(MAX_LIMIT)},
            elements=(element("agent_id of the second agent"),),
        )
    if ctx.enabled(R.RETRIEVE_LIST):
        probed = list(ctx.runs.traces.values())[:3]
        for trace in probed:
            compare_listing(ctx, trace)
        only = [all_checks()[R.RETRIEVE_LIST]]
        for trace in probed:
            judge_trace(ctx, trace, only)


def _limits(ctx: SuiteContext, agent: str, count: int) -> None:
    for value, name in (
        (1, "limit 1"),
        (max(1, count - 1), "limit one below the listing"),
        (count + 1, "limit one above the listing"),
    ):
        list_runs(ctx, name, {"agent_id": agent, "limit": str(value)}, elements=(element(name),))
    for value, name in (
        (MAX_LIMIT + 1, "limit above the maximum"),
        (0, "limit 0"),
        (-1, "limit -1"),
    ):
        case = listing_case(
            name,
            {"agent_id": agent, "limit": str(value)},
            ctx.phase,
            expect_=(expect(ANY_ANSWER, R.NO_SERVER_ERROR), expect(422, R.LIST_LIMIT_BOUNDS)),
            elements=(element(name),),
        )
        list_runs(ctx, name, {}, case=case)


def _cursors(ctx: SuiteContext, agent: str, ascending: list[str]) -> None:
    known = [run_id for run_id in ascending if ctx.runs.get(run_id) is not None]
    if len(known) < 3:
        ctx.notice("fewer than three of the suite's runs are listed: the cursors are not tried")
        return
    middle = known[len(known) // 2]
    for cursor in ("after", "before"):
        for order in ("asc", "desc"):
            name = f"{cursor} in order {order}"
            list_runs(
                ctx,
                name,
                {"agent_id": agent, cursor: middle, "order": order, "limit": str(MAX_LIMIT)},
                elements=(element(name),),
            )
    paged: list[str] = []
    last: str | None = None
    for _ in range(MOST_PAGES):
        params: dict[str, str | list[str]] = {"agent_id": agent, "order": "asc", "limit": str(PAGE)}
        if last is not None:
            params["after"] = last
        _, page = list_runs(ctx, f"page after {last}", params, elements=(element("paging"),))
        if not page:
            break
        paged.extend(str(r.get("id")) for r in page)
        last = str(page[-1].get("id"))
    expected = ascending[: len(paged)] if len(paged) >= PAGE * MOST_PAGES else ascending
    listing_check = all_checks()[R.LISTING]
    for failure in paging_failures(expected, paged, PAGE):
        ctx.verdicts.record(listing_check, failure, None, None, ctx.phase)


def _filters(ctx: SuiteContext, agent: str, knowledge: ListingKnowledge) -> None:
    base = {"agent_id": agent, "limit": str(MAX_LIMIT)}
    for status in RUN_STATUS:
        name = f"statuses {status}"
        list_runs(ctx, name, {**base, "statuses": status}, elements=(element(name),))
    several = [RUN_STATUS.completed, RUN_STATUS.cancelled, RUN_STATUS.failed]
    list_runs(
        ctx,
        "several statuses",
        {**base, "statuses": several},
        elements=(element("several statuses"),),
    )
    seen = sorted({r.stop_reason for r in knowledge.runs.values() if r.stop_reason})
    unseen = next(v for v in STOP_REASON if v not in seen)
    for reason in [*seen, unseen]:
        name = f"stop_reason {reason}"
        list_runs(ctx, name, {**base, "stop_reason": reason}, elements=(element("stop_reason"),))
    list_runs(
        ctx, "background true", {**base, "background": "true"}, elements=(element("background"),)
    )
    list_runs(ctx, "active true", {**base, "active": "true"}, elements=(element("active"),))
    conversation = f"conv-{uuid.uuid4()}"
    list_runs(
        ctx,
        "another conversation",
        {**base, "conversation_id": conversation},
        elements=(element("conversation_id"),),
    )


def _invalid(ctx: SuiteContext, agent: str) -> None:
    refused = (expect(CLIENT_ERROR, R.LIST_BAD_REFUSED), expect(422, R.LIST_BAD_422))
    for name, params in (
        ("order sideways", {"order": "sideways"}),
        ("stop_reason finished", {"stop_reason": "finished"}),
        ("limit not a number", {"limit": "ten"}),
        ("background maybe", {"background": "maybe"}),
    ):
        case = listing_case(
            name,
            {"agent_id": agent, **params},
            ctx.phase,
            expect_=refused,
            elements=(element(f"invalid {name.split()[0]}"),),
        )
        list_runs(ctx, name, {}, case=case)
    case = listing_case(
        "statuses bogus",
        {"agent_id": agent, "statuses": "bogus"},
        ctx.phase,
        expect_=(expect(ANY_ANSWER, R.NO_SERVER_ERROR), expect(400, R.LIST_BAD_STATUS)),
        elements=(element("invalid statuses"),),
    )
    list_runs(ctx, "statuses bogus", {}, case=case)


PHASE = Phase(
    "listing",
    "GET /v1/runs/: every parameter, judged against the suite's own runs",
    run,
    needed,
    sends_runs=False,
)
