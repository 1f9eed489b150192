"""A store in one SQLite file (WAL): shared by several worker processes, kept across restarts.

Each thread uses its own connection. ``transaction()`` takes SQLite's write lock
(``BEGIN IMMEDIATE``) so a read-modify-write of a run is atomic across processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.store.base import (
    MAX_STORE_BYTES,
    CannotOpen,
    StoreFailed,
    SweepsEveryDueRun,
    evictions,
)

# ``settled``: nothing will change the run again (evictable); ``due``: when its plan ends it
# (RunRecord.due; NULL: not by the clock, or settled). ``counts`` holds the number of runs,
# and of bytes of their records (kept by triggers), so that an insert need not read the table.
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    agent_id TEXT NOT NULL,
    settled INTEGER NOT NULL,
    due REAL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_agent ON runs (agent_id, seq);
CREATE INDEX IF NOT EXISTS runs_settled ON runs (settled, seq);
CREATE INDEX IF NOT EXISTS runs_due ON runs (due) WHERE due IS NOT NULL;
CREATE TABLE IF NOT EXISTS counts (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counts (name, value) VALUES ('runs', 0);
INSERT OR IGNORE INTO counts (name, value) VALUES ('bytes', 0);
CREATE TRIGGER IF NOT EXISTS runs_bytes_in AFTER INSERT ON runs BEGIN
    UPDATE counts SET value = value + length(CAST(NEW.data AS BLOB)) WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS runs_bytes_up AFTER UPDATE OF data ON runs BEGIN
    UPDATE counts SET value = value + length(CAST(NEW.data AS BLOB))
        - length(CAST(OLD.data AS BLOB)) WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS runs_bytes_out AFTER DELETE ON runs BEGIN
    UPDATE counts SET value = value - length(CAST(OLD.data AS BLOB)) WHERE name = 'bytes';
END;
CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# PRAGMA user_version of the files this version writes; other versions' files are refused.
FORMAT = 3
BUSY_TIMEOUT_MS = 30_000


class IncompatibleFile(ValueError):
    """The SQLite file was written by another version of the mock."""


class SqliteStore(SweepsEveryDueRun):
    def __init__(self, path: str, max_runs: int = 10_000, max_bytes: int = MAX_STORE_BYTES) -> None:
        self.path = path
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._pid = os.getpid()
        # Threads of one process queue here rather than in SQLite's busy handler, which
        # polls with sleeps of a millisecond and more; other processes still meet the file lock.
        self._writer = threading.Lock()
        try:
            self._open()
        except sqlite3.Error as error:
            self.close()
            raise CannotOpen(
                f"cannot use the SQLite store {path}: {error}; choose another --sqlite-path"
            ) from None
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        path = self.path
        connection = self._connection()
        with self.transaction():
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            tables = connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            if tables and version != FORMAT:
                raise IncompatibleFile(
                    f"{path} holds a store of another letta-mock version (format {version}, "
                    f"this version reads {FORMAT}); delete it or choose another --sqlite-path"
                )
            for statement in _statements(SCHEMA):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version={FORMAT}")

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked: the parent's connections must not be used here
            self._pid = os.getpid()
            self._local = threading.local()
            self._all = []
            self._writer = threading.Lock()
        found: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if found is not None:
            return found
        connection = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA journal_mode=WAL")
        # Commits reach the operating system, not the disk: a killed mock loses nothing, a
        # crashed machine may. Waiting for the disk would cost most of a POST.
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._local.connection = connection
        self._local.depth = 0
        with self._all_lock:
            self._all.append(connection)
        return connection

    @contextmanager
    def transaction(self) -> Iterator[None]:
        connection = self._connection()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._writer:
            self._run(connection, "BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield
            except BaseException:
                self._local.depth = 0
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            self._local.depth = 0
            try:
                self._run(connection, "COMMIT")
            except StoreFailed:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def _run(self, connection: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> Any:
        try:
            return connection.execute(sql, args)
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as error:
            if isinstance(error, sqlite3.IntegrityError):
                raise
            raise StoreFailed(f"the SQLite store {self.path} failed: {error}") from error

    def _execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self._run(self._connection(), sql, args)
        return cursor

    def add_run(self, record: RunRecord) -> None:
        data = record.to_json()
        with self.transaction():
            (record.seq,) = self._execute(
                "INSERT INTO runs (id, agent_id, settled, due, data) VALUES (?, ?, ?, ?, ?)"
                " RETURNING seq",
                (record.id, record.agent_id, int(record.settled), record.due(), data),
            ).fetchone()
            (count,) = self._execute(
                "UPDATE counts SET value = value + 1 WHERE name = 'runs' RETURNING value"
            ).fetchone()
            (size,) = self._execute("SELECT value FROM counts WHERE name = 'bytes'").fetchone()
            if count > self.max_runs or size > self.max_bytes:
                self._evict(count, size, len(data.encode()))

    def _evict(self, count: int, size: int, adding: int) -> None:
        """Delete the oldest settled runs (the one just added, of ``adding`` bytes and
        counted in ``count`` and ``size``, has not settled) until the store is within both
        bounds; StoreFull (and so a rollback of the insert) when it cannot be."""
        rows = self._execute(
            "SELECT seq, length(CAST(data AS BLOB)) FROM runs WHERE settled = 1 ORDER BY seq"
        )
        try:
            victims, _ = evictions(
                rows, count - 1, size - adding, adding, self.max_runs, self.max_bytes
            )
        finally:
            rows.close()
        self._execute(
            f"DELETE FROM runs WHERE seq IN ({','.join('?' * len(victims))})", tuple(victims)
        )
        self._execute("UPDATE counts SET value = value - ? WHERE name = 'runs'", (len(victims),))

    def save_run(self, record: RunRecord) -> None:
        self._execute(
            "UPDATE runs SET settled = ?, due = ?, data = ? WHERE id = ?",
            (int(record.settled), record.due(), record.to_json(), record.id),
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._execute("SELECT seq, data FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _record(row) if row else None

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        if agent_id is None:
            rows = self._execute("SELECT seq, data FROM runs ORDER BY seq")
        else:
            rows = self._execute(
                "SELECT seq, data FROM runs WHERE agent_id = ? ORDER BY seq", (agent_id,)
            )
        return [_record(row) for row in rows]

    def due_runs(self, now: float) -> list[RunRecord]:
        rows = self._execute(
            "SELECT seq, data FROM runs WHERE due IS NOT NULL AND due <= ? ORDER BY seq", (now,)
        ).fetchall()
        return [_record(row) for row in rows]

    def has_due(self, now: float) -> bool:
        row = self._execute(
            "SELECT 1 FROM runs WHERE due IS NOT NULL AND due <= ? LIMIT 1", (now,)
        ).fetchone()
        return row is not None

    def add_agent(self, agent: dict[str, Any]) -> None:
        self._execute(
            "INSERT OR REPLACE INTO agents (id, data) VALUES (?, ?)",
            (str(agent["id"]), json.dumps(agent)),
        )

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        row = self._execute("SELECT data FROM agents WHERE id = ?", (agent_id,)).fetchone()
        if not row:
            return None
        agent: dict[str, Any] = json.loads(row[0])
        return agent

    def get_setting(self, key: str) -> Any:
        row = self._execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_setting(self, key: str, value: Any) -> None:
        self._execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def clear(self) -> None:
        with self.transaction():
            for table in ("runs", "agents", "settings"):
                self._execute(f"DELETE FROM {table}")
            self._execute("UPDATE counts SET value = 0 WHERE name IN ('runs', 'bytes')")

    def close(self) -> None:
        with self._all_lock:
            connections, self._all = self._all, []
        for connection in connections:
            try:
                connection.close()
            except sqlite3.Error:
                continue
        self._local = threading.local()


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` one by one (a trigger's body holds semicolons too)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


def _record(row: tuple[int, str]) -> RunRecord:
    """A stored run; its ``seq`` is the row's, given by SQLite when the run was added."""
    record = RunRecord.from_json(row[1])
    record.seq = int(row[0])
    return record
