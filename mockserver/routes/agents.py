"""Agent routes: create and retrieve agents, send async messages, cancel runs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Request

from letta_contract_kit.mockserver.bodies import read_body, read_object
from letta_contract_kit.mockserver.coercion import CoercionError, canonical
from letta_contract_kit.mockserver.errors import ApiError, detail, invalid
from letta_contract_kit.mockserver.profiles import request_check
from letta_contract_kit.mockserver.routes.common import (
    agent_id_problem,
    current_request,
    require_agent,
    service,
)
from letta_contract_kit.mockserver.scenarios import (
    SCENARIO_HEADER,
    Scenario,
    ScenarioError,
    parse_scenario,
)
from letta_contract_kit.mockserver.service import MockService
from letta_contract_kit.mockserver.store.base import StoreFull
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.tags import with_documented_tags
from letta_contract_kit.schemas.validation import Problem

agents = Blueprint("agents", __name__)


@agents.post("/v1/agents/")
def create_agent() -> tuple[dict[str, Any], int]:
    svc = service()
    body = read_body(current_request(), svc.config.max_body_bytes)
    problems = validator("create-agent-request", "server").problems(body)
    if problems:
        raise invalid(problems)
    return svc.create_agent(body), 200


@agents.get("/v1/agents/<agent_id>")
def retrieve_agent(agent_id: str) -> dict[str, Any]:
    return require_agent(service(), agent_id)


def _refuse_if_invalid(path_problem: Problem | None, body_problems: list[Problem]) -> None:
    """One 422 naming every problem, the path's first (as the server reports them together)."""
    items = [p.as_dict(prefix=("body",)) for p in body_problems]
    if path_problem is not None:
        items.insert(0, path_problem.as_dict(prefix=("path",)))
    if items:
        raise ApiError(422, {"detail": items})


def _scenario_from_header(req: Request) -> Scenario | None:
    text = req.headers.get(SCENARIO_HEADER)
    if text is None or not text.strip():
        return None
    try:
        return parse_scenario(text)
    except ScenarioError as exc:
        raise detail(400, f"{SCENARIO_HEADER}: {exc}") from None


@agents.post("/v1/agents/<agent_id>/messages/async")
def send_message_async(agent_id: str) -> tuple[dict[str, Any], int]:
    return accept_message(service(), current_request(), agent_id), 200


def accept_message(svc: MockService, req: Request, agent_id: str) -> dict[str, Any]:
    """The async send: the body read, validated and refused (422) or turned into a new run,
    which is returned. The route's whole work, also called by the prepared dispatch."""
    quirks = svc.quirks
    body = read_body(req, svc.config.max_body_bytes)
    if not quirks.union_tag_required:
        body = with_documented_tags(body)
    path_problem = agent_id_problem(agent_id)
    body_problems: list[Problem] = validator("letta-async-request", "server").problems(body)
    if not body_problems:
        body_problems = request_check(quirks)(body)
    if not body_problems:
        try:
            body = canonical("letta-async-request", body, lax=quirks.lax_coercion)
        except CoercionError as exc:
            body_problems = [exc.problem]
    _refuse_if_invalid(path_problem, body_problems)
    scenario = _scenario_from_header(req)
    agent = require_agent(svc, agent_id)
    try:
        return svc.create_run(agent_id, body, scenario, agent=agent)
    except StoreFull as exc:
        raise detail(
            503,
            f"{exc}; wait for runs to end or raise --max-runs / --max-store-bytes",
            {"Retry-After": "1"},
        ) from None


@agents.post("/v1/agents/<agent_id>/messages/cancel")
def cancel_runs(agent_id: str) -> dict[str, str]:
    svc = service()
    body = read_object(current_request(), svc.config.max_body_bytes, required=False)
    problems: list[Problem] = []
    if body is not None:
        problems = validator("cancel-request", "server").problems(body)
    _refuse_if_invalid(agent_id_problem(agent_id), problems)
    if not svc.quirks.cancel_skips_agent_check:
        require_agent(svc, agent_id)
    run_ids = (body or {}).get("run_ids")
    answer = svc.cancel(agent_id, run_ids)
    if answer is None:
        raise detail(409, f"CONFLICT: No active runs to cancel for agent {agent_id}")
    return answer
