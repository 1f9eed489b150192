"""Status codes and content types: what every answer must be, whatever its body."""

from __future__ import annotations

from collections.abc import Iterator

from contract_tests.cases import SERVER_NAME, Case
from contract_tests.checks.registry import CheckContext, Failure, check
from contract_tests.client import Exchange

OWNED_BY_COVERAGE = ("union_members_accepted", "enum_values_accepted")


@check("not_a_server_error", "The server never answers 5xx (or not at all) to any request.")
def not_a_server_error(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if response is None:
        yield Failure(
            f"no answer within {ctx.config.timeout:g} s to {case.describe()}",
            "timeout",
            "the server answers every request",
            "HTTP; every documented response is a 2xx or 4xx",
        )
    elif response.status >= 500:
        yield Failure(
            f"{response.status} for {case.describe()}",
            f"{response.status} on {case.family}",
            "no request is answered with a server error (5xx)",
            "documentation version 001 lists only 200 and 422 for this endpoint",
        )


@check(
    "status_code_conformance",
    "Valid 200; malformed agent id 422; unknown agent 404 (no run); bad body 422; "
    "malformed run id 400; unknown run 404.",
)
def status_code_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if response is None or response.status >= 500:
        return  # not_a_server_error owns these
    if case.owner in OWNED_BY_COVERAGE and ctx.enabled(case.owner) and response.status >= 400:
        return  # the acceptance checks report refusals of documented members and values
    if response.status not in case.expected:
        expected = " or ".join(str(s) for s in sorted(case.expected))
        yield Failure(
            f"expected {expected}, got {response.status} for {case.describe()}",
            f"{case.family}: {response.status} instead of {expected}",
            case.rule,
            case.source,
        )
    if case.family == "unknown agent" and response.status == 404:
        listing = ctx.client.send("GET", "/v1/runs/", params={"agent_id": case.agent_id})
        found = listing.response.json() if listing.response is not None else None
        if isinstance(found, list) and found:
            yield Failure(
                f"a 404 for unknown agent {case.agent_id} still left {len(found)} run(s) "
                "listed for it",
                "unknown agent: run created",
                "an unknown agent gets 404 and no run is created",
                f"{SERVER_NAME}: the agent is checked before any run is written",
            )


@check(
    "content_type_conformance",
    "Every answer with a body is JSON (Content-Type application/json) and parses as JSON.",
)
def content_type_conformance(
    ctx: CheckContext, exchange: Exchange, case: Case
) -> Iterator[Failure]:
    response = exchange.response
    if response is None or response.status >= 500 or not response.text:
        return
    media = response.content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        yield Failure(
            f"Content-Type {response.content_type or '(none)'!r} on a {response.status} answer",
            f"content type {media or 'missing'} on {response.status}",
            "answers are application/json",
            "documentation version 001 (every response is `application/json`)",
        )
    elif response.json() is None and response.text.strip() != "null":
        yield Failure(
            f"the {response.status} body is not JSON: {response.text[:120]!r}",
            f"unparseable body on {response.status}",
            "answers are JSON documents",
            "documentation version 001",
        )
