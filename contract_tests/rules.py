"""Every rule the suite holds a server to, with its source, grouped by the check that owns it.

This is the suite's provenance table: ``letta-contract list-checks --verbose`` prints it and
docs/suite.md lists it. A rule whose source is the real server alone can only ever give a
divergence (see :mod:`contract_tests.provenance`).
"""

from __future__ import annotations

from functools import cache

from letta_contract_kit.contract_tests.provenance import Rule, Source, documented, server, shared
from letta_contract_kit.schemas.loader import raw
from letta_contract_kit.schemas.versions import DOC_VERSIONS, NEWEST

# Section headings of the endpoint's page, by version and by what a schema describes.
_SECTIONS = {
    "001": {"request": "Body Parameters", "response": "Returns", "path": "Path Parameters"},
    "002": {"request": "Parameters", "response": "Returns", "path": "Parameters"},
    "003": {"request": "Request", "response": "Response", "path": "Path parameters"},
    "000": {"request": "Examples", "response": "Examples", "path": "Examples"},
}
_RESPONSE_SCHEMAS = frozenset(
    {"run", "run-id", "run-status", "stop-reason-type", "date-time", "request-config"}
)
_KEYS = {v.key for v in DOC_VERSIONS}


def _versions_in(text: str) -> list[str]:
    """Documentation version keys an ``x-doc`` note names, newest first."""
    import re

    order = [v.key for v in DOC_VERSIONS]
    found = {k for k in re.findall(r"\b(00[0-9])\b", text) if k in _KEYS}
    return sorted(found, key=order.index, reverse=True)


@cache
def schema_source(name: str, prop: str | None = None, aspect: str | None = None) -> Source:
    """The documentation version and section that state a schema (or one of its properties).

    The version is the newest one the schema's ``x-doc`` note names for that property or
    aspect; without a note, the newest version (001), which states every field it lists.
    """
    document = raw(name)
    node = document.get("properties", {}).get(prop, {}) if prop else document
    notes = node.get("x-doc", {}) if isinstance(node, dict) else {}
    chosen = (
        [str(notes[aspect])] if aspect and aspect in notes else [str(v) for v in notes.values()]
    )
    keys = _versions_in(" ".join(chosen))
    key = keys[0] if keys else NEWEST
    where = "response" if name in _RESPONSE_SCHEMAS else "request"
    if name == "agent-id":
        where = "path"
    title = document.get("title", name)
    section = _SECTIONS[key][where] + f" › {title}" + (f".{prop}" if prop else "")
    return documented(key, section)


def _rule(check: str, rule_id: str, text: str, source: Source) -> Rule:
    return Rule(rule_id, check, text, source)


# ---- sources used by several rules ------------------------------------------------------

PAGE_RETURNS = documented("001", "Returns (a Run object)")
RUN_FETCHED_BY_ID = documented("001", "description ('the status can be checked using the run ID')")
OPENAPI_200 = documented("openapi", "responses: 200 Successful Response")
OPENAPI_422 = documented("openapi", "responses: 422 Validation Error (HTTPValidationError)")
LIST_RUNS = "list-runs"
CANCEL = "cancel-message"
RETRIEVE = "retrieve-run"

# ---- the catalogue -----------------------------------------------------------------------

NOT_5XX = "not_a_server_error"
STATUS = "status_code_conformance"
CONTENT = "content_type_conformance"
RUN_SHAPE = "run_shape_conformance"
ERROR_SHAPE = "error_shape_conformance"
UNION = "union_members_accepted"
ENUMS = "enum_values_accepted"
RESPONSE_ENUMS = "response_enum_values"
TERMINAL = "run_reaches_terminal"
FORWARD = "status_moves_forward"
TERMINAL_FIELDS = "terminal_fields_consistent"
TIMESTAMPS = "timestamps_ordered"
DURATIONS = "durations_consistent"
RETRIEVE_LIST = "retrieve_matches_listing"
LISTING = "listing_conformance"
CANCEL_STICKS = "cancel_sticks"
CANCEL_SCOPE = "cancel_conformance"
CALLBACK = "callback_delivered"

