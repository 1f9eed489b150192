"""The run lifecycle: a small state machine, driven by a clock or by polls.

A run follows its plan: ``created`` for a while, ``running`` for a while (for ever in the
``never`` scenario), then one terminal status. Moving is only ever forward. With a clock,
each phase lasts a number of seconds and a run is brought up to date whenever it is looked at
(and by a background sweep, so callbacks go out unobserved). With the per-poll mode, each GET
of the run moves it at most one phase, and a phase lasts that many polls.

Quirks change what is shown, never the plan: with ``no-running-status`` the running phase
still passes, under the status ``created``; with ``cancel-overwritten-by-completion`` a
cancelled single-step run keeps following its plan and its last phase overwrites the cancel.
"""

from __future__ import annotations

import math
from typing import Any

from letta_contract_kit.mockserver.clock import naive_utc, rfc3339
from letta_contract_kit.mockserver.compat import DEFAULT_PROFILE, Quirks, resolve
from letta_contract_kit.mockserver.config import Timings
from letta_contract_kit.mockserver.conversation import (
    RunOutput,
    failure_text,
    planned_steps,
    run_output,
)
from letta_contract_kit.mockserver.records import Phase, RunRecord
from letta_contract_kit.mockserver.scenarios import Scenario, parse_scenario
from letta_contract_kit.schemas.contract import RUN_STATUS, STATUS_RANK, STOP_REASON

FIRST_TOKEN_SHARE = 0.25


class RunLifecycle:
    def __init__(
        self, timings: Timings, per_poll: bool = False, quirks: Quirks | None = None
    ) -> None:
        self.timings = timings
        self.per_poll = per_poll
        self.quirks = quirks if quirks is not None else resolve(DEFAULT_PROFILE)

    def stamp_end(self, moment: float) -> str:
        """How ``completed_at`` and ``callback_sent_at`` are written."""
        return naive_utc(moment) if self.quirks.naive_completed_at else rfc3339(moment)

    def plan(self, scenario: Scenario) -> list[Phase]:
        if not scenario.finishes:
            running: float | None = None
        elif scenario.kind == "slow":
            running = (
                scenario.running_seconds
                if scenario.running_seconds is not None
                else self.timings.slow_running
            )
        else:
            running = self.timings.running
        phases = [
            Phase(RUN_STATUS.created, self.timings.queued),
            Phase(RUN_STATUS.running, running),
        ]
        if scenario.status is not None:
            phases.append(Phase(scenario.status, None))
        return phases

    def new_record(
        self, run: dict[str, Any], request: dict[str, Any], scenario: Scenario, now: float
    ) -> RunRecord:
        return RunRecord(
            run=run,
            request=request,
            scenario=scenario.text,
            plan=self.plan(scenario),
            phase_started=now,
            created=now,
        )

    def advance(self, record: RunRecord, now: float, polled: bool = False) -> bool:
        """Bring the run up to ``now``; True when it has just ended (for the first time)."""
        if record.settled:
            return False
        was_open = not record.terminal
        if self.per_poll:
            if not polled:
                return False
            record.polls_in_phase += 1
            length = record.plan[record.phase].length
            if length is not None and record.polls_in_phase >= max(1, math.ceil(length)):
                self._enter(record, record.phase + 1, now)
            return was_open and record.terminal
        while not record.settled:
            length = record.plan[record.phase].length
            if length is None or now < record.phase_started + length:
                break
            self._enter(record, record.phase + 1, record.phase_started + length)
        return was_open and record.terminal

    def cancel(self, record: RunRecord, now: float) -> bool:
        """Cancel an active run; True when it was active (a terminal run stays as it is)."""
        if record.terminal:
            return False
        self._finish(record, RUN_STATUS.cancelled, STOP_REASON.cancelled, now)
        record.resumes = self.quirks.cancel_overwritten_by_completion and self._single_step(record)
        if record.resumes and self.per_poll:
            record.polls_in_phase -= 1  # the next poll still sees the cancel
        return True

    @staticmethod
    def _single_step(record: RunRecord) -> bool:
        scenario = parse_scenario(record.scenario)
        return scenario.finishes and planned_steps(scenario, record.request) == 1

    def _enter(self, record: RunRecord, index: int, moment: float) -> None:
        phase = record.plan[index]
        overwrites = record.resumes
        if not overwrites and STATUS_RANK[phase.status] < STATUS_RANK[record.status]:
            raise AssertionError(f"run {record.id} would move back to {phase.status}")
        record.phase = index
        record.phase_started = moment
        record.polls_in_phase = 0
        if phase.status == RUN_STATUS.running:
            record.running_since = moment
            if not (overwrites or self.quirks.no_running_status):
                record.run["status"] = phase.status
            return
        scenario = parse_scenario(record.scenario)
        cancelled_at = record.run["completed_at"]
        record.resumes = False
        self._finish(record, phase.status, scenario.stop_reason or STOP_REASON.end_turn, moment)
        if overwrites:  # the cancel set completed_at; the late end leaves it alone
            record.run["completed_at"] = cancelled_at

    @staticmethod
    def output(record: RunRecord) -> RunOutput:
        """The messages, steps and usage the run has left so far (none before it ends)."""
        if record.finished is None or not record.terminal:
            return RunOutput([], [], {})
        return run_output(
            record.id,
            record.agent_id,
            record.request,
            parse_scenario(record.scenario),
            record.status,
            str(record.run["stop_reason"]),
            record.finished,
            ran=record.running_since is not None,
            no_step=record.no_step,
        )

    def _finish(self, record: RunRecord, status: str, stop_reason: str, moment: float) -> None:
        moment = max(moment, record.created)
        record.finished = moment
        run = record.run
        duration_ns = round((moment - record.created) * 1e9)
        if status == RUN_STATUS.failed:
            error = record.error or failure_text(stop_reason)
            run["metadata"] = {**(run.get("metadata") or {}), "error": error}
        if status == RUN_STATUS.completed and not self.quirks.ttft_null:
            started = record.running_since if record.running_since is not None else moment
            first_token = started - record.created + FIRST_TOKEN_SHARE * (moment - started)
            run["ttft_ns"] = min(duration_ns, max(0, round(first_token * 1e9)))
        run["status"] = status
        run["stop_reason"] = stop_reason
        run["completed_at"] = self.stamp_end(moment)
        if not self.quirks.duration_listing_only:
            run["total_duration_ns"] = duration_ns
