"""What several route modules share: reaching the service, checking ids and query values."""

from __future__ import annotations

from typing import Any

from flask import Request, current_app, request

from letta_contract_kit.mockserver.errors import ApiError, detail, invalid_at
from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.service import MockService
from letta_contract_kit.schemas.contract import AGENT_ID, LAX_TRUE_VALUES, LIST_ORDER, RUN_ID
from letta_contract_kit.schemas.loader import raw
from letta_contract_kit.schemas.validation import Problem, validator

EXTENSION = "letta_mock"


def current_request() -> Request:
    """The request itself rather than Flask's proxy to it: code that reads it often takes it
    once, since each use of the proxy looks the request up again."""
    found: Request = request._get_current_object()  # type: ignore[attr-defined]
    return found


def service() -> MockService:
    found: MockService = current_app.extensions[EXTENSION]
    return found


def agent_id_problem(agent_id: str) -> Problem | None:
    if AGENT_ID.match(agent_id):
        return None
    example = raw("agent-id")["examples"][0]
    return Problem(
        ("agent_id",),
        "string_pattern_mismatch",
        f"agent_id must be 'agent-' and a lower-case version-4 UUID (42 characters), "
        f"e.g. {example}; got {agent_id!r}",
    )


def check_agent_id(agent_id: str) -> None:
    problem = agent_id_problem(agent_id)
    if problem is not None:
        raise ApiError(422, {"detail": [problem.as_dict(prefix=("path",))]})


def require_agent(svc: MockService, agent_id: str) -> dict[str, Any]:
    check_agent_id(agent_id)
    agent = svc.get_agent(agent_id)
    if agent is None:
        raise detail(404, "Agent not found")
    return agent


def check_run_id(svc: MockService, run_id: str) -> None:
    lenient = svc.quirks.run_id_trailing_newline  # "run-…\n" passes, then is not found
    if not RUN_ID.match(run_id.removesuffix("\n") if lenient else run_id):
        raise detail(
            400,
            f"INVALID_ARGUMENT: Invalid run ID format: {run_id}. Expected format: 'run-<uuid4>'",
        )


def require_run(
    svc: MockService, run_id: str, polled: bool = False, kind: str = "Run"
) -> RunRecord:
    """The run, or 400 (malformed id) or 404 naming ``kind`` (what the route looks up)."""
    check_run_id(svc, run_id)
    record = svc.get_record(run_id, polled=polled)
    if record is None:
        raise detail(404, f"{kind} not found with id='{run_id}'")
    return record


def query_bool(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in LAX_TRUE_VALUES:
        return True
    if validator("lax-boolean", "server").is_valid(lowered):  # a word that means false
        return False
    raise invalid_at(
        ["query", name], "bool_parsing", f"{name} must be true or false, not {value!r}"
    )


def query_int(name: str, default: int, low: int | None = None, high: int | None = None) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid_at(
            ["query", name], "int_parsing", f"{name} must be a whole number, not {value!r}"
        ) from None
    if low is not None and number < low:
        raise invalid_at(
            ["query", name], "greater_than_equal", f"{name} must be at least {low}, not {number}"
        )
    if high is not None and number > high:
        raise invalid_at(
            ["query", name], "less_than_equal", f"{name} must be at most {high}, not {number}"
        )
    return number


def query_descending(default_descending: bool) -> bool:
    value = request.args.get("order")
    if value is None or value == "":
        return default_descending
    if value not in LIST_ORDER:
        allowed = " or ".join(repr(v) for v in LIST_ORDER)
        raise invalid_at(
            ["query", "order"], "literal_error", f"order must be {allowed}, not {value!r}"
        )
    return value == LIST_ORDER.desc


def cursor(name: str) -> str | None:
    value = request.args.get(name)
    return value if value else None
