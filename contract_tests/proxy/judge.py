"""Judging observed traffic with the suite's own checks and rules.

Each exchange the proxy forwards is judged by the suite's response checks, against the case
it stands for (:mod:`.observed`); each run the traffic shows gets a
:class:`~letta_contract_kit.contract_tests.observations.RunTrace` (its create, every retrieve,
the cancels that named it), judged by the suite's run checks whenever it shows something new
and once more at the end. Verdicts are the suite's :class:`Verdicts`: a failure of a
binding rule is a violation, of the real server's a divergence. A request the contract
rejects is a *client* finding (the application is wrong), kept apart from the server's
verdicts.

What passive traffic cannot support is not judged (``NOT_PASSIVE``): the proxy never polls,
so it never calls a run stuck; it receives no callbacks; it does not see cancels sent by
clients that bypass it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from letta_contract_kit.contract_tests import reproduce
from letta_contract_kit.contract_tests.cases import REQUEST, Case
from letta_contract_kit.contract_tests.checks.cancel import BARE_CANCELS
from letta_contract_kit.contract_tests.checks.registry import Check, CheckContext, Failure
from letta_contract_kit.contract_tests.checks.selection import all_checks
from letta_contract_kit.contract_tests.client import Exchange, ReceivedResponse, SentRequest
from letta_contract_kit.contract_tests.config import SuiteConfig
from letta_contract_kit.contract_tests.events import Event, Notice, SuiteFinished, SuiteResult
from letta_contract_kit.contract_tests.observations import CancelSent, RunBook, RunTrace
from letta_contract_kit.contract_tests.proxy.observed import PHASE, UNJUDGED_STATUSES, Seen, observe
from letta_contract_kit.contract_tests.redaction import Redactor
from letta_contract_kit.contract_tests.rules import CANCEL_ONLY_NAMED, CANCEL_OTHER_AGENT
from letta_contract_kit.contract_tests.verdicts import Verdicts
from letta_contract_kit.schemas import READINGS, validator
from letta_contract_kit.schemas.contract import TERMINAL_STATUSES, defaults

# Checks passive traffic cannot support, and why (reported as skipped).
NOT_PASSIVE = {
    "run_reaches_terminal": "the proxy does not poll: a run not seen ended is a note, never stuck",
    "callback_delivered": "the proxy receives no callbacks",
    "retrieve_matches_listing": "needs a retrieve, a listing and a retrieve the suite times itself",
    "union_members_accepted": "judges the suite's one-member coverage cases; a refused valid "
    "body is status_code_conformance's",
    "enum_values_accepted": "judges the suite's one-value coverage cases; a refused valid body "
    "is status_code_conformance's",
}
# Rules of applied checks that rest on having seen every request (other clients may cancel).
NOT_PASSIVE_RULES = {
    CANCEL_ONLY_NAMED.id: "a client that bypasses the proxy may have cancelled the run",
    CANCEL_OTHER_AGENT.id: "a client that bypasses the proxy may have cancelled the run",
}
STATUS_CHECK = "status_code_conformance"
MAX_RUNS = 10_000  # runs followed at once; the first seen ended goes first, else the oldest
MAX_OBSERVATIONS = 500  # per run, after identical consecutive answers are folded
MAX_PENDING = 20  # answers per agent or run waiting to be shown it exists


@dataclass(frozen=True)
class Traffic:
    """One forwarded exchange as the proxy saw it (secrets already masked in ``headers``)."""

    seq: int
    method: str
    path: str  # decoded, for matching routes
    url: str  # where it went upstream
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes
    status: int
    response_headers: dict[str, str]
    response_text: str
    started: float  # time.monotonic() when it arrived
    elapsed: float  # seconds the upstream took

    @property
    def answered(self) -> float:
        """time.monotonic() when the upstream's answer was whole (the traffic's own time, so
        a judgement does not depend on when it was made)."""
        return self.started + self.elapsed

    @property
    def content_type(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value
        return None


@dataclass
class Judgement:
    """What one exchange showed: violations and divergences it is the evidence of, and the
    client's mistake, if any."""

    seq: int
    run_id: str | None = None
    violations: list[tuple[str, Failure]] = field(default_factory=list)
    divergences: list[tuple[str, Failure]] = field(default_factory=list)
    client: str | None = None
    later: list[tuple[str, Failure]] = field(default_factory=list)  # of earlier exchanges

    @property
    def rule_ids(self) -> list[str]:
        return sorted({failure.rule.id for _, failure in self.violations})


