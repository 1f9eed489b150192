"""Runs the suite: the set-up, then each phase over one shared context, then the clean-up.

The engine never prints. It emits :mod:`letta_contract_kit.contract_tests.events` to its listeners and returns
a :class:`SuiteResult` whose ``exit_code`` is 0 (conforming), 1 (violations) or 2 (usage or
connection errors).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from letta_contract_kit.contract_tests import coverage
from letta_contract_kit.contract_tests.checks.selection import UnknownCheck, select
from letta_contract_kit.contract_tests.cleanup import clean_up
from letta_contract_kit.contract_tests.client import (
    Client,
    DeadlineReached,
    RunBudget,
    TargetUnreachable,
    is_loopback,
)
from letta_contract_kit.contract_tests.config import SuiteConfig
from letta_contract_kit.contract_tests.context import Abort, SuiteContext
from letta_contract_kit.contract_tests.events import (
    Event,
    Listener,
    PhaseFinished,
    PhaseStarted,
    SuiteFinished,
    SuiteResult,
    SuiteStarted,
)
from letta_contract_kit.contract_tests.phases import Phase
from letta_contract_kit.contract_tests.phases.order import PHASES
from letta_contract_kit.contract_tests.phases.setup import first_run, probe_target, resolve_agents
from letta_contract_kit.contract_tests.receiver import CallbackReceiver
from letta_contract_kit.contract_tests.redaction import Redactor
from letta_contract_kit.contract_tests.replay import replay_options
from letta_contract_kit.contract_tests.strategies import BodyStrategies
from letta_contract_kit.contract_tests.verdicts import Verdicts


class Engine:
    """One run of the suite against one target."""

    def __init__(self, config: SuiteConfig, listeners: Sequence[Listener] = ()) -> None:
        self.config = config
        self.listeners = list(listeners)
        self.seed = config.seed if config.seed is not None else random.randrange(2**31)
        self.redactor = Redactor([config.token, *_secret_headers(config.extra_headers)])

    def emit(self, event: Event) -> None:
        """Tell the listeners, with the secrets taken out (the one place that does it)."""
        shown = self.redactor.scrub(event)
        for listener in self.listeners:
            listener(shown)

    def run(self) -> SuiteResult:
        started = time.monotonic()
        result = SuiteResult(self.config.base_url, self.config.profile, self.seed, ())
        try:
            checks = select(self.config.checks, self.config.skip_checks)
        except UnknownCheck as exc:
            result.errors.append(str(exc))
            self.emit(SuiteFinished(result))
            return result
        result.checks = tuple(c.name for c in checks)
        ctx = SuiteContext(
            config=self.config,
            seed=self.seed,
            client=Client(
                self.config.base_url,
                token=self.config.token,
                timeout=self.config.timeout,
                rate_limit=self.config.rate_limit,
                retries_on_429=self.config.retries_on_429,
                deadline=started + self.config.overall_deadline,
                extra_headers=self.config.extra_headers,
                max_response_bytes=self.config.max_response_bytes,
            ),
            budget=RunBudget(0 if self.config.negative_only else self.config.run_budget),
            checks=checks,
            result=result,
            emit=self.emit,
            verdicts=Verdicts(self.seed, self.emit),
        )
        self.emit(
            SuiteStarted(
                self.config.base_url,
                self.config.profile,
                self.seed,
                result.checks,
                ctx.budget.limit,
            )
        )
        warning = self.redactor.warning()
        if warning:
            ctx.notice(warning, "warning")
        try:
            if probe_target(ctx) and resolve_agents(ctx):
                with _receiver(ctx):
                    if first_run(ctx):
                        planned = [phase for phase in PHASES if _wanted(ctx, phase)]
                        for number, phase in enumerate(planned, 1):
                            if ctx.out_of_time():
                                ctx.notice(
                                    f"the overall deadline passed before the {phase.name} phase"
                                )
                                break
                            _run_phase(ctx, phase, number, len(planned))
        except Abort as exc:
            ctx.error(str(exc))
        except TargetUnreachable as exc:
            ctx.error(f"cannot reach the target: {exc}")
        except DeadlineReached:
            ctx.error("the overall deadline passed during the set-up, before anything was checked")
        except KeyboardInterrupt:
            result.interrupted = True
            ctx.notice("interrupted: the runs created so far are cancelled and reported")
        finally:
            if ctx.targets is not None:
                with suppress(Abort, TargetUnreachable, DeadlineReached):
                    clean_up(ctx)
        return self._finish(ctx, started)

    def _finish(self, ctx: SuiteContext, started: float) -> SuiteResult:
        result = ctx.result
        ctx.verdicts.announce()
        result.violations = ctx.verdicts.sorted_violations()
        result.divergences = ctx.verdicts.all_divergences()
        result.findings = list(ctx.verdicts.findings)
        for line in ctx.verdicts.unlisted_findings():
            ctx.notice(line)
        result.routes = dict(ctx.routes)
        result.seconds = time.monotonic() - started
        result.requests = ctx.client.requests_sent
        result.runs_created = len(ctx.budget.created)
        result.replay = replay_options(self.config, self.seed, ctx.targets)
        result.coverage = coverage.table(
            coverage.from_log(ctx.client.log), ctx.runs.traces.values(), ctx.moments
        )
        ctx.client.close()
        shown = self.redactor.scrub(result)
        self.emit(SuiteFinished(shown))
        return shown


SECRET_HEADER_WORDS = ("auth", "token", "key", "secret", "cookie", "password")


def _secret_headers(headers: dict[str, str]) -> list[str]:
    """Values of extra headers whose names say they carry a credential."""
    found: list[str] = []
    for name, value in headers.items():
        if any(word in name.lower() for word in SECRET_HEADER_WORDS):
            found.append(value.split(" ", 1)[1] if " " in value else value)
    return found


@contextmanager
def _receiver(ctx: SuiteContext) -> Iterator[None]:
    """On loopback, a receiver for callbacks that also serves the image URL images point at
    (so the target never fetches from the internet)."""
    wanted = (
        ctx.config.callbacks and not ctx.config.negative_only and ctx.enabled("callback_delivered")
    )
    if is_loopback(ctx.config.base_url) and not ctx.config.negative_only:
        ctx.receiver = CallbackReceiver("127.0.0.1")
        ctx.receiver.start()
    elif wanted:
        ctx.notice(
            "callbacks are not checked: the target is not on loopback, so it cannot reach "
            "a receiver the suite runs"
        )
        ctx.skip("callback_delivered", "the target is not on loopback")
    ctx.bodies = BodyStrategies(
        ctx.receiver.image_url if ctx.receiver else "https://images.letta-contract.invalid/cat.png"
    )
    try:
        yield
    finally:
        if ctx.receiver is not None:
            ctx.receiver.close()


def _wanted(ctx: SuiteContext, phase: Phase) -> bool:
    """Whether the phase runs: the checks chosen need it, and it may send what it sends."""
    if not phase.needed(ctx):
        return False
    return not (ctx.config.negative_only and phase.sends_runs and phase.name != "coverage")


def _run_phase(ctx: SuiteContext, phase: Phase, number: int, of: int) -> None:
    ctx.phase = phase.name
    ctx.emit(PhaseStarted(phase.name, phase.description, number, of))
    began, cases_before = time.monotonic(), ctx.result.cases
    try:
        phase.run(ctx)
    except DeadlineReached:
        ctx.notice(f"the overall deadline passed during the {phase.name} phase")
    seconds = time.monotonic() - began
    ctx.result.phases[phase.name] = seconds
    ctx.verdicts.announce()
    ctx.emit(PhaseFinished(phase.name, ctx.result.cases - cases_before, seconds))


def run_suite(config: SuiteConfig, listeners: Sequence[Listener] = ()) -> SuiteResult:
    """Run the suite once; the result's ``exit_code`` says how it went."""
    return Engine(config, listeners).run()
