"""Hypothesis-driven exploration: send generated cases; a violation makes Hypothesis shrink
the request that showed it, so the one reported is the smallest found."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning, Unsatisfiable

from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.client import BudgetExhausted, DeadlineReached
from letta_contract_kit.contract_tests.context import Abort, SuiteContext
from letta_contract_kit.contract_tests.exchanges import try_case, violations_in

T = TypeVar("T")
SHRINK_REQUESTS = 40


class ContractViolation(AssertionError):
    """Raised inside a Hypothesis test so that it shrinks the request that broke a rule."""


_FAILURE_TYPES: dict[tuple[str, str], type[ContractViolation]] = {}


def _failure_type(check: str, cause: str) -> type[ContractViolation]:
    key = (check, cause)
    if key not in _FAILURE_TYPES:
        _FAILURE_TYPES[key] = type(f"Violation{len(_FAILURE_TYPES)}", (ContractViolation,), {})
    return _FAILURE_TYPES[key]


def hypothesis_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, examples),
        deadline=None,
        database=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        report_multiple_bugs=True,
        print_blob=False,
    )


def explore(
    ctx: SuiteContext,
    strategy: st.SearchStrategy[T],
    to_case: Callable[[T], Case | None],
    examples: int,
    *,
    spend: bool = False,
) -> None:
    """Send ``examples`` generated cases; a violation makes Hypothesis shrink its request."""
    state = {"failed": False, "after": 0}

    @hypothesis_settings(examples)
    @given(strategy)
    def test(drawn: T) -> None:
        if ctx.out_of_time():
            return
        if state["failed"]:
            state["after"] += 1
            if state["after"] > SHRINK_REQUESTS:
                return
        case = to_case(drawn)
        if case is None:
            return
        try:
            _, failures = try_case(ctx, case, spend=spend)
        except BudgetExhausted:
            reject()
        except DeadlineReached:
            return
        found = violations_in(failures)
        if found:
            state["failed"] = True
            check, failure = found[0]
            raise _failure_type(check.name, failure.cause)(failure.message)

    seed(ctx.seed)(test)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HypothesisWarning)
            test()
    except Abort:
        raise
    except Unsatisfiable:
        pass
    except BaseException as exc:  # Hypothesis reports what it found; we have it already
        if isinstance(exc, KeyboardInterrupt):
            raise
        if ctx.gone:
            raise Abort(ctx.gone) from None
        if not _only_ours(exc):
            ctx.notice(f"the exploration stopped early: {exc!r:.300}", "error")


def _only_ours(exc: BaseException) -> bool:
    if isinstance(exc, ContractViolation):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_ours(e) for e in exc.exceptions)
    cause = exc.__cause__ or exc.__context__
    return type(exc).__name__ in ("Flaky", "FlakyFailure") and (cause is None or _only_ours(cause))
