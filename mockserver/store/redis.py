"""A store in Redis: runs, agents and settings shared by mock replicas on several machines.

Layout: every key starts with the prefix (``--redis-prefix``, ``letta-mock:`` by default),
so that several mocks can share one Redis.

* ``runs``: a hash, run id -> the record (``RunRecord.to_json``: replicas may run other
  Python versions, so not ``marshal``);
* ``order``: a sorted set of every run id, scored by its seq (creation order), and
  ``agent:<agent id>`` the same for one agent's runs; ``agent-of``: run id -> agent id;
* ``settled``: the runs nothing will change again, by seq: eviction takes the oldest
  without reading any other run;
* ``due``: the unsettled runs the clock ends, scored by when (``RunRecord.due``): the sweep
  reads only the runs that are due;
* ``agents``, ``settings``: hashes of JSON text (the scenario queue and the virtual clock
  are settings);
* ``meta``: the format, the last seq given out and the bytes of stored records;
* ``lock``, ``waiters``, ...: the store's lock (``redis_lock``).

Transactions hold the store's lock, rather than relying on WATCH/MULTI over the data
(optimistic, retried on conflict): the mock's transactions are blocks of code whose outcome
has effects (the run that ends in one has its callback sent) and cannot be run twice, and
every replica's sweep and polls touch the same runs, so conflicts would be common. Every
write takes the lock, a write outside a transaction too.

Inside a transaction reads go to Redis at once, and writes are kept until its end (a read of
what the transaction wrote sees the kept value); the outermost transaction (one inside
another of the same thread joins it) sends them all in one script that applies them only
while the lock is still its own, and hands the lock on. So a transaction that raises, whose
process dies, or whose lock expired and went to another mock leaves nothing: two mocks never
both commit on what they read. Of the replicas that see a run's end, the first to store it is
the one that sends its callback (``MockService._refresh``).

Durability is Redis's own (``appendonly``, ``appendfsync``): the mock configures nothing.
"""

from __future__ import annotations

import heapq
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.store.base import (
    MAX_STORE_BYTES,
    CannotOpen,
    StoreFailed,
    StoreUnreachable,
    SweepsEveryDueRun,
    evictions,
)
from letta_contract_kit.mockserver.store.redis_lock import LockWait, RedisLock

FORMAT = "letta-mock-redis 1"
DEFAULT_PREFIX = "letta-mock:"
CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 5.0
EVICTION_BATCH = 16  # settled runs read at a time while looking for runs to evict
KEYS_PER_DELETE = 500

# KEYS: settled, runs, agent-of. ARGV: start, stop. The settled runs ranked start..stop, oldest
# first, as id, seq, bytes of the record, agent id.
SETTLED = """
local found = redis.call('zrange', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
local out = {}
for i = 1, #found, 2 do
  local id = found[i]
  out[#out + 1] = id
  out[#out + 1] = found[i + 1]
  out[#out + 1] = redis.call('hstrlen', KEYS[2], id)
  out[#out + 1] = redis.call('hget', KEYS[3], id) or ''
end
return out
"""


def shown_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class IncompatibleStore(CannotOpen):
    """The keys under the prefix were written by another version of the mock."""


@dataclass(frozen=True)
class _Written:
    """A run as a transaction wrote it, before the commit."""

    data: bytes
    seq: int
    agent_id: str
    settled: bool
    due: float | None

    @classmethod
    def of(cls, record: RunRecord, data: bytes) -> _Written:
        return cls(data, record.seq, record.agent_id, record.settled, record.due())


@dataclass
class _Pending:
    """One open transaction: the writes it keeps for its end, and what its reads must see
    of them (None: deleted)."""

    token: str
    # As the lock's holder found them, then as the transaction leaves them.
    seq: int
    size: int
    count: int
    stored_settings: dict[str, bytes]
    writes: list[tuple[Any, ...]] = field(default_factory=list)
    runs: dict[str, _Written | None] = field(default_factory=dict)
    agents: dict[str, bytes | None] = field(default_factory=dict)
    settings: dict[str, bytes | None] = field(default_factory=dict)
    # Bytes of the stored records the transaction read (what a save replaces).
    read_sizes: dict[str, int] = field(default_factory=dict)
    cleared: bool = False
    size_change: int = 0
    seq_given: bool = False

    def write(self, *words: Any) -> None:
        self.writes.append(words)

    def resize(self, change: int) -> None:
        self.size += change
        self.size_change += change

    def table(self, kind: str) -> dict[str, bytes | None]:
        return self.agents if kind == "agents" else self.settings