NO_SERVER_ERROR = _rule(
    NOT_5XX,
    "no-5xx",
    "no request, valid or not, is answered with a server error (5xx)",
    shared(
        "HTTP semantics, RFC 9110 §15.6 (a 5xx says the server failed); no documented "
        "answer of any route is a 5xx"
    ),
)

VALID_ACCEPTED = _rule(
    STATUS,
    "valid-body-accepted",
    "a body both readings accept is answered 2xx with a Run",
    documented("001", "Body Parameters and Returns"),
)
VALID_200 = _rule(
    STATUS,
    "valid-body-200",
    "an accepted body is answered 200 (not 201 or 202)",
    OPENAPI_200,
)
OMITTED_TAG_ACCEPTED = _rule(
    STATUS,
    "optional-tag-accepted",
    "a content part or image source that leaves out its optional `type` is accepted",
    documented("001", "Body Parameters › input › TextContent.type and ImageContent.source.type"),
)
INVALID_REFUSED = _rule(
    STATUS,
    "invalid-body-refused",
    "a body both readings reject is refused (4xx) and creates no run",
    shared("the documented request schema and the server's both reject the body"),
)
INVALID_422 = _rule(STATUS, "invalid-body-422", "a refused body is answered 422", OPENAPI_422)
NOT_JSON_REFUSED = _rule(
    STATUS,
    "not-json-refused",
    "a request body that is not a JSON document is refused (4xx)",
    shared("both readings describe the body as a JSON object (RFC 8259)"),
)
CHARSET_ACCEPTED = _rule(
    STATUS,
    "json-charset-accepted",
    "a body sent as `application/json; charset=utf-8` is read like `application/json`",
    shared(
        "RFC 8259 §11 (a charset parameter has no effect on compliant recipients); the real "
        "server accepts it"
    ),
)
BAD_AGENT_REFUSED = _rule(
    STATUS,
    "malformed-agent-id-refused",
    "a malformed agent id in the path is refused (4xx) and creates no run",
    documented("003", "Path parameters › agent_id (format regex, =42 characters)"),
)
BAD_AGENT_422 = _rule(
    STATUS, "malformed-agent-id-422", "a malformed agent id is answered 422", OPENAPI_422
)
UNKNOWN_AGENT_404 = _rule(
    STATUS,
    "unknown-agent-404",
    "a well-formed agent id that names no agent is answered 404 and creates no run",
    server(
        "findings §1 (404 {'detail': 'Agent not found'}, no run); no documentation version lists it"
    ),
)
UNKNOWN_RUN_REFUSED = _rule(
    STATUS,
    "unknown-run-refused",
    "a run id that names no run (malformed or unknown) is refused (4xx), never answered with a Run",
    shared(
        "Retrieve Run gets the status of a run; an id the server never issued names none "
        "(RFC 9110 §15.5.5)"
    ),
)
BAD_RUN_400 = _rule(
    STATUS,
    "malformed-run-id-400",
    "a malformed run id is answered 400",
    server(
        "findings §5 (400 INVALID_ARGUMENT: Invalid run ID format); the documentation "
        "gives run_id no format"
    ),
)
UNKNOWN_RUN_404 = _rule(
    STATUS,
    "unknown-run-404",
    "a well-formed run id that names no run is answered 404",
    server("findings §5 (404 'Run not found')"),
)
RUN_RETRIEVABLE = _rule(
    STATUS,
    "returned-run-retrievable",
    "a run id the server returned is answered 200 on GET /v1/runs/{run_id}",
    RUN_FETCHED_BY_ID,
)

JSON_RUN = _rule(
    CONTENT,
    "run-answer-json",
    "a 2xx answer is `application/json`",
    documented("openapi", "responses: 200 application/json (the Run shown as JSON in 001)"),
)
JSON_422 = _rule(CONTENT, "422-json", "a 422 answer is `application/json`", OPENAPI_422)
JSON_PARSES = _rule(
    CONTENT,
    "json-parses",
    "a body labelled JSON parses as JSON",
    shared("RFC 9110 §8.3 (Content-Type describes the body) and RFC 8259"),
)
JSON_ERRORS = _rule(
    CONTENT,
    "error-answer-json",
    "other error answers are `application/json` too",
    server("findings §5 (every error body is JSON)"),
)

