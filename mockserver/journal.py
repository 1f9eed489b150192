"""The request journal: what the mock was asked and what it answered, newest last."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from letta_contract_kit.mockserver.clock import rfc3339

BODY_PREVIEW = 4096
RECORDED_HEADERS = (
    "Content-Type",
    "User-Agent",
    "X-Letta-Mock-Scenario",
    "X-Letta-Mock-Fault",
    "X-Stainless-Retry-Count",
)


def body_preview(data: bytes | str | None) -> Any:
    """A body as the journal shows it: JSON decoded, other text as text, nothing as None.

    ``data`` is the body's first bytes (``journal_body_bytes``, BODY_PREVIEW by default), or a note such as ``<N bytes, over the
    size limit>`` kept instead of a body that was not read.
    """
    if data is None or isinstance(data, str):
        return data
    if not data:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class JournalEntry:
    """One request and its answer. ``at`` is a Unix time; ``raw_body`` is decoded
    (``body``) only when the entry is read."""

    seq: int
    at: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw_body: bytes | str | None
    status: int
    fault: str | None

    @property
    def body(self) -> Any:
        return body_preview(self.raw_body)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": rfc3339(self.at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "fault": self.fault,
        }


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