class RedisStore(SweepsEveryDueRun):
    def __init__(
        self,
        url: str,
        prefix: str = DEFAULT_PREFIX,
        max_runs: int = 10_000,
        max_bytes: int = MAX_STORE_BYTES,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self.where = f"{shown_url(url)} (prefix {prefix!r})"
        self._runs, self._order, self._agent_of = (
            prefix + k for k in ("runs", "order", "agent-of")
        )
        self._settled, self._due, self._meta = (prefix + k for k in ("settled", "due", "meta"))
        self._agents, self._settings = prefix + "agents", prefix + "settings"
        self._local = threading.local()
        self._writer = threading.Lock()
        self._pid = os.getpid()
        try:
            # One retry: a connection the pool kept from before a restart of Redis fails once
            # (every script may run twice: redis_lock).
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=SOCKET_TIMEOUT,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as error:
            raise CannotOpen(
                f"cannot use the Redis URL {shown_url(url)}: {_said(error)}; "
                "give --redis-url as redis://HOST:PORT/DB"
            ) from None
        self._client: Any = client
        self._lock = RedisLock(client, prefix)
        self._settled_batch = client.register_script(SETTLED)
        try:
            self._check_format()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            client.close()
            raise CannotOpen(
                f"cannot reach Redis at {shown_url(url)}: {_said(error)}; "
                "start Redis or choose another --redis-url"
            ) from None
        except redis.RedisError as error:  # a password refused, keys of another type
            client.close()
            raise CannotOpen(
                f"cannot use the Redis store {self.where}: {_said(error)}; "
                "choose another --redis-url or --redis-prefix"
            ) from None
        except BaseException:
            client.close()
            raise

    def _check_format(self) -> None:
        found = self._client.hget(self._meta, "format")
        if found is None:
            if self._client.exists(self._runs, self._order):
                raise IncompatibleStore(
                    f"the Redis store {self.where} holds runs of an unknown format; "
                    "delete its keys or choose another --redis-prefix"
                )
            self._client.hsetnx(self._meta, "format", FORMAT)
        elif found.decode() != FORMAT:
            raise IncompatibleStore(
                f"the Redis store {self.where} was written as '{found.decode()}', this mock "
                f"writes '{FORMAT}'; delete its keys or choose another --redis-prefix"
            )

    # -- transactions ---------------------------------------------------------------------

    def _thread(self) -> threading.local:
        if self._pid != os.getpid():  # forked: the parent's transactions are not this one's
            self._pid = os.getpid()
            self._local = threading.local()
            self._writer = threading.Lock()
        return self._local

    def _pending(self) -> _Pending | None:
        found: _Pending | None = getattr(self._thread(), "pending", None)
        return found

    def _open(self) -> _Pending:
        pending = self._pending()
        if pending is None:
            raise RuntimeError("a write of the Redis store outside its transaction")
        return pending

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """Redis' errors as the store's: unreachable (503) or failed (507)."""
        try:
            yield
        except LockWait as error:
            raise StoreUnreachable(f"the Redis store {self.where}: {error}") from error
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise StoreUnreachable(
                f"the Redis store {self.where} is unreachable: {_said(error)}"
            ) from error
        except redis.RedisError as error:  # e.g. out of memory (maxmemory)
            raise StoreFailed(f"the Redis store {self.where} failed: {_said(error)}") from error

    @contextmanager
    def transaction(self) -> Iterator[None]:
        local = self._thread()
        if getattr(local, "pending", None) is not None:
            yield
            return
        with self._writer:
            token = os.urandom(16).hex()
            with self._failing():
                found = self._lock.acquire(token)
            pending = _Pending(token, found.seq, found.size, found.count, found.settings)
            local.pending = pending
            try:
                yield
            except BaseException:
                local.pending = None
                self._abandon(pending)
                raise
            local.pending = None
            try:
                with self._failing():
                    self._commit(pending)
            except BaseException:
                self._abandon(pending)
                raise

    def _commit(self, pending: _Pending) -> None:
        if pending.size_change:
            pending.write("HINCRBY", self._meta, "bytes", pending.size_change)
        if pending.seq_given:
            pending.write("HSET", self._meta, "seq", pending.seq)
        if not self._lock.commit(pending.token, pending.writes):
            raise StoreUnreachable(
                f"the Redis store {self.where} lost its lock before the change was written "
                "(its transaction outlived the lock): nothing of it was kept"
            )

    def _abandon(self, pending: _Pending) -> None:
        """Hand the lock on without writing (Redis may be gone: it then expires)."""
        with suppress(redis.RedisError):
            self._lock.commit(pending.token, [])

    # -- runs -----------------------------------------------------------------------------

    def add_run(self, record: RunRecord) -> None:
        with self.transaction(), self._failing():
            pending = self._open()
            record.seq = pending.seq + 1
            data = record.to_json().encode()
            if pending.count >= self.max_runs or pending.size + len(data) > self.max_bytes:
                for victim, agent_id, size in self._victims(pending, len(data)):
                    self._delete(pending, victim, agent_id, size)
            pending.seq, pending.seq_given = record.seq, True
            pending.count += 1
            pending.resize(len(data))
            self._write(pending, record, data, new=True)

    def _victims(self, pending: _Pending, adding: int) -> list[tuple[str, str, int]]:
        """The oldest settled runs (id, agent, bytes) to evict for one more run of ``adding``
        bytes to fit both bounds; StoreFull, having changed nothing, when they do not."""
        candidates = ((found, found[2]) for found in self._settled_oldest_first(pending))
        chosen, _ = evictions(
            candidates, pending.count, pending.size, adding, self.max_runs, self.max_bytes
        )
        return chosen

    def _settled_oldest_first(self, pending: _Pending) -> Iterator[tuple[str, str, int]]:
        written = sorted(
            (w.seq, run_id, w.agent_id, len(w.data))
            for run_id, w in pending.runs.items()
            if w is not None and w.settled
        )
        stored = () if pending.cleared else self._stored_settled(pending)
        for _, run_id, agent_id, size in heapq.merge(written, stored):
            yield run_id, agent_id, size

    def _stored_settled(self, pending: _Pending) -> Iterator[tuple[int, str, str, int]]:
        """The settled runs in Redis (seq, id, agent, bytes), oldest first, less those the
        transaction wrote."""
        start = 0
        while True:
            keys = [self._settled, self._runs, self._agent_of]
            found = self._settled_batch(keys=keys, args=[start, start + EVICTION_BATCH - 1])
            if not found:
                return
            start += len(found) // 4
            for n in range(0, len(found), 4):
                run_id, seq, size, agent = found[n : n + 4]
                if run_id.decode() not in pending.runs and size:
                    yield int(float(seq)), run_id.decode(), agent.decode(), int(size)

    def _write(self, pending: _Pending, record: RunRecord, data: bytes, new: bool) -> None:
        run_id, seq = record.id, record.seq
        pending.write("HSET", self._runs, run_id, data)
        if new:
            pending.write("ZADD", self._order, seq, run_id)
            pending.write("ZADD", self._agent_key(record.agent_id), seq, run_id)
            pending.write("HSET", self._agent_of, run_id, record.agent_id)
        written = _Written.of(record, data)
        if written.settled:
            pending.write("ZREM", self._due, run_id)
            pending.write("ZADD", self._settled, seq, run_id)
        else:
            if not new:  # a terminal run that a quirk moves on again is not evictable
                pending.write("ZREM", self._settled, run_id)
            if written.due is None:
                pending.write("ZREM", self._due, run_id)
            else:
                pending.write("ZADD", self._due, written.due, run_id)
        pending.runs[run_id] = written

    def _delete(self, pending: _Pending, run_id: str, agent_id: str, size: int) -> None:
        pending.write("HDEL", self._runs, run_id)
        pending.write("HDEL", self._agent_of, run_id)
        pending.write("ZREM", self._order, run_id)
        pending.write("ZREM", self._agent_key(agent_id), run_id)
        pending.write("ZREM", self._settled, run_id)
        pending.runs[run_id] = None
        pending.count -= 1
        pending.resize(-size)

    def _agent_key(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def save_run(self, record: RunRecord) -> None:
        with self.transaction(), self._failing():
            pending = self._open()
            run_id = record.id
            if run_id in pending.runs:
                before = pending.runs[run_id]
                stored = 0 if before is None else len(before.data)
            elif pending.cleared:
                stored = 0
            elif run_id in pending.read_sizes:
                stored = pending.read_sizes[run_id]
            else:
                stored = int(self._client.hstrlen(self._runs, run_id))
            if not stored:  # evicted meanwhile
                return
            data = record.to_json().encode()
            pending.resize(len(data) - stored)
            self._write(pending, record, data, new=False)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._failing():
            pending = self._pending()
            if pending is not None and run_id in pending.runs:
                written = pending.runs[run_id]
                return None if written is None else _record(written.data)
            if pending is not None and pending.cleared:
                return None
            found = self._client.hget(self._runs, run_id)
        if found is None:
            return None
        if pending is not None:
            pending.read_sizes[run_id] = len(found)
        return _record(found)

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        with self._failing():
            pending = self._pending()
            key = self._order if agent_id is None else self._agent_key(agent_id)
            ids = [] if pending is not None and pending.cleared else self._ids(key)
            found = self._read(ids, pending)
        if pending is not None:
            found += [
                w.data
                for w in pending.runs.values()
                if w is not None and (agent_id is None or w.agent_id == agent_id)
            ]
        return sorted((_record(data) for data in found), key=lambda r: r.seq)

    def due_runs(self, now: float) -> list[RunRecord]:
        with self._failing():
            pending = self._pending()
            cleared = pending is not None and pending.cleared
            ids = [] if cleared else _texts(self._client.zrangebyscore(self._due, "-inf", now))
            found = self._read(ids, pending)
        if pending is not None:
            found += [
                w.data
                for w in pending.runs.values()
                if w is not None and not w.settled and w.due is not None and w.due <= now
            ]
        return sorted((_record(data) for data in found), key=lambda r: r.seq)

    def has_due(self, now: float) -> bool:
        return bool(self.due_runs(now))  # what the transaction wrote counts: one way to ask

    def _ids(self, key: str) -> list[str]:
        return _texts(self._client.zrange(key, 0, -1))

    def _read(self, ids: list[str], pending: _Pending | None) -> list[bytes]:
        """The stored records of ``ids`` that are still there, less those the transaction
        wrote (its reads add them from what it wrote)."""
        if pending is not None:
            ids = [run_id for run_id in ids if run_id not in pending.runs]
        if not ids:
            return []
        found = cast(list[bytes | None], self._client.hmget(self._runs, ids))
        if pending is not None:
            pending.read_sizes.update(
                (run_id, len(data)) for run_id, data in zip(ids, found, strict=True) if data
            )
        return [data for data in found if data is not None]  # None: evicted since listed

    # -- agents and settings --------------------------------------------------------------

    def add_agent(self, agent: dict[str, Any]) -> None:
        self._put(self._agents, "agents", str(agent["id"]), _json(agent))

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        found = self._get(self._agents, "agents", agent_id)
        if found is None:
            return None
        agent: dict[str, Any] = json.loads(found)
        return agent

    def get_setting(self, key: str) -> Any:
        found = self._get(self._settings, "settings", key)
        return None if found is None else json.loads(found)

    def set_setting(self, key: str, value: Any) -> None:
        self._put(self._settings, "settings", key, _json(value))

    def _put(self, key: str, kind: str, name: str, data: bytes) -> None:
        with self.transaction():
            pending = self._open()
            pending.write("HSET", key, name, data)
            pending.table(kind)[name] = data

    def _get(self, key: str, kind: str, name: str) -> bytes | None:
        with self._failing():
            pending = self._pending()
            if pending is not None:
                written = pending.table(kind)
                if name in written:
                    return written[name]
                if pending.cleared:
                    return None
                if kind == "settings":  # read as the lock was taken
                    return pending.stored_settings.get(name)
            found = cast(bytes | None, self._client.hget(key, name))
        return found

    def clear(self) -> None:
        with self.transaction(), self._failing():
            pending = self._open()
            agents = {a.decode() for a in self._client.hvals(self._agent_of)}
            agents |= {w.agent_id for w in pending.runs.values() if w is not None}
            keys = [self._runs, self._order, self._agent_of, self._settled, self._due]
            keys += [self._agents, self._settings, *map(self._agent_key, sorted(agents))]
            for start in range(0, len(keys), KEYS_PER_DELETE):
                pending.write("DEL", *keys[start : start + KEYS_PER_DELETE])
            pending.write("HSET", self._meta, "bytes", 0)
            pending.runs.clear()
            pending.agents.clear()
            pending.settings.clear()
            pending.cleared = True
            pending.count = pending.size = pending.size_change = 0

    def close(self) -> None:
        with suppress(redis.RedisError):
            self._client.close()


def _said(error: Exception) -> str:
    """The error's message, to be followed by more of a sentence."""
    return str(error).strip().rstrip(".") or type(error).__name__


def _record(data: bytes) -> RunRecord:
    return RunRecord.from_json(data.decode())


def _texts(members: Any) -> list[str]:
    return [member.decode() for member in members]


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
