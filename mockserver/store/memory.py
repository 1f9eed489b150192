"""The default store: in memory, bounded, for one process."""

from __future__ import annotations

import heapq
import json
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from typing import Any

from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.store.base import MAX_STORE_BYTES, evictions


class MemoryStore:
    """Keeps at most ``max_runs`` runs and ``max_bytes`` bytes of them; beyond either, the
    oldest settled runs are evicted.

    Each run is kept as one compact bytes object (``RunRecord.to_bytes``, about 1 KB for a
    realistic request), so callers never share state by accident and a stored run costs
    little more than its encoding. Agents and settings are kept as JSON text for the same
    reason.
    """

    def __init__(self, max_runs: int = 10_000, max_bytes: int = MAX_STORE_BYTES) -> None:
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self._lock = threading.RLock()
        self._runs: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0  # the sum of the stored encodings' lengths
        # The runs that have not settled, with the moment their plan ends them (None: not by
        # the clock; see RunRecord.due), so neither the sweep nor eviction decodes the store.
        self._active: dict[str, float | None] = {}
        # (moment, run id, watched) for each moment put in ``_active``, a heap: the sweep looks
        # at the runs that are due only, not at every active one. An entry whose moment is no
        # longer its run's (the run settled, or its plan changed) is dropped when it comes up.
        self._due: list[tuple[float, str, bool]] = []
        self._agents: dict[str, str] = {}
        self._settings: dict[str, str] = {}
        self._seq = 0

    def transaction(self) -> AbstractContextManager[None]:
        return _Locked(self._lock)

    def add_run(self, record: RunRecord) -> None:
        with self._lock:
            self._seq += 1
            record.seq = self._seq
            data = record.to_bytes()
            if len(self._runs) >= self.max_runs or self._bytes + len(data) > self.max_bytes:
                self._evict(len(data))
            self._put(record, data)

    def _put(self, record: RunRecord, data: bytes | None = None) -> None:
        data = record.to_bytes() if data is None else data
        replaced = self._runs.get(record.id)
        self._runs[record.id] = data
        self._bytes += len(data) - (len(replaced) if replaced is not None else 0)
        if record.settled:
            self._active.pop(record.id, None)
        else:
            moment = record.due()
            if moment is not None and self._active.get(record.id) != moment:
                heapq.heappush(self._due, (moment, record.id, record.watched))
            self._active[record.id] = moment

    def _evict(self, adding: int) -> None:
        """Evict the oldest settled runs until one more run of ``adding`` bytes fits; the
        cost is that of the runs passed over."""
        settled = (
            (run_id, len(data)) for run_id, data in self._runs.items() if run_id not in self._active
        )
        victims, self._bytes = evictions(
            settled, len(self._runs), self._bytes, adding, self.max_runs, self.max_bytes
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
            current = self._pop_due(now)
            for run_id, (moment, watched) in current.items():  # due until saved anew
                heapq.heappush(self._due, (moment, run_id, watched))
            due = [self._runs[run_id] for run_id in current]
        return _in_creation_order(due)

    def sweep_due(self, now: float) -> list[RunRecord]:
        """The watched runs that are due; the others are settled by their plan now, so they
        leave ``_active`` (evictable) undecoded, and their first read brings them up to date.
        Most runs have no callback: this is what spares the sweep a decode and an encode of
        every run (a fifth of the CPU of the async send under load)."""
        with self._lock:
            current = self._pop_due(now)
            watched: list[bytes] = []
            for run_id, (moment, waited_on) in current.items():
                if waited_on:
                    heapq.heappush(self._due, (moment, run_id, True))
                    watched.append(self._runs[run_id])
                else:
                    del self._active[run_id]
        return _in_creation_order(watched)

    def _pop_due(self, now: float) -> dict[str, tuple[float, bool]]:
        """Take the current entries due by ``now`` off the heap (once each, were one pushed
        twice), with the stale ones."""
        heap, active = self._due, self._active
        current: dict[str, tuple[float, bool]] = {}
        while heap and heap[0][0] <= now:
            moment, run_id, watched = heapq.heappop(heap)
            if active.get(run_id) == moment:
                current[run_id] = (moment, watched)
        return current

    def has_due(self, now: float) -> bool:
        with self._lock:
            heap, active = self._due, self._active
            while heap and heap[0][0] <= now:
                moment, run_id, _ = heap[0]
                if active.get(run_id) == moment:
                    return True
                heapq.heappop(heap)  # no longer the run's moment
            return False

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
            self._bytes = 0
            self._active.clear()
            self._due.clear()
            self._agents.clear()
            self._settings.clear()

    def close(self) -> None:
        return None


def _in_creation_order(stored: list[bytes]) -> list[RunRecord]:
    return sorted((RunRecord.from_bytes(data) for data in stored), key=lambda r: r.seq)


class _Locked(AbstractContextManager[None]):
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
