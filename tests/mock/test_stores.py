"""Every store keeps the same promises; SQLite, LMDB and Redis also share state across
processes and restarts (Redis: a real redis-server of the tests', each test under a key prefix
of its own)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_contract_kit.mockserver import MockConfig, MockServer
from letta_contract_kit.mockserver.config import SHARED_STORES
from letta_contract_kit.mockserver.records import Phase, RunRecord
from letta_contract_kit.mockserver.service import MockService
from letta_contract_kit.mockserver.store import (
    LmdbStore,
    MemoryStore,
    SqliteStore,
    Store,
    StoreFull,
)
from letta_contract_kit.mockserver.store import lmdb as lmdb_store
from letta_contract_kit.mockserver.store import sqlite as sqlite_store

from .conftest import AGENT
from .redis_server import session_url


def record(n: int, status: str = "created", agent: str = AGENT) -> RunRecord:
    run_id = f"run-00000000-0000-4000-8000-{n:012d}"
    return RunRecord(
        run={"id": run_id, "status": status, "agent_id": agent},
        request={"input": "hi"},
        scenario="succeed",
        plan=[Phase("created", 1.0), Phase("running", 1.0), Phase("completed", None)],
    )


def redis_prefix(path: Path) -> str:
    """Where a test's Redis store lives: its path (unused otherwise) as the key prefix."""
    return f"test:{path}:"


def open_shared(kind: str, path: Path, max_runs: int = 100, max_bytes: int = 2**28) -> Store:
    if kind == "sqlite":
        return SqliteStore(str(path), max_runs=max_runs, max_bytes=max_bytes)
    if kind == "redis":
        from letta_contract_kit.mockserver.store import RedisStore

        return RedisStore(session_url(), redis_prefix(path), max_runs=max_runs, max_bytes=max_bytes)
    return LmdbStore(str(path), max_runs=max_runs, max_bytes=max_bytes)


def store_fields(kind: str, path: Path) -> dict[str, Any]:
    """The MockConfig fields of a shared store of ``kind`` at ``path``."""
    if kind == "redis":
        return {"redis_url": session_url(), "redis_prefix": redis_prefix(path)}
    return {f"{kind}_path": str(path)}


def store_flags(kind: str, path: Path) -> list[str]:
    """The same as letta-mock's flags."""
    return [
        f"--{name.replace('_', '-')}={value}" for name, value in store_fields(kind, path).items()
    ]


@pytest.fixture(params=["memory", *SHARED_STORES])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Store]]:
    if request.param == "redis":
        request.getfixturevalue("redis_url")  # the server (or the test is skipped)
    opened: list[Store] = []

    def make(max_runs: int = 100, max_bytes: int = 2**28) -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore(max_runs=max_runs, max_bytes=max_bytes)
        else:
            path = tmp_path / f"runs{len(opened)}"
            store = open_shared(request.param, path, max_runs, max_bytes)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_a_stored_run_reads_back_equal(make_store: Callable[..., Store]) -> None:
    store = make_store(100)
    original = record(1)
    store.add_run(original)
    found = store.get_run(original.id)
    assert found is not None
    assert found.run == original.run and found.plan == original.plan
    assert store.get_run("run-00000000-0000-4000-8000-999999999999") is None


def test_changes_are_kept_only_when_saved(make_store: Callable[..., Store]) -> None:
    store = make_store(100)
    store.add_run(record(1))
    changed = store.get_run(record(1).id)
    assert changed is not None
    changed.run["status"] = "running"
    assert store.get_run(changed.id).run["status"] == "created"  # type: ignore[union-attr]
    store.save_run(changed)
    assert store.get_run(changed.id).run["status"] == "running"  # type: ignore[union-attr]


