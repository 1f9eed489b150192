"""A store in one LMDB file (memory-mapped B-trees): shared by worker processes, kept across
restarts, and cheap enough that several workers together outrun one.

Readers never wait: each read sees the last committed state. Writers take LMDB's write lock,
a mutex in the lock file beside the store, so ``transaction()`` makes a read-modify-write
atomic across threads and processes. Commits are written to the operating system, not
flushed to the disk: a killed mock loses nothing, a crashed machine may.

LMDB writes pages with write calls (not through its memory map), so the file grows as it is
filled, and a disk that fills up is an error the mock answers, not a signal that stops it.

Layout (named databases):

* ``runs``: run id -> the record (``RunRecord.to_bytes``);
* ``order``: seq (8 bytes, big-endian, so keys sort by age) -> run id;
* ``active``: seq -> the run's ``due`` key (below, empty when the clock never ends it) for
  runs that have not settled, so eviction passes over them without decoding anything;
* ``due``: when the plan ends the run (a big-endian double, so keys sort by time) and its seq
  -> run id: the sweep reads only the runs that are due, however many are active;
* ``agents``, ``settings``: JSON text;
* ``meta``: the file's format, the last seq given out and the bytes of stored records.

Records are encoded with ``marshal``, whose format belongs to the Python version: the
format key names it, and a file written by another version is refused.
"""

from __future__ import annotations

import json
import marshal
import os
import struct
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lmdb

from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.store import base
from letta_contract_kit.mockserver.store.base import (
    MAX_STORE_BYTES,
    StoreFailed,
    StoreFull,
    SweepsEveryDueRun,
    evictions,
)

FORMAT = f"letta-mock-lmdb 3, marshal {marshal.version}, python {sys.version_info[0]}.{sys.version_info[1]}"
NAMES = (b"runs", b"order", b"active", b"due", b"agents", b"settings", b"meta")
SEQ = struct.Struct(">Q")
# Clock readings are never negative, and big-endian IEEE doubles of non-negative numbers sort
# as the numbers do.
DUE = struct.Struct(">dQ")
# Address space reserved for the file (the disk holds only what is filled). Per run: room
# for a request of the largest size the mock accepts, twice over, and its record.
RESERVE_PER_RUN = 64 * 1024
RESERVE_BASE = 256 * 1024 * 1024
# Writing through the map (``writemap``) would save about a tenth of a POST, but a disk that
# fills up under a mapped file stops the process with SIGBUS: without it LMDB writes pages
# with write calls, and a full disk is an error the mock answers (507) and survives.
WRITEMAP = False


def map_size(max_runs: int, max_body_bytes: int) -> int:
    """How much address space a store of ``max_runs`` runs may need at most."""
    return RESERVE_BASE + max_runs * (2 * max_body_bytes + RESERVE_PER_RUN)


class IncompatibleFile(ValueError):
    """The LMDB file was written by another version of the mock or of Python."""


class CannotOpen(base.CannotOpen):
    """LMDB refused the file (a directory in the way, no permission, no address space)."""


class _Environment:
    """The open LMDB environment of one file in this process, with its writer lock.

    LMDB allows one environment per file and process, so stores on the same file share it.
    """

    def __init__(self, path: str, size: int) -> None:
        self.path = path
        self.pid = os.getpid()
        try:
            self.env = lmdb.open(
                path,
                subdir=False,
                map_size=size,
                max_dbs=len(NAMES),
                max_readers=1024,
                sync=False,
                metasync=False,
                writemap=WRITEMAP,
            )
        except lmdb.Error as error:
            raise CannotOpen(
                f"cannot open the LMDB store {path} ({size:,} bytes of address space): {error}; "
                "choose another --lmdb-path"
            ) from error
        self.env.reader_check()  # slots of readers in processes that died
        self.dbs = {name: self.env.open_db(name) for name in NAMES}
        self.local = threading.local()
        # Threads of this process queue here, so only other processes meet LMDB's file mutex.
        self.writer = threading.Lock()
        self.users = 0


_OPEN: dict[str, _Environment] = {}
_OPEN_LOCK = threading.Lock()


def _attach(path: str, size: int) -> _Environment:
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        found = _OPEN.get(key)
        if found is None or found.pid != os.getpid():  # an environment must not cross a fork
            found = _OPEN[key] = _Environment(key, size)
        found.users += 1
        return found