RUN_DOCUMENTED = _rule(
    RUN_SHAPE,
    "run-documented-shape",
    "every Run has the documented type, format, enum and pattern in each field it carries",
    PAGE_RETURNS,
)
RUN_SERVER = _rule(
    RUN_SHAPE,
    "run-server-shape",
    "every Run is as the real server sends it (all 17 keys, id 'run-<uuid4>', ...)",
    server("findings §1 (all 17 keys always present; ids are run-<uuid4>)"),
)
TIMESTAMP_OFFSET = _rule(
    RUN_SHAPE,
    "timestamp-offset",
    "every timestamp is an RFC 3339 date-time, with `Z` or an offset",
    documented("002", "Returns › created_at, completed_at, callback_sent_at (formatdate-time)"),
)
AGENT_ECHO = _rule(
    RUN_SHAPE,
    "agent-id-echoed",
    "a run names the agent it was created for",
    documented("001", "Returns › agent_id ('the agent associated with the run')"),
)
BACKGROUND_TRUE = _rule(
    RUN_SHAPE,
    "background-true",
    "`background`, when given, is true: this endpoint starts background runs",
    documented("001", "description ('a background run') and Returns › background"),
)
CONFIG_ECHO = _rule(
    RUN_SHAPE,
    "request-config-echoed",
    "`request_config` holds the options the request set (and their documented defaults "
    "when it left them out)",
    documented(
        "001",
        "Returns › request_config ('The request configuration for the run'); "
        "003 § Request (defaults)",
    ),
)
CALLBACK_ECHO = _rule(
    RUN_SHAPE,
    "callback-url-echoed",
    "`callback_url`, when given, is the URL the request set",
    documented("001", "Returns › callback_url ('If set, POST to this URL')"),
)
RUN_ID_ECHO = _rule(
    RUN_SHAPE,
    "retrieved-id",
    "GET /v1/runs/{run_id} answers the run asked for",
    documented(RETRIEVE, "Parameters › run_id; Returns (the Run)"),
)

VALIDATION_BODY = _rule(
    ERROR_SHAPE,
    "422-body",
    "a 422 body is an HTTPValidationError: `detail`, a list of {loc, msg, type}",
    OPENAPI_422,
)
ERROR_BODY = _rule(
    ERROR_SHAPE,
    "error-body",
    'another 4xx body is `{"detail": <text>}`',
    server("findings §5 (`{'detail': ...}`); the documentation describes no error body"),
)
SERVER_422_BODY = _rule(
    ERROR_SHAPE,
    "422-body-server",
    "a 422 body is as the real server sends it (`detail` a string, `trace_id`)",
    server("findings §5"),
)

MEMBER_ACCEPTED = _rule(
    UNION,
    "member-accepted",
    "every messages member, content part and image source the documentation lists is "
    "accepted where it lists it",
    documented("001", "Body Parameters › input, messages (their unions)"),
)
ENUM_ACCEPTED = _rule(
    ENUMS,
    "enum-value-accepted",
    "every documented value of a request enum (role, message type, tool status) is accepted",
    documented("001", "Body Parameters (MessageType, role, ToolReturn.status)"),
)
RESPONSE_ENUM = _rule(
    RESPONSE_ENUMS,
    "response-enum-documented",
    "every status, stop_reason and message type in an answer is a documented value",
    documented("001", "Returns › status, stop_reason, request_config.include_return_message_types"),
)

