"""Reading the run listing: one listing request, and the retrieve-list-retrieve probe that
compares a run with its listed self."""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests.cases import Case, listing_case
from letta_contract_kit.contract_tests.client import Exchange
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.exchanges import try_optional
from letta_contract_kit.contract_tests.observations import ListingProbe, RunTrace
from letta_contract_kit.contract_tests.runs import retrieve

LIST_LIMIT = 100


def list_runs(
    ctx: SuiteContext,
    label: str,
    params: dict[str, str | list[str]],
    *,
    case: Case | None = None,
    elements: tuple[str, ...] = (),
) -> tuple[Exchange | None, list[dict[str, Any]] | None]:
    """Send one listing; its runs when it answered an array (None, also when the target has
    no listing route)."""
    chosen = case or listing_case(label, params, ctx.phase, elements=elements)
    tried = try_optional(ctx, chosen, "run listing")
    if tried is None:
        return None, None
    exchange, _ = tried
    response = exchange.response
    body = response.json() if response is not None else None
    runs = [r for r in body if isinstance(r, dict)] if isinstance(body, list) else None
    return exchange, runs


def compare_listing(ctx: SuiteContext, trace: RunTrace) -> None:
    """Retrieve the run, list its agent's runs, retrieve it again: the listed run must read as
    the retrieved one (all of it when both retrieves agree)."""
    before = retrieve(ctx, trace)
    exchange, listed = list_runs(
        ctx, f"runs of {trace.agent_id}", {"agent_id": trace.agent_id, "limit": str(LIST_LIMIT)}
    )
    after = retrieve(ctx, trace)
    if before is None or after is None or listed is None or exchange is None:
        return
    found = next((r for r in listed if r.get("id") == trace.run_id), None)
    trace.listings.append(ListingProbe(before, found, after, exchange, len(listed), LIST_LIMIT))