@dataclass(frozen=True)
class _Answer(ReceivedResponse):
    """An answer whose body is parsed once, however many checks read it (they only read)."""

    def json(self) -> Any:
        try:
            return self.__dict__["_parsed"]
        except KeyError:
            parsed = super().json()
            object.__setattr__(self, "_parsed", parsed)
            return parsed


def _exchange(traffic: Traffic, case: Case | None) -> Exchange:
    text = traffic.body.decode("utf-8", errors="replace") if traffic.body else None
    parsed = case.body if case is not None and case.raw_body is None else None
    has_json = case is not None and case.has_body and case.raw_body is None and text is not None
    request = SentRequest(
        method=traffic.method,
        url=traffic.url,
        path=traffic.path,
        headers=traffic.headers,
        body=parsed if has_json else None,
        raw_body=None if has_json else text,
        query=traffic.query,
        content_type=traffic.content_type,
    )
    response = _Answer(
        status=traffic.status,
        headers={k.lower(): v for k, v in traffic.response_headers.items()},
        text=traffic.response_text,
        elapsed=traffic.elapsed,
    )
    return Exchange(request, response)


class TrafficJudge:
    """Judges exchanges as they come and writes the suite's result at the end.

    Thread-safe: the checks of one answer run without the lock, what they found and what the
    answer teaches (runs, what exists) under it, and every event is emitted under it. The
    proxy feeds it from one thread (its background judge) or, judging inline, from each
    request thread; ``next_seq`` has a lock of its own, so numbering a request never waits
    for a judgement."""

    def __init__(
        self,
        upstream: str,
        emit: Callable[[Event], None],
        redactor: Callable[[], Redactor] | None = None,
    ) -> None:
        checks = all_checks()
        self.emit = emit
        self.redactor = redactor or (lambda: Redactor(()))
        self.response_checks = [
            c for c in checks.values() if c.kind == "response" and c.name not in NOT_PASSIVE
        ]
        self.run_checks = [
            c for c in checks.values() if c.kind == "run" and c.name not in NOT_PASSIVE
        ]
        self.status_check = checks[STATUS_CHECK]
        self.result = SuiteResult(upstream, PHASE, 0, tuple(checks))
        self.result.skipped = {n: why for n, why in NOT_PASSIVE.items() if n in checks}
        self.verdicts = Verdicts(0, emit)
        self.context = CheckContext(
            SuiteConfig(base_url=upstream), agent_id="", selected=frozenset(checks)
        )
        self.runs = RunBook()
        self._ended: dict[str, None] = {}  # runs seen ended, in that order (evicted first)
        self.exists: set[tuple[str, str]] = set()
        self.pending: dict[tuple[str, str], list[tuple[Exchange, Case]]] = {}
        self._recorded: set[tuple[str, str, str, int]] = set()
        self._lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self._started = time.monotonic()
        self._seq = 0
        self.judged = 0

    def warm_up(self) -> None:
        """Build the validators the checks use now, not under the first requests' load."""
        for name in (REQUEST, "run", "http-validation-error", "error-response"):
            for reading in READINGS:
                validator(name, reading)
        defaults(REQUEST)

    def next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    # ---- one exchange -----------------------------------------------------------------------

    def judge(self, traffic: Traffic) -> Judgement:
        """Judge one exchange; the result names what it is the evidence of."""
        seen = observe(
            traffic.method,
            traffic.path,
            traffic.query,
            traffic.content_type,
            traffic.body,
            traffic.seq,
            run_agent=self._agent_of_run(traffic.path),
        )
        judgement = Judgement(traffic.seq, client=seen.client)
        exchange = _exchange(traffic, seen.case)
        body = exchange.response.json() if exchange.response is not None else None
        about = seen.about
        exists = about is not None and about in self.exists
        case = seen.for_status(traffic.status, exists)
        failures: list[tuple[Check, Failure]] = []
        crashed: list[str] = []
        if case is not None:
            for check in self.response_checks:
                try:
                    found = check.run_on_response(self.context, exchange, case)
                except Exception as exc:  # a check must not take the proxy down
                    crashed.append(f"check {check.name} crashed on request #{traffic.seq}: {exc!r}")
                    continue
                failures.extend((check, f) for f in found)
        with self._lock:
            for message in crashed:
                self._notice(message)
            if case is not None:
                self.judged += 1
            if seen.client is not None and case is not None:
                self.verdicts.finding("client", seen.client, case, exchange)
            for check, failure in failures:
                self._record(judgement, check, failure, case, exchange, exchange)
            if seen.divergent and case is not None:
                self.verdicts.request_divergence(case, exchange)
            if about is not None and seen.proven is not None and case is seen.case:
                self._wait_for_proof(about, traffic.status, exchange, seen)
            self._learn(seen, traffic, exchange, body, judgement)
        return judgement

    def _agent_of_run(self, path: str) -> str | None:
        run_id = path.rstrip("/").rsplit("/", 1)[-1]
        trace = self.runs.get(run_id)
        return trace.agent_id if trace is not None and trace.agent_id else None

    def _wait_for_proof(
        self, about: tuple[str, str], status: int, exchange: Exchange, seen: Seen
    ) -> None:
        if status in UNJUDGED_STATUSES or 200 <= status < 300 or status >= 500:
            return
        waiting = self.pending.setdefault(about, [])
        if len(waiting) < MAX_PENDING and seen.proven is not None:
            waiting.append((exchange, seen.proven))

    def _record(
        self,
        judgement: Judgement,
        check: Check,
        failure: Failure,
        case: Case | None,
        exchange: Exchange | None,
        current: Exchange,
        trace: RunTrace | None = None,
    ) -> None:
        if failure.rule.id in NOT_PASSIVE_RULES:
            return
        evidence = failure.evidence or exchange
        key = (check.name, failure.cause, failure.rule.id, id(evidence))
        if key in self._recorded:
            return  # the same failure on the same answer: a run judged again
        self._recorded.add(key)
        history = trace.history() if trace is not None else ()
        script = reproduce.script(trace) if trace is not None else None
        mark = self.verdicts.record(check, failure, case, exchange, PHASE, history, script)
        if evidence is not current:
            judgement.later.append((check.name, failure))
        elif mark == "x":
            judgement.violations.append((check.name, failure))
        else:
            judgement.divergences.append((check.name, failure))

    # ---- what exists, and the runs ----------------------------------------------------------

    def _learn(
        self,
        seen: Seen,
        traffic: Traffic,
        exchange: Exchange,
        body: Any,
        judgement: Judgement,
    ) -> None:
        ok = 200 <= traffic.status < 300
        if seen.route == "agent" and ok:
            if traffic.method == "DELETE":
                return
            if isinstance(body, dict) and isinstance(body.get("id"), str):
                self._proven(("agent", body["id"]), judgement, exchange)
            return
        case = seen.case
        if case is None:
            return
        if seen.route == "async" and ok and case.agent_id:
            self._proven(("agent", case.agent_id), judgement, exchange)
            if isinstance(body, dict) and isinstance(body.get("id"), str):
                trace = self.runs.get(body["id"])
                if trace is None:
                    self._make_room()
                    trace = self.runs.adopt(body, case.agent_id, case, exchange, traffic.answered)
                    self._proven(("run", trace.run_id), judgement, exchange)
                judgement.run_id = trace.run_id
                self._judge_run(trace, judgement, exchange)
                self._note_ended(trace)
        elif seen.route == "retrieve":
            run_id = case.label
            judgement.run_id = run_id
            if ok and isinstance(body, dict) and body.get("id") == run_id:
                trace = self.runs.get(run_id)
                agent_id = body.get("agent_id") if isinstance(body.get("agent_id"), str) else ""
                if trace is None:
                    self._make_room()
                    trace = RunTrace(run_id, str(agent_id), None, None, seq=len(self.runs.traces))
                    trace.started = traffic.started
                    self.runs.traces[run_id] = trace
                self._proven(("run", run_id), judgement, exchange)
                if agent_id:
                    self._proven(("agent", str(agent_id)), judgement, exchange)
                if _observe(trace, body, exchange, traffic.answered):
                    self._judge_run(trace, judgement, exchange)
                    self._note_ended(trace)
        elif seen.route == "cancel" and case.agent_id:
            self._cancelled(case, traffic, exchange, body, judgement)

    def _cancelled(
        self, case: Case, traffic: Traffic, exchange: Exchange, body: Any, judgement: Judgement
    ) -> None:
        ids = case.body.get("run_ids") if isinstance(case.body, dict) else None
        answered = traffic.answered
        if not ids:
            notes = self.context.notes.setdefault(BARE_CANCELS, {})
            notes.setdefault(case.agent_id, []).append(traffic.started)
            targets = [
                t
                for t in self.runs.of_agent(case.agent_id or "")
                if t.last is not None and t.last.get("status") not in TERMINAL_STATUSES
            ]
        else:
            targets = [t for t in (self.runs.get(str(i)) for i in ids) if t is not None]
        for trace in targets:
            before = str(trace.last.get("status")) if trace.last else None
            answer = body.get(trace.run_id) if isinstance(body, dict) else body
            trace.cancels.append(
                CancelSent(traffic.started, before, exchange, answer, bool(ids), answered)
            )
            if len(targets) == 1:
                judgement.run_id = trace.run_id

    def _proven(self, about: tuple[str, str], judgement: Judgement, current: Exchange) -> None:
        """``about`` exists: answers that waited for that are judged on their status now."""
        self.exists.add(about)
        for exchange, case in self.pending.pop(about, []):
            for failure in self.status_check.run_on_response(self.context, exchange, case):
                self._record(judgement, self.status_check, failure, case, exchange, current)

    def _judge_run(self, trace: RunTrace, judgement: Judgement, current: Exchange) -> None:
        for check in self.run_checks:
            try:
                failures = check.run_on_trace(self.context, trace)
            except Exception as exc:  # a check must not take the proxy down
                self._notice(f"check {check.name} crashed on run {trace.run_id}: {exc!r}")
                continue
            for failure in failures:
                if failure.evidence is None:  # about the run as a whole: shown by this answer
                    failure = Failure(
                        failure.rule, failure.message, failure.cause, current, failure.excerpt
                    )
                self._record(judgement, check, failure, trace.case, trace.created, current, trace)

    def _note_ended(self, trace: RunTrace) -> None:
        last = trace.observations[-1].run if trace.observations else None
        if last is not None and last.get("status") in TERMINAL_STATUSES:
            self._ended[trace.run_id] = None

    def _make_room(self) -> None:
        """Forget a run when MAX_RUNS are followed: the first seen ended, else the oldest."""
        traces = self.runs.traces
        while len(traces) >= MAX_RUNS:
            gone = next(iter(self._ended), None)
            if gone is None:
                gone = next(iter(traces))
            else:
                del self._ended[gone]
            traces.pop(gone, None)

    def notice(self, message: str, level: str = "info") -> None:
        """A note for the log and the reports (no verdict)."""
        with self._lock:
            self._notice(message, level)

    def _notice(self, message: str, level: str = "info") -> None:
        self.result.notices.append(message)
        self.emit(Notice(message, level))

    # ---- the end ----------------------------------------------------------------------------

    def finish(self) -> SuiteResult:
        """Judge every run once more, write the notes, and tell the reporters."""
        with self._lock:
            closing = Judgement(0)
            for trace in list(self.runs.traces.values()):
                last = trace.observations[-1].exchange if trace.observations else None
                if last is not None:
                    self._judge_run(trace, closing, last)
            open_runs = [run_id for run_id in self.runs.traces if run_id not in self._ended]
            if open_runs:
                shown = ", ".join(open_runs[:5]) + (" ..." if len(open_runs) > 5 else "")
                self._notice(
                    f"{len(open_runs)} run(s) were not seen ended (the proxy does not poll, so "
                    f"this is no verdict): {shown}"
                )
            unproven = sum(len(v) for v in self.pending.values())
            if unproven:
                self._notice(
                    f"{unproven} refusal(s) of valid requests were not judged on their status: "
                    "nothing showed that their agent or run existed"
                )
            result = self.result
            result.violations = self.verdicts.sorted_violations()
            result.divergences = self.verdicts.all_divergences()
            result.findings = list(self.verdicts.findings)
            result.notices.extend(self.verdicts.unlisted_findings())
            result.cases = self.judged
            result.requests = self._seq  # every request forwarded, judged or not
            result.runs_created = sum(1 for t in self.runs.traces.values() if t.created)
            result.seconds = time.monotonic() - self._started
            shown_result = self.redactor().scrub(result)
        self.emit(SuiteFinished(shown_result))
        return shown_result


def _observe(trace: RunTrace, run: dict[str, Any], exchange: Exchange, at: float) -> bool:
    """Add a retrieve answered at ``at`` to the trace; False when it shows nothing new (the
    same answer as the last one, with no cancel since), which is folded."""
    last = trace.observations[-1] if trace.observations else None
    cancelled_since = last is not None and any(c.at >= last.at for c in trace.cancels)
    if last is not None and last.run == run and not cancelled_since:
        return False
    trace.add("retrieve", run, exchange, at)
    if len(trace.observations) > MAX_OBSERVATIONS:
        del trace.observations[1]
    return True
