"""What the mock keeps about a run: the public Run plus the state that drives it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.contract import TERMINAL_STATUSES


@dataclass
class Phase:
    """One phase of a run's plan: its status and how long it lasts (None: for ever)."""

    status: str
    length: float | None


@dataclass
class RunRecord:
    """A run and what drives it.

    ``error`` is the ``metadata.error`` a run that fails in the background will carry.
    ``resumes`` marks a cancelled run whose step goes on and will overwrite the cancel
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
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
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
    def duration_ns(self) -> int | None:
        if self.finished is None:
            return None
        return round((self.finished - self.created) * 1e9)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        data = json.loads(text)
        data["plan"] = [Phase(**phase) for phase in data["plan"]]
        return cls(**data)
