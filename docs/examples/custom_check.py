"""A check of your own, registered beside the suite's."""

from collections.abc import Iterator

from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.client import Exchange
from letta_contract_kit.contract_tests.provenance import Rule, shared

NOT_CACHED = Rule(
    "not-cached",
    "no_cache_header",
    "Run answers are not cacheable",
    shared("our team's rule: clients poll, so no answer may be cached"),
)


@check("no_cache_header", "Run answers are not cacheable.")
def no_cache_header(ctx: CheckContext, exchange: Exchange, case: Case) -> Iterator[Failure]:
    response = exchange.response
    if response is not None and "max-age" in response.headers.get("cache-control", ""):
        yield Failure(NOT_CACHED, "a Run answer is cacheable", "cacheable")
