"""Faults around the mock: bad callback receivers, and a crash of a mock that keeps its runs.

Callback tests assert on events, not on durations: a receiver holds the callback connection
until the test releases it, and the API must answer everything asked of it in the meantime.
An API that waited on a callback would never answer (the client gives up and the test fails).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from letta_contract_kit.mockserver import MockConfig, MockServer
from letta_contract_kit.schemas.contract import STATUS_RANK, TERMINAL_STATUSES
from reliability.cli_process import CliMock
from reliability.raw_http import request_json
from reliability.receivers import (
    SocketServer,
    answer_when_released,
    closed_port,
    hang,
)

AGENT = "agent-7c2d4e6f-8a9b-4c1d-9e2f-3a4b5c6d7e8f"
BODY = {"messages": [{"role": "user", "content": "hello"}]}
API_TIMEOUT = 10.0  # a client that gives up; never reached by an API that does not wait
HELD_CALLBACKS = 12  # more than the callback workers and more than waitress's threads


def create_run(base_url: str, callback_url: str | None = None) -> dict[str, Any]:
    body = {**BODY, **({"callback_url": callback_url} if callback_url else {})}
    status, run = request_json(
        base_url, "POST", f"/v1/agents/{AGENT}/messages/async", body, timeout=API_TIMEOUT
    )
    assert status == 200, run
    assert isinstance(run, dict)
    return run


def get_run(base_url: str, run_id: str) -> dict[str, Any]:
    status, run = request_json(base_url, "GET", f"/v1/runs/{run_id}", timeout=API_TIMEOUT)
    assert status == 200, run
    assert isinstance(run, dict)
    return run


def poll_until(
    base_url: str, run_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll a run until ``done`` holds (bounded: 400 polls)."""
    run: dict[str, Any] = {}
    for _ in range(400):
        run = get_run(base_url, run_id)
        if done(run):
            return run
        time.sleep(0.025)
    raise AssertionError(f"run {run_id} never reached the expected state: {run}")


def terminal(run: dict[str, Any]) -> bool:
    return run["status"] in TERMINAL_STATUSES


def callback_settled(run: dict[str, Any]) -> bool:
    return run["callback_status_code"] is not None or run["callback_error"] is not None


def api_answers_everything(base_url: str) -> None:
    """A round of the API's work: health, new runs, polls and a listing, all answered."""
    status, _ = request_json(base_url, "GET", "/v1/health/", timeout=API_TIMEOUT)
    assert status == 200
    for _ in range(5):
        run = create_run(base_url)
        assert get_run(base_url, run["id"])["id"] == run["id"]
    status, listed = request_json(base_url, "GET", "/v1/runs/?limit=5", timeout=API_TIMEOUT)
    assert status == 200 and isinstance(listed, list)


@pytest.fixture
def mock() -> Iterator[MockServer]:
    config = MockConfig(agents=[AGENT], clock="per-poll", callback_timeout=30.0)
    with MockServer(config) as server:
        yield server


@pytest.mark.parametrize("behaviour", [hang, answer_when_released], ids=["hangs", "slow"])
def test_held_callbacks_never_hold_the_api(
    mock: MockServer, behaviour: Callable[[SocketServer, Any], None]
) -> None:
    with SocketServer(behaviour) as receiver:
        runs = [create_run(mock.base_url, receiver.url) for _ in range(HELD_CALLBACKS)]
        for run in runs:
            poll_until(mock.base_url, run["id"], terminal)
        assert receiver.got_request.wait(API_TIMEOUT), "no callback reached the receiver"
        held = len(receiver.requests)
        api_answers_everything(mock.base_url)
        # The receiver has answered nothing yet: the API did all that while callbacks hung.
        assert not receiver.release.is_set()
        assert len(receiver.requests) >= held >= 1
        receiver.release.set()
        settled = [poll_until(mock.base_url, run["id"], callback_settled) for run in runs]
    if behaviour is answer_when_released:
        assert all(run["callback_status_code"] == 200 for run in settled), settled
    else:
        assert all(run["callback_error"] for run in settled), settled
    assert all(callback_settled(run) for run in settled)


def test_refused_callbacks_are_recorded_and_do_not_hold_the_api(mock: MockServer) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    runs = [create_run(mock.base_url, url) for _ in range(HELD_CALLBACKS)]
    for run in runs:
        poll_until(mock.base_url, run["id"], terminal)
    api_answers_everything(mock.base_url)
    for run in runs:
        settled = poll_until(mock.base_url, run["id"], callback_settled)
        assert settled["callback_status_code"] is None
        assert url in settled["callback_error"], settled


# -- a crash of a mock with the SQLite store ---------------------------------------------


# How the mock keeps runs across a restart: SQLite in one waitress process, and LMDB shared
# by two Granian workers.
PERSISTENT = {
    "sqlite": ("--store", "sqlite", "--sqlite-path", "{file}"),
    "lmdb-two-workers": (
        *("--store", "lmdb", "--lmdb-path", "{file}"),
        *("--server", "granian", "--workers", "2"),
    ),
}


def persistent_mock(kind: str, port: int, database: Path, log: Path) -> CliMock:
    args = [arg.replace("{file}", str(database)) for arg in PERSISTENT[kind]]
    return CliMock(port, log, *args, "--agent", AGENT, "--clock", "per-poll")


def port_closes(base_url: str, attempts: int = 100) -> bool:
    for _ in range(attempts):
        try:
            request_json(base_url, "GET", "/v1/health/", timeout=1)
        except OSError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kind", sorted(PERSISTENT))
def test_sigkill_and_restart_loses_no_run(kind: str, tmp_path: Path) -> None:
    database = tmp_path / "runs.store"
    log = tmp_path / "mock.log"
    port = closed_port()
    base_url = f"http://127.0.0.1:{port}"
    mock = persistent_mock(kind, port, database, log).start()
    try:
        seen: dict[str, dict[str, Any]] = {}
        for index in range(40):
            run = create_run(base_url)
            for _ in range(index % 4):  # some runs polled along, some left as created
                run = get_run(base_url, run["id"])
            seen[run["id"]] = run
        assert mock.kill() == -signal.SIGKILL
        assert port_closes(base_url), "a process of the killed mock still answers on its port"
        mock = persistent_mock(kind, port, database, log).start()
        for run_id, before in seen.items():
            after = get_run(base_url, run_id)
            assert after["agent_id"] == before["agent_id"]
            assert after["created_at"] == before["created_at"]
            assert STATUS_RANK[after["status"]] >= STATUS_RANK[before["status"]], (before, after)
        status, listed = request_json(base_url, "GET", "/v1/runs/?limit=1000")
        assert status == 200 and isinstance(listed, list)
        assert set(seen) <= {run["id"] for run in listed}
    finally:
        mock.stop()
