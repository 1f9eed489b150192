"""Runs the suite: phases of cases, checks on every answer, events for the reporters.

The engine never prints. It emits :mod:`contract_tests.events` to its listeners and returns
a :class:`SuiteResult` whose ``exit_code`` is 0 (conforming), 1 (violations) or 2 (usage or
connection errors).
"""

from __future__ import annotations

import json
import random
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, Verbosity, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning, Unsatisfiable

from contract_tests.cases import (
    Case,
    CoverageGroup,
    async_path,
    coverage_groups,
    divergence_why,
    doc_reference,
    id_verdict,
    negative_case,
    negative_families,
    positive_case,
    problems_text,
    run_path,
)
from contract_tests.checks.registry import Check, CheckContext, Failure, UnknownCheck, select
from contract_tests.client import (
    BudgetExhausted,
    Client,
    DeadlineReached,
    Exchange,
    RequestTimedOut,
    RunBudget,
    TargetUnreachable,
    is_loopback,
)
from contract_tests.config import SuiteConfig
from contract_tests.events import (
    CaseFinished,
    Divergence,
    DivergenceFound,
    Event,
    Listener,
    Notice,
    PhaseFinished,
    PhaseStarted,
    SuiteFinished,
    SuiteResult,
    SuiteStarted,
    Violation,
    ViolationFound,
)
from contract_tests.observations import ListingProbe, RunTrace
from contract_tests.receiver import CallbackReceiver
from contract_tests.strategies import BodyStrategies, agent_ids, mutated_ids, run_ids
from schemas import Verdict
from schemas.contract import AGENT_ID, TERMINAL_STATUSES
from schemas.versions import describe

T = TypeVar("T")
SHRINK_REQUESTS = 40
LIST_LIMIT = 100
PHASES = ("negative", "coverage", "positive", "lifecycle", "divergence")
AGENT_PREFIXES = ("agents", "tool", "run", "Agent", "user")
RUN_PREFIXES = ("runs", "step", "agent", "task")


class ContractViolation(AssertionError):
    """Raised inside a Hypothesis test so that it shrinks the request that broke a check."""


class Abort(Exception):
    """The suite cannot go on (the target went away)."""


def _hypothesis_settings(examples: int) -> settings:
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


