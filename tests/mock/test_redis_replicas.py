"""Mock replicas on several machines: ``letta-mock`` processes on their own ports over one
Redis, as behind a load balancer. Each replica has its own sweep and callback senders; the
runs, agents, scenario queue and clock are Redis'.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from reliability.cli_process import CliMock
from reliability.receivers import closed_port

from .conftest import AGENT
from .receiver import Receiver
from .redis_server import RedisServer

POST = f"/v1/agents/{AGENT}/messages/async"
# Bounds of the loops that wait for something to happen (never asserted as durations).
WAIT_ATTEMPTS = 200
WAIT_PAUSE = 0.05
# Sweeps each replica makes in this long (one per 20 ms): room for a second callback to show.
SETTLE = 0.3


def replica_args(url: str, *timings: str) -> tuple[str, ...]:
    return ("--store", "redis", "--redis-url", url, "--agent", AGENT, "--clock", "wall", *timings)


@pytest.fixture
def start_replicas(tmp_path: Path) -> Iterator[Callable[..., list[CliMock]]]:
    """``start(url, count, *timing flags)``: replicas over the Redis at ``url``; stopped after
    the test."""
    started: list[CliMock] = []

    def start(url: str, count: int, *timings: str) -> list[CliMock]:
        made = []
        for _ in range(count):
            mock = CliMock(closed_port(), tmp_path / f"replica{len(started)}.log")
            mock.args = replica_args(url, *timings)
            started.append(mock.start())
            made.append(mock)
        return made

    yield start
    for mock in started:
        mock.stop()


def get(mock: CliMock, path: str) -> Any:
    answer = requests.get(mock.base_url + path, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(mock: CliMock, path: str, body: dict[str, Any]) -> Any:
    answer = requests.post(mock.base_url + path, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_until(check: Callable[[], bool], what: str) -> None:
    for _ in range(WAIT_ATTEMPTS):
        if check():
            return
        time.sleep(WAIT_PAUSE)
    raise AssertionError(f"never: {what}")


def test_a_run_made_on_one_replica_is_polled_and_cancelled_on_the_other(
    make_redis: Callable[..., RedisServer], start_replicas: Callable[..., list[CliMock]]
) -> None:
    server = make_redis()
    one, two = start_replicas(server.url, 2, "--queued-seconds", "60")
    with Receiver() as receiver:
        run = post(one, POST, {"input": "hi", "callback_url": receiver.url})
        assert get(two, f"/v1/runs/{run['id']}")["status"] == "created"
        cancelled = post(two, f"/v1/agents/{AGENT}/messages/cancel", {"run_ids": [run["id"]]})
        assert cancelled == {run["id"]: "cancelled"}
        for mock in (one, two):
            listed = get(mock, f"/v1/runs/?agent_id={AGENT}")
            assert [(r["id"], r["status"]) for r in listed] == [(run["id"], "cancelled")]
        wait_until(
            lambda: get(one, f"/v1/runs/{run['id']}")["callback_status_code"] == 200,
            "the callback's outcome was stored",
        )
        time.sleep(SETTLE)
        assert [(c["run_id"], c["status"]) for c in receiver.received] == [(run["id"], "cancelled")]


def test_runs_both_replicas_sweep_send_their_callback_once(
    make_redis: Callable[..., RedisServer], start_replicas: Callable[..., list[CliMock]]
) -> None:
    """Both replicas' sweeps find the same runs due at the same moment; of the two, only the
    one whose transaction stored the end sends the callback."""
    server = make_redis()
    replicas = start_replicas(server.url, 2, "--queued-seconds", "0", "--running-seconds", "0.2")
    with Receiver() as receiver:
        made = [
            post(replicas[n % 2], POST, {"input": f"run {n}", "callback_url": receiver.url})["id"]
            for n in range(20)
        ]

        def all_recorded() -> bool:
            listed = get(replicas[0], "/v1/runs/?limit=100")
            return all(r["callback_status_code"] == 200 for r in listed)

        wait_until(all_recorded, "every run's callback was recorded")
        time.sleep(SETTLE)
        sent = Counter(c["run_id"] for c in receiver.received)
    assert set(sent) == set(made) and set(sent.values()) == {1}, sent


def test_a_replica_killed_loses_no_acknowledged_run(
    make_redis: Callable[..., RedisServer], start_replicas: Callable[..., list[CliMock]]
) -> None:
    server = make_redis()
    one, two = start_replicas(server.url, 2, "--queued-seconds", "0.1", "--running-seconds", "0.1")
    made = [post((one, two)[n % 2], POST, {"input": f"run {n}"})["id"] for n in range(30)]
    assert one.kill() == -9
    later = post(two, POST, {"input": "after the kill"})["id"]  # the lock is not lost with it
    listed = get(two, "/v1/runs/?limit=100&order=asc")
    assert [r["id"] for r in listed] == [*made, later]
    wait_until(
        lambda: all(r["status"] == "completed" for r in get(two, "/v1/runs/?limit=100")),
        "the survivor ended every run",
    )


def test_a_redis_that_stops_is_503_naming_the_store_until_it_is_back(
    make_redis: Callable[..., RedisServer], start_replicas: Callable[..., list[CliMock]]
) -> None:
    server = make_redis(append_only=True)
    (mock,) = start_replicas(server.url, 1, "--queued-seconds", "60")
    kept = post(mock, POST, {"input": "before"})["id"]
    server.stop()
    refused = requests.post(mock.base_url + POST, json={"input": "while down"}, timeout=10)
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    detail = refused.json()["detail"]
    assert f"the Redis store {server.url}" in detail and "unreachable" in detail, detail
    assert "nothing of this request was stored" in detail
    health = requests.get(mock.base_url + "/v1/health/", timeout=10)
    assert health.status_code == 503 and health.json()["status"] == "error"
    assert server.url in health.json()["detail"]
    server.start()
    wait_until(
        lambda: requests.get(mock.base_url + "/v1/health/", timeout=10).status_code == 200,
        "health recovered with Redis",
    )
    again = post(mock, POST, {"input": "after"})["id"]
    assert [r["id"] for r in get(mock, "/v1/runs/?order=asc")] == [kept, again]


@pytest.mark.parametrize("server", ["waitress", "granian"])
def test_an_unreachable_redis_at_start_is_one_line_and_exit_2(server: str) -> None:
    url = "redis://127.0.0.1:1/0"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "letta_contract_kit.mockserver", "--port", str(closed_port())),
            *("--server", server, "--store", "redis", "--redis-url", url),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("letta-mock: "), done.stderr
    assert url in lines[0] and "--redis-url" in lines[0], lines[0]
