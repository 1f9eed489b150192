"""Enums and unions: every documented value and member accepted where requests allow it, no
undocumented value in answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.checks.shape import runs_in
from letta_contract_kit.contract_tests.client import Exchange
from letta_contract_kit.contract_tests.provenance import Rule
from letta_contract_kit.schemas.contract import MESSAGE_TYPE, RUN_STATUS, STOP_REASON, EnumValues
from letta_contract_kit.schemas.versions import DOC_VERSIONS, NEWEST, describe


def _refused(exchange: Exchange, case: Case, owner: str, rule: Rule) -> Iterator[Failure]:
    response = exchange.response
    if case.owner != owner or "combined" in case.tags or response is None:
        return
    if 400 <= response.status < 500:
        cited = Rule(rule.id, rule.check, rule.text, case.cites) if case.cites else rule
        yield Failure(
            cited,
            f"{case.label} was refused with {response.status}",
            case.label,
        )


@check(
    "union_members_accepted",
    "Every messages member, content part and image source the documentation lists is accepted.",
)
def union_members_accepted(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    yield from _refused(exchange, case, R.UNION, R.MEMBER_ACCEPTED)


@check(
    "enum_values_accepted",
    "Every documented enum value (role, message type, tool status) is accepted in a request.",
)
def enum_values_accepted(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    yield from _refused(exchange, case, R.ENUMS, R.ENUM_ACCEPTED)


def judge_value(enum: EnumValues, field: str, value: Any) -> Failure | None:
    """A failure when ``value`` is not a value of ``enum`` in the newest documentation."""
    if value is None:
        return None
    listed_in = enum.documented_in.get(value) if isinstance(value, str) else None
    if value in enum and (listed_in is None or NEWEST in listed_in):
        return None
    if listed_in:
        needed = describe(listed_in[-1])
        message = f"{field} {value!r} is listed only by {needed}, not by the newest ({NEWEST})"
    else:
        versions = ", ".join(v.key for v in DOC_VERSIONS)
        message = (
            f"{field} {value!r} is not listed by any documentation version ({versions}); "
            f"{describe(NEWEST)} allows: {', '.join(enum.values)}"
        )
    return Failure(R.RESPONSE_ENUM, message, f"{field} {value!r}", excerpt={field: value})


@check(
    "response_enum_values",
    "Every status, stop_reason and message type in an answer is a documented value "
    "(naming the documentation version that lists it).",
)
def response_enum_values(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    for run in runs_in(exchange, case):
        if not isinstance(run, dict):
            continue
        for enum, field, value in (
            (RUN_STATUS, "status", run.get("status")),
            (STOP_REASON, "stop_reason", run.get("stop_reason")),
        ):
            failure = judge_value(enum, field, value)
            if failure:
                yield failure
        config = run.get("request_config")
        kinds = config.get("include_return_message_types") if isinstance(config, dict) else None
        for value in kinds if isinstance(kinds, list) else []:
            failure = judge_value(MESSAGE_TYPE, "include_return_message_types", value)
            if failure:
                yield failure
