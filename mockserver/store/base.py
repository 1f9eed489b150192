"""The one interface every store of runs, agents and shared settings implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from letta_contract_kit.mockserver.records import RunRecord


class StoreFull(RuntimeError):
    """Every stored run is still active and the store holds as many runs as it may."""


class Store(Protocol):
    """Runs, agents and a few shared settings (scenario queue, virtual time).

    Reads and writes made inside ``transaction()`` see and leave a consistent state, also
    across threads and (for stores that allow it) processes.
    """

    max_runs: int

    def transaction(self) -> AbstractContextManager[None]: ...

    def add_run(self, record: RunRecord) -> None:
        """Store a new run, evicting the oldest terminal runs beyond ``max_runs``.

        Raises StoreFull when no run can be evicted.
        """

    def save_run(self, record: RunRecord) -> None: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        """Runs in creation order, oldest first."""
        ...

    def due_runs(self, now: float) -> list[RunRecord]:
        """The unsettled runs whose current phase ends by the clock at or before ``now``."""
        ...

    def add_agent(self, agent: dict[str, Any]) -> None: ...

    def get_agent(self, agent_id: str) -> dict[str, Any] | None: ...

    def get_setting(self, key: str) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...

    def clear(self) -> None:
        """Forget every run, agent and setting."""

    def close(self) -> None: ...
