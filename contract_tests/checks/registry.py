"""The checks registry: small named functions, registered by decorator.

A check is ``check(ctx, exchange, case)`` (kind ``response``: judged on every answer) or
``check(ctx, trace)`` (kind ``run``: judged on everything seen of one run). It yields a
:class:`Failure` for each way one of its rules does not hold (nothing when it holds). Each
failure names the :class:`~contract_tests.provenance.Rule` it breaks, and the rule's source
decides whether the failure is a violation or a divergence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from letta_contract_kit.contract_tests.provenance import Rule

if TYPE_CHECKING:
    from letta_contract_kit.contract_tests.cases import Case
    from letta_contract_kit.contract_tests.client import Exchange
    from letta_contract_kit.contract_tests.config import SuiteConfig
    from letta_contract_kit.contract_tests.observations import RunTrace

Kind = Literal["response", "run"]


@dataclass(frozen=True)
class Failure:
    """One way a rule does not hold. ``cause`` tells failures of one rule apart;
    ``excerpt`` is the part of the answer that shows it (the run in question, say)."""

    rule: Rule
    message: str
    cause: str
    evidence: Exchange | None = None
    excerpt: Any = None


@dataclass
class CheckContext:
    """What checks may use besides the exchange: the config and the target's agents."""

    config: SuiteConfig
    agent_id: str
    agent_id_2: str | None = None
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

    @property
    def rules(self) -> tuple[Rule, ...]:
        from letta_contract_kit.contract_tests.rules import catalogue

        return catalogue().get(self.name, ())

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
