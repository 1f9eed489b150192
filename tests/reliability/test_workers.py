"""The command's processes: several Granian workers over one LMDB store act as one mock
(whichever process a connection lands on, it sees every run, and every run moves on), a worker
that dies is replaced, and the "listening" line is printed only once the server accepts."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from letta_contract_kit.schemas.contract import STATUS_RANK, TERMINAL_STATUSES
from reliability.cli_process import CliMock
from reliability.hostile_corpus import AGENT
from reliability.raw_http import request_json
from reliability.receivers import closed_port

WORKERS = 2
RUNS = 24
STARTS = 5
# Hang guards, not measures: a wait that ends sooner passes; one that never ends fails here.
GUARD_SECONDS = 30.0
HEALTH_GUARD = 10.0
PAUSE = 0.05


def worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    return [int(pid) for pid in children.read_text().split()]


def has_exited(pid: int) -> bool:
    """The process is gone and reaped (a zombie leader may still have threads, and sockets,
    open)."""
    return not Path(f"/proc/{pid}").exists()


def wait_until(what: str, condition: Callable[[], bool]) -> None:
    give_up = time.monotonic() + GUARD_SECONDS
    while not condition():
        assert time.monotonic() < give_up, f"{what}: not after {GUARD_SECONDS} s"
        time.sleep(PAUSE)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[CliMock]:
    args = ("--server", "granian", "--workers", str(WORKERS), "--agent", AGENT)
    args += ("--store", "lmdb", "--lmdb-path", str(tmp_path / "runs.lmdb"))
    args += ("--queued-seconds", "0.05", "--running-seconds", "0.3")
    mock = CliMock(closed_port(), tmp_path / "mock.log", *args).start()
    try:
        yield mock
    finally:
        mock.stop()


def test_every_connection_sees_every_run_and_runs_end_without_polls(workers: CliMock) -> None:
    assert workers.process is not None
    assert len(worker_pids(workers.process.pid)) == WORKERS
    # Health answers once one worker accepts; the line waits for every worker.
    wait_until("the listening line", lambda: '"listening"' in workers.log.read_text())
    said = [line for line in workers.log.read_text().splitlines() if '"listening"' in line]
    assert len(said) == 1 and json.loads(said[0])["workers"] == WORKERS  # one line, not one each
    created: list[str] = []
    for index in range(RUNS):  # each request on a new connection: the kernel spreads them
        status, run = request_json(
            workers.base_url,
            "POST",
            f"/v1/agents/{AGENT}/messages/async",
            {"input": f"message {index}"},
        )
        assert status == 200, run
        created.append(run["id"])
    seen: dict[str, str] = {}
    for run_id in created * 2:
        status, run = request_json(workers.base_url, "GET", f"/v1/runs/{run_id}")
        assert status == 200, (run_id, run)
        assert STATUS_RANK[run["status"]] >= STATUS_RANK.get(seen.get(run_id, "created"), 0)
        seen[run_id] = run["status"]
    time.sleep(1.0)  # longer than every run's plan: the workers' sweeps end them, unpolled
    status, listed = request_json(workers.base_url, "GET", "/v1/runs/?limit=1000")
    assert status == 200 and isinstance(listed, list)
    by_id = {run["id"]: run for run in listed}
    assert set(created) <= set(by_id)
    assert {by_id[run_id]["status"] for run_id in created} <= set(TERMINAL_STATUSES)


def test_a_killed_worker_is_replaced_and_the_runs_stay(workers: CliMock) -> None:
    assert workers.process is not None
    supervisor = workers.process.pid
    status, run = request_json(
        workers.base_url, "POST", f"/v1/agents/{AGENT}/messages/async", {"input": "kept"}
    )
    assert status == 200, run
    victim = worker_pids(supervisor)[0]
    os.kill(victim, signal.SIGKILL)
    wait_until("the killed worker exits", lambda: has_exited(victim))
    # Each request on a new connection: none may land on the dead worker's socket.
    for _ in range(RUNS):
        status, answer = request_json(workers.base_url, "GET", f"/v1/runs/{run['id']}")
        assert status == 200, answer
    wait_until(
        "a new worker replaces the killed one",
        lambda: victim not in worker_pids(supervisor) and len(worker_pids(supervisor)) == WORKERS,
    )
    assert workers.process.poll() is None, "the supervisor stopped"
    for index in range(RUNS):  # the new worker serves too, and sees the run made before
        status, answer = request_json(workers.base_url, "GET", f"/v1/runs/{run['id']}")
        assert status == 200 and answer["id"] == run["id"], answer
        status, created = request_json(
            workers.base_url,
            "POST",
            f"/v1/agents/{AGENT}/messages/async",
            {"input": f"after {index}"},
        )
        assert status == 200, created


@pytest.mark.parametrize(
    "server",
    [
        pytest.param(("--server", "waitress"), id="waitress"),
        pytest.param(("--server", "granian"), id="granian"),
        pytest.param(
            ("--server", "granian", "--workers", str(WORKERS), "--store", "lmdb"),
            id="granian-workers",
        ),
    ],
)
def test_the_listening_line_means_the_server_accepts(
    server: tuple[str, ...], tmp_path: Path
) -> None:
    """Started several times at once, each command answers a health request sent the moment
    it says "listening", with no retry."""

    mocks: list[CliMock] = []
    for index in range(STARTS):
        args = server
        if "lmdb" in server:
            args += ("--lmdb-path", str(tmp_path / f"runs{index}.lmdb"))
        mocks.append(CliMock(closed_port(), tmp_path / f"mock{index}.log", *args))

    def start_and_ask(mock: CliMock) -> int | str:
        said = mock.start_announced()
        assert said["letta_mock"] == "listening" and said["url"] == mock.base_url, said
        try:
            status, _ = request_json(mock.base_url, "GET", "/v1/health/", timeout=HEALTH_GUARD)
        except OSError as exc:  # refused or reset: the line came before the server accepted
            return repr(exc)
        return status

    try:
        with ThreadPoolExecutor(STARTS) as pool:
            answers = list(pool.map(start_and_ask, mocks))
    finally:
        for mock in mocks:
            mock.stop()
    assert answers == [200] * STARTS
