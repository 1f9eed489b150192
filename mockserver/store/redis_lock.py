"""The lock of a Redis store: mocks take turns in the order they asked, and each commit hands
the lock on together with its writes.

Keys, under the store's prefix:

* ``lock``: the holder's token; it expires ``LOCK_SECONDS`` after it was given, so a mock
  killed while it holds the lock holds up the others that long at most;
* ``waiters``: the tokens of the mocks waiting, oldest first; ``waiting:<token>``, a waiter's
  sign of life, renewed each ``WAIT_SLICE`` (a waiter that died is passed over);
* ``wake:<token>``: where a waiter blocks (``BLPOP``) until the lock is handed to it;
* ``done:<token>``: that the transaction of ``token`` committed, for ``LOCK_SECONDS``.

Three scripts, each atomic in Redis. ``ACQUIRE`` takes the lock when it is free (or already
the caller's: handed on, or the reply to an earlier try was lost), else queues the caller;
once taken, it answers with what most transactions read first (the last seq, the bytes and
number of runs, the settings), saving a round trip. ``COMMIT`` applies the transaction's
writes only while the caller's token still holds the lock (so a holder that stalled past the
lock's time, whose lock went to another mock, writes nothing), then hands the lock to the
oldest live waiter, or frees it. With no writes it is the release. Each script may be sent
twice (the client tries again once when a connection breaks): a second ``ACQUIRE`` finds the
lock its own, a second ``COMMIT`` finds ``done:<token>`` and reports the first's success.

Handing on rather than freeing keeps two busy replicas fair: without it, the releasing
process's next thread asks again before the other replica has heard, and wins nearly every
time. The threads of one process queue on a thread lock first, so that only one of them
waits in Redis.

Keys are named inside the scripts, so the store needs one Redis (not a Redis Cluster).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LOCK_SECONDS = 5.0
# A waiter gives up after this long (twice the lock's time: a dead holder's lock expires).
LOCK_WAIT_SECONDS = 2 * LOCK_SECONDS
WAIT_SLICE = 0.05  # seconds of each BLPOP: a waiter looks again at least this often
ALIVE_MS = 500  # a waiter not heard of this long is passed over

HAND_ON = """
local function hand_on(lock, waiters, prefix, ttl)
  while true do
    local nxt = redis.call('lpop', waiters)
    if not nxt then
      redis.call('del', lock)
      return
    end
    if redis.call('del', prefix .. 'waiting:' .. nxt) == 1 then
      redis.call('set', lock, nxt, 'PX', ttl)
      redis.call('rpush', prefix .. 'wake:' .. nxt, '1')
      redis.call('pexpire', prefix .. 'wake:' .. nxt, ttl)
      return
    end
  end
end
"""

# KEYS: lock, waiters, meta, order, settings. ARGV: token, ttl (ms), prefix, alive (ms).
ACQUIRE = """
local held = redis.call('get', KEYS[1])
if held ~= ARGV[1] then
  if held then
    local alive = ARGV[3] .. 'waiting:' .. ARGV[1]
    if not redis.call('set', alive, '1', 'PX', ARGV[4], 'XX') then
      redis.call('set', alive, '1', 'PX', ARGV[4])
      redis.call('rpush', KEYS[2], ARGV[1])
    end
    return false
  end
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.call('del', ARGV[3] .. 'wake:' .. ARGV[1], ARGV[3] .. 'waiting:' .. ARGV[1])
local counts = redis.call('hmget', KEYS[3], 'seq', 'bytes')
return {counts[1] or '0', counts[2] or '0', redis.call('zcard', KEYS[4]),
        redis.call('hgetall', KEYS[5])}
"""

# KEYS: lock, waiters. ARGV: token, ttl (ms), prefix, then each write as its number of
# words and the words (command, arguments).
COMMIT = (
    HAND_ON
    + """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return redis.call('exists', ARGV[3] .. 'done:' .. ARGV[1])
end
local i = 4
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
redis.call('set', ARGV[3] .. 'done:' .. ARGV[1], '1', 'PX', ARGV[2])
hand_on(KEYS[1], KEYS[2], ARGV[3], ARGV[2])
return 1
"""
)


class LockWait(TimeoutError):
    """Another mock held the lock for all of LOCK_WAIT_SECONDS."""


@dataclass(frozen=True)
class Snapshot:
    """What ``ACQUIRE`` read for the new holder."""

    seq: int
    size: int
    count: int
    settings: dict[str, bytes]


class RedisLock:
    """The lock of the store under ``prefix``, through ``client`` (a redis-py client)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.key = prefix + "lock"
        self._waiters = prefix + "waiters"
        self._acquire_keys = [self.key, self._waiters, prefix + "meta", prefix + "order"]
        self._acquire_keys.append(prefix + "settings")
        self._acquire = client.register_script(ACQUIRE)
        self._commit = client.register_script(COMMIT)
        self._ttl = round(LOCK_SECONDS * 1000)

    def acquire(self, token: str) -> Snapshot:
        """Wait for the lock (redis-py's errors pass through; LockWait after
        LOCK_WAIT_SECONDS)."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        args = [token, self._ttl, self.prefix, ALIVE_MS]
        while True:
            got = self._acquire(keys=self._acquire_keys, args=args)
            if got:
                seq, size, count, settings = got
                named = dict(zip(settings[::2], settings[1::2], strict=True))
                return Snapshot(
                    int(seq), int(size), int(count), {k.decode(): v for k, v in named.items()}
                )
            if time.monotonic() > deadline:
                self.client.delete(f"{self.prefix}waiting:{token}")
                raise LockWait(f"another mock held the lock for {LOCK_WAIT_SECONDS:g} s")
            self.client.blpop([f"{self.prefix}wake:{token}"], timeout=WAIT_SLICE)

    def commit(self, token: str, writes: Sequence[Sequence[Any]]) -> bool:
        """Apply ``writes`` (each a command and its arguments) and hand the lock on, if the
        lock is still ``token``'s; False (nothing written) when it is not."""
        args: list[Any] = [token, self._ttl, self.prefix]
        for words in writes:
            args.append(len(words))
            args.extend(words)
        return bool(self._commit(keys=[self.key, self._waiters], args=args))
