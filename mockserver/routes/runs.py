"""Run routes: retrieve and list runs, and a run's messages, steps and usage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, request

from letta_contract_kit.mockserver.errors import detail, invalid_at
from letta_contract_kit.mockserver.routes.common import (
    cursor,
    query_bool,
    query_descending,
    query_int,
    require_run,
    service,
)
from letta_contract_kit.mockserver.service import MockService, RunQuery
from letta_contract_kit.schemas.contract import RUN_STATUS, STOP_REASON

runs = Blueprint("runs", __name__)

LIST_LIMIT = (1, 1000)
DEFAULT_LIMIT = 100


def _unknown_cursor() -> Exception:
    return detail(400, "The before/after cursor names no item of this listing")


@runs.get("/v1/runs/")
def list_runs() -> list[dict[str, Any]]:
    statuses = request.args.getlist("statuses")
    for status in statuses:
        if status not in RUN_STATUS:
            raise detail(400, f"{status!r} is not a valid RunStatus")
    stop_reason = request.args.get("stop_reason") or None
    if stop_reason is not None and stop_reason not in STOP_REASON:
        raise invalid_at(
            ["query", "stop_reason"],
            "enum",
            f"stop_reason must be one of {', '.join(STOP_REASON)}, not {stop_reason!r}",
        )
    active = query_bool("active")
    chosen: tuple[str, ...] | None = tuple(statuses) if statuses else None
    if chosen is None and active:
        chosen = (RUN_STATUS.created, RUN_STATUS.running)
    query = RunQuery(
        agent_id=request.args.get("agent_id") or None,
        conversation_id=request.args.get("conversation_id") or None,
        statuses=chosen,
        background=query_bool("background"),
        stop_reason=stop_reason,
        limit=query_int("limit", DEFAULT_LIMIT, *LIST_LIMIT),
        descending=query_descending(True),
        before=cursor("before"),
        after=cursor("after"),
    )
    found = service().list_runs(query)
    if found is None:
        raise _unknown_cursor()
    return found


@runs.get("/v1/runs/<run_id>")
def retrieve_run(run_id: str) -> dict[str, Any]:
    return require_run(service(), run_id, polled=True).run


def _page_of(
    svc: MockService,
    listing: Callable[..., list[dict[str, Any]] | None],
    run_id: str,
    descending: bool,
) -> list[dict[str, Any]]:
    """One page of a run's messages or steps, from the query's cursors, limit and order."""
    found = listing(
        require_run(svc, run_id),
        cursor("before"),
        cursor("after"),
        query_int("limit", DEFAULT_LIMIT, 1),
        query_descending(descending),
    )
    if found is None:
        raise _unknown_cursor()
    return found


@runs.get("/v1/runs/<run_id>/messages")
def run_messages(run_id: str) -> list[dict[str, Any]]:
    svc = service()
    return _page_of(svc, svc.run_messages, run_id, descending=False)


@runs.get("/v1/runs/<run_id>/steps")
def run_steps(run_id: str) -> list[dict[str, Any]]:
    svc = service()
    return _page_of(svc, svc.run_steps, run_id, descending=True)


@runs.get("/v1/runs/<run_id>/usage")
def run_usage(run_id: str) -> dict[str, Any]:
    svc = service()
    return svc.run_usage(require_run(svc, run_id))


@runs.get("/v1/runs/<run_id>/metrics")
def run_metrics(run_id: str) -> dict[str, Any]:
    svc = service()
    return svc.run_metrics(require_run(svc, run_id, kind="RunMetrics"))
