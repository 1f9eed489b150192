"""The shape of what comes back: Runs field by field, and error bodies."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import LIST_PATH, Case
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.client import Exchange
from letta_contract_kit.contract_tests.observations import parse_time
from letta_contract_kit.contract_tests.provenance import Rule
from letta_contract_kit.contract_tests.rules import schema_source
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import REQUEST_CONFIG_FIELDS, RUN_FIELDS, defaults
from letta_contract_kit.schemas.loader import raw

# Locations other checks own, so one departure is reported by one check.
OWNED: dict[tuple[str, ...], str] = {
    ("status",): R.RESPONSE_ENUMS,
    ("stop_reason",): R.RESPONSE_ENUMS,
    ("request_config", "include_return_message_types"): R.RESPONSE_ENUMS,
    ("ttft_ns",): R.DURATIONS,
    ("total_duration_ns",): R.DURATIONS,
}
TIMESTAMPS = tuple(
    name for name, prop in raw("run")["properties"].items() if "date-time.json" in str(prop)
)


def carries_run(exchange: Exchange, case: Case) -> bool:
    """Whether a 2xx answer to ``case`` is a Run (the async POST, or a retrieve)."""
    if case.method == "POST" and case.path.endswith("/messages/async"):
        return True
    return case.family == "retrieve run"


def runs_in(exchange: Exchange, case: Case) -> list[Any]:
    """The Run objects an answer carries (none unless it is a 2xx that should carry some)."""
    response = exchange.response
    if response is None or not 200 <= response.status < 300:
        return []
    body = response.json()
    if carries_run(exchange, case):
        return [body]
    if case.path == LIST_PATH and case.method == "GET" and isinstance(body, list):
        return list(body)
    return []


def _owner(location: tuple[Any, ...], ctx: CheckContext) -> str | None:
    for prefix, name in OWNED.items():
        if tuple(str(p) for p in location[: len(prefix)]) == prefix and ctx.enabled(name):
            return name
    return None


@cache
def documented_rule(prop: str | None) -> Rule:
    """The Run's documented-shape rule, citing the version and section of ``prop``."""
    base = R.RUN_DOCUMENTED
    source = schema_source("run", prop) if prop in RUN_FIELDS else base.source
    return Rule(base.id, base.check, base.text, source)


def _naive(value: Any) -> bool:
    if not isinstance(value, str) or parse_time(value) is None or "T" not in value.upper():
        return False
    tail = value.upper().split("T", 1)[1]
    return not (tail.endswith("Z") or "+" in tail or "-" in tail)


def run_failures(ctx: CheckContext, run: Any, case: Case) -> Iterator[Failure]:
    if not isinstance(run, dict):
        yield Failure(
            documented_rule(None),
            f"expected a Run object, got {type(run).__name__}",
            "not an object",
            excerpt=run,
        )
        return
    naive_reported: set[str] = set()
    for name in TIMESTAMPS:
        value = run.get(name)
        if _naive(value):
            naive_reported.add(name)
            yield Failure(
                R.TIMESTAMP_OFFSET,
                f"{name} {value!r} has no timezone (no 'Z' or offset)",
                f"{name}: timestamp without timezone",
                excerpt={"id": run.get("id"), name: value},
            )
    doc_causes: set[str] = set()
    for reading in ("documented", "server"):
        for problem in validator("run", reading).problems(run):
            loc = tuple(problem.location)
            if _owner(loc, ctx) or (loc and str(loc[0]) in naive_reported):
                continue
            where = "/".join(str(p) for p in loc) or "(root)"
            cause = f"{where}: {problem.rule}"
            if reading == "documented":
                doc_causes.add(cause)
                rule = documented_rule(str(loc[0]) if loc else None)
            elif cause in doc_causes:
                continue
            else:
                rule = R.RUN_SERVER
            yield Failure(
                rule,
                f"{where}: {problem.message} (value {_at(run, loc)!r:.80})",
                cause,
                excerpt={"id": run.get("id"), where: _at(run, loc)},
            )
    if case.agent_id and case.path != LIST_PATH and run.get("agent_id") != case.agent_id:
        yield Failure(
            R.AGENT_ECHO,
            f"agent_id is {run.get('agent_id')!r}, the request was for {case.agent_id!r}",
            "agent_id not echoed",
            excerpt={"id": run.get("id"), "agent_id": run.get("agent_id")},
        )
    if run.get("background") is False:
        yield Failure(
            R.BACKGROUND_TRUE,
            f"run {run.get('id')} says background: false, yet this endpoint starts background runs",
            "background false",
            excerpt={"id": run.get("id"), "background": False},
        )
    if case.family == "retrieve run" and run.get("id") != case.label:
        yield Failure(
            R.RUN_ID_ECHO,
            f"GET /v1/runs/{case.label} answered run {run.get('id')!r}",
            "retrieve answered another run",
            excerpt={"id": run.get("id")},
        )
    if case.family == "valid body" and isinstance(case.body, dict):
        yield from _echoes(run, case.body)


def _echoes(run: dict[str, Any], body: dict[str, Any]) -> Iterator[Failure]:
    config = run.get("request_config")
    fallback = defaults("letta-async-request")
    if isinstance(config, dict):
        for key in REQUEST_CONFIG_FIELDS:
            if key not in config:
                continue  # optional in the documentation
            given = body.get(key)
            if given is None and config[key] is None:
                continue  # nothing set, nothing shown
            expected = given if given is not None else fallback.get(key)
            if config[key] != expected:
                yield Failure(
                    R.CONFIG_ECHO,
                    f"request_config.{key} is {config[key]!r}, the request implies {expected!r}",
                    f"request_config.{key} not echoed",
                    excerpt={"id": run.get("id"), "request_config": config},
                )
    shown, sent = run.get("callback_url"), body.get("callback_url")
    if shown is not None and shown != sent:
        yield Failure(
            R.CALLBACK_ECHO,
            f"callback_url is {shown!r}, sent {sent!r}",
            "callback_url not echoed",
            excerpt={"id": run.get("id"), "callback_url": shown},
        )


def _at(value: Any, location: tuple[Any, ...]) -> Any:
    for part in location:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


@check(
    "run_shape_conformance",
    "Every Run has the documented type, format (timezone included), enum and pattern in each "
    "field, and echoes agent_id, request_config and callback_url.",
)
def run_shape_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    for run in runs_in(exchange, case):
        yield from run_failures(ctx, run, case)


@check(
    "error_shape_conformance",
    "A 422 body is the documented HTTPValidationError; how other error bodies differ from the "
    "real server's is a divergence.",
)
def error_shape_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if response is None or not 400 <= response.status < 500 or response.status == 429:
        return
    body = response.json()
    if response.status == 422:
        problems = validator("http-validation-error", "documented").problems(body)
        if problems:
            first = problems[0]
            where = "/".join(map(str, first.location)) or "(root)"
            yield Failure(
                R.VALIDATION_BODY,
                f"the 422 body is not an HTTPValidationError: {first}",
                f"422 body: {first.rule} at {where}",
                excerpt=body if body is not None else response.text[:200],
            )
        elif validator("http-validation-error", "server").problems(body):
            yield Failure(
                R.SERVER_422_BODY,
                "the 422 body is the documented one, not the real server's string `detail`",
                "422 body as documented",
            )
        return
    problems = validator("error-response", "server").problems(body)
    if problems:
        first = problems[0]
        yield Failure(
            R.ERROR_BODY,
            f"the {response.status} body is not {{'detail': <text>}}: {first}",
            f"{response.status} body: {first.rule}",
            excerpt=body if body is not None else response.text[:200],
        )
