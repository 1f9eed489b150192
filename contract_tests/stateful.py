"""The run lifecycle as a Hypothesis state machine: create, poll, list, cancel, in any order.

Each step sends real requests, so the machine records violations instead of raising them
(replaying a sequence would create more runs on a costly server); its value is in the
orders of operations it tries. Every run it touches is followed to its end by the engine.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Verbosity, seed, settings
from hypothesis.errors import HypothesisWarning
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    multiple,
    precondition,
    rule,
)

from contract_tests.client import BudgetExhausted, DeadlineReached

if TYPE_CHECKING:
    from contract_tests.engine import Engine


def run_lifecycle(engine: Engine) -> None:
    """Drive the machine for the profile's number of examples and steps."""
    profile = engine.config.settings
    has_runs = any(not t.finished for t in engine.traces.values())
    if engine.budget.remaining <= 0 and not has_runs:
        engine.notice("no run to follow: the budget on runs is spent and none was created")
        return
    machine = _machine_class(engine)
    # Hypothesis starts from its simplest example, a machine that takes no step: insist on a
    # few steps so that even a one-example profile exercises the rules.
    test = get_state_machine_test(
        machine,
        _min_steps=min(4, profile.lifecycle_steps),
        settings=settings(
            max_examples=profile.lifecycle_examples,
            stateful_step_count=profile.lifecycle_steps,
            deadline=None,
            database=None,
            verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck),
        ),
    )
    seed(engine.seed)(test)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HypothesisWarning)
            test()
    except DeadlineReached:
        engine.notice("the overall deadline passed during the lifecycle phase")
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        if engine.gone:
            from contract_tests.engine import Abort

            raise Abort(engine.gone) from None
        engine.notice(f"the lifecycle exploration stopped early: {exc!r:.300}", "error")


def _machine_class(engine: Engine) -> type[RuleBasedStateMachine]:
    bodies = engine.bodies.valid_body()

    class RunLifecycle(RuleBasedStateMachine):
        runs = Bundle("runs")

        @initialize(target=runs)
        def adopt_runs(self) -> Any:
            """Runs created by the earlier phases are followed too."""
            return multiple(*[t.run_id for t in engine.traces.values() if not t.finished])

        @initialize(target=runs)
        def cancel_a_new_run(self) -> Any:
            if not engine.enabled("cancel_sticks") or engine.special_runs["cancel"] >= 1:
                return multiple()
            engine.special_runs["cancel"] += 1
            body = {"input": "Please write a long, detailed plan for my week.", "max_steps": 2}
            trace = _create(engine, body, "a run cancelled at once")
            if trace is None:
                return multiple()
            engine.cancel(trace)
            return trace.run_id

        @initialize(target=runs)
        def run_with_callback(self) -> Any:
            receiver = engine.receiver
            wanted = engine.config.callbacks and engine.enabled("callback_delivered")
            if receiver is None or not wanted or engine.special_runs["callback"] >= 1:
                return multiple()
            engine.special_runs["callback"] += 1
            _, url = receiver.new_url()
            body = {
                "input": "Ping me when you are done, thanks!",
                "max_steps": 1,
                "callback_url": url,
            }
            trace = _create(engine, body, "a run with a callback_url")
            return trace.run_id if trace is not None else multiple()

        @precondition(lambda self: engine.budget.remaining > 0)
        @rule(target=runs, body=bodies)
        def create(self, body: dict[str, Any]) -> Any:
            trace = _create(engine, body, "a generated valid body")
            return trace.run_id if trace is not None else multiple()

        @rule(run_id=runs)
        def poll(self, run_id: str) -> None:
            trace = engine.traces.get(run_id)
            if trace is not None and not trace.finished:
                engine.retrieve(trace)

        @rule(run_id=runs)
        def compare_with_listing(self, run_id: str) -> None:
            trace = engine.traces.get(run_id)
            if trace is not None and engine.enabled("retrieve_matches_listing"):
                engine.compare_listing(trace)

    RunLifecycle.TestCase.settings = settings(deadline=None)
    return RunLifecycle


def _create(engine: Engine, body: dict[str, Any], label: str) -> Any:
    try:
        return engine.create_run(body, label)
    except BudgetExhausted:
        return None