ENDS = _rule(
    TERMINAL,
    "run-ends",
    "a run the suite created is seen completed, failed or cancelled within --run-deadline "
    "(judged on at least 5 polls in a row, the last made after the deadline)",
    shared(
        "both readings end every run: 001 § Returns › status lists completed, failed and "
        "cancelled as where a run stops"
    ),
)
FORWARD_ONLY = _rule(
    FORWARD,
    "status-forward",
    "a status never moves back (created < running < completed | failed | cancelled)",
    shared("the order of 001 § Returns › status, which the real server follows"),
)
TERMINAL_FINAL = _rule(
    FORWARD,
    "terminal-final",
    "a run seen completed, failed or cancelled never changes status again",
    shared(
        "both readings end a run once (001 § Returns › status; the real server logs "
        "a second end as an error)"
    ),
)
COMPLETED_AT_LATE = _rule(
    TERMINAL_FIELDS,
    "completed-at-only-at-end",
    "completed_at is null while the run has not ended",
    documented("001", "Returns › completed_at ('The timestamp when the run was completed')"),
)
STOP_REASON_LATE = _rule(
    TERMINAL_FIELDS,
    "stop-reason-only-at-end",
    "stop_reason is null while the run has not ended",
    documented("001", "Returns › stop_reason ('The reason why the run was stopped')"),
)
COMPLETED_AT_SET = _rule(
    TERMINAL_FIELDS,
    "completed-at-at-end",
    "an ended run has completed_at",
    server(
        "findings §2 (status, stop_reason and completed_at change together); the "
        "documentation marks completed_at optional"
    ),
)
STOP_REASON_SET = _rule(
    TERMINAL_FIELDS,
    "stop-reason-at-end",
    "an ended run has stop_reason",
    server("findings §2; the documentation marks stop_reason optional"),
)
CANCELLED_REASON = _rule(
    TERMINAL_FIELDS,
    "cancelled-stop-reason",
    "a cancelled run has stop_reason `cancelled`",
    server("findings §4 (a cancel sets status and stop_reason to cancelled)"),
)

CREATED_FIXED = _rule(
    TIMESTAMPS,
    "created-at-fixed",
    "created_at never changes",
    documented("001", "Returns › created_at ('The timestamp when the run was created')"),
)
COMPLETED_AFTER_CREATED = _rule(
    TIMESTAMPS,
    "completed-after-created",
    "completed_at is not before created_at",
    documented("001", "Returns › created_at, completed_at"),
)
COMPLETED_FIXED = _rule(
    TIMESTAMPS,
    "completed-at-fixed",
    "completed_at, once set, never changes",
    documented("001", "Returns › completed_at ('The timestamp when the run was completed')"),
)
CALLBACK_AFTER_CREATED = _rule(
    TIMESTAMPS,
    "callback-after-created",
    "callback_sent_at is not before created_at",
    documented("001", "Returns › callback_sent_at ('when the callback was last attempted')"),
)

DURATION_NON_NEGATIVE = _rule(
    DURATIONS,
    "duration-non-negative",
    "ttft_ns and total_duration_ns are non-negative integers",
    documented("002", "Returns › ttft_ns, total_duration_ns (Optional[int], nanoseconds)"),
)
TTFT_BEFORE_TOTAL = _rule(
    DURATIONS,
    "ttft-within-total",
    "ttft_ns is not larger than total_duration_ns",
    documented("001", "Returns › ttft_ns ('Time to first token'), total_duration_ns"),
)
TOTAL_WITHIN_RUN = _rule(
    DURATIONS,
    "total-within-run",
    "total_duration_ns is not longer than completed_at - created_at (1 s of slack)",
    documented("001", "Returns › total_duration_ns ('Total run duration')"),
)
DURATION_AT_END = _rule(
    DURATIONS,
    "duration-at-end",
    "total_duration_ns appears only once the run ended",
    server("findings §2 (null until the end; set only in listings)"),
)

SAME_RUN = _rule(
    RETRIEVE_LIST,
    "listing-same-run",
    "a run reads the same in GET /v1/runs/ and on GET /v1/runs/{run_id}: fields that cannot "
    "change always, the others when two retrieves around the listing agree",
    documented(LIST_RUNS, "Returns (the same Run object as Retrieve Run)"),
)
SAME_RUN_NULLS = _rule(
    RETRIEVE_LIST,
    "listing-same-nulls",
    "a field one side leaves null is null on the other side too",
    server("findings §2 (`total_duration_ns` is filled in listings only)"),
)
LISTED = _rule(
    RETRIEVE_LIST,
    "run-listed",
    "a run the suite created, retrieved before and after, is in a listing of its agent that "
    "is not full",
    documented(LIST_RUNS, "description ('List all runs') › agent_id"),
)