def test_runs_come_in_creation_order_and_filter_by_agent(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(100)
    other = "agent-00000000-0000-4000-8000-0000000000bb"
    for n in (3, 1, 2):
        store.add_run(record(n, agent=other if n == 2 else AGENT))
    assert [r.id[-1] for r in store.runs()] == ["3", "1", "2"]
    assert [r.id[-1] for r in store.runs(other)] == ["2"]
    seqs = [r.seq for r in store.runs()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_due_runs_are_the_unsettled_ones_whose_plan_ends_by_then(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(100)
    store.add_run(record(1, "completed"))  # settled: never due
    store.add_run(record(2, "running"))  # the plan ends at 0 + 1 + 1
    never = record(3)
    never.plan = [Phase("created", 1.0), Phase("running", None)]  # the ``never`` scenario
    store.add_run(never)
    assert store.due_runs(1.99) == []
    assert [r.id[-1] for r in store.due_runs(2.0)] == ["2"]
    assert [r.id[-1] for r in store.due_runs(1e12)] == ["2"]


# One step on a store: add run n, or save it moved to ``started`` (settled when None), or ask
# which runs are due at ``now``.
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "save", "due"]),
        st.integers(0, 5),
        st.none() | st.floats(0, 10, allow_nan=False),
    ),
    max_size=30,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_due_runs_are_always_those_whose_plan_has_ended_in_creation_order(
    make_store: Callable[..., Store], steps: list[tuple[str, int, float | None]]
) -> None:
    store = make_store(100)
    store.clear()
    for action, n, moment in steps:
        run_id = record(n).id
        if action == "add" and store.get_run(run_id) is None:
            store.add_run(record(n, "running"))
        elif action == "save" and (found := store.get_run(run_id)) is not None:
            if moment is None:
                found.run["status"] = "completed"
            else:
                found.phase_started = moment
            store.save_run(found)
        elif action == "due":
            now = moment if moment is not None else 1e12
            expected = [r.id for r in store.runs() if (due := r.due()) is not None and due <= now]
            assert [r.id for r in store.due_runs(now)] == expected
            assert store.has_due(now) is bool(expected)


def watched(n: int) -> RunRecord:
    made = record(n, "running")
    made.run["callback_url"] = "http://127.0.0.1:9/callback"
    return made


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=st.lists(st.booleans(), min_size=1, max_size=8), now=st.floats(0, 4))
def test_the_sweep_gets_every_due_run_a_callback_waits_on_and_only_due_runs(
    make_store: Callable[..., Store], kinds: list[bool], now: float
) -> None:
    store = make_store(100)
    store.clear()
    runs = [watched(n) if waited_on else record(n, "running") for n, waited_on in enumerate(kinds)]
    for run in runs:
        store.add_run(run)
    waited_on = {r.id for r in runs if r.watched}
    due = [r.id for r in store.due_runs(now)]
    swept = [r.id for r in store.sweep_due(now)]
    assert [i for i in swept if i in waited_on] == [i for i in due if i in waited_on]
    assert set(swept) <= set(due)


def test_the_memory_store_sweeps_only_the_runs_a_callback_waits_on() -> None:
    store = MemoryStore(max_runs=2)
    store.add_run(record(1, "running"))  # nothing waits on its end
    store.add_run(watched(2))
    assert [r.id[-1] for r in store.sweep_due(2.0)] == ["2"]
    # Run 1 is settled by its plan now: no longer due, kept as stored until read ...
    assert [r.id[-1] for r in store.due_runs(2.0)] == ["2"]
    left = store.get_run(record(1).id)
    assert left is not None and left.run["status"] == "running"
    # ... and the first to be evicted; run 2 is due until the sweep saves it moved along.
    store.add_run(record(3))
    assert [r.id[-1] for r in store.runs()] == ["2", "3"]


def test_a_saved_run_that_settles_is_no_longer_due(make_store: Callable[..., Store]) -> None:
    store = make_store(100)
    store.add_run(record(1))
    ended = store.get_run(record(1).id)
    assert ended is not None
    ended.run["status"] = "completed"
    store.save_run(ended)
    assert store.due_runs(1e12) == []


