"""Status codes and content types: what every answer must be, whatever its body."""

from __future__ import annotations

from collections.abc import Iterator

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.client import Exchange

OWNED_BY_COVERAGE = (R.UNION, R.ENUMS)


def status_failures(case: Case, status: int, owner: str) -> Iterator[Failure]:
    """The first of ``case``'s expectations owned by check ``owner`` that ``status`` breaks.

    Expectations run from the broadest (a binding rule: 2xx, 4xx) to the narrowest (the exact
    code, often the real server's alone); a narrower one repeats a broken broader one, so
    only the first broken one is reported.
    """
    for item in case.expect:
        if item.allows(status):
            continue
        if item.rule.check == owner:
            yield Failure(
                item.rule,
                f"expected {item.describe()}, got {status} for {case.describe()}",
                f"{case.family}: {status} instead of {item.describe()}",
            )
        return


@check(
    "not_a_server_error",
    "No request, valid or not, is answered with a server error (5xx).",
)
def not_a_server_error(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if response is not None and response.status >= 500:
        yield Failure(
            R.NO_SERVER_ERROR,
            f"{response.status} for {case.describe()}",
            f"{response.status} on {case.family}",
        )


@check(
    "status_code_conformance",
    "Valid bodies 2xx (200); invalid bodies and malformed agent ids 4xx (422); ids that name "
    "no run 4xx; a returned run id retrievable.",
)
def status_code_conformance(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if response is None or response.status >= 500:
        return  # not_a_server_error owns these
    if case.owner in OWNED_BY_COVERAGE and ctx.enabled(case.owner) and response.status >= 400:
        return  # the acceptance checks report refusals of documented members and values
    yield from status_failures(case, response.status, R.STATUS)


@check(
    "content_type_conformance",
    "2xx and 422 answers are application/json; a body labelled JSON parses as JSON.",
)
def content_type_conformance(
    ctx: CheckContext, exchange: Exchange, case: Case
) -> Iterator[Failure]:
    response = exchange.response
    if response is None or response.status >= 500 or not response.text:
        return
    if 300 <= response.status < 400:
        return
    media = response.content_type.split(";", 1)[0].strip().lower()
    is_json = media == "application/json" or media.endswith("+json")
    if not is_json:
        rule = (
            R.JSON_RUN
            if response.status < 300
            else R.JSON_422
            if response.status == 422
            else R.JSON_ERRORS
        )
        yield Failure(
            rule,
            f"Content-Type {response.content_type or '(none)'!r} on a {response.status} answer",
            f"content type {media or 'missing'} on {response.status}",
            excerpt=response.text[:200],
        )
    elif response.json() is None and response.text.strip() != "null":
        yield Failure(
            R.JSON_PARSES,
            f"the {response.status} body is labelled JSON but is not JSON: {response.text[:120]!r}",
            f"unparseable body on {response.status}",
        )
