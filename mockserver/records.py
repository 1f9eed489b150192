"""What the mock keeps about a run: the public Run plus the state that drives it."""

from __future__ import annotations

import json
import marshal
from dataclasses import dataclass
from typing import Any

from letta_contract_kit.schemas.contract import TERMINAL_STATUSES


@dataclass
class Phase:
    """One phase of a run's plan: its status and how long it lasts (None: for ever)."""

    status: str
    length: float | None


@dataclass
class RunRecord:
    """A run and what drives it.

    What a run leaves behind (messages, steps, usage) is not kept: it follows from these
    fields (``RunLifecycle.output``). ``error`` is the ``metadata.error`` a run that fails in
    the background will carry. ``resumes`` marks a cancelled run whose step goes on and will overwrite the cancel
    (the ``cancel-overwritten-by-completion`` quirk). ``no_step``: the run takes no step
    (``zero-steps-run``), so it leaves no messages, steps or usage.
    """

    run: dict[str, Any]
    request: dict[str, Any]
    scenario: str
    plan: list[Phase]
    phase: int = 0
    phase_started: float = 0.0
    polls_in_phase: int = 0
    created: float = 0.0
    running_since: float | None = None
    finished: float | None = None
    seq: int = 0
    error: str | None = None
    resumes: bool = False
    no_step: bool = False

    @property
    def id(self) -> str:
        return str(self.run["id"])

    @property
    def agent_id(self) -> str:
        return str(self.run["agent_id"])

    @property
    def status(self) -> str:
        return str(self.run["status"])

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def settled(self) -> bool:
        """Terminal, and nothing will change its status again (see ``resumes``)."""
        return self.terminal and not self.resumes

    @property
    def watched(self) -> bool:
        """Whether something waits on the run's end: a callback URL. The sweep brings such a
        run up to date when its plan ends it; a store may leave the others as they were
        stored until someone reads them (``Store.sweep_due``)."""
        return bool(self.run.get("callback_url"))

    @property
    def duration_ns(self) -> int | None:
        if self.finished is None:
            return None
        return round((self.finished - self.created) * 1e9)

    def due(self) -> float | None:
        """When the plan makes the run end (a clock reading); None when it never ends by
        itself or has settled.

        Phases in between need no visit: whoever looks at the run brings it up to date. The
        sum is made in the order ``RunLifecycle.advance`` makes it, so both agree exactly.
        """
        if self.settled:
            return None
        moment = self.phase_started
        for index in range(self.phase, len(self.plan) - 1):
            length = self.plan[index].length
            if length is None:
                return None
            moment += length
            if self.plan[index + 1].status in TERMINAL_STATUSES:
                return moment
        return None

    def _values(self) -> list[Any]:
        return [
            self.run,
            self.request,
            self.scenario,
            [[p.status, p.length] for p in self.plan],
            self.phase,
            self.phase_started,
            self.polls_in_phase,
            self.created,
            self.running_since,
            self.finished,
            self.seq,
            self.error,
            self.resumes,
            self.no_step,
        ]

    @classmethod
    def _from_values(cls, values: list[Any]) -> RunRecord:
        run, request, scenario, plan, *rest = values
        return cls(run, request, scenario, [Phase(s, n) for s, n in plan], *rest)

    def to_bytes(self) -> bytes:
        """A compact, exact copy for a store in this process (not a file format)."""
        return marshal.dumps(self._values())

    @classmethod
    def from_bytes(cls, data: bytes) -> RunRecord:
        return cls._from_values(marshal.loads(data))

    def to_json(self) -> str:
        """The record as JSON, for stores that outlive the process."""
        return json.dumps(self._values(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        return cls._from_values(json.loads(text))
