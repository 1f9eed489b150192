"""The run listing (GET /v1/runs/): its parameters do what they say, and it agrees with
retrieve.

What the suite knows of the runs it created (``ListingKnowledge``, filled in by the listing
phase) lets a listing be judged both ways: nothing in it that its filters exclude, and, when
it is not full, every ended run of the suite's that its filters include.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import LIST_PATH, Case
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.checks.status import status_failures
from letta_contract_kit.contract_tests.client import Exchange
from letta_contract_kit.contract_tests.observations import RunTrace, parse_time
from letta_contract_kit.schemas.contract import (
    RUN_FIELDS,
    RUN_STATUS,
    STOP_REASON,
    TERMINAL_STATUSES,
)

KNOWLEDGE = "listing"
# Fields a run is created with and never changes: they must agree wherever the run is shown.
FIXED_FIELDS = (
    "id",
    "agent_id",
    "created_at",
    "background",
    "callback_url",
    "request_config",
    "conversation_id",
    "base_template_id",
)


@dataclass(frozen=True)
class KnownRun:
    """A run the suite created and saw end, as it last saw it before a listing."""

    run_id: str
    agent_id: str
    status: str
    stop_reason: str | None
    created_at: datetime | None
    seq: int


@dataclass
class ListingKnowledge:
    """The runs the suite saw end, by id (for judging a listing's completeness)."""

    runs: dict[str, KnownRun] = field(default_factory=dict)

    def learn(self, trace: RunTrace) -> None:
        last = trace.last
        if last is None or last.get("status") not in TERMINAL_STATUSES:
            return
        self.runs[trace.run_id] = KnownRun(
            trace.run_id,
            trace.agent_id,
            str(last.get("status")),
            last.get("stop_reason") if isinstance(last.get("stop_reason"), str) else None,
            parse_time(last.get("created_at")),
            trace.seq,
        )


def _params(case: Case) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in case.params:
        found.setdefault(key, []).append(value)
    return found


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _items(body: Any) -> list[dict[str, Any]]:
    return [r for r in body if isinstance(r, dict)] if isinstance(body, list) else []


def _excerpt(run: dict[str, Any], *names: str) -> dict[str, Any]:
    return {"id": run.get("id"), **{n: run.get(n) for n in names}}


def _filters(params: dict[str, list[str]]) -> dict[str, Any] | None:
    """The filters of a listing the suite can judge, or None when a value is not one it
    understands (a negative case)."""
    statuses = params.get("statuses")
    if statuses is not None and not all(s in RUN_STATUS for s in statuses):
        return None
    stop_reason = _first(params, "stop_reason")
    if stop_reason is not None and stop_reason not in STOP_REASON:
        return None
    order = _first(params, "order")
    if order is not None and order not in ("asc", "desc"):
        return None
    limit = _first(params, "limit")
    if limit is not None and not (limit.isdigit() and int(limit) >= 1):
        return None
    for name in ("background", "active"):
        if _first(params, name) not in (None, "true", "false"):
            return None
    return {
        "agent_id": _first(params, "agent_id"),
        "statuses": set(statuses) if statuses else None,
        "stop_reason": stop_reason,
        "order": order,
        "limit": int(limit) if limit is not None else None,
        "background": _first(params, "background"),
        "active": _first(params, "active"),
        "conversation_id": _first(params, "conversation_id"),
        "after": _first(params, "after"),
        "before": _first(params, "before"),
    }


def _item_failures(f: dict[str, Any], items: list[dict[str, Any]]) -> Iterator[Failure]:
    for run in items:
        if f["agent_id"] is not None and run.get("agent_id") != f["agent_id"]:
            yield Failure(
                R.LIST_AGENT,
                f"agent_id={f['agent_id']} listed run {run.get('id')} of agent "
                f"{run.get('agent_id')!r}",
                "listing: another agent's run",
                excerpt=_excerpt(run, "agent_id"),
            )
        if f["statuses"] is not None and run.get("status") not in f["statuses"]:
            yield Failure(
                R.LIST_STATUSES,
                f"statuses={','.join(sorted(f['statuses']))} listed run {run.get('id')} "
                f"that is {run.get('status')!r}",
                "listing: status outside the filter",
                excerpt=_excerpt(run, "status"),
            )
        if f["stop_reason"] is not None and run.get("stop_reason") != f["stop_reason"]:
            yield Failure(
                R.LIST_STOP_REASON,
                f"stop_reason={f['stop_reason']} listed run {run.get('id')} that stopped "
                f"with {run.get('stop_reason')!r}",
                "listing: stop_reason outside the filter",
                excerpt=_excerpt(run, "stop_reason"),
            )
        if f["background"] == "true" and run.get("background") is False:
            yield Failure(
                R.LIST_BACKGROUND,
                f"background=true listed run {run.get('id')} with background false",
                "listing: background filter",
                excerpt=_excerpt(run, "background"),
            )
        if f["active"] == "true" and run.get("status") in TERMINAL_STATUSES:
            yield Failure(
                R.LIST_ACTIVE,
                f"active=true listed run {run.get('id')}, which is {run.get('status')!r}",
                "listing: ended run listed as active",
                excerpt=_excerpt(run, "status"),
            )
        if f["conversation_id"] is not None and run.get("conversation_id") != f["conversation_id"]:
            yield Failure(
                R.LIST_CONVERSATION,
                f"conversation_id={f['conversation_id']} listed run {run.get('id')} of "
                f"conversation {run.get('conversation_id')!r}",
                "listing: conversation filter",
                excerpt=_excerpt(run, "conversation_id"),
            )


def _order_failures(f: dict[str, Any], items: list[dict[str, Any]]) -> Iterator[Failure]:
    order = f["order"] or "desc"
    rule = R.LIST_ORDER if f["order"] else R.LIST_DEFAULT_ORDER
    times = [(run, parse_time(run.get("created_at"))) for run in items]
    for (a, ta), (b, tb) in itertools.pairwise(times):
        if ta is None or tb is None:
            continue
        wrong = tb < ta if order == "asc" else tb > ta
        if wrong:
            yield Failure(
                rule,
                f"order={f['order'] or '(default)'} listed {a.get('id')} (created "
                f"{a.get('created_at')}) before {b.get('id')} (created {b.get('created_at')})",
                f"listing: order={order} not followed",
                excerpt=[_excerpt(a, "created_at"), _excerpt(b, "created_at")],
            )
            return


def _cursor_failures(
    f: dict[str, Any], items: list[dict[str, Any]], known: ListingKnowledge
) -> Iterator[Failure]:
    for name in ("after", "before"):
        cursor = f[name]
        if cursor is None:
            continue
        ids = [run.get("id") for run in items]
        if cursor in ids:
            yield Failure(
                R.LIST_CURSOR,
                f"{name}={cursor} listed {cursor} itself",
                f"listing: {name} cursor listed",
                excerpt={"ids": ids[:10]},
            )
        at = known.runs[cursor].created_at if cursor in known.runs else None
        if at is None:
            continue
        descending = f["order"] != "asc"
        later_wanted = (name == "after") != descending  # asc+after or desc+before: newer
        for run in items:
            created = parse_time(run.get("created_at"))
            if created is None or created == at:
                continue
            if (created > at) != later_wanted:
                side = "newer" if later_wanted else "older"
                yield Failure(
                    R.LIST_CURSOR,
                    f"{name}={cursor} (order {f['order'] or 'default'}) should list only runs "
                    f"{side} than it, but listed {run.get('id')} created {run.get('created_at')}",
                    f"listing: {name} cursor on the wrong side",
                    excerpt=_excerpt(run, "created_at"),
                )
                return


def _matches(f: dict[str, Any], run: KnownRun) -> bool:
    if f["agent_id"] is not None and run.agent_id != f["agent_id"]:
        return False
    if f["statuses"] is not None and run.status not in f["statuses"]:
        return False
    if f["stop_reason"] is not None and run.stop_reason != f["stop_reason"]:
        return False
    if f["background"] == "false":
        return False
    return f["active"] != "true" and f["conversation_id"] is None


def _complete_failures(
    f: dict[str, Any], items: list[dict[str, Any]], known: ListingKnowledge
) -> Iterator[Failure]:
    if f["agent_id"] is None or f["after"] or f["before"]:
        return
    if f["limit"] is not None and len(items) >= f["limit"]:
        return  # full: the rest may be on a later page
    listed = {run.get("id") for run in items}
    for run in sorted(known.runs.values(), key=lambda r: r.seq):
        if _matches(f, run) and run.run_id not in listed:
            rule = (
                R.LIST_STATUSES
                if f["statuses"] is not None
                else R.LIST_STOP_REASON
                if f["stop_reason"]
                else R.LIST_COMPLETE
            )
            yield Failure(
                rule,
                f"run {run.run_id} ({run.status}, stop_reason {run.stop_reason}) of agent "
                f"{run.agent_id} is missing from a listing of {len(items)} runs that is not full",
                f"listing: ended run missing ({rule.id})",
                excerpt={"missing": run.run_id, "listed": sorted(str(i) for i in listed)[:10]},
            )
            return


@check(
    "listing_conformance",
    "GET /v1/runs/ answers an array; agent_id, statuses, stop_reason, background, active, "
    "conversation_id, limit, order and the after/before cursors do what the reference says.",
)
def listing_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if case.path != LIST_PATH or case.method != "GET" or response is None:
        return
    if response.status >= 500:
        return
    yield from status_failures(case, response.status, R.LISTING)
    if not 200 <= response.status < 300:
        return
    body = response.json()
    if not isinstance(body, list):
        yield Failure(
            R.LIST_ARRAY,
            f"GET /v1/runs/ answered a {type(body).__name__}, not an array of runs",
            "listing not an array",
            excerpt=response.text[:200],
        )
        return
    f = _filters(_params(case))
    if f is None:
        return
    items = _items(body)
    if f["limit"] is not None and len(body) > f["limit"]:
        yield Failure(
            R.LIST_LIMIT,
            f"limit={f['limit']} listed {len(body)} runs",
            "listing: over the limit",
            excerpt={"ids": [r.get("id") for r in items][:10]},
        )
    known = ctx.notes.get(KNOWLEDGE)
    known = known if isinstance(known, ListingKnowledge) else ListingKnowledge()
    yield from _item_failures(f, items)
    yield from _order_failures(f, items)
    yield from _cursor_failures(f, items, known)
    yield from _complete_failures(f, items, known)


def paging_failures(full: list[str], paged: list[str], limit: int) -> Iterator[Failure]:
    """Failures of paging through a listing ``limit`` runs at a time with ``after``."""
    seen: set[str] = set()
    for run_id in paged:
        if run_id in seen:
            yield Failure(
                R.LIST_PAGES,
                f"paging with limit={limit} and after listed {run_id} twice",
                "listing pages: a run twice",
                excerpt={"paged": paged[:20]},
            )
            return
        seen.add(run_id)
    if paged != full:
        yield Failure(
            R.LIST_PAGES,
            f"paging with limit={limit} and after gave {len(paged)} runs "
            f"{paged[:6]}..., the whole listing {len(full)} {full[:6]}...",
            "listing pages differ from the whole listing",
            excerpt={"paged": paged[:20], "whole": full[:20]},
        )


@check(
    "retrieve_matches_listing",
    "A run is the same on GET /v1/runs/{id} and in the GET /v1/runs/ listing, and is listed.",
    kind="run",
    phases=("lifecycle",),
)
def retrieve_matches_listing(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    for probe in trace.listings:
        settled = probe.before == probe.after
        if probe.listed is None:
            if settled and probe.listing_size < probe.limit:
                yield Failure(
                    R.LISTED,
                    f"run {trace.run_id} is missing from GET /v1/runs/?agent_id=… "
                    f"({probe.listing_size} runs listed, limit {probe.limit})",
                    "run missing from the listing",
                    probe.listing,
                    {"missing": trace.run_id, "listed": probe.listing_size},
                )
            continue
        for name in RUN_FIELDS:
            if name not in FIXED_FIELDS and not settled:
                continue
            one, other = probe.before.get(name), probe.listed.get(name)
            if one == other or name not in probe.listed or name not in probe.before:
                continue
            rule = R.SAME_RUN_NULLS if one is None or other is None else R.SAME_RUN
            yield Failure(
                rule,
                f"{name} is {one!r} on GET /v1/runs/{trace.run_id} but {other!r} in the listing",
                f"{name} differs between retrieve and list",
                probe.listing,
                {"id": trace.run_id, "retrieve": {name: one}, "listing": {name: other}},
            )
