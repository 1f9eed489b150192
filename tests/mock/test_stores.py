"""Both stores keep the same promises; SQLite also shares state across processes and restarts."""

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

from mockserver import MockConfig, MockServer
from mockserver.records import Phase, RunRecord
from mockserver.service import MockService
from mockserver.store import MemoryStore, SqliteStore, Store, StoreFull
from mockserver.store.sqlite import IncompatibleFile

from .conftest import AGENT


def record(n: int, status: str = "created", agent: str = AGENT) -> RunRecord:
    run_id = f"run-00000000-0000-4000-8000-{n:012d}"
    return RunRecord(
        run={"id": run_id, "status": status, "agent_id": agent},
        request={"input": "hi"},
        scenario="succeed",
        plan=[Phase("created", 1.0), Phase("running", 1.0), Phase("completed", None)],
    )


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[int], Store]]:
    opened: list[Store] = []

    def make(max_runs: int = 100) -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore(max_runs=max_runs)
        else:
            store = SqliteStore(str(tmp_path / f"runs{len(opened)}.db"), max_runs=max_runs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_a_stored_run_reads_back_equal(make_store: Callable[[int], Store]) -> None:
    store = make_store(100)
    original = record(1)
    store.add_run(original)
    found = store.get_run(original.id)
    assert found is not None
    assert found.run == original.run and found.plan == original.plan
    assert store.get_run("run-00000000-0000-4000-8000-999999999999") is None


def test_changes_are_kept_only_when_saved(make_store: Callable[[int], Store]) -> None:
    store = make_store(100)
    store.add_run(record(1))
    changed = store.get_run(record(1).id)
    assert changed is not None
    changed.run["status"] = "running"
    assert store.get_run(changed.id).run["status"] == "created"  # type: ignore[union-attr]
    store.save_run(changed)
    assert store.get_run(changed.id).run["status"] == "running"  # type: ignore[union-attr]


def test_runs_come_in_creation_order_and_filter_by_agent(
    make_store: Callable[[int], Store],
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
    make_store: Callable[[int], Store],
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


def test_a_saved_run_that_settles_is_no_longer_due(make_store: Callable[[int], Store]) -> None:
    store = make_store(100)
    store.add_run(record(1))
    ended = store.get_run(record(1).id)
    assert ended is not None
    ended.run["status"] = "completed"
    store.save_run(ended)
    assert store.due_runs(1e12) == []


def test_beyond_max_runs_the_oldest_ended_runs_are_evicted_first(
    make_store: Callable[[int], Store],
) -> None:
    store = make_store(3)
    store.add_run(record(1, "running"))
    store.add_run(record(2, "completed"))
    store.add_run(record(3, "failed"))
    store.add_run(record(4))
    assert [r.id[-1] for r in store.runs()] == ["1", "3", "4"]


def test_a_store_full_of_active_runs_refuses_a_new_one(make_store: Callable[[int], Store]) -> None:
    store = make_store(2)
    store.add_run(record(1))
    store.add_run(record(2))
    with pytest.raises(StoreFull):
        store.add_run(record(3))
    assert len(store.runs()) == 2


def test_agents_settings_and_clear(make_store: Callable[[int], Store]) -> None:
    store = make_store(100)
    store.add_agent({"id": AGENT, "name": "a"})
    store.set_setting("queue", ["fail"])
    store.add_run(record(1))
    assert store.get_agent(AGENT) == {"id": AGENT, "name": "a"}
    assert store.get_setting("queue") == ["fail"]
    assert store.get_setting("nothing") is None
    store.clear()
    assert (store.get_agent(AGENT), store.get_setting("queue"), store.runs()) == (None, None, [])


def test_a_failed_sqlite_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "tx.db"))
    with pytest.raises(RuntimeError), store.transaction():
        store.add_run(record(1))
        raise RuntimeError("boom")
    assert store.runs() == []
    store.close()


def test_a_full_store_answers_503_not_500() -> None:
    from mockserver import create_app

    app = create_app(MockConfig(agents=[AGENT], clock="per-poll", max_runs=1))
    client = app.test_client()
    url = f"/v1/agents/{AGENT}/messages/async"
    assert client.post(url, json={"input": "a"}).status_code == 200
    full = client.post(url, json={"input": "b"})
    assert full.status_code == 503 and "max-runs" in full.get_json()["detail"]
    app.extensions["letta_mock"].close()


def sqlite_config(path: Path, **fields: Any) -> MockConfig:
    fields.setdefault("clock", "per-poll")
    return MockConfig(agents=[AGENT], store="sqlite", sqlite_path=str(path), **fields)


def test_a_sqlite_file_of_another_format_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE runs (id TEXT)")
    connection.execute("PRAGMA user_version=1")
    connection.commit()
    connection.close()
    with pytest.raises(IncompatibleFile, match="another letta-mock version"):
        SqliteStore(str(path))


def test_sqlite_keeps_runs_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    first = MockService(sqlite_config(path))
    run = first.create_run(AGENT, {"input": "remember me"})
    first.get_run(run["id"], polled=True)
    first.close()
    second = MockService(sqlite_config(path))
    again = second.get_run(run["id"], polled=True)
    assert again is not None and again["status"] == "completed"
    second.close()


def test_two_services_on_one_sqlite_file_share_runs_queue_and_virtual_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    one = MockService(sqlite_config(path, clock="virtual"))
    two = MockService(sqlite_config(path, clock="virtual"))
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


def test_a_separate_worker_process_sees_the_same_runs(tmp_path: Path, free_port: int) -> None:
    path = tmp_path / "workers.db"
    cli = [
        sys.executable,
        "-m",
        "mockserver",
        "--port",
        str(free_port),
        "--store",
        "sqlite",
        "--sqlite-path",
        str(path),
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
        with MockServer(sqlite_config(path)) as here:
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


def test_the_sdk_works_end_to_end_on_the_sqlite_store_with_the_wall_clock(tmp_path: Path) -> None:
    from letta_client import Letta

    from mockserver import Timings

    from .receiver import Receiver

    config = sqlite_config(
        tmp_path / "e2e.db", clock="wall", timings=Timings(queued=0.0, running=0.05, slow_running=1)
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