LIST_ARRAY = _rule(
    LISTING,
    "listing-array",
    "GET /v1/runs/ answers a JSON array of Runs",
    documented(LIST_RUNS, "Returns (an array of Run)"),
)
LIST_AGENT = _rule(
    LISTING,
    "listing-agent-filter",
    "`agent_id=A` lists only runs whose agent_id is A",
    documented(LIST_RUNS, "Parameters › agent_id"),
)
LIST_LIMIT = _rule(
    LISTING,
    "listing-limit",
    "`limit=N` lists at most N runs",
    documented(LIST_RUNS, "Parameters › limit ('Maximum number of runs to return')"),
)
LIST_ORDER = _rule(
    LISTING,
    "listing-order",
    "`order=asc` lists oldest first and `order=desc` newest first, by created_at",
    documented(LIST_RUNS, "Parameters › order"),
)
LIST_CURSOR = _rule(
    LISTING,
    "listing-cursor",
    "`after=R` lists only runs after R in the sort order, `before=R` only runs before it; "
    "never R itself",
    documented(
        LIST_RUNS, "Parameters › after, before ('relative to this ID in the specified sort order')"
    ),
)
LIST_PAGES = _rule(
    LISTING,
    "listing-pages",
    "paging with `after` and `limit` lists every run of the full listing once, in order",
    documented(LIST_RUNS, "Parameters › after ('Cursor for pagination'), limit"),
)
LIST_STATUSES = _rule(
    LISTING,
    "listing-statuses",
    "`statuses=S` (one or several) lists only runs in those statuses, and every ended run "
    "of the agent in them",
    documented(LIST_RUNS, "Parameters › statuses ('Can specify multiple statuses')"),
)
LIST_STOP_REASON = _rule(
    LISTING,
    "listing-stop-reason",
    "`stop_reason=X` lists only runs that stopped with X, and every ended run of the agent "
    "that did",
    documented(LIST_RUNS, "Parameters › stop_reason"),
)
LIST_BACKGROUND = _rule(
    LISTING,
    "listing-background",
    "`background=true` lists only runs created in background mode",
    documented(LIST_RUNS, "Parameters › background"),
)
LIST_ACTIVE = _rule(
    LISTING,
    "listing-active",
    "`active=true` lists no run that has ended",
    shared(
        "List Runs § Parameters › active ('Filter for active runs'); the real server "
        "reads active as created or running"
    ),
)
LIST_CONVERSATION = _rule(
    LISTING,
    "listing-conversation",
    "`conversation_id=C` lists only runs of conversation C",
    documented(LIST_RUNS, "Parameters › conversation_id"),
)
LIST_COMPLETE = _rule(
    LISTING,
    "listing-complete",
    "a listing of an agent that is not full holds every ended run of it the suite created",
    documented(LIST_RUNS, "description ('List all runs') › agent_id, limit"),
)
LIST_BAD_REFUSED = _rule(
    LISTING,
    "listing-invalid-refused",
    "a query value of the wrong type or outside its enum (order, stop_reason, limit, "
    "background) is refused (4xx)",
    shared("List Runs § Parameters types them, and the real server refuses them"),
)
LIST_BAD_422 = _rule(
    LISTING, "listing-invalid-422", "a refused query value is answered 422", OPENAPI_422
)
LIST_BAD_STATUS = _rule(
    LISTING,
    "listing-statuses-400",
    "`statuses` with a value that is no run status is answered 400",
    server(
        "findings §5 (400 \"'bogus' is not a valid RunStatus\"); the documentation "
        "types statuses as strings"
    ),
)
LIST_LIMIT_BOUNDS = _rule(
    LISTING,
    "listing-limit-bounds",
    "`limit` outside 1-1000 is answered 422",
    server("findings §5 (limit=0 gives 422); the documentation gives no bounds"),
)
LIST_DEFAULT_ORDER = _rule(
    LISTING,
    "listing-default-order",
    "without `order`, the newest run comes first",
    server("contract notes §6 (order defaults to desc); the documentation gives no default"),
)

