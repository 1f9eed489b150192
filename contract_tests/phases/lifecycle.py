"""The run lifecycle: fixed scenarios for every moment a cancel can come, a callback, a second
agent; then a Hypothesis state machine that creates, polls and lists runs in random orders;
then every run the suite created is followed to its end and judged.

The scenarios:

* cancel by id at once, before the run was ever polled (it is `created`; the request does not
  wait for the rate limit's slot);
* cancel by id after one poll (`running`, where the target shows it);
* cancel by id of a run that has ended (nothing may change);
* a cancel without run_ids while the agent has an active run, and while the second agent has
  one too (which it must not touch);
* a cancel without run_ids when the agent has nothing active;
* a run with a callback_url pointing at the suite's receiver (targets on loopback).
"""

from __future__ import annotations

import warnings
from typing import Any

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

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import ANY_ANSWER, cancel_case, expect, positive_case
from letta_contract_kit.contract_tests.checks.cancel import BYSTANDER
from letta_contract_kit.contract_tests.client import BudgetExhausted, DeadlineReached
from letta_contract_kit.contract_tests.context import Abort, SuiteContext
from letta_contract_kit.contract_tests.exchanges import try_case, try_optional
from letta_contract_kit.contract_tests.listings import compare_listing
from letta_contract_kit.contract_tests.observations import RunTrace
from letta_contract_kit.contract_tests.phases import Phase, lifecycle_checks_on
from letta_contract_kit.contract_tests.runs import (
    cancel,
    follow,
    judge_trace,
    look_again,
    retrieve,
    terminal,
)

LONG_BODY = {"input": "Please write a long, detailed plan for my week.", "max_steps": 2}
SHORT_BODY = {"input": "Ping me when you are done, thanks!", "max_steps": 1}


def moment(name: str) -> str:
    return f"lifecycle: {name}"


def create(
    ctx: SuiteContext, body: dict[str, Any], label: str, agent_id: str | None = None
) -> RunTrace | None:
    """A new run (paid from the budget); None when the target did not start one."""
    agent = agent_id or ctx.agent_id
    case = positive_case(body, agent, phase="lifecycle", label=label)
    if case.classification is None or case.classification.verdict.name != "VALID":
        return None
    try:
        exchange, _ = try_case(ctx, case, spend=True)
    except BudgetExhausted:
        return None
    answer = exchange.response.json() if exchange.response is not None else None
    run_id = answer.get("id") if isinstance(answer, dict) else None
    if agent_id is not None and exchange.response is not None and exchange.response.status == 404:
        ctx.notice(f"the second agent {agent_id} answered 404: its checks are skipped")
        if ctx.targets is not None:
            ctx.targets.agent_id_2 = None
    return ctx.runs.get(run_id) if isinstance(run_id, str) else None


def scenarios(ctx: SuiteContext) -> None:
    wanted = ctx.enabled(R.CANCEL_STICKS) or ctx.enabled(R.CANCEL_SCOPE) or ctx.enabled(R.FORWARD)
    if wanted and ctx.has_route("cancel"):
        _cancels_by_id(ctx)
    if ctx.receiver is not None and ctx.config.callbacks and ctx.enabled(R.CALLBACK):
        _, url = ctx.receiver.new_url()
        with_callback = create(
            ctx, {**SHORT_BODY, "callback_url": url}, "a run with a callback_url"
        )
        if with_callback is not None:
            with_callback.roles.add("callback")
    if wanted and ctx.has_route("cancel"):
        _bare_cancel(ctx)


def _cancels_by_id(ctx: SuiteContext) -> None:
    """A run polled once (``running`` where the target shows it), and a witness run; a third
    run cancelled at once, before any poll; the witness looked at (the cancel named only the
    third run); the polled run cancelled while still active."""
    polled = create(ctx, LONG_BODY, "a run cancelled after a poll")
    if polled is not None:
        retrieve(ctx, polled)
    witness = create(ctx, LONG_BODY, "a run no cancel names")
    at_once = create(ctx, LONG_BODY, "a run cancelled at once")
    if at_once is not None:
        at_once.roles.add("cancel-at-once")
        cancel(
            ctx,
            at_once,
            "at once, before any poll",
            urgent=True,
            elements=(moment("cancel before the first poll"),),
        )
    if witness is not None:
        witness.roles.add("witness")
        retrieve(ctx, witness)
    if polled is not None:
        polled.roles.add("cancel-after-poll")
        cancel(ctx, polled, "after a poll", elements=(moment("cancel after a poll"),))


