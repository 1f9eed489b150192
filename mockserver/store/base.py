"""The one interface every store of runs, agents and shared settings implements."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from letta_contract_kit.mockserver.records import RunRecord

MAX_STORE_BYTES = 256 * 1024 * 1024
T = TypeVar("T")


class CannotOpen(ValueError):
    """The store's file cannot be used (no such directory, no permission, not a store, no
    space): said in one sentence that names the path and the option to change."""


class StoreFull(RuntimeError):
    """The store holds as many runs, or as many bytes of them, as it may, and no run it
    could evict has ended."""


class StoreFailed(RuntimeError):
    """The store could not read or write its file (a full disk, an I/O error) or its server
    (Redis out of memory): nothing of the operation was kept, and what was stored before is
    still there."""

    # What the app answers: 507 Insufficient Storage, or 503 when the store may come back.
    status: int = 507


class StoreUnreachable(StoreFailed):
    """The store's server cannot be reached (or its lock not had) now; it may come back."""

    status = 503


def evictions(
    candidates: Iterable[tuple[T, int]],
    count: int,
    size: int,
    adding: int,
    max_runs: int,
    max_bytes: int,
) -> tuple[list[T], int]:
    """Of ``candidates`` (the settled runs, oldest first, each with its encoded size), the
    fewest to evict so that one more run of ``adding`` bytes fits within ``max_runs`` and
    ``max_bytes`` while ``count`` runs of ``size`` bytes are stored; and the bytes stored
    after the eviction. StoreFull, with nothing chosen, when they do not suffice (a run
    larger than ``max_bytes`` evicts nothing)."""
    if adding > max_bytes:  # no eviction makes room: keep what is stored
        raise StoreFull(full_message(0, 0, max_runs, max_bytes, adding))
    chosen: list[T] = []
    remaining = iter(candidates)
    while count >= max_runs or size + adding > max_bytes:
        found = next(remaining, None)
        if found is None:
            raise StoreFull(full_message(count, size, max_runs, max_bytes, adding))
        chosen.append(found[0])
        count -= 1
        size -= found[1]
    return chosen, size


def full_message(count: int, size: int, max_runs: int, max_bytes: int, adding: int) -> str:
    """Why a run of ``adding`` bytes cannot be stored, naming the bound it would break."""
    if count >= max_runs:
        return f"the store holds {count} runs (max_runs) and none of them has ended"
    return (
        f"the store holds {size:,} bytes of runs; a run of {adding:,} more would pass "
        f"max_store_bytes ({max_bytes:,}) and no run it could evict has ended"
    )


class _FindsDueRuns(Protocol):
    def due_runs(self, now: float) -> list[RunRecord]: ...


class SweepsEveryDueRun:
    """``sweep_due`` for stores whose eviction reads the settled flag they keep beside each
    run: the sweep brings every due run up to date, watched or not."""

    def sweep_due(self: _FindsDueRuns, now: float) -> list[RunRecord]:
        return self.due_runs(now)


class Store(Protocol):
    """Runs, agents and a few shared settings (scenario queue, virtual time).

    Reads and writes made inside ``transaction()`` see and leave a consistent state, also
    across threads and (for stores that allow it) processes.
    """

    max_runs: int
    max_bytes: int

    def transaction(self) -> AbstractContextManager[None]: ...

    def add_run(self, record: RunRecord) -> None:
        """Store a new run, first evicting the oldest terminal runs, as many as it takes for
        the store to stay within ``max_runs`` runs and ``max_bytes`` bytes of encoded runs.

        Raises StoreFull when not enough runs can be evicted.
        """

    def save_run(self, record: RunRecord) -> None: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        """Runs in creation order, oldest first."""
        ...

    def due_runs(self, now: float) -> list[RunRecord]:
        """The unsettled runs whose current phase ends by the clock at or before ``now``."""
        ...

    def sweep_due(self, now: float) -> list[RunRecord]:
        """What the sweep must bring up to date at ``now``: of ``due_runs(now)``, at least the
        watched runs (``RunRecord.watched``). A store may return only those and count the
        others as settled from then on (evictable) without decoding them: such a run keeps
        its stored state until it is read, and every read of a run brings it up to date."""
        ...

    def has_due(self, now: float) -> bool:
        """Whether ``due_runs(now)`` would return any run (asked before every sweep: the
        stores that can answer it without decoding a run do)."""
        ...

    def add_agent(self, agent: dict[str, Any]) -> None: ...

    def get_agent(self, agent_id: str) -> dict[str, Any] | None: ...

    def get_setting(self, key: str) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...

    def clear(self) -> None:
        """Forget every run, agent and setting."""

    def close(self) -> None: ...