def _detach(environment: _Environment) -> None:
    with _OPEN_LOCK:
        environment.users -= 1
        if environment.users == 0 and environment.pid == os.getpid():
            environment.env.close()
            if _OPEN.get(environment.path) is environment:
                del _OPEN[environment.path]


class LmdbStore(SweepsEveryDueRun):
    def __init__(
        self,
        path: str,
        max_runs: int = 10_000,
        max_body_bytes: int = 1_048_576,
        max_bytes: int = MAX_STORE_BYTES,
    ) -> None:
        self.path = path
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self._map_size = map_size(max_runs, max_body_bytes)
        self._at = _attach(path, self._map_size)
        self._dbs = self._at.dbs
        try:
            self._check_format()
        except IncompatibleFile:
            _detach(self._at)  # a refused file is not kept open
            raise

    def _check_format(self) -> None:
        path = self.path
        with self.transaction():
            txn = self._at.local.txn
            meta = self._dbs[b"meta"]
            found = txn.get(b"format", db=meta)
            if found is None:
                if txn.stat(self._dbs[b"runs"])["entries"] or txn.get(b"seq", db=meta):
                    raise IncompatibleFile(f"{path} holds an LMDB store of unknown format")
                txn.put(b"format", FORMAT.encode(), db=meta)
            elif found.decode() != FORMAT:
                raise IncompatibleFile(
                    f"{path} was written as '{found.decode()}', this mock writes '{FORMAT}'; "
                    "delete it or choose another --lmdb-path"
                )

    def _check_process(self) -> None:
        if self._at.pid != os.getpid():  # forked: open the file again in this process
            self._at = _attach(self.path, self._map_size)
            self._dbs = self._at.dbs

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._check_process()
        local = self._at.local
        if getattr(local, "txn", None) is not None:
            yield
            return
        with self._at.writer:
            txn = self._at.env.begin(write=True)
            local.txn = txn
            try:
                yield
                txn.commit()
            except lmdb.MapFullError as error:  # from a write inside, or from the commit
                txn.abort()
                raise StoreFull(f"the LMDB file {self.path} is full: {error}") from error
            except lmdb.Error as error:  # a full disk, an I/O error
                txn.abort()
                raise StoreFailed(f"the LMDB store {self.path} failed: {error}") from error
            except BaseException:
                txn.abort()
                raise
            finally:
                local.txn = None

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """The open write transaction of this thread, or a new read-only one."""
        self._check_process()
        txn = getattr(self._at.local, "txn", None)
        if txn is not None:
            yield txn
            return
        with self._at.env.begin() as reader:
            yield reader

    # -- runs -----------------------------------------------------------------------------

    def add_run(self, record: RunRecord) -> None:
        with self.transaction():
            txn = self._at.local.txn
            meta = self._dbs[b"meta"]
            last = txn.get(b"seq", db=meta)
            record.seq = (SEQ.unpack(last)[0] if last else 0) + 1
            txn.put(b"seq", SEQ.pack(record.seq), db=meta)
            data = record.to_bytes()
            count = txn.stat(self._dbs[b"runs"])["entries"]
            size = self._size(txn)
            if count >= self.max_runs or size + len(data) > self.max_bytes:
                size = self._evict(txn, count, size, len(data))
            txn.put(SEQ.pack(record.seq), record.id.encode(), db=self._dbs[b"order"])
            self._write(txn, record.id.encode(), data)
            self._set_size(txn, size + len(data))
            self._index(txn, record, None)

    def _size(self, txn: Any) -> int:
        found = txn.get(b"bytes", db=self._dbs[b"meta"])
        return SEQ.unpack(found)[0] if found else 0

    def _set_size(self, txn: Any, size: int) -> None:
        txn.put(b"bytes", SEQ.pack(max(size, 0)), db=self._dbs[b"meta"])

    # Each call into LMDB lets go of the interpreter lock, and under load another thread may
    # keep it for a switch interval before this one gets it back, all the while holding the
    # store's write lock: so the writes below use as few calls as they can (``replace`` and
    # ``pop`` read and write in one).

    def _write(self, txn: Any, key: bytes, data: bytes) -> bytes | None:
        """Store a record; the one it replaced, if any (a full file: see ``transaction``)."""
        replaced: bytes | None = txn.replace(key, data, db=self._dbs[b"runs"])
        return replaced

    def _index(self, txn: Any, record: RunRecord, before: bytes | None) -> None:
        """Bring ``active`` and ``due`` up to date; ``before``: the run's old ``active`` entry
        (None: it had none or is new)."""
        key = SEQ.pack(record.seq)
        active, due_db = self._dbs[b"active"], self._dbs[b"due"]
        if before:
            txn.delete(before, db=due_db)
        if record.settled:
            return
        due = record.due()
        due_key = b"" if due is None else DUE.pack(max(due, 0.0), record.seq)
        txn.put(key, due_key, db=active)
        if due_key:
            txn.put(due_key, record.id.encode(), db=due_db)

    def _evict(self, txn: Any, count: int, size: int, adding: int) -> int:
        """Delete the oldest settled runs, passing over active ones, until one more run of
        ``adding`` bytes fits both bounds; the bytes then stored. StoreFull (and so an abort
        of the whole transaction) when it cannot fit."""
        active, runs = self._dbs[b"active"], self._dbs[b"runs"]
        settled = (
            ((key, run_id), len(txn.get(run_id, db=runs) or b""))
            for key, run_id in txn.cursor(db=self._dbs[b"order"])
            if txn.get(key, db=active) is None
        )
        victims, size = evictions(settled, count, size, adding, self.max_runs, self.max_bytes)
        for key, run_id in victims:
            txn.delete(key, db=self._dbs[b"order"])
            txn.delete(run_id, db=runs)
        return size

    def save_run(self, record: RunRecord) -> None:
        with self.transaction():
            txn = self._at.local.txn
            run_id = record.id.encode()
            data = record.to_bytes()
            replaced = self._write(txn, run_id, data)
            if replaced is None:  # evicted meanwhile
                txn.delete(run_id, db=self._dbs[b"runs"])
                return
            if len(data) != len(replaced):
                self._set_size(txn, self._size(txn) + len(data) - len(replaced))
            before = txn.pop(SEQ.pack(record.seq), db=self._dbs[b"active"])
            self._index(txn, record, before)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._reading() as txn:
            found = txn.get(run_id.encode(), db=self._dbs[b"runs"])
            return None if found is None else RunRecord.from_bytes(found)

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        with self._reading() as txn:
            runs = self._dbs[b"runs"]
            stored = [
                txn.get(run_id, db=runs)
                for run_id in txn.cursor(db=self._dbs[b"order"]).iternext(keys=False)
            ]
        records = (RunRecord.from_bytes(data) for data in stored if data is not None)
        return [r for r in records if agent_id is None or r.agent_id == agent_id]

    def due_runs(self, now: float) -> list[RunRecord]:
        with self._reading() as txn:
            runs = self._dbs[b"runs"]
            found: list[bytes] = []
            for due_key, run_id in txn.cursor(db=self._dbs[b"due"]):
                if DUE.unpack(due_key)[0] > now:
                    break
                data = txn.get(run_id, db=runs)
                if data is not None:
                    found.append(data)
        records = [RunRecord.from_bytes(data) for data in found]
        return sorted(records, key=lambda r: r.seq)

    def has_due(self, now: float) -> bool:
        with self._reading() as txn:
            runs = self._dbs[b"runs"]
            for due_key, run_id in txn.cursor(db=self._dbs[b"due"]):
                if DUE.unpack(due_key)[0] > now:
                    return False
                if txn.get(run_id, db=runs) is not None:
                    return True
        return False

    # -- agents and settings --------------------------------------------------------------

    def add_agent(self, agent: dict[str, Any]) -> None:
        with self.transaction():
            self._at.local.txn.put(
                str(agent["id"]).encode(), json.dumps(agent).encode(), db=self._dbs[b"agents"]
            )

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        with self._reading() as txn:
            found = txn.get(agent_id.encode(), db=self._dbs[b"agents"])
        if found is None:
            return None
        agent: dict[str, Any] = json.loads(found)
        return agent

    def get_setting(self, key: str) -> Any:
        with self._reading() as txn:
            found = txn.get(key.encode(), db=self._dbs[b"settings"])
        return None if found is None else json.loads(found)

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction():
            self._at.local.txn.put(
                key.encode(), json.dumps(value).encode(), db=self._dbs[b"settings"]
            )

    def clear(self) -> None:
        with self.transaction():
            for name in (b"runs", b"order", b"active", b"due", b"agents", b"settings"):
                self._at.local.txn.drop(self._dbs[name], delete=False)
            self._set_size(self._at.local.txn, 0)

    def close(self) -> None:
        _detach(self._at)
