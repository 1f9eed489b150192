"""What only the Redis store promises: its lock, its prefix, and how it fails.

The promises every store keeps are tested on Redis too, in test_stores.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from letta_contract_kit.mockserver.config import MockConfig
from letta_contract_kit.mockserver.store import (
    CannotOpen,
    RedisStore,
    StoreFailed,
    StoreFull,
    StoreUnreachable,
    redis_lock,
)
from letta_contract_kit.mockserver.store import redis as redis_store
from letta_contract_kit.mockserver.store.redis_lock import RedisLock

from .redis_server import RedisServer
from .test_stores import big, record


@pytest.fixture
def make(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., RedisStore]]:
    """Stores on the session's Redis under this test's prefix (``name`` picks another)."""
    opened: list[RedisStore] = []

    def open_store(name: str = "a", url: str = redis_url, **bounds: int) -> RedisStore:
        store = RedisStore(url, f"test:{tmp_path}:{name}:", **bounds)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def raw(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def test_stores_under_other_prefixes_share_nothing(make: Callable[..., RedisStore]) -> None:
    one, other, same = make("one"), make("other"), make("one")
    one.add_run(record(1))
    one.set_setting("queue", ["fail"])
    assert (other.runs(), other.get_setting("queue")) == ([], None)
    other.clear()
    assert [r.id for r in same.runs()] == [record(1).id]
    assert same.get_setting("queue") == ["fail"]


def test_a_transaction_inside_another_of_the_same_thread_joins_it(
    make: Callable[..., RedisStore],
) -> None:
    store, elsewhere = make(), make()
    seen: list[int] = []
    with store.transaction():
        with store.transaction():
            store.add_run(record(1))
        assert store.get_run(record(1).id) is not None  # the inner one did not commit alone
        reader = threading.Thread(target=lambda: seen.append(len(elsewhere.runs())))
        reader.start()
        reader.join(5)
    assert seen == [0] and len(store.runs()) == 1


def test_a_transaction_whose_lock_went_to_another_mock_writes_nothing(
    make: Callable[..., RedisStore], redis_url: str
) -> None:
    """As when a holder stalls past the lock's time and another replica takes it."""
    store = make()
    with pytest.raises(StoreUnreachable, match="lost its lock") as raised, store.transaction():
        store.add_run(record(1))
        raw(redis_url).set(store.prefix + "lock", "another mock's token")
    assert raised.value.status == 503
    assert store.runs() == []
    assert raw(redis_url).get(store.prefix + "lock") == b"another mock's token"  # not freed


def test_a_lock_whose_holder_died_is_free_once_it_expires(
    make: Callable[..., RedisStore], redis_url: str
) -> None:
    store = make()
    raw(redis_url).set(store.prefix + "lock", "a killed mock's token", px=200)
    store.add_run(record(1))
    assert len(store.runs()) == 1


def test_a_mock_that_cannot_have_the_lock_says_so(
    make: Callable[..., RedisStore], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_lock, "LOCK_WAIT_SECONDS", 0.05)
    store = make()
    raw(redis_url).set(store.prefix + "lock", "a stuck mock's token", px=60_000)
    with pytest.raises(StoreUnreachable, match="another mock held the lock"):
        store.add_run(record(1))


def test_keys_of_another_format_are_refused_naming_the_prefix(
    make: Callable[..., RedisStore], redis_url: str, tmp_path: Path
) -> None:
    raw(redis_url).hset(f"test:{tmp_path}:old:meta", "format", "letta-mock-redis 0")
    with pytest.raises(redis_store.IncompatibleStore, match=r"letta-mock-redis 0.*--redis-prefix"):
        make("old")


def test_an_unreachable_redis_at_start_is_one_sentence_naming_the_url() -> None:
    with pytest.raises(CannotOpen) as refused:
        RedisStore("redis://user:secret@127.0.0.1:1/0")
    said = str(refused.value)
    assert "redis://user:***@127.0.0.1:1/0" in said and "--redis-url" in said
    assert "secret" not in said and "\n" not in said


