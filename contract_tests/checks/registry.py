"""The registry of named checks.

A check is a small function with a name and a one-line purpose, registered with a decorator.
Response checks look at one request and its answer; run checks look at everything seen of
one run. Both yield :class:`Failure` items (nothing when the check holds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from contract_tests.cases import Case
    from contract_tests.client import Client, Exchange, RunBudget
    from contract_tests.config import SuiteConfig
    from contract_tests.observations import RunTrace

Kind = Literal["response", "run"]


@dataclass(frozen=True)
class Failure:
    """One way a check does not hold. ``cause`` tells failures of one check apart."""

    message: str
    cause: str
    rule: str
    source: str
    evidence: Exchange | None = None


@dataclass
class CheckContext:
    """What checks may use besides the exchange: the client, the config, the target's agent."""

    client: Client
    config: SuiteConfig
    agent_id: str
    budget: RunBudget
    selected: frozenset[str] = frozenset()
    notes: dict[str, Any] = field(default_factory=dict)

    def enabled(self, name: str) -> bool:
        return name in self.selected


ResponseCheck = Callable[["CheckContext", "Exchange", "Case"], Iterable[Failure]]
RunCheck = Callable[["CheckContext", "RunTrace"], Iterable[Failure]]


@dataclass(frozen=True)
class Check:
    name: str
    purpose: str
    kind: Kind
    func: Callable[..., Iterable[Failure]]
    phases: tuple[str, ...]

    def run_on_response(self, ctx: CheckContext, exchange: Exchange, case: Case) -> list[Failure]:
        return list(self.func(ctx, exchange, case))

    def run_on_trace(self, ctx: CheckContext, trace: RunTrace) -> list[Failure]:
        return list(self.func(ctx, trace))


REGISTRY: dict[str, Check] = {}


def check(
    name: str, purpose: str, *, kind: Kind = "response", phases: tuple[str, ...] = ()
) -> Callable[[Callable[..., Iterable[Failure]]], Callable[..., Iterable[Failure]]]:
    """Register a check under ``name``; ``phases`` are the phases that need it to run."""

    def register(func: Callable[..., Iterable[Failure]]) -> Callable[..., Iterable[Failure]]:
        if name in REGISTRY:
            raise ValueError(f"a check named {name!r} is already registered")
        REGISTRY[name] = Check(name, purpose, kind, func, phases)
        return func

    return register


def all_checks() -> dict[str, Check]:
    """Every registered check, by name, in registration order."""
    from contract_tests.checks import (
        callbacks,  # noqa: F401
        enums,  # noqa: F401
        lifecycle,  # noqa: F401
        shape,  # noqa: F401
        status,  # noqa: F401
    )

    order = ("status", "shape", "enums", "lifecycle", "callbacks")
    ranked = sorted(
        enumerate(REGISTRY.values()),
        key=lambda item: (
            order.index(item[1].func.__module__.rsplit(".", 1)[-1])
            if item[1].func.__module__.rsplit(".", 1)[-1] in order
            else len(order),
            item[0],
        ),
    )
    return {c.name: c for _, c in ranked}


class UnknownCheck(ValueError):
    pass


def select(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[Check]:
    """The checks to run: ``only`` (all when empty) minus ``skip``; unknown names raise."""
    known = all_checks()
    only, skip = list(only), list(skip)
    unknown = [n for n in (*only, *skip) if n not in known]
    if unknown:
        raise UnknownCheck(f"unknown check(s): {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = only or list(known)
    return [known[n] for n in chosen if n not in skip]


def response_checks(checks: Iterable[Check]) -> Iterator[Check]:
    return (c for c in checks if c.kind == "response")


def run_checks(checks: Iterable[Check]) -> Iterator[Check]:
    return (c for c in checks if c.kind == "run")