CANCEL_STAYS = _rule(
    CANCEL_STICKS,
    "cancel-stays",
    "a run seen `cancelled` stays cancelled",
    shared("both readings end a run once; the cancel's own effect must hold"),
)
CANCEL_EFFECT = _rule(
    CANCEL_STICKS,
    "cancel-takes-effect",
    "a run cancelled by id while active is next seen `cancelled`",
    server(
        "findings §4 (a cancel sets status cancelled at once); the documentation says "
        "only that the runs are cancelled, not when"
    ),
)
CANCEL_ANSWER = _rule(
    CANCEL_SCOPE,
    "cancel-answer-object",
    "a cancel answered 2xx is answered with a JSON object",
    documented(CANCEL, "Returns (Dict[str, object])"),
)
CANCEL_200 = _rule(
    CANCEL_SCOPE,
    "cancel-answer-200",
    "a cancel is answered 200, also for a run that has just ended",
    server(
        "findings §4 (200 for an active, ended or unknown run); the run may end before "
        "the cancel arrives, so the documentation cannot require a 2xx"
    ),
)
CANCEL_ANSWER_MAP = _rule(
    CANCEL_SCOPE,
    "cancel-answer-map",
    "the cancel answer maps each run id to `cancelled` or `failed`",
    server("findings §4 (200 {'<run_id>': 'cancelled'})"),
)
CANCEL_AFTER_END = _rule(
    CANCEL_STICKS,
    "cancel-after-end",
    "cancelling a run that already ended leaves it as it ended",
    shared("both readings end a run once; the real server's cancel of an ended run is a no-op"),
)
CANCEL_OTHER_AGENT = _rule(
    CANCEL_STICKS,
    "cancel-own-agent",
    "a cancel for agent A without run_ids leaves the runs of another agent alone",
    documented(CANCEL, "description ('Cancel runs associated with an agent')"),
)
CANCEL_ONLY_NAMED = _rule(
    CANCEL_STICKS,
    "cancel-only-named",
    "a run that no cancel named, and whose agent got no cancel without run_ids while it was "
    "active, is never cancelled",
    documented(CANCEL, "description ('If run_ids are passed in, cancel those in particular')"),
)
CANCEL_NOTHING_409 = _rule(
    CANCEL_SCOPE,
    "cancel-nothing-409",
    "a cancel without run_ids for an agent with no active run is answered 409",
    server("findings §4 (409 'No active runs to cancel')"),
)
CANCEL_BARE = _rule(
    CANCEL_STICKS,
    "cancel-bare",
    "a cancel without run_ids cancels the agent's active runs",
    server("findings §4; the documentation notes that this needs Redis"),
)

CALLBACK_SENT = _rule(
    CALLBACK,
    "callback-sent",
    "a run with callback_url that ends `completed` POSTs to it (judged on a look at the "
    "receiver after the run was seen ended and --run-deadline passed)",
    documented("001", "Body Parameters › callback_url ('POST to when the job completes')"),
)
CALLBACK_OTHER_ENDS = _rule(
    CALLBACK,
    "callback-any-end",
    "a run that ends `failed` or `cancelled` POSTs its callback too",
    server("findings §3 (sent for completed, failed or cancelled)"),
)
CALLBACK_ONCE = _rule(
    CALLBACK,
    "callback-once",
    "the callback is POSTed once",
    server("findings §3 (one attempt, no retry); the documentation's 'last attempted' allows more"),
)
CALLBACK_BODY = _rule(
    CALLBACK,
    "callback-body",
    "the callback body is {run_id, status, completed_at, metadata} for the run and its end",
    server("findings §3; the documentation does not describe the callback body"),
)
CALLBACK_CODE = _rule(
    CALLBACK,
    "callback-status-recorded",
    "callback_status_code, when set, is the status the receiver answered",
    documented(
        "001",
        "Returns › callback_status_code ('HTTP status code returned by the callback endpoint')",
    ),
)
CALLBACK_RECORDED = _rule(
    CALLBACK,
    "callback-recorded",
    "after the callback the run shows callback_sent_at and callback_status_code",
    server("findings §3; the documentation marks both optional"),
)


@cache
def catalogue() -> dict[str, tuple[Rule, ...]]:
    """Every rule above, by the check that owns it, in the order they are written."""
    found: dict[str, list[Rule]] = {}
    for value in globals().values():
        if isinstance(value, Rule):
            found.setdefault(value.check, []).append(value)
    return {check: tuple(rules) for check, rules in found.items()}
