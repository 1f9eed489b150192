"""What the suite has seen of one run: every answer about it, in order."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from contract_tests.cases import Case
from contract_tests.client import Exchange

Source = Literal["create", "retrieve", "list", "cancel"]


@dataclass(frozen=True)
class Observation:
    at: float
    source: Source
    run: dict[str, Any]
    exchange: Exchange


@dataclass
class CallbackDelivery:
    at: float
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class ListingProbe:
    """A run retrieved, listed, and retrieved again (the listing counts if both agree)."""

    before: dict[str, Any]
    listed: dict[str, Any] | None
    after: dict[str, Any]
    listing: Exchange
    listing_size: int
    limit: int


@dataclass
class RunTrace:
    run_id: str
    agent_id: str
    case: Case | None
    created: Exchange | None
    observations: list[Observation] = field(default_factory=list)
    cancel_sent_at: float | None = None
    cancel_exchange: Exchange | None = None
    cancel_answer: str | None = None
    status_before_cancel: str | None = None
    callback_url: str | None = None
    callbacks: list[CallbackDelivery] = field(default_factory=list)
    listings: list[ListingProbe] = field(default_factory=list)
    finished: bool = False
    gave_up: bool = False
    started: float = field(default_factory=time.monotonic)

    def add(self, source: Source, run: dict[str, Any], exchange: Exchange) -> Observation:
        seen = Observation(time.monotonic(), source, run, exchange)
        self.observations.append(seen)
        return seen

    @property
    def statuses(self) -> list[str]:
        return [str(o.run.get("status")) for o in self.observations]

    @property
    def last(self) -> dict[str, Any] | None:
        return self.observations[-1].run if self.observations else None

    def history(self, limit: int = 12) -> tuple[str, ...]:
        """What was seen of the run, oldest first (repeated identical observations folded)."""
        events: list[tuple[float, str]] = []
        previous = None
        for o in self.observations:
            r = o.run
            text = (
                f"{o.source:8} status={r.get('status')} stop_reason={r.get('stop_reason')} "
                f"completed_at={r.get('completed_at')}"
            )
            if text != previous:
                events.append((o.at, text))
            previous = text
        if self.cancel_sent_at is not None:
            events.append((self.cancel_sent_at, f"cancel sent, answer {self.cancel_answer!r}"))
        for c in self.callbacks:
            events.append((c.at, f"callback received: {c.body!r:.160}"))
        events.sort(key=lambda e: e[0])
        return tuple(f"+{at - self.started:6.2f}s {text}" for at, text in events[-limit:])


def parse_time(value: Any) -> datetime | None:
    """A timestamp as an aware datetime (naive ones read as UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
