"""The default store: in memory, bounded, for one process."""

from __future__ import annotations

import copy
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from mockserver.records import RunRecord
from mockserver.store.base import StoreFull


class MemoryStore:
    """Keeps at most ``max_runs`` runs; beyond that the oldest settled runs are evicted.

    Records are copied in and out, so callers never share state by accident.
    """

    def __init__(self, max_runs: int = 10_000) -> None:
        self.max_runs = max_runs
        self._lock = threading.RLock()
        self._runs: OrderedDict[str, RunRecord] = OrderedDict()
        # Ids of the runs that have not settled, so the sweep never walks the whole store.
        self._active: dict[str, None] = {}
        self._agents: dict[str, dict[str, Any]] = {}
        self._settings: dict[str, Any] = {}
        self._seq = 0

    def transaction(self) -> AbstractContextManager[None]:
        return _Locked(self._lock)

    def add_run(self, record: RunRecord) -> None:
        with self._lock:
            if len(self._runs) >= self.max_runs:
                self._evict(len(self._runs) - self.max_runs + 1)
            self._seq += 1
            record.seq = self._seq
            self._runs[record.id] = copy.deepcopy(record)
            self._track(record)

    def _track(self, record: RunRecord) -> None:
        if record.settled:
            self._active.pop(record.id, None)
        else:
            self._active[record.id] = None

    def _evict(self, count: int) -> None:
        # Oldest first; stops at the count, so the cost is that of the runs passed over.
        settled = (run_id for run_id, r in self._runs.items() if r.settled)
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
                self._runs[record.id] = copy.deepcopy(record)
                self._track(record)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            found = self._runs.get(run_id)
            return copy.deepcopy(found) if found is not None else None

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        with self._lock:
            return [
                copy.deepcopy(r)
                for r in self._runs.values()
                if agent_id is None or r.agent_id == agent_id
            ]

    def active_runs(self) -> Iterator[RunRecord]:
        with self._lock:
            active = [copy.deepcopy(self._runs[run_id]) for run_id in self._active]
        return iter(active)

    def add_agent(self, agent: dict[str, Any]) -> None:
        with self._lock:
            self._agents[str(agent["id"])] = copy.deepcopy(agent)

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._agents.get(agent_id)
            return copy.deepcopy(found) if found is not None else None

    def get_setting(self, key: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._settings.get(key))

    def set_setting(self, key: str, value: Any) -> None:
        with self._lock:
            self._settings[key] = copy.deepcopy(value)

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