def _bare_cancel(ctx: SuiteContext) -> None:
    """A cancel without run_ids for the first agent while both agents have an active run."""
    bystander = None
    if ctx.agent_id_2 is not None:
        bystander = create(ctx, LONG_BODY, "a run of the second agent", ctx.agent_id_2)
        if bystander is not None:
            bystander.roles.add(BYSTANDER)
    target = create(ctx, LONG_BODY, "a run for a cancel without run_ids")
    if target is None:
        return
    target.roles.add("bare-cancelled")
    sent = cancel(
        ctx,
        target,
        "without run_ids",
        by_id=False,
        urgent=True,
        elements=(moment("cancel without run_ids"),),
    )
    if sent is not None and bystander is not None:
        bystander.roles.add("bystander-of-bare-cancel")


def after_end(ctx: SuiteContext, ended: RunTrace | None) -> None:
    """Cancel an ended run by id (then judge it); then a bare cancel when nothing is active."""
    if ended is not None:
        if terminal(ended) and ctx.has_route("cancel"):
            cancel(ctx, ended, "after the run ended", elements=(moment("cancel after the end"),))
            for _ in range(2):
                retrieve(ctx, ended)
        judge_trace(ctx, ended)
    if not ctx.has_route("cancel"):
        return
    active = [t for t in ctx.runs.of_agent(ctx.agent_id) if not terminal(t)]
    if active or not ctx.has_route("cancel"):
        return
    case = cancel_case(
        ctx.agent_id,
        "without run_ids, nothing active",
        "lifecycle",
        None,
        expect_=(expect(ANY_ANSWER, R.NO_SERVER_ERROR), expect(409, R.CANCEL_NOTHING_409)),
        elements=(moment("cancel with nothing active"),),
    )
    if try_optional(ctx, case, "cancel") is None:
        return
    ctx.moments.add("cancel without run_ids, nothing active")


def run_machine(ctx: SuiteContext) -> None:
    """Drive the state machine for the profile's number of examples and steps."""
    profile = ctx.config.settings
    if ctx.budget.remaining <= 0 and not ctx.runs.unfinished():
        ctx.notice("no run to follow: the budget on runs is spent and none was created")
        return
    test = get_state_machine_test(
        _machine_class(ctx),
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
    seed(ctx.seed)(test)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HypothesisWarning)
            test()
    except DeadlineReached:
        ctx.notice("the overall deadline passed during the lifecycle phase")
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        if ctx.gone:
            raise Abort(ctx.gone) from None
        ctx.notice(f"the lifecycle exploration stopped early: {exc!r:.300}", "error")


def _machine_class(ctx: SuiteContext) -> type[RuleBasedStateMachine]:
    bodies = ctx.bodies.valid_body()

    class RunLifecycle(RuleBasedStateMachine):
        """Each step sends real requests: violations are recorded, not raised (replaying a
        sequence would create more runs on a costly server); its value is in the orders of
        operations it tries."""

        runs = Bundle("runs")

        @initialize(target=runs)
        def adopt_runs(self) -> Any:
            return multiple(*[t.run_id for t in ctx.runs.unfinished()])

        @precondition(lambda self: ctx.budget.remaining > 0)
        @rule(target=runs, body=bodies)
        def create_run(self, body: dict[str, Any]) -> Any:
            trace = create(ctx, body, "a generated valid body")
            return trace.run_id if trace is not None else multiple()

        @rule(run_id=runs)
        def poll(self, run_id: str) -> None:
            trace = ctx.runs.get(run_id)
            if trace is not None and not trace.finished:
                retrieve(ctx, trace)

        @rule(run_id=runs)
        def compare_with_listing(self, run_id: str) -> None:
            trace = ctx.runs.get(run_id)
            if trace is not None and ctx.enabled(R.RETRIEVE_LIST) and ctx.has_route("run listing"):
                compare_listing(ctx, trace)

    RunLifecycle.TestCase.settings = settings(deadline=None)
    return RunLifecycle


def run(ctx: SuiteContext) -> None:
    # The runs of the earlier phases end first, so that the cancels below meet only the runs
    # they are about (a cancel without run_ids may end every active run of the agent).
    # One of them, once ended, is cancelled again at the end (and judged after that).
    earlier = list(ctx.runs.unfinished())
    ended = earlier[0] if earlier else None
    for trace in earlier:
        follow(ctx, trace, judge=trace is not ended)
    scenarios(ctx)
    run_machine(ctx)
    for trace in list(ctx.runs.unfinished()):
        follow(ctx, trace)
    after_end(ctx, ended)
    look_again(ctx)


PHASE = Phase(
    "lifecycle",
    "runs followed to their end: cancels at every moment, callbacks, two agents (stateful)",
    run,
    lifecycle_checks_on,
)
