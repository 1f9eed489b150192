"""The default store: in memory, bounded, for one process."""

from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from typing import Any

from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.store.base import StoreFull


class MemoryStore:
    """Keeps at most ``max_runs`` runs; beyond that the oldest settled runs are evicted.

    Each run is kept as one compact bytes object (``RunRecord.to_bytes``, about 1 KB for a
    realistic request), so callers never share state by accident and a stored run costs
    little more than its encoding. Agents and settings are kept as JSON text for the same
    reason.
    """

    def __init__(self, max_runs: int = 10_000) -> None:
        self.max_runs = max_runs
        self._lock = threading.RLock()
        self._runs: OrderedDict[str, bytes] = OrderedDict()
        # The runs that have not settled, with the moment their plan ends them (None: not by
        # the clock; see RunRecord.due), so neither the sweep nor eviction decodes the store.
        self._active: dict[str, float | None] = {}
        self._agents: dict[str, str] = {}
        self._settings: dict[str, str] = {}
        self._seq = 0

    def transaction(self) -> AbstractContextManager[None]:
        return _Locked(self._lock)

    def add_run(self, record: RunRecord) -> None:
        with self._lock:
            if len(self._runs) >= self.max_runs:
                self._evict(len(self._runs) - self.max_runs + 1)
            self._seq += 1
            record.seq = self._seq
            self._put(record)

    def _put(self, record: RunRecord) -> None:
        self._runs[record.id] = record.to_bytes()
        if record.settled:
            self._active.pop(record.id, None)
        else:
            self._active[record.id] = record.due()

    def _evict(self, count: int) -> None:
        # Oldest first; stops at the count, so the cost is that of the runs passed over.
        settled = (run_id for run_id in self._runs if run_id not in self._active)
        victims = list(itertools.islice(settled, count))
        if len(victims) < count:
            raise StoreFull(
                f"the store holds {len(self._runs)} runs (max_runs) and none of them has ended"
            )
        for run_id in victims:
            del self._runs[run_id]

    def save_run(self, record: RunRecord) -> None:
        with self._lock:
            if record.id in self._runs:
                self._put(record)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            found = self._runs.get(run_id)
        return RunRecord.from_bytes(found) if found is not None else None

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        with self._lock:
            stored = list(self._runs.values())
        records = (RunRecord.from_bytes(data) for data in stored)
        return [r for r in records if agent_id is None or r.agent_id == agent_id]

    def due_runs(self, now: float) -> list[RunRecord]:
        with self._lock:
            due = [
                self._runs[run_id]
                for run_id, moment in self._active.items()
                if moment is not None and moment <= now
            ]
        return [RunRecord.from_bytes(data) for data in due]

    def add_agent(self, agent: dict[str, Any]) -> None:
        with self._lock:
            self._agents[str(agent["id"])] = json.dumps(agent)

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        found = self._agents.get(agent_id)
        if found is None:
            return None
        agent: dict[str, Any] = json.loads(found)
        return agent

    def get_setting(self, key: str) -> Any:
        found = self._settings.get(key)
        return None if found is None else json.loads(found)

    def set_setting(self, key: str, value: Any) -> None:
        with self._lock:
            self._settings[key] = json.dumps(value)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._active.clear()
            self._agents.clear()
            self._settings.clear()

    def close(self) -> None:
        return None


class _Locked(AbstractContextManager[None]):
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
