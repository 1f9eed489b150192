"""The test-double controls under /_mock: journal, reset, clock, scenario queue, callbacks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from letta_contract_kit.mockserver.bodies import read_object
from letta_contract_kit.mockserver.clock import VirtualClock, rfc3339
from letta_contract_kit.mockserver.errors import detail, invalid_at
from letta_contract_kit.mockserver.journal import Journal, JournalFilter
from letta_contract_kit.mockserver.paths import ADMIN_PREFIX
from letta_contract_kit.mockserver.routes.common import query_int, service
from letta_contract_kit.mockserver.scenarios import ScenarioError, parse_scenarios

admin = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)


def journal() -> Journal:
    found: Journal = current_app.extensions["letta_mock_journal"]
    return found


def _body() -> dict[str, Any]:
    return read_object(request, service().config.max_body_bytes, False) or {}


@admin.get("/requests")
def list_requests() -> list[dict[str, Any]]:
    status = request.args.get("status")
    if status is not None and not status.isdigit():
        raise invalid_at(["query", "status"], "int_parsing", "status must be an HTTP status code")
    where = JournalFilter(
        method=request.args.get("method") or None,
        path=request.args.get("path") or None,
        path_prefix=request.args.get("path_prefix") or None,
        status=int(status) if status else None,
        limit=query_int("limit", 0, 0) or None,
    )
    return [entry.as_dict() for entry in journal().entries(where)]


@admin.post("/reset")
def reset() -> dict[str, Any]:
    service().reset()  # and the journal, and a replay's place (registered with on_reset)
    return {"reset": True}


@admin.get("/clock")
def clock() -> dict[str, Any]:
    svc = service()
    return {"mode": svc.config.clock, "now": rfc3339(svc.clock.now())}


@admin.post("/clock/advance")
def advance_clock() -> dict[str, Any]:
    svc = service()
    if not isinstance(svc.clock, VirtualClock):
        raise detail(
            409,
            f"The clock is {svc.config.clock!r}; only a virtual clock can be advanced "
            "(start the mock with --clock virtual)",
        )
    seconds = _body().get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise invalid_at(
            ["body", "seconds"], "number_type", 'seconds must be a number >= 0, e.g. {"seconds": 2}'
        )
    moved = svc.advance_clock(float(seconds))
    return {"mode": svc.config.clock, "now": rfc3339(moved)}


@admin.get("/scenarios")
def queued_scenarios() -> dict[str, Any]:
    svc = service()
    return {"default": svc.default_scenario.text, "queue": svc.queued_scenarios()}


@admin.post("/scenarios")
def queue_scenarios() -> dict[str, Any]:
    body = _body()
    texts = body.get("scenarios")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise invalid_at(
            ["body", "scenarios"],
            "list_type",
            'scenarios must be a list of scenario texts, e.g. {"scenarios": ["fail", "succeed"]}',
        )
    try:
        parse_scenarios(texts)
    except ScenarioError as exc:
        raise invalid_at(["body", "scenarios"], "value_error", str(exc)) from None
    svc = service()
    if body.get("replace"):
        svc.clear_scenarios()
    return {"default": svc.default_scenario.text, "queue": svc.queue_scenarios(texts)}


@admin.delete("/scenarios")
def clear_scenarios() -> dict[str, Any]:
    svc = service()
    svc.clear_scenarios()
    return {"default": svc.default_scenario.text, "queue": []}


@admin.post("/callbacks/wait")
def wait_for_callbacks() -> dict[str, Any]:
    timeout = _body().get("timeout", 10)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout < 0:
        raise invalid_at(["body", "timeout"], "number_type", "timeout must be a number >= 0")
    return {"delivered": service().callbacks.drain(float(timeout))}
