"""Several Granian workers over one LMDB store act as one mock: whichever process a
connection lands on, it sees every run, and every run moves on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliability.cli_process import CliMock
from reliability.hostile_corpus import AGENT
from reliability.raw_http import request_json
from reliability.receivers import closed_port
from schemas.contract import STATUS_RANK, TERMINAL_STATUSES

WORKERS = 2
RUNS = 24


def worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    return [int(pid) for pid in children.read_text().split()]


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
