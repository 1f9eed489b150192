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

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        data = json.loads(text)
        data["plan"] = [Phase(**phase) for phase in data["plan"]]
        return cls(**data)