class Engine:
    """One run of the suite against one target."""

    def __init__(self, config: SuiteConfig, listeners: Sequence[Listener] = ()) -> None:
        self.config = config
        self.listeners = list(listeners)
        self.seed = config.seed if config.seed is not None else random.randrange(2**31)
        self.result = SuiteResult(config.base_url, config.profile, self.seed, ())
        self._violations: dict[tuple[str, str], Violation] = {}
        self._announced: set[tuple[str, str]] = set()
        self._failure_types: dict[tuple[str, str], type[ContractViolation]] = {}
        self._divergences: dict[str, Divergence] = {}
        self.traces: dict[str, RunTrace] = {}
        self.receiver: CallbackReceiver | None = None
        self.checks: list[Check] = []
        self._phase = "setup"
        self.special_runs = {"cancel": 0, "callback": 0}
        self._pending_probes: dict[str, Case] = {}
        self.gone: str | None = None
        self._why: dict[str, str] = {}

    # ---- plumbing ------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def notice(self, message: str, level: str = "info") -> None:
        self.result.notices.append(message)
        self.emit(Notice(message, level))

    def error(self, message: str) -> None:
        self.result.errors.append(message)
        self.emit(Notice(message, "error"))

    def enabled(self, name: str) -> bool:
        return any(c.name == name for c in self.checks)

    def phase_needed(self, phase: str) -> bool:
        if phase == "lifecycle":
            return any(phase in c.phases for c in self.checks)
        return any(c.kind == "response" for c in self.checks)

    # ---- the run -------------------------------------------------------------------------

    def run(self) -> SuiteResult:
        started = time.monotonic()
        try:
            self.checks = select(self.config.checks, self.config.skip_checks)
        except UnknownCheck as exc:
            self.error(str(exc))
            return self._finish(started)
        self.result.checks = tuple(c.name for c in self.checks)
        self.client = Client(
            self.config.base_url,
            token=self.config.token,
            timeout=self.config.timeout,
            rate_limit=self.config.rate_limit,
            retries_on_429=self.config.retries_on_429,
            deadline=started + self.config.overall_deadline,
            extra_headers=self.config.extra_headers,
        )
        self.budget = RunBudget(0 if self.config.negative_only else self.config.run_budget)
        self.emit(
            SuiteStarted(
                self.config.base_url,
                self.config.profile,
                self.seed,
                self.result.checks,
                self.budget.limit,
            )
        )
        created_agent: str | None = None
        try:
            agent_id, created_agent = self._resolve_agent()
            if agent_id is None:
                return self._finish(started)
            self.ctx = CheckContext(
                self.client, self.config, agent_id, self.budget, frozenset(self.result.checks)
            )
            with self._receiver():
                self.bodies = BodyStrategies(
                    self.receiver.image_url if self.receiver else "https://example.com/cat.png"
                )
                for phase in PHASES:
                    if self._out_of_time():
                        self.notice(f"the overall deadline passed before the {phase} phase")
                        break
                    self._run_phase(phase)
        except Abort as exc:
            self.error(str(exc))
        except TargetUnreachable as exc:
            self.error(f"cannot reach the target: {exc}")
        finally:
            if hasattr(self, "ctx"):
                self._cleanup(created_agent)
        return self._finish(started)

    def _finish(self, started: float) -> SuiteResult:
        self._announce()
        self.result.violations = sorted(self._violations.values(), key=lambda v: v.key)
        self.result.divergences = list(self._divergences.values())
        self.result.seconds = time.monotonic() - started
        if hasattr(self, "client"):
            self.result.requests = self.client.requests_sent
            self.client.close()
        if hasattr(self, "budget"):
            self.result.runs_created = len(self.budget.created)
        self.emit(SuiteFinished(self.result))
        return self.result

    def _out_of_time(self) -> bool:
        left = self.client.seconds_left()
        return left is not None and left <= 0

    @contextmanager
    def _receiver(self) -> Iterator[None]:
        wanted = (
            self.config.callbacks
            and not self.config.negative_only
            and self.enabled("callback_delivered")
        )
        # On loopback the receiver also serves the image URL images point at, so the target
        # never has to fetch from the internet.
        if is_loopback(self.config.base_url) and not self.config.negative_only:
            self.receiver = CallbackReceiver("127.0.0.1")
            self.receiver.start()
        elif wanted:
            self.notice(
                "callbacks are not checked: the target is not on loopback, so it cannot reach "
                "a receiver the suite runs"
            )
        try:
            yield
        finally:
            if self.receiver is not None:
                self.receiver.close()

    def _run_phase(self, phase: str) -> None:
        if not self.phase_needed(phase):
            return
        if self.config.negative_only and phase not in ("negative", "divergence"):
            return
        self._phase = phase
        descriptions = {
            "negative": "requests the contract rejects (no run is created)",
            "coverage": "every union member, content part, image source and enum value",
            "positive": "generated valid bodies",
            "lifecycle": "runs followed to their end (stateful)",
            "divergence": "inputs the documentation and the real server judge differently",
        }
        self.emit(PhaseStarted(phase, descriptions[phase]))
        began, cases_before = time.monotonic(), self.result.cases
        try:
            getattr(self, f"_phase_{phase}")()
        except DeadlineReached:
            self.notice(f"the overall deadline passed during the {phase} phase")
        seconds = time.monotonic() - began
        self.result.phases[phase] = seconds
        self._announce()
        self.emit(PhaseFinished(phase, self.result.cases - cases_before, seconds))

    # ---- agent ---------------------------------------------------------------------------

    def _resolve_agent(self) -> tuple[str | None, str | None]:
        try:
            health = self.client.send("GET", "/v1/health/")
        except RequestTimedOut:
            self.error(
                f"the target did not answer GET /v1/health/ within {self.config.timeout:g} s"
            )
            return None, None
        if health.response is not None and health.response.status in (401, 403):
            self.error("the target refused the credentials (401/403): check --token")
            return None, None
        if self.config.agent_id:
            agent_id = self.config.agent_id
            if not AGENT_ID.fullmatch(agent_id):
                self.error(f"--agent-id {agent_id!r} is not an 'agent-<uuid4>' id")
                return None, None
            found = self.client.send("GET", f"/v1/agents/{agent_id}")
            status = found.response.status if found.response is not None else None
            if status in (401, 403):
                self.error(f"the target refused the credentials ({status}): check --token")
                return None, None
            if status == 404:
                self.error(f"the target has no agent {agent_id} (GET /v1/agents/{{id}}: 404)")
                return None, None
            if status != 200:
                self.notice(f"GET /v1/agents/{agent_id} answered {status}; going on anyway")
            return str(agent_id), None
        body = {
            "name": f"letta-contract-suite-{self.seed}",
            "description": "Created by the letta-contract suite; safe to delete.",
            "tags": ["letta-contract-suite"],
        }
        answer = self.client.send("POST", "/v1/agents/", json_body=body)
        created = answer.response.json() if answer.response is not None else None
        if (
            answer.response is None
            or answer.response.status != 200
            or not isinstance(created, dict)
        ):
            answered = str(answer.response.status) if answer.response else "nothing"
            detail = created.get("detail") if isinstance(created, dict) else None
            self.error(
                f"no --agent-id given and the suite could not create an agent: POST /v1/agents/ "
                f"answered {answered}{f' ({detail})' if detail else ''}. Pass --agent-id with an "
                "existing agent."
            )
            return None, None
        agent_id = str(created.get("id"))
        if not AGENT_ID.fullmatch(agent_id):
            self.error(
                f"POST /v1/agents/ returned an agent id that is not 'agent-<uuid4>': {agent_id!r}"
            )
            return None, None
        self.notice(f"created agent {agent_id} for this run (deleted at the end)")
        return agent_id, agent_id

    # ---- sending and judging -------------------------------------------------------------

    def send(self, case: Case, *, spend: bool = False) -> Exchange:
        if spend:
            self.budget.spend()
        kwargs: dict[str, Any] = {}
        if case.has_body:
            kwargs["json_body"] = case.body
        try:
            exchange = self.client.send(case.method, case.path, **kwargs)
        except RequestTimedOut as exc:
            exchange = exc.exchange
        except TargetUnreachable as exc:
            if spend:
                self.budget.refund()
            self.gone = f"the target stopped answering: {exc}"
            raise Abort(self.gone) from None
        self.result.cases += 1
        run = self._created_run(exchange, case)
        status = exchange.response.status if exchange.response else None
        self.emit(CaseFinished(self._phase, case.describe(), status, status in case.expected))
        if spend and run is None:
            self.budget.refund()
        elif spend and run is not None and run["id"] not in self.traces:
            self._adopt(run, case, exchange)
        return exchange

    def _created_run(self, exchange: Exchange, case: Case) -> dict[str, Any] | None:
        response = exchange.response
        if not case.may_create_run or response is None or not 200 <= response.status < 300:
            return None
        run = response.json()
        if not isinstance(run, dict) or not isinstance(run.get("id"), str):
            return None
        self.budget.record(run["id"], case.agent_id or self.ctx.agent_id)
        return run

    def judge(self, exchange: Exchange, case: Case) -> list[tuple[Check, Failure]]:
        found: list[tuple[Check, Failure]] = []
        for check in self.checks:
            if check.kind != "response":
                continue
            try:
                failures = check.run_on_response(self.ctx, exchange, case)
            except (TargetUnreachable, DeadlineReached):
                raise
            except Exception as exc:  # a check must not take the suite down
                self.notice(f"check {check.name} crashed on {case.describe()}: {exc!r}", "error")
                continue
            for failure in failures:
                self.record(check, failure, case, exchange)
                found.append((check, failure))
        return found

    def record(
        self,
        check: Check,
        failure: Failure,
        case: Case | None,
        exchange: Exchange | None,
        history: tuple[str, ...] = (),
    ) -> None:
        shown = failure.evidence or exchange
        violation = Violation(
            check=check.name,
            purpose=check.purpose,
            message=failure.message,
            cause=failure.cause,
            rule=failure.rule,
            source=failure.source,
            phase=self._phase,
            case=case.describe() if case else "",
            seed=self.seed,
            request=shown.request.as_dict() if shown else None,
            response=shown.response.as_dict() if shown and shown.response else None,
            curl=shown.curl() if shown else None,
            history=history,
        )
        old = self._violations.get(violation.key)
        if old is None or _size(violation) < _size(old):
            self._violations[violation.key] = violation

    def _announce(self) -> None:
        for key, violation in self._violations.items():
            if key not in self._announced:
                self._announced.add(key)
                self.emit(ViolationFound(violation))

    def _failure_type(self, check: str, cause: str) -> type[ContractViolation]:
        key = (check, cause)
        if key not in self._failure_types:
            name = f"Violation{len(self._failure_types)}"
            self._failure_types[key] = type(name, (ContractViolation,), {})
        return self._failure_types[key]

    def divergence(self, case: Case, exchange: Exchange | None) -> None:
        if case.classification is None or case.label in self._divergences:
            return
        documented, server = problems_text(case.classification)
        status = exchange.response.status if exchange and exchange.response else None
        accepted = status is not None and 200 <= status < 300
        verdict = case.classification.verdict
        if status is None:
            sides = "not sent"
        elif accepted == (verdict is Verdict.DOCUMENTED_ONLY):
            sides = "documented"
        else:
            sides = "server"
        self._divergences[case.label] = Divergence(
            case=case.describe(),
            verdict=verdict.value,
            documented=documented,
            server=server,
            why=self._why.get(case.label) or divergence_why(case.classification),
            observed_status=status,
            sides_with=sides,
            curl=exchange.curl() if exchange else None,
        )
        self.emit(DivergenceFound(self._divergences[case.label]))

    # ---- Hypothesis-driven exploration ---------------------------------------------------

    def explore(
        self,
        strategy: st.SearchStrategy[T],
        to_case: Callable[[T], Case | None],
        examples: int,
        *,
        spend: bool = False,
    ) -> None:
        """Send ``examples`` generated cases; a failure makes Hypothesis shrink its request."""
        state = {"failed": False, "after": 0}

        @_hypothesis_settings(examples)
        @given(strategy)
        def test(drawn: T) -> None:
            if self._out_of_time():
                return
            if state["failed"]:
                state["after"] += 1
                if state["after"] > SHRINK_REQUESTS:
                    return
            case = to_case(drawn)
            if case is None:
                return
            try:
                exchange = self.send(case, spend=spend)
            except BudgetExhausted:
                reject()
            except DeadlineReached:
                return
            failures = self.judge(exchange, case)
            if failures:
                state["failed"] = True
                check, failure = failures[0]
                raise self._failure_type(check.name, failure.cause)(failure.message)

        seed(self.seed)(test)
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
            if self.gone:
                raise Abort(self.gone) from None
            if not _only_ours(exc):
                self.notice(f"the exploration stopped early: {exc!r:.300}", "error")

    # ---- phases --------------------------------------------------------------------------

    def _phase_negative(self) -> None:
        examples = self.config.settings.negative_examples
        agent = self.ctx.agent_id
        simple = {"input": "Hello! Just checking in.", "max_steps": 1}
        for case in _fixture_negatives(agent) if self.config.use_fixtures else []:
            if self._out_of_time():
                return
            self.judge(self.send(case), case)

        def bad_agent(drawn: tuple[str, str]) -> Case | None:
            label, value = drawn
            verdict = id_verdict("agent-id", value)
            case = Case(
                "negative",
                "malformed agent id",
                f"{label}: {value!r}",
                "POST",
                async_path(quote(value, safe="")),
                frozenset({422}),
                "a malformed agent id in the path is answered 422",
                doc_reference("agent-id", aspect="pattern"),
                simple,
                agent_id=value,
                may_create_run=True,
            )
            return case if verdict is Verdict.INVALID else None

        self.explore(mutated_ids("agent", AGENT_PREFIXES), bad_agent, examples)

        def unknown_agent(value: str) -> Case | None:
            if value == agent:
                return None
            return Case(
                "negative",
                "unknown agent",
                value,
                "POST",
                async_path(value),
                frozenset({404}),
                "an unknown agent gets 404 and no run is created",
                "the real server (Letta 0.16.8): 404 {'detail': 'Agent not found'}; "
                "the documentation lists no 404",
                simple,
                agent_id=value,
                may_create_run=True,
            )

        self.explore(agent_ids(), unknown_agent, max(1, examples // 3))

        for family, strategy in negative_families(self.bodies).items():

            def to_case(drawn: tuple[str, str, Any], family: str = family) -> Case | None:
                label, source, body = drawn
                case = negative_case(family, label, source, body, agent)
                verdict = case.classification.verdict if case.classification else None
                if verdict is Verdict.INVALID:
                    return case
                if verdict is not None and verdict.diverges:
                    self._probe(case)
                return None

            self.explore(strategy, to_case, examples)

        def bad_run(drawn: tuple[str, str]) -> Case | None:
            label, value = drawn
            verdict = id_verdict("run-id", value)
            case = Case(
                "negative",
                "malformed run id",
                f"{label}: {value!r}",
                "GET",
                run_path(quote(value, safe="")),
                frozenset({400}),
                "a malformed run id is answered 400 on the run routes",
                f"{doc_reference('run-id')}; the real server: 400 INVALID_ARGUMENT",
            )
            if verdict is Verdict.INVALID:
                return case
            if verdict.diverges:
                self._probe(case)
            return None

        self.explore(mutated_ids("run", RUN_PREFIXES), bad_run, examples)
        self.explore(
            run_ids(),
            lambda value: Case(
                "negative",
                "unknown run",
                value,
                "GET",
                run_path(value),
                frozenset({404}),
                "an unknown run id is answered 404",
                doc_reference("run-id"),
            ),
            max(1, examples // 3),
        )

    def _probe(self, case: Case) -> None:
        """Send a case the readings disagree on (once), to report which reading the target follows.

        Bodies one reading accepts may create runs: they wait for the divergence phase, so they
        never use the budget the other phases need.
        """
        if case.label in self._divergences or self._out_of_time():
            return
        if case.method != "GET" and self._phase != "divergence":
            self._pending_probes.setdefault(case.label, case)
            return
        exchange: Exchange | None = None
        # Only a body the real server is expected to accept needs the budget on runs.
        expected_to_run = case.classification is not None and (
            case.classification.verdict is Verdict.SERVER_ONLY
        )
        if case.method == "GET" or not self.config.negative_only:
            try:
                exchange = self.send(case, spend=case.method != "GET" and expected_to_run)
            except (BudgetExhausted, DeadlineReached):
                exchange = None
        self.divergence(case, exchange)

    def _phase_divergence(self) -> None:
        fixed = (
            _fixture_divergences(self.ctx.agent_id, self._why) if self.config.use_fixtures else []
        )
        for case in fixed:
            self._pending_probes.setdefault(case.label, case)
        for case in list(self._pending_probes.values()):
            self._probe(case)

    def _phase_coverage(self) -> None:
        for group in coverage_groups(self.bodies.image_url):
            try:
                self._cover(group, group.elements)
            except BudgetExhausted:
                self.notice("coverage stopped early: the budget on runs (--max-runs) is spent")
                return

    def _cover(self, group: CoverageGroup, elements: tuple[tuple[str, str, Any], ...]) -> None:
        body = group.body(elements)
        labels = ", ".join(e[0] for e in elements)
        combined = len(elements) > 1
        case = positive_case(
            body,
            self.ctx.agent_id,
            phase="coverage",
            label=f"{group.name}: {labels}" if combined else elements[0][0],
            owner=group.owner,
            source=elements[0][1],
            tags=("combined",) if combined else (),
        )
        if case.classification is None or case.classification.verdict is not Verdict.VALID:
            self.notice(
                f"coverage body for {labels} is not valid under both readings; skipped", "error"
            )
            return
        exchange = self.send(case, spend=True)
        self.judge(exchange, case)
        if combined and exchange.response is not None and exchange.response.status >= 400:
            half = len(elements) // 2
            self._cover(group, elements[:half])
            self._cover(group, elements[half:])

    def _phase_positive(self) -> None:
        reserve = 0
        if self.phase_needed("lifecycle"):
            reserve = int(self.enabled("cancel_sticks")) + int(
                self.enabled("callback_delivered") and self.receiver is not None
            )
        examples = min(self.config.settings.positive_examples, self.budget.remaining - reserve)
        if examples <= 0:
            self.notice("no generated valid bodies: the budget on runs is kept for the lifecycle")
            return
        agent = self.ctx.agent_id

        def to_case(body: dict[str, Any]) -> Case | None:
            case = positive_case(body, agent, phase="positive", label=_short(body))
            if case.classification is None or case.classification.verdict is not Verdict.VALID:
                return None
            return case

        self.explore(self.bodies.valid_body(), to_case, examples, spend=True)

    def _phase_lifecycle(self) -> None:
        from contract_tests.stateful import run_lifecycle

        run_lifecycle(self)
        for trace in list(self.traces.values()):
            if not trace.finished:
                self.finalize(trace)

    # ---- runs ----------------------------------------------------------------------------

    def _adopt(self, run: dict[str, Any], case: Case, exchange: Exchange) -> RunTrace:
        trace = RunTrace(str(run["id"]), case.agent_id or self.ctx.agent_id, case, exchange)
        trace.callback_url = (
            run.get("callback_url")
            if isinstance(case.body, dict) and case.body.get("callback_url")
            else None
        )
        trace.add("create", run, exchange)
        self.traces[trace.run_id] = trace
        self.retrieve(trace)
        return trace

    def retrieve_case(self, trace: RunTrace) -> Case:
        return Case(
            self._phase,
            "retrieve run",
            trace.run_id,
            "GET",
            run_path(trace.run_id),
            frozenset({200}),
            "a run id the server returned is accepted on its run routes (GET 200)",
            doc_reference("run-id"),
            agent_id=trace.agent_id,
        )

    def retrieve(self, trace: RunTrace) -> dict[str, Any] | None:
        case = self.retrieve_case(trace)
        exchange = self.send(case)
        self.judge(exchange, case)
        body = exchange.response.json() if exchange.response is not None else None
        if (
            exchange.response is not None
            and exchange.response.status == 200
            and isinstance(body, dict)
        ):
            trace.add("retrieve", body, exchange)
            return body
        return None

    def compare_listing(self, trace: RunTrace) -> None:
        before = self.retrieve(trace)
        case = Case(
            self._phase,
            "list runs",
            f"runs of {trace.agent_id}",
            "GET",
            f"/v1/runs/?agent_id={trace.agent_id}&limit={LIST_LIMIT}",
            frozenset({200}),
            "GET /v1/runs/ lists an agent's runs",
            doc_reference("run"),
        )
        exchange = self.send(case)
        self.judge(exchange, case)
        after = self.retrieve(trace)
        body = exchange.response.json() if exchange.response is not None else None
        if before is None or after is None or not isinstance(body, list):
            return
        listed = next(
            (r for r in body if isinstance(r, dict) and r.get("id") == trace.run_id), None
        )
        trace.listings.append(ListingProbe(before, listed, after, exchange, len(body), LIST_LIMIT))

    def cancel(self, trace: RunTrace) -> None:
        trace.status_before_cancel = str(trace.last.get("status")) if trace.last else None
        case = Case(
            self._phase,
            "cancel run",
            trace.run_id,
            "POST",
            f"/v1/agents/{trace.agent_id}/messages/cancel",
            frozenset({200}),
            "cancelling an active run is answered 200",
            doc_reference("cancel-request"),
            {"run_ids": [trace.run_id]},
            agent_id=trace.agent_id,
        )
        trace.cancel_sent_at = time.monotonic()
        exchange = self.send(case)
        self.judge(exchange, case)
        trace.cancel_exchange = exchange
        body = exchange.response.json() if exchange.response is not None else None
        trace.cancel_answer = body.get(trace.run_id) if isinstance(body, dict) else None
        self.retrieve(trace)

    def create_run(self, body: dict[str, Any], label: str) -> RunTrace | None:
        case = positive_case(body, self.ctx.agent_id, phase="lifecycle", label=label)
        if case.classification is None or case.classification.verdict is not Verdict.VALID:
            return None
        exchange = self.send(case, spend=True)
        self.judge(exchange, case)
        answer = exchange.response.json() if exchange.response is not None else None
        run_id = answer.get("id") if isinstance(answer, dict) else None
        return self.traces.get(run_id) if isinstance(run_id, str) else None

    def finalize(self, trace: RunTrace) -> None:
        """Follow a run to its end (and past it, for cancels and callbacks), then judge it."""
        deadline = trace.started + self.config.run_deadline
        interval = self.config.poll_interval
        while not self._terminal(trace) and time.monotonic() < deadline:
            if self._out_of_time():
                break
            time.sleep(interval)
            self.retrieve(trace)
        if not self._terminal(trace):
            trace.gave_up = not self._out_of_time()
        else:
            if trace.cancel_sent_at is not None:
                self._settle(trace)
            if trace.callback_url is not None and self.receiver is not None:
                self._await_callback(trace, deadline)
        trace.finished = True
        if trace.callback_url is not None and self.receiver is not None:
            trace.callbacks = self.receiver.received(trace.callback_url.rsplit("/", 1)[-1])
        for check in self.checks:
            if check.kind != "run":
                continue
            for failure in check.run_on_trace(self.ctx, trace):
                self.record(check, failure, trace.case, trace.created, trace.history())

    def _terminal(self, trace: RunTrace) -> bool:
        return trace.last is not None and trace.last.get("status") in TERMINAL_STATUSES

    def _settle(self, trace: RunTrace) -> None:
        until = time.monotonic() + self.config.cancel_settle
        polls = 0
        while (polls < 3 or time.monotonic() < until) and not self._out_of_time():
            time.sleep(self.config.poll_interval)
            self.retrieve(trace)
            polls += 1

    def _await_callback(self, trace: RunTrace, deadline: float) -> None:
        assert self.receiver is not None and trace.callback_url is not None
        key = trace.callback_url.rsplit("/", 1)[-1]
        end = max(deadline, time.monotonic() + 1.0)
        while time.monotonic() < end and not self._out_of_time():
            last = trace.last or {}
            if self.receiver.received(key) and last.get("callback_sent_at") is not None:
                break
            time.sleep(max(self.config.poll_interval, 0.05))
            self.retrieve(trace)
        time.sleep(min(0.3, max(self.config.poll_interval, 0.05)))  # a second callback?

    # ---- cleanup -------------------------------------------------------------------------

    def _cleanup(self, created_agent: str | None) -> None:
        self.client.deadline = None
        self._phase = "cleanup"
        if self.config.cancel_at_end:
            by_agent: dict[str, list[str]] = {}
            for run_id, agent in self.budget.created.items():
                trace = self.traces.get(run_id)
                if trace is not None and self._terminal(trace):
                    continue
                by_agent.setdefault(agent, []).append(run_id)
            for agent, ids in by_agent.items():
                if not AGENT_ID.fullmatch(agent):
                    continue
                try:
                    answer = self.client.send(
                        "POST", f"/v1/agents/{agent}/messages/cancel", json_body={"run_ids": ids}
                    )
                except (TargetUnreachable, RequestTimedOut):
                    self.notice(f"could not cancel {len(ids)} run(s) at the end", "error")
                    continue
                if answer.response is not None and answer.response.status == 200:
                    self.result.runs_cancelled += len(ids)
        if created_agent:
            try:
                self.client.send("DELETE", f"/v1/agents/{created_agent}")
            except (TargetUnreachable, RequestTimedOut):
                self.notice(f"could not delete agent {created_agent}", "error")


def _fixture_negatives(agent_id: str) -> list[Case]:
    """The project's labelled invalid bodies (``fixtures``), when that package is installed."""
    try:
        import fixtures
    except ImportError:
        return []
    cases = []
    for item in fixtures.invalid_requests():
        case = negative_case(
            "documented example", item.name, describe(item.doc_version), item.body, agent_id
        )
        if case.classification is not None and case.classification.verdict is Verdict.INVALID:
            cases.append(case)
    return cases


def _fixture_divergences(agent_id: str, why: dict[str, str]) -> list[Case]:
    try:
        import fixtures
    except ImportError:
        return []
    cases = []
    for item in fixtures.divergent_requests():
        case = positive_case(
            item.body,
            agent_id,
            phase="divergence",
            label=item.name,
            source=describe(item.doc_version),
        )
        if case.classification is not None and case.classification.verdict.diverges:
            why[item.name] = item.reason
            cases.append(replace(case, family="divergent body"))
    return cases


def _size(violation: Violation) -> int:
    request = violation.request or {}
    return len(json.dumps(request.get("body"), default=str)) + len(str(request.get("url", "")))


def _short(body: dict[str, Any]) -> str:
    keys = ",".join(sorted(body))
    return f"valid body ({keys})"


def _only_ours(exc: BaseException) -> bool:
    if isinstance(exc, ContractViolation):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_ours(e) for e in exc.exceptions)
    cause = exc.__cause__ or exc.__context__
    return type(exc).__name__ in ("Flaky", "FlakyFailure") and (cause is None or _only_ours(cause))


def run_suite(config: SuiteConfig, listeners: Sequence[Listener] = ()) -> SuiteResult:
    """Run the suite once; the result's ``exit_code`` says how it went."""
    return Engine(config, listeners).run()