def test_beyond_max_runs_the_oldest_ended_runs_are_evicted_first(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(3)
    store.add_run(record(1, "running"))
    store.add_run(record(2, "completed"))
    store.add_run(record(3, "failed"))
    store.add_run(record(4))
    assert [r.id[-1] for r in store.runs()] == ["1", "3", "4"]


def test_a_store_full_of_active_runs_refuses_a_new_one(make_store: Callable[..., Store]) -> None:
    store = make_store(2)
    store.add_run(record(1))
    store.add_run(record(2))
    with pytest.raises(StoreFull):
        store.add_run(record(3))
    assert len(store.runs()) == 2


def big(n: int, status: str, size: int = 100_000) -> RunRecord:
    made = record(n, status)
    made.request = {"input": "x" * size}
    return made


def test_beyond_max_bytes_the_oldest_ended_runs_are_evicted_first(
    make_store: Callable[..., Store],
) -> None:
    """Each run keeps its request: of 1,000 runs of 100 kB (a little more, encoded) a store
    of 450 kB keeps the newest three and the active one, which is never evicted."""
    store = make_store(max_runs=10_000, max_bytes=450_000)
    store.add_run(big(0, "running"))
    for n in range(1, 1000):
        store.add_run(big(n, "completed"))
    kept = [r.id for r in store.runs()]
    assert kept == [big(n, "x").id for n in (0, 997, 998, 999)]
    store.clear()
    store.add_run(big(1, "completed"))
    assert len(store.runs()) == 1  # clear() forgot the bytes too


def test_a_store_whose_bytes_are_all_active_runs_refuses_a_new_one(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(max_runs=10_000, max_bytes=250_000)
    store.add_run(big(1, "running"))
    store.add_run(big(2, "created"))
    with pytest.raises(StoreFull, match="max_store_bytes"):
        store.add_run(big(3, "created"))
    assert [r.id for r in store.runs()] == [big(1, "x").id, big(2, "x").id]


def test_a_run_larger_than_the_whole_store_evicts_nothing(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(max_runs=10_000, max_bytes=150_000)
    store.add_run(big(1, "completed"))
    with pytest.raises(StoreFull, match="max_store_bytes"):
        store.add_run(big(2, "created", size=200_000))
    assert [r.id for r in store.runs()] == [big(1, "x").id]


def test_a_run_that_grows_as_it_is_saved_counts_at_its_new_size(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(max_runs=10_000, max_bytes=350_000)  # room for three runs of 100 kB
    store.add_run(big(1, "completed", size=10))
    grown = big(1, "completed", size=200_000)
    grown.seq = store.runs()[0].seq
    store.save_run(grown)
    store.add_run(big(2, "created"))
    store.add_run(big(3, "created"))  # only fits once the grown run is evicted
    assert [r.id for r in store.runs()] == [big(2, "x").id, big(3, "x").id]


def test_agents_settings_and_clear(make_store: Callable[..., Store]) -> None:
    store = make_store(100)
    store.add_agent({"id": AGENT, "name": "a"})
    store.set_setting("queue", ["fail"])
    store.add_run(record(1))
    assert store.get_agent(AGENT) == {"id": AGENT, "name": "a"}
    assert store.get_setting("queue") == ["fail"]
    assert store.get_setting("nothing") is None
    store.clear()
    assert (store.get_agent(AGENT), store.get_setting("queue"), store.runs()) == (None, None, [])


def test_a_transaction_reads_what_it_wrote_before_it_commits(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(100)
    store.add_agent({"id": AGENT})
    store.add_run(record(1, "running"))
    with store.transaction():
        moved = store.get_run(record(1).id)
        assert moved is not None
        moved.run["status"] = "completed"
        store.save_run(moved)
        store.add_run(record(2))
        assert store.get_run(moved.id).run["status"] == "completed"  # type: ignore[union-attr]
        assert [r.id[-1] for r in store.runs(AGENT)] == ["1", "2"]
        assert [r.id[-1] for r in store.due_runs(1e12)] == ["2"]
        store.clear()
        assert (store.get_agent(AGENT), store.runs(), store.due_runs(1e12)) == (None, [], [])
        store.add_agent({"id": AGENT, "name": "again"})  # as a reset seeds its agents
        assert store.get_agent(AGENT) == {"id": AGENT, "name": "again"}
    assert store.get_agent(AGENT) == {"id": AGENT, "name": "again"} and store.runs() == []


@pytest.fixture(params=SHARED_STORES)
def shared(request: pytest.FixtureRequest) -> str:
    """The kind of a store that processes share."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return str(request.param)


def test_a_failed_transaction_leaves_nothing_behind(shared: str, tmp_path: Path) -> None:
    store = open_shared(shared, tmp_path / "tx")
    with pytest.raises(RuntimeError), store.transaction():
        store.add_run(record(1))
        raise RuntimeError("boom")
    assert store.runs() == []
    store.close()


def test_a_store_full_inside_a_transaction_keeps_what_was_there(
    shared: str, tmp_path: Path
) -> None:
    store = open_shared(shared, tmp_path / "full", max_runs=1)
    store.set_setting("queue", ["fail", "succeed"])
    store.add_run(record(1))
    with pytest.raises(StoreFull), store.transaction():
        store.set_setting("queue", ["succeed"])  # as a POST takes its scenario
        store.add_run(record(2))
    assert store.get_setting("queue") == ["fail", "succeed"]
    assert [r.id[-1] for r in store.runs()] == ["1"]
    store.close()


def test_read_modify_writes_of_two_stores_on_one_place_never_interleave(
    shared: str, tmp_path: Path
) -> None:
    """Two stores on one file (one Redis prefix), as two processes have: each of 4 threads
    adds one to a shared number 50 times, in a transaction; none of the 200 is lost."""
    import threading

    stores = [open_shared(shared, tmp_path / "count") for _ in range(2)]
    stores[0].set_setting("n", 0)

    def add(store: Store) -> None:
        for _ in range(50):
            with store.transaction():
                store.set_setting("n", store.get_setting("n") + 1)

    threads = [threading.Thread(target=add, args=(stores[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert stores[1].get_setting("n") == 200
    for store in stores:
        store.close()


def test_a_full_store_answers_503_not_500() -> None:
    from letta_contract_kit.mockserver import create_app

    app = create_app(MockConfig(agents=[AGENT], clock="per-poll", max_runs=1))
    client = app.test_client()
    url = f"/v1/agents/{AGENT}/messages/async"
    assert client.post(url, json={"input": "a"}).status_code == 200
    full = client.post(url, json={"input": "b"})
    assert full.status_code == 503 and "max-runs" in full.get_json()["detail"]
    app.extensions["letta_mock"].close()


def shared_config(kind: str, path: Path, **fields: Any) -> MockConfig:
    fields.setdefault("clock", "per-poll")
    return MockConfig(agents=[AGENT], store=kind, **store_fields(kind, path), **fields)  # type: ignore[arg-type]


def test_a_sqlite_file_of_another_format_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE runs (id TEXT)")
    connection.execute("PRAGMA user_version=1")
    connection.commit()
    connection.close()
    with pytest.raises(sqlite_store.IncompatibleFile, match="another letta-mock version"):
        SqliteStore(str(path))


def test_an_lmdb_file_of_another_format_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    import lmdb

    path = tmp_path / "other.lmdb"
    env = lmdb.open(str(path), subdir=False, max_dbs=8)
    meta = env.open_db(b"meta")
    with env.begin(write=True) as txn:
        txn.put(b"format", b"letta-mock-lmdb 0", db=meta)
    env.close()
    with pytest.raises(lmdb_store.IncompatibleFile, match="letta-mock-lmdb 0"):
        LmdbStore(str(path))
    assert str(path.resolve()) not in lmdb_store._OPEN  # the refused file is not held open


def test_a_shared_store_keeps_runs_across_a_restart(shared: str, tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    first = MockService(shared_config(shared, path))
    run = first.create_run(AGENT, {"input": "remember me"})
    first.get_run(run["id"], polled=True)
    first.close()
    second = MockService(shared_config(shared, path))
    again = second.get_run(run["id"], polled=True)
    assert again is not None and again["status"] == "completed"
    second.close()


def test_two_services_on_one_file_share_runs_queue_and_virtual_time(
    shared: str, tmp_path: Path
) -> None:
    path = tmp_path / "shared.db"
    one = MockService(shared_config(shared, path, clock="virtual"))
    two = MockService(shared_config(shared, path, clock="virtual"))
    two.queue_scenarios(["fail"])
    run = one.create_run(AGENT, {"input": "x"})
    assert two.queued_scenarios() == []  # the queue was consumed by the other worker
    two.advance_clock(60)
    seen = one.get_run(run["id"])
    assert seen is not None and seen["status"] == "failed"
    one.close()
    two.close()


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_separate_worker_process_sees_the_same_runs(
    shared: str, tmp_path: Path, free_port: int
) -> None:
    path = tmp_path / "workers.db"
    cli = [
        sys.executable,
        "-m",
        "letta_contract_kit.mockserver",
        "--port",
        str(free_port),
        "--store",
        shared,
        *store_flags(shared, path),
        "--clock",
        "per-poll",
        "--agent",
        AGENT,
    ]
    worker = subprocess.Popen(
        cli,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert worker.stdout is not None
        assert b"listening" in worker.stdout.readline()
        with MockServer(shared_config(shared, path)) as here:
            run = requests.post(
                f"{here.base_url}/v1/agents/{AGENT}/messages/async",
                json={"input": "shared"},
                timeout=5,
            ).json()
            there = f"http://127.0.0.1:{free_port}/v1/runs/{run['id']}"
            assert requests.get(there, timeout=5).json()["status"] == "running"
            assert (
                requests.get(f"{here.base_url}/v1/runs/{run['id']}", timeout=5).json()["status"]
                == "completed"
            )
    finally:
        worker.terminate()
        worker.wait(timeout=5)


def test_the_sdk_works_end_to_end_on_a_shared_store_with_the_wall_clock(
    shared: str, tmp_path: Path
) -> None:
    from letta_client import Letta

    from letta_contract_kit.mockserver import Timings

    from .receiver import Receiver

    config = shared_config(
        shared,
        tmp_path / "e2e.db",
        clock="wall",
        timings=Timings(queued=0.0, running=0.05, slow_running=1),
    )
    with MockServer(config) as mock, Receiver() as receiver:
        client = Letta(base_url=mock.base_url, api_key="k", max_retries=0)
        run = client.agents.messages.create_async(AGENT, input="hi", callback_url=receiver.url)
        assert receiver.arrived.wait(timeout=5), "the sweep never ended the run"
        assert mock.wait_for_callbacks(5)
        done = client.runs.retrieve(run.id)
        assert (done.status, done.callback_status_code) == ("completed", 200)
        assert [m.message_type for m in client.runs.messages.list(run.id).items][-1] == (
            "assistant_message"
        )


def test_an_lmdb_path_that_cannot_be_a_store_is_refused_with_a_clear_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(lmdb_store.CannotOpen, match="cannot open the LMDB store"):
        LmdbStore(str(tmp_path))  # a directory


def test_a_full_lmdb_file_refuses_a_new_run_as_store_full_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lmdb_store, "RESERVE_BASE", 1024 * 1024)  # a 1 MiB file
    monkeypatch.setattr(lmdb_store, "RESERVE_PER_RUN", 0)
    store = LmdbStore(str(tmp_path / "small.lmdb"), max_runs=1000, max_body_bytes=1)
    kept: list[str] = []
    with pytest.raises(StoreFull, match="is full"):
        for n in range(1000):
            big = record(n)
            big.request = {"input": "x" * 100_000}
            store.add_run(big)
            kept.append(big.id)
    assert kept and [r.id for r in store.runs()] == kept  # the refused run left nothing behind
    store.close()


def test_an_lmdb_file_grows_only_as_it_is_filled(tmp_path: Path) -> None:
    path = tmp_path / "runs.lmdb"
    store = LmdbStore(str(path), max_runs=10_000)
    for n in range(100):
        store.add_run(record(n))
    # The map reserves gigabytes of address space; the file holds only what was written.
    assert lmdb_store.map_size(10_000, 1_048_576) > 1024**3
    assert path.stat().st_size < 16 * 1024 * 1024
    assert len(store.runs()) == 100
    store.close()


def test_large_bodies_keep_the_mock_within_max_store_bytes() -> None:
    """Forty runs of 500 kB through the app: the store keeps what fits in 2 MiB, newest first,
    and every run it still holds reads back whole."""
    from letta_contract_kit.mockserver import create_app

    config = MockConfig(
        agents=[AGENT], clock="per-poll", max_body_bytes=600_000, max_store_bytes=2 * 2**20
    )
    app = create_app(config)
    client = app.test_client()
    created = []
    for n in range(40):
        answer = client.post(
            f"/v1/agents/{AGENT}/messages/async", json={"input": f"{n:03d}" + "x" * 500_000}
        )
        assert answer.status_code == 200, answer.get_json()
        created.append(answer.get_json()["id"])
        for _ in range(5):  # per-poll clock: polls end the run, so it can be evicted
            client.get(f"/v1/runs/{created[-1]}")
    store = app.extensions["letta_mock"].store
    kept = [r.id for r in store.runs()]
    assert sum(len(r.to_bytes()) for r in store.runs()) <= config.max_store_bytes
    assert 2 <= len(kept) <= 4 and kept == created[-len(kept) :]
    assert client.get(f"/v1/runs/{created[0]}").status_code == 404
    app.extensions["letta_mock"].close()
