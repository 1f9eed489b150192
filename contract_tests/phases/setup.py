"""Before any case: is the target there, do the credentials work, which agents to use.

The suite needs only the contract's routes. Health, agent retrieve and agent create are used
when the target has them: absent (404, 405, 501), the suite says so once and goes on. With
``--agent-id`` it never requires the agent routes; whether the agent exists is judged by the
first documented body sent to it.
"""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests.cases import positive_case
from letta_contract_kit.contract_tests.client import RequestTimedOut
from letta_contract_kit.contract_tests.context import SuiteContext, Targets
from letta_contract_kit.contract_tests.exchanges import try_case
from letta_contract_kit.schemas.contract import AGENT_ID

ABSENT = (404, 405, 501)
REFUSED = (401, 403)
FIRST_BODY = {
    "input": "Hello! This is a short check-in; a one-line answer is fine.",
    "max_steps": 1,
}


def _status(ctx: SuiteContext, method: str, path: str, **kwargs: Any) -> tuple[int | None, Any]:
    exchange = ctx.client.send(method, path, **kwargs)
    response = exchange.response
    return (response.status, response.json()) if response is not None else (None, None)


def probe_target(ctx: SuiteContext) -> bool:
    """The target answers, and does not refuse the credentials."""
    try:
        status, _ = _status(ctx, "GET", "/v1/health/")
    except RequestTimedOut as exc:
        ctx.error(f"the target did not answer GET /v1/health/ in full within {exc.seconds:g} s")
        return False
    if status in REFUSED:
        ctx.error(f"the target refused the credentials ({status}): check --token")
        return False
    if status in ABSENT:
        ctx.route_absent("health", f"GET /v1/health/ answered {status}")
    elif status is not None and 200 <= status < 300:
        ctx.route_present("health")
    return True


def resolve_agents(ctx: SuiteContext) -> bool:
    """Pick (or create) the agent under test and, where possible, a second agent."""
    first = ctx.config.agent_id
    if first:
        if not AGENT_ID.fullmatch(first):
            ctx.error(f"--agent-id {first!r} is not an 'agent-<uuid4>' id")
            return False
        if not _agent_route_answers(ctx, first):
            return False
        targets = Targets(first)
    else:
        created = _create_agent(ctx, required=True)
        if created is None:
            return False
        targets = Targets(created, created=[created])
    ctx.targets = targets
    second = ctx.config.agent_id_2
    if second:
        if not AGENT_ID.fullmatch(second) or second == targets.agent_id:
            ctx.error(f"--agent-id-2 {second!r} is not a second 'agent-<uuid4>' id")
            return False
        targets.agent_id_2 = second
    elif not ctx.config.negative_only and ctx.has_route("agent create"):
        made = _create_agent(ctx, required=False)
        if made is not None:
            targets.agent_id_2 = made
            targets.created.append(made)
    if targets.agent_id_2 is None:
        ctx.notice(
            "no second agent (pass --agent-id-2): the checks that two agents' runs stay apart "
            "are skipped"
        )
    return True


def _agent_route_answers(ctx: SuiteContext, agent_id: str) -> bool:
    status, _ = _status(ctx, "GET", f"/v1/agents/{agent_id}")
    if status in REFUSED:
        ctx.error(f"the target refused the credentials ({status}): check --token")
        return False
    if status in (405, 501):
        ctx.route_absent("agent retrieve", f"GET /v1/agents/{{agent_id}} answered {status}")
    elif status == 404:
        ctx.routes["agent retrieve"] = False
        ctx.notice(
            f"GET /v1/agents/{agent_id} answered 404: the target has no such route, or no such "
            "agent; the first run sent to it tells which"
        )
    elif status is not None and 200 <= status < 300:
        ctx.route_present("agent retrieve")
    return True


def _create_agent(ctx: SuiteContext, *, required: bool) -> str | None:
    body = {
        "name": f"letta-contract-suite-{ctx.seed}",
        "description": "Created by the letta-contract suite; safe to delete.",
        "tags": ["letta-contract-suite"],
    }
    status, created = _status(ctx, "POST", "/v1/agents/", json_body=body)
    agent_id = created.get("id") if isinstance(created, dict) else None
    if status is not None and 200 <= status < 300 and isinstance(agent_id, str):
        if not AGENT_ID.fullmatch(agent_id):
            if required:
                ctx.error(
                    f"POST /v1/agents/ returned an agent id that is not 'agent-<uuid4>': "
                    f"{agent_id!r}"
                )
            return None
        ctx.route_present("agent create")
        ctx.notice(f"created agent {agent_id} for this run (deleted at the end)")
        return agent_id
    if status in ABSENT:
        ctx.route_absent("agent create", f"POST /v1/agents/ answered {status}")
    if required:
        detail = created.get("detail") if isinstance(created, dict) else None
        ctx.error(
            f"no --agent-id given and the suite could not create an agent: POST /v1/agents/ "
            f"answered {status if status is not None else 'nothing'}"
            f"{f' ({detail})' if detail else ''}. Pass --agent-id with an existing agent."
        )
    elif status not in ABSENT:
        ctx.notice(f"POST /v1/agents/ answered {status}: no second agent was created")
    return None


def first_run(ctx: SuiteContext) -> bool:
    """Send one documented body: the agent exists if the target accepts it."""
    if ctx.config.negative_only or ctx.budget.remaining <= 0:
        return True
    case = positive_case(FIRST_BODY, ctx.agent_id, phase="setup", label="first run")
    exchange, _ = try_case(ctx, case, spend=True)
    status = exchange.response.status if exchange.response is not None else None
    if status in REFUSED:
        ctx.error(f"the target refused the credentials ({status}): check --token")
        return False
    if status == 404:
        ctx.error(
            f"the target has no agent {ctx.agent_id}: POST {case.path} answered 404 to a "
            "documented body (check --agent-id)"
        )
        return False
    return True
