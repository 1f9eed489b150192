"""Clocks that drive run lifecycles: the wall clock, and a virtual one tests move by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time, in seconds since the epoch (UTC)."""

    def now(self) -> float: ...


class WallClock:
    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Stands still until advanced. Its reading can live elsewhere (e.g. in a shared store).

    ``read`` returns the stored reading or None when there is none yet; ``write`` stores one.
    Without them the reading is kept in the object. It starts at the wall-clock time.
    """

    def __init__(
        self,
        start: float | None = None,
        read: Callable[[], float | None] | None = None,
        write: Callable[[float], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._local: float = time.time() if start is None else start
        self._read = read
        self._write = write

    def now(self) -> float:
        with self._lock:
            if self._read is None:
                return self._local
            stored = self._read()
            if stored is None and self._write is not None:
                self._write(self._local)
                return self._local
            return self._local if stored is None else stored

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            current = self._local if self._read is None else (self._read() or self._local)
            moved = current + seconds
            self._local = moved
            if self._write is not None:
                self._write(moved)
            return moved


def as_datetime(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, tz=UTC)


def rfc3339(moment: float) -> str:
    """Microseconds and a ``Z``, as the server writes a run's created_at."""
    return as_datetime(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def rfc3339_seconds(moment: float) -> str:
    """Whole seconds and ``+00:00``, as the server writes a message's date."""
    return as_datetime(moment).replace(microsecond=0).isoformat()


def naive_utc(moment: float) -> str:
    """UTC without an offset, as Letta 0.16.8 writes completed_at and callback_sent_at."""
    return as_datetime(moment).replace(tzinfo=None).isoformat()
