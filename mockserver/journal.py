"""The request journal: what the mock was asked and what it answered, newest last."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

BODY_PREVIEW = 4096
RECORDED_HEADERS = (
    "Content-Type",
    "User-Agent",
    "X-Letta-Mock-Scenario",
    "X-Letta-Mock-Fault",
    "X-Stainless-Retry-Count",
)


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    status: int
    fault: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JournalFilter:
    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    limit: int | None = None

    def matches(self, entry: JournalEntry) -> bool:
        return (
            (self.method is None or entry.method.upper() == self.method.upper())
            and (self.path is None or entry.path == self.path)
            and (self.path_prefix is None or entry.path.startswith(self.path_prefix))
            and (self.status is None or entry.status == self.status)
        )


class Journal:
    """A bounded, thread-safe list of entries; the oldest fall off first."""

    def __init__(self, size: int) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def add(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, where: JournalFilter | None = None) -> list[JournalEntry]:
        with self._lock:
            chosen = [e for e in self._entries if where is None or where.matches(e)]
        if where is not None and where.limit is not None:
            chosen = chosen[-where.limit :]
        return chosen

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
