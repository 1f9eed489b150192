"""The shape of what comes back: Runs field by field, and error bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contract_tests.cases import SERVER_NAME, Case, doc_reference, server_reason
from contract_tests.checks.registry import CheckContext, Failure, check
from contract_tests.client import Exchange
from contract_tests.observations import parse_time
from schemas import validator
from schemas.contract import REQUEST_CONFIG_FIELDS, RUN_FIELDS, defaults
from schemas.loader import READINGS, raw

RUN_FAMILIES = ("valid body", "retrieve run")
LIST_FAMILIES = ("list runs",)
# Locations other checks own, so one departure is reported by one check.
OWNED: dict[tuple[str, ...], str] = {
    ("status",): "response_enum_values",
    ("stop_reason",): "response_enum_values",
    ("request_config", "include_return_message_types"): "response_enum_values",
    ("ttft_ns",): "durations_consistent",
    ("total_duration_ns",): "durations_consistent",
}
TIMESTAMPS = tuple(
    name for name, prop in raw("run")["properties"].items() if "date-time.json" in str(prop)
)


def runs_in(exchange: Exchange, case: Case) -> list[Any]:
    """The Run objects an answer carries (none unless it is a 200 that should carry some)."""
    response = exchange.response
    if response is None or response.status != 200:
        return []
    body = response.json()
    if case.family in RUN_FAMILIES:
        return [body]
    if case.family in LIST_FAMILIES and isinstance(body, list):
        return list(body)
    return []


def _owner(location: tuple[Any, ...], ctx: CheckContext) -> str | None:
    for prefix, name in OWNED.items():
        if tuple(str(p) for p in location[: len(prefix)]) == prefix and ctx.enabled(name):
            return name
    return None


def _reading_source(reading: str, location: tuple[Any, ...]) -> str:
    prop = str(location[0]) if location else None
    if reading == "server":
        why = server_reason("run", prop) if prop else None
        target = raw("run")["properties"].get(prop, {}) if prop else {}
        if why is None and "run-id.json" in str(target):
            why = server_reason("run-id")
        return f"{SERVER_NAME}: {why or server_reason('run')}"
    return doc_reference("run", prop) if prop in RUN_FIELDS else doc_reference("run")


def run_failures(ctx: CheckContext, run: Any, case: Case) -> Iterator[Failure]:
    if not isinstance(run, dict):
        yield Failure(
            f"expected a Run object, got {type(run).__name__}",
            "not an object",
            "a 200 answer carries a Run",
            doc_reference("run"),
        )
        return
    naive_reported: set[str] = set()
    for name in TIMESTAMPS:
        value = run.get(name)
        parsed = parse_time(value)
        if isinstance(value, str) and parsed is not None and "T" in value.upper():
            tail = value.upper().split("T", 1)[1]
            if not (tail.endswith("Z") or "+" in tail or "-" in tail):
                naive_reported.add(name)
                yield Failure(
                    f"{name} {value!r} has no timezone (no 'Z' or offset)",
                    f"{name}: timestamp without timezone",
                    "every timestamp is an RFC 3339 date-time with an offset",
                    doc_reference("date-time", aspect="format"),
                )
    seen: set[str] = set()
    for reading in READINGS:
        for problem in validator("run", reading).problems(run):
            loc = tuple(problem.location)
            if _owner(loc, ctx) or (loc and str(loc[0]) in naive_reported):
                continue
            where = "/".join(str(p) for p in loc) or "(root)"
            cause = f"{where}: {problem.rule}"
            if cause in seen:
                continue
            seen.add(cause)
            yield Failure(
                f"{where}: {problem.message} (value {_at(run, loc)!r:.80})",
                cause,
                f"Run {where} must satisfy `{problem.rule}` ({reading} reading)",
                _reading_source(reading, loc),
            )
    if case.agent_id and run.get("agent_id") != case.agent_id:
        yield Failure(
            f"agent_id is {run.get('agent_id')!r}, the request was for {case.agent_id!r}",
            "agent_id not echoed",
            "a run names the agent it was created for",
            doc_reference("run", "agent_id"),
        )
    if case.family == "valid body" and isinstance(case.body, dict):
        yield from _echoes(run, case.body)


def _echoes(run: dict[str, Any], body: dict[str, Any]) -> Iterator[Failure]:
    config = run.get("request_config")
    fallback = defaults("letta-async-request")
    if isinstance(config, dict):
        for key in REQUEST_CONFIG_FIELDS:
            if key not in config:
                continue  # a missing key is a shape problem, reported above
            expected = body.get(key, fallback.get(key))
            if config[key] != expected:
                yield Failure(
                    f"request_config.{key} is {config[key]!r}, the request implies {expected!r}",
                    f"request_config.{key} not echoed",
                    "request_config echoes the request's options, defaults filled in",
                    doc_reference("request-config"),
                )
    if run.get("callback_url") != body.get("callback_url"):
        yield Failure(
            f"callback_url is {run.get('callback_url')!r}, sent {body.get('callback_url')!r}",
            "callback_url not echoed",
            "a run records the callback_url it was created with",
            doc_reference("run", "callback_url"),
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
    "Every Run has every documented field with the right type, enum, format (timezone "
    "included), id pattern and echoes of agent_id, request_config and callback_url.",
)
def run_shape_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    for run in runs_in(exchange, case):
        yield from run_failures(ctx, run, case)


@check(
    "error_shape_conformance",
    "A 4xx answer has a body either reading allows (`detail` list or string).",
)
def error_shape_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if response is None or not 400 <= response.status < 500 or response.status == 429:
        return
    name = "http-validation-error" if response.status == 422 else "error-response"
    body = response.json()
    verdicts = [validator(name, r).problems(body) for r in READINGS]
    if all(verdicts):
        first = verdicts[0][0]
        yield Failure(
            f"the {response.status} body fits neither reading of {raw(name)['title']}: {first}",
            f"{response.status} body: {first.rule} at {'/'.join(map(str, first.location))}",
            f"a {response.status} answer carries a {raw(name)['title']}",
            doc_reference(name),
        )
