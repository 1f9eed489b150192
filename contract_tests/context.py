"""What the phases share during one run of the suite: the target, budgets, runs and verdicts.

The engine builds one :class:`SuiteContext` and hands it to each phase in turn. Phases read
and add to it; they never import one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.checks.registry import Check, CheckContext
from letta_contract_kit.contract_tests.client import Client, RunBudget
from letta_contract_kit.contract_tests.config import SuiteConfig
from letta_contract_kit.contract_tests.events import Event, Notice, SuiteResult
from letta_contract_kit.contract_tests.observations import RunBook
from letta_contract_kit.contract_tests.receiver import CallbackReceiver
from letta_contract_kit.contract_tests.strategies import BodyStrategies
from letta_contract_kit.contract_tests.verdicts import Verdicts


class Abort(Exception):
    """The suite cannot go on (the target went away)."""


@dataclass
class Targets:
    """The agents the suite sends to: the one under test, and a second one when it has one."""

    agent_id: str
    agent_id_2: str | None = None
    created: list[str] = field(default_factory=list)  # agents the suite made (deleted at end)


@dataclass
class SuiteContext:
    config: SuiteConfig
    seed: int
    client: Client
    budget: RunBudget
    checks: list[Check]
    result: SuiteResult
    emit: Callable[[Event], None]
    verdicts: Verdicts
    targets: Targets | None = None
    runs: RunBook = field(default_factory=RunBook)
    routes: dict[str, bool] = field(default_factory=dict)
    receiver: CallbackReceiver | None = None
    bodies: BodyStrategies = field(default_factory=BodyStrategies)
    phase: str = "setup"
    pending: dict[str, Case] = field(default_factory=dict)  # divergence probes, by label
    moments: set[str] = field(default_factory=set)  # lifecycle moments seen beyond the runs
    gone: str | None = None
    check_context: CheckContext | None = None

    # ---- what is on ---------------------------------------------------------------------

    def enabled(self, name: str) -> bool:
        return any(c.name == name for c in self.checks)

    def has_route(self, name: str) -> bool:
        """Whether an optional route is there (True until the suite saw it absent)."""
        return self.routes.get(name, True)

    def route_absent(self, name: str, why: str) -> None:
        if self.routes.get(name) is False:
            return
        self.routes[name] = False
        self.notice(f"the target has no {name} route ({why}); the checks that need it are skipped")

    def route_present(self, name: str) -> None:
        self.routes.setdefault(name, True)

    def skip(self, check: str, why: str) -> None:
        """A selected check that could not run, and why (reported, never a failure)."""
        if self.enabled(check) and check not in self.result.skipped:
            self.result.skipped[check] = why

    @property
    def agent_id(self) -> str:
        assert self.targets is not None, "the setup phase resolves the agents first"
        return self.targets.agent_id

    @property
    def agent_id_2(self) -> str | None:
        return self.targets.agent_id_2 if self.targets else None

    def for_checks(self) -> CheckContext:
        if self.check_context is None:
            self.check_context = CheckContext(
                self.config,
                self.agent_id,
                self.agent_id_2,
                frozenset(c.name for c in self.checks),
            )
        return self.check_context

    # ---- telling -------------------------------------------------------------------------

    def notice(self, message: str, level: str = "info") -> None:
        self.result.notices.append(message)
        self.emit(Notice(message, level))

    def error(self, message: str) -> None:
        self.result.errors.append(message)
        self.emit(Notice(message, "error"))

    def out_of_time(self) -> bool:
        left = self.client.seconds_left()
        return left is not None and left <= 0
