"""Broken servers written from the API documentation alone, to measure the suite on faults it
was not tuned for.

Each middleware wraps the (correct) mock and breaks exactly one documented rule, the way a real
implementation might get it wrong. The documentation versions are the seed pages: 001 (newest,
it wins where they disagree), 002, 003 and 000; the companion pages are Letta's API reference
for List Runs (GET /v1/runs/) and Cancel Message (POST /v1/agents/{agent_id}/messages/cancel),
and Letta's OpenAPI document (200 for success, 422 with ``{"detail": [...]}`` for request
validation errors).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from letta_contract_kit.schemas.contract import AGENT_ID

from .broken import (
    ASYNC_ROUTE,
    Answer,
    Environ,
    Middleware,
    WSGIApp,
    _plain,
    is_async_post,
    json_answer,
    request_json,
    rewrite_runs,
    set_request_json,
)

CANCEL_ROUTE_SUFFIX = "/messages/cancel"
DOCUMENTED_ROLES = ("user", "system", "assistant")
# The MessageType values an implementation with an out-of-date enum (from before tool
# approvals) does not know.
APPROVAL_MESSAGE_TYPES = ("approval_request_message", "approval_response_message")
LIST_LIMIT_MAX = 1000
DEFAULT_LIST_LIMIT = 100


def _validation_error(loc: list[Any], msg: str, kind: str) -> Answer:
    return json_answer(422, {"detail": [{"loc": loc, "msg": msg, "type": kind}]})


def _is_list_runs(environ: Environ) -> bool:
    return environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].rstrip("/") == "/v1/runs"


def _query(environ: Environ) -> list[tuple[str, str]]:
    return parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def _set_query(environ: Environ, pairs: list[tuple[str, str]]) -> None:
    environ["QUERY_STRING"] = urlencode(pairs)


# ---- request validation ------------------------------------------------------------------


def refuses_approval_message_types(app: WSGIApp) -> WSGIApp:
    """`include_return_message_types` refuses the approval message types (422).

    Broken fact: "approval_request_message" and "approval_response_message" are values of
    MessageType accepted in `include_return_message_types` (001, Body Parameters,
    `include_return_message_types: optional array of MessageType`; also 002, Parameters,
    `include_return_message_types: Optional[List[MessageType]]`). The server's enum is out of
    date and stops at "tool_return_message".
    """

    def before(environ: Environ) -> Answer | None:
        if not is_async_post(environ):
            return None
        body = request_json(environ)
        kinds = body.get("include_return_message_types") if isinstance(body, dict) else None
        if not isinstance(kinds, list):
            return None
        for index, kind in enumerate(kinds):
            if kind in APPROVAL_MESSAGE_TYPES:
                return _validation_error(
                    ["body", "include_return_message_types", index],
                    f"Input should be a known message type, not {kind!r}",
                    "enum",
                )
        return None

    return Middleware(app, before, None)


def unknown_role_read_as_user(app: WSGIApp) -> WSGIApp:
    """A message with a role outside the enum (e.g. "tool", "developer") is taken as a user
    message and answered 200 with a run instead of 422.

    Broken fact: MessageCreate `role` is one of "user", "system", "assistant" (001, Body
    Parameters, messages > MessageCreate, `role: "user" or "system" or "assistant"`; 002,
    MessageCreate, `role: Literal["user", "system", "assistant"]`); a request breaking it is a
    validation error (422, Letta's OpenAPI document).
    """

    def before(environ: Environ) -> Answer | None:
        if not is_async_post(environ):
            return None
        body = request_json(environ)
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list):
            return None
        changed = False
        for message in messages:
            if (
                isinstance(message, dict)
                and isinstance(message.get("role"), str)
                and message["role"] not in DOCUMENTED_ROLES
            ):
                message["role"] = "user"
                changed = True
        if changed:
            set_request_json(environ, body)
        return None

    return Middleware(app, before, None)


def refuses_input_parts(app: WSGIApp) -> WSGIApp:
    """`input` given as a list of content parts is refused (422): only a string is taken.

    Broken fact: `input` is a string or an array of content parts (TextContent, ImageContent,
    ...) (001, Body Parameters, `input: optional string or array of TextContent or
    ImageContent or ToolCallContent or 5 more`; 002, Parameters,
    `input: Optional[Union[str, Iterable[InputUnionMember1], null]]`).
    """

    def before(environ: Environ) -> Answer | None:
        if not is_async_post(environ):
            return None
        body = request_json(environ)
        if isinstance(body, dict) and isinstance(body.get("input"), list):
            return _validation_error(
                ["body", "input"], "Input should be a valid string", "string_type"
            )
        return None

    return Middleware(app, before, None)


def upper_case_agent_id_accepted(app: WSGIApp) -> WSGIApp:
    """The async route lower-cases the agent id before checking it, so an id with upper-case
    hex digits passes (200 and a run for the agent it names in lower case; 404 otherwise)
    instead of 422.

    Broken fact: the path's agent_id matches
    "^agent-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$" (lower-case
    hex only) (003, Path parameters, agent_id `format`; 001, Path Parameters, "The ID of the
    agent in the format 'agent-<uuid4>'"); a path breaking it is a validation error (422,
    Letta's OpenAPI document).
    """

    def before(environ: Environ) -> Answer | None:
        match = ASYNC_ROUTE.match(environ["PATH_INFO"])
        if not match:
            return None
        given = match.group(1)
        if not AGENT_ID.fullmatch(given) and AGENT_ID.fullmatch(given.lower()):
            environ["PATH_INFO"] = f"/v1/agents/{given.lower()}/messages/async"
        return None

    return Middleware(app, before, None)


# ---- the Run in answers ------------------------------------------------------------------


def use_assistant_message_false_lost(app: WSGIApp) -> WSGIApp:
    """A request with `use_assistant_message: false` gets a run whose request_config says true
    (the server reads the field with `or True`, so false falls back to the default).

    Broken fact: `use_assistant_message` is an optional boolean of the request (001, Body
    Parameters, `use_assistant_message: optional boolean`; 003, Request, "Defaults to true",
    i.e. only when absent), and the Run's `request_config` is the request configuration for
    the run, with `use_assistant_message` (001, Returns, Run > `request_config: optional object
    { ..., use_assistant_message }`; 002, Returns, RequestConfig).
    """

    def change(environ: Environ, run: dict[str, Any]) -> None:
        config = run.get("request_config")
        if isinstance(config, dict) and config.get("use_assistant_message") is False:
            config["use_assistant_message"] = True

    return Middleware(app, None, rewrite_runs(change))


def canceled_spelling(app: WSGIApp) -> WSGIApp:
    """A cancelled run shows `status: "canceled"` (American spelling) in every Run answer.

    Broken fact: Run `status` is one of "created", "running", "completed", "failed",
    "cancelled" (001, Returns, Run > `status: optional "created" or "running" or "completed"
    or 2 more`; 002, Returns, `status: Optional[Literal["created", "running", "completed",
    2 more]]`, "cancelled").
    """

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("status") == "cancelled":
            run["status"] = "canceled"

    return Middleware(app, None, rewrite_runs(change))


# ---- the lifecycle -----------------------------------------------------------------------


def stop_reason_while_running(app: WSGIApp) -> WSGIApp:
    """A `running` run already carries `stop_reason: "end_turn"` (the expected outcome is
    filled in when the run starts instead of when it stops).

    Broken fact: `stop_reason` is "The reason why the run was stopped." (001, Returns, Run >
    `stop_reason: optional StopReasonType`; 002, Returns, Run > stop_reason); a run that is
    still running has not stopped, so it has none until it reaches a terminal status.
    """

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("status") == "running" and run.get("stop_reason") is None:
            run["stop_reason"] = "end_turn"

    return Middleware(app, None, rewrite_runs(change))


# ---- the listing -------------------------------------------------------------------------


def statuses_filter_first_only(app: WSGIApp) -> WSGIApp:
    """GET /v1/runs/ with several `statuses` filters by the first one only (the server reads
    the query with `args.get` instead of `args.getlist`).

    Broken fact: List Runs `statuses` (list of strings): "Filter runs by status. Can specify
    multiple statuses." (companion page, List Runs, query parameters).
    """

    def before(environ: Environ) -> Answer | None:
        if not _is_list_runs(environ):
            return None
        pairs = _query(environ)
        statuses = [value for key, value in pairs if key == "statuses"]
        if len(statuses) > 1:
            kept = [(k, v) for k, v in pairs if k != "statuses"]
            _set_query(environ, [("statuses", statuses[0]), *kept])
        return None

    return Middleware(app, before, None)


def limit_off_by_one(app: WSGIApp) -> WSGIApp:
    """GET /v1/runs/ returns one run more than `limit` when there are more (the server fetches
    `limit + 1` rows to learn whether there is a next page and forgets to trim the extra one).

    Broken fact: List Runs `limit`: "Maximum number of runs to return" (companion page, List
    Runs, query parameters).
    """

    def before(environ: Environ) -> Answer | None:
        if not _is_list_runs(environ):
            return None
        pairs = _query(environ)
        limits = [value for key, value in pairs if key == "limit"]
        if not limits:
            _set_query(environ, [*pairs, ("limit", str(DEFAULT_LIST_LIMIT + 1))])
            return None
        try:
            asked = int(limits[0])
        except ValueError:
            return None  # left for the server to refuse
        if 1 <= asked < LIST_LIMIT_MAX:
            kept = [(k, v) for k, v in pairs if k != "limit"]
            _set_query(environ, [*kept, ("limit", str(asked + 1))])
        return None

    return Middleware(app, before, None)


# ---- cancel ------------------------------------------------------------------------------


def _active_run_ids(app: WSGIApp, environ: Environ, agent_id: str) -> list[str]:
    """The ids of the agent's active runs, asked of the wrapped app (a listing does not move
    runs on the per-poll clock)."""
    inner: Environ = {
        key: value
        for key, value in environ.items()
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH", "wsgi.input")
    }
    inner.update(
        REQUEST_METHOD="GET",
        PATH_INFO="/v1/runs/",
        QUERY_STRING=urlencode({"agent_id": agent_id, "active": "true", "limit": "1000"}),
        CONTENT_LENGTH="0",
    )
    inner["wsgi.input"] = io.BytesIO(b"")
    captured: dict[str, str] = {}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        captured["status"] = status
        return lambda data: None

    chunks = app(inner, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    if not captured.get("status", "").startswith("200"):
        return []
    try:
        runs = json.loads(body)
    except ValueError:
        return []
    return [r["id"] for r in runs if isinstance(r, dict) and isinstance(r.get("id"), str)]


def cancel_ignores_run_ids(app: WSGIApp) -> WSGIApp:
    """Cancel with `run_ids` cancels the named runs and also every other active run of the
    agent.

    Broken fact: "Cancel runs associated with an agent. If run_ids are passed in, cancel those
    in particular." (companion page, Cancel Message, POST /v1/agents/{agent_id}/messages/cancel):
    runs not named in `run_ids` must be left as they are.
    """

    def before(environ: Environ) -> Answer | None:
        path = environ["PATH_INFO"]
        if environ["REQUEST_METHOD"] != "POST" or not path.endswith(CANCEL_ROUTE_SUFFIX):
            return None
        agent_id = path.removeprefix("/v1/agents/").removesuffix(CANCEL_ROUTE_SUFFIX)
        if not AGENT_ID.fullmatch(agent_id):
            return None
        body = request_json(environ)
        named = body.get("run_ids") if isinstance(body, dict) else None
        if not isinstance(named, list) or not named or not all(isinstance(r, str) for r in named):
            return None
        others = [r for r in _active_run_ids(app, environ, agent_id) if r not in named]
        if others:
            body["run_ids"] = [*named, *others]
            set_request_json(environ, body)
        return None

    return Middleware(app, before, None)


# ---- the list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Independent:
    name: str
    make: Callable[[str], Callable[[WSGIApp], WSGIApp]]
    fact: str


INDEPENDENT: tuple[Independent, ...] = (
    Independent(
        "approval message types refused",
        _plain(refuses_approval_message_types),
        "include_return_message_types accepts approval_request_message and "
        "approval_response_message (001 Body Parameters; 002 Parameters)",
    ),
    Independent(
        "unknown role read as user",
        _plain(unknown_role_read_as_user),
        "MessageCreate.role is one of user, system, assistant; anything else is a 422 "
        "(001 Body Parameters > messages > MessageCreate; 002 MessageCreate; OpenAPI 422)",
    ),
    Independent(
        "input parts refused",
        _plain(refuses_input_parts),
        "input is a string or an array of content parts (001 Body Parameters `input`; "
        "002 Parameters `input`)",
    ),
    Independent(
        "upper-case agent id accepted",
        _plain(upper_case_agent_id_accepted),
        "agent_id matches ^agent-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
        "[0-9a-f]{12}$, lower-case hex only, else 422 (003 Path parameters; 001 Path "
        "Parameters; OpenAPI 422)",
    ),
    Independent(
        "use_assistant_message false echoed true",
        _plain(use_assistant_message_false_lost),
        "request_config echoes the request's use_assistant_message, false included (001 Body "
        "Parameters and Returns > Run > request_config; 003 Request: default only when absent)",
    ),
    Independent(
        "status spelled canceled",
        _plain(canceled_spelling),
        'Run.status values are created, running, completed, failed, "cancelled" '
        "(001 Returns > Run > status; 002 Returns > Run > status)",
    ),
    Independent(
        "stop_reason while running",
        _plain(stop_reason_while_running),
        "stop_reason is the reason the run was stopped: none while it is running "
        "(001 Returns > Run > stop_reason; 002 Returns > Run > stop_reason)",
    ),
    Independent(
        "statuses filter uses the first only",
        _plain(statuses_filter_first_only),
        "List Runs statuses: 'Filter runs by status. Can specify multiple statuses.' "
        "(companion page List Runs, query parameters)",
    ),
    Independent(
        "listing limit off by one",
        _plain(limit_off_by_one),
        "List Runs limit: 'Maximum number of runs to return' (companion page List Runs, "
        "query parameters)",
    ),
    Independent(
        "cancel ignores run_ids",
        _plain(cancel_ignores_run_ids),
        "Cancel Message: 'If run_ids are passed in, cancel those in particular.' "
        "(companion page Cancel Message)",
    ),
)