def test_a_redis_that_stops_is_unreachable_until_it_comes_back(
    make_redis: Callable[..., RedisServer], make: Callable[..., RedisStore]
) -> None:
    server = make_redis(append_only=True)
    store = make(url=server.url)
    store.add_run(record(1))
    server.stop()
    with pytest.raises(StoreUnreachable, match=f"{server.url}.*unreachable") as raised:
        store.add_run(record(2))
    assert raised.value.status == 503
    with pytest.raises(StoreUnreachable):
        store.get_run(record(1).id)
    server.start()  # the same port, and what it had written to its append-only file
    store.add_run(record(2))
    assert [r.id for r in store.runs()] == [record(1).id, record(2).id]


def test_a_redis_out_of_memory_is_a_failed_write_that_keeps_the_others(
    make_redis: Callable[..., RedisServer], make: Callable[..., RedisStore]
) -> None:
    server = make_redis()
    raw(server.url).config_set("maxmemory", 4 * 1024 * 1024)
    store = make(url=server.url, max_runs=10_000)
    kept: list[str] = []
    with pytest.raises(StoreFailed, match="maxmemory") as raised:
        for n in range(100):  # 10 MB of requests
            store.add_run(big(n, "created"))
            kept.append(big(n, "x").id)
    assert not isinstance(raised.value, StoreUnreachable) and raised.value.status == 507
    assert kept and [r.id for r in store.runs()] == kept


def test_a_store_full_of_active_runs_is_still_store_full(make: Callable[..., RedisStore]) -> None:
    store = make(max_runs=1)
    store.add_run(record(1))
    with pytest.raises(StoreFull, match="max_runs"):
        store.add_run(record(2))


def test_the_config_needs_a_url_and_allows_several_workers() -> None:
    with pytest.raises(ValueError, match="store 'redis' needs redis_url"):
        MockConfig(store="redis")
    config = MockConfig(
        store="redis", redis_url="redis://127.0.0.1:6379/0", server="granian", workers=2
    )
    assert config.redis_prefix == "letta-mock:"


@pytest.fixture
def lock(redis_url: str, tmp_path: Path) -> RedisLock:
    return RedisLock(raw(redis_url), f"test:{tmp_path}:lock:")


def test_the_lock_goes_to_the_waiters_in_the_order_they_asked(lock: RedisLock) -> None:
    lock.acquire("first")
    order: list[str] = []
    waiters = []
    for n, token in enumerate(("second", "third"), start=1):
        waiter = threading.Thread(target=lambda t=token: (lock.acquire(t), order.append(t)))
        waiter.start()
        waiters.append(waiter)
        while lock.client.llen(lock.prefix + "waiters") < n:  # queued
            time.sleep(0.001)
    assert lock.commit("first", [])
    waiters[0].join(5)
    assert order == ["second"] and lock.commit("second", [])
    waiters[1].join(5)
    assert order == ["second", "third"] and lock.commit("third", [])
    assert lock.client.get(lock.key) is None  # free: nobody waits


def test_a_waiter_that_died_is_passed_over(lock: RedisLock) -> None:
    lock.acquire("holder")
    lock.client.rpush(lock.prefix + "waiters", "dead")  # queued, no sign of life
    assert lock.commit("holder", [])
    lock.acquire("next")  # the lock is free, not handed to the dead waiter
    assert lock.client.get(lock.key) == b"next"


def test_a_commit_sent_twice_writes_once_and_succeeds_twice(lock: RedisLock) -> None:
    """As when the reply to the first is lost and the client sends it again."""
    lock.acquire("token")
    count = lock.prefix + "count"
    assert lock.commit("token", [("HINCRBY", count, "n", 1)])
    assert lock.commit("token", [("HINCRBY", count, "n", 1)])
    assert lock.client.hget(count, "n") == b"1"
    assert not lock.commit("another token", [("HINCRBY", count, "n", 1)])
