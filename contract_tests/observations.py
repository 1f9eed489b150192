"""What the suite has seen of each run: every answer about it, in order (plain data)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from letta_contract_kit.contract_tests.cases import Case
from letta_contract_kit.contract_tests.client import Exchange

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
class CancelSent:
    """One cancel the suite sent for the run: when, in what state, and what came back."""

    at: float
    status_before: str | None
    exchange: Exchange
    answer: Any
    by_id: bool = True
    answered_at: float = 0.0  # when the answer came (``at`` is when it was sent)

    @property
    def answered(self) -> bool:
        response = self.exchange.response
        return response is not None and 200 <= response.status < 300


@dataclass
class RunTrace:
    run_id: str
    agent_id: str
    case: Case | None
    created: Exchange | None
    observations: list[Observation] = field(default_factory=list)
    cancels: list[CancelSent] = field(default_factory=list)
    callback_url: str | None = None
    callbacks: list[CallbackDelivery] = field(default_factory=list)
    listings: list[ListingProbe] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)  # e.g. "cancel-at-once", "callback"
    finished: bool = False
    gave_up: bool = False
    started: float = field(default_factory=time.monotonic)
    seq: int = 0

    def add(
        self, source: Source, run: dict[str, Any], exchange: Exchange, at: float | None = None
    ) -> Observation:
        """Add what ``exchange`` showed; ``at``: when it was answered (default: now)."""
        seen = Observation(time.monotonic() if at is None else at, source, run, exchange)
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
        for cancel in self.cancels:
            status = cancel.exchange.response.status if cancel.exchange.response else None
            how = "by id" if cancel.by_id else "without run_ids"
            events.append(
                (cancel.at, f"cancel sent {how}, answered {status} {cancel.answer!r:.80}")
            )
        for c in self.callbacks:
            events.append((c.at, f"callback received: {c.body!r:.160}"))
        events.sort(key=lambda e: e[0])
        return tuple(f"+{at - self.started:6.2f}s {text}" for at, text in events[-limit:])


@dataclass
class RunBook:
    """Every run the suite created, by id, in the order it created them."""

    traces: dict[str, RunTrace] = field(default_factory=dict)

    def adopt(
        self,
        run: dict[str, Any],
        agent_id: str,
        case: Case | None,
        exchange: Exchange,
        at: float | None = None,
    ) -> RunTrace:
        """Follow the run ``exchange`` created; ``at``: when it was answered (default: now)."""
        trace = RunTrace(str(run["id"]), agent_id, case, exchange, seq=len(self.traces))
        if at is not None:
            trace.started = at
        body = case.body if case is not None else None
        sent_url = body.get("callback_url") if isinstance(body, dict) else None
        trace.callback_url = sent_url if isinstance(sent_url, str) else None
        trace.add("create", run, exchange, at)
        self.traces[trace.run_id] = trace
        return trace

    def get(self, run_id: str) -> RunTrace | None:
        return self.traces.get(run_id)

    def of_agent(self, agent_id: str) -> list[RunTrace]:
        return [t for t in self.traces.values() if t.agent_id == agent_id]

    def unfinished(self) -> list[RunTrace]:
        return [t for t in self.traces.values() if not t.finished]


def parse_time(value: Any) -> datetime | None:
    """A timestamp as an aware datetime (naive ones read as UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
