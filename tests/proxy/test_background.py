"""The background judge's queue: one thread runs the jobs in the order they were submitted; a
full queue makes the submitter wait (nothing is dropped); close() runs everything queued
before it returns; a job that raises is reported and the next one runs.

No test sleeps or times anything: each waits on events and on the queue's own changes, with
a generous timeout that only a hang would reach."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from suite.broken import Answer, Environ, Middleware, serve, status_goes_back

from letta_contract_kit.contract_tests.proxy.background import JudgingQueue

from .conftest import AUTH, proxied

HANG = 30.0  # seconds: reached only if something hangs
VALID = {"input": "What is the capital of Portugal?", "max_steps": 1}


def no_error(exc: BaseException) -> None:
    raise AssertionError(f"no job should fail: {exc!r}")


class Gate:
    """A job that holds the queue's thread until it is opened."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self) -> None:
        self.entered.set()
        assert self.opened.wait(HANG), "the gate was never opened"

    def hold(self, queue: JudgingQueue) -> None:
        """Submit the gate and wait until the queue's thread is inside it."""
        queue.submit(self)
        assert self.entered.wait(HANG)


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, threading.Event]:
    """Start ``call`` in a thread; the event is set once it has returned."""
    returned = threading.Event()

    def run() -> None:
        call()
        returned.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, returned


def test_jobs_run_in_submission_order_on_one_thread_of_the_queue() -> None:
    ran: list[tuple[int, str]] = []
    queue = JudgingQueue(no_error)
    for i in range(200):
        queue.submit(lambda i=i: ran.append((i, threading.current_thread().name)))
    queue.close()
    assert [i for i, _ in ran] == list(range(200))
    assert {name for _, name in ran} == {"letta-proxy-judge"}


def test_a_queue_full_of_jobs_makes_the_submitter_wait_until_one_is_done() -> None:
    ran: list[str] = []
    gate = Gate()
    queue = JudgingQueue(no_error, max_jobs=1)
    gate.hold(queue)
    queue.submit(lambda: ran.append("queued"))  # the one place there is
    thread, returned = in_thread(lambda: queue.submit(lambda: ran.append("waited")))
    assert queue.wait_for(lambda: queue.waiting == 1, HANG)
    assert not returned.is_set() and ran == []  # it waits while the queue is full
    gate.opened.set()
    thread.join(HANG)
    assert returned.is_set()
    queue.close()
    assert ran == ["queued", "waited"]  # nothing dropped, order kept
    assert queue.waited == 1 and queue.done == 3


def test_a_queue_full_of_bytes_makes_the_submitter_wait_and_an_empty_one_takes_any_size() -> None:
    ran: list[int] = []
    gate = Gate()
    queue = JudgingQueue(no_error, max_bytes=10)
    queue.submit(lambda: ran.append(100), size=100)  # larger than the bound: the queue was empty
    queue.close()
    assert ran == [100] and queue.waited == 0
    queue = JudgingQueue(no_error, max_bytes=10)
    gate.hold(queue)
    queue.submit(lambda: ran.append(6), size=6)
    thread, returned = in_thread(lambda: queue.submit(lambda: ran.append(5), size=5))
    assert queue.wait_for(lambda: queue.waiting == 1, HANG)  # 6 + 5 bytes > 10
    assert not returned.is_set()
    gate.opened.set()
    thread.join(HANG)
    queue.close()
    assert ran == [100, 6, 5] and queue.waited == 1


def test_close_runs_everything_queued_and_waiting_before_it_returns() -> None:
    ran: list[int] = []
    gate = Gate()
    queue = JudgingQueue(no_error, max_jobs=3)
    gate.hold(queue)
    for i in range(3):
        queue.submit(lambda i=i: ran.append(i))
    submitter, _ = in_thread(lambda: queue.submit(lambda: ran.append(3)))
    assert queue.wait_for(lambda: queue.waiting == 1, HANG)
    closer, closed = in_thread(queue.close)
    assert not closed.is_set()  # the gate still holds every job
    gate.opened.set()
    closer.join(HANG)
    submitter.join(HANG)
    assert closed.is_set()
    assert ran == [0, 1, 2, 3] and queue.pending == 0


def test_after_close_a_job_runs_where_it_is_submitted() -> None:
    queue = JudgingQueue(no_error)
    queue.close()
    where: list[threading.Thread] = []
    queue.submit(lambda: where.append(threading.current_thread()))
    assert where == [threading.current_thread()]


def test_a_job_that_raises_is_reported_and_the_next_one_still_runs() -> None:
    errors: list[BaseException] = []
    ran: list[str] = []
    queue = JudgingQueue(errors.append)
    broken = ValueError("a check fell over")

    def breaks() -> None:
        raise broken

    queue.submit(breaks)
    queue.submit(lambda: ran.append("next"))
    queue.close()
    assert errors == [broken] and ran == ["next"]


def test_an_on_error_that_raises_does_not_stop_the_queue() -> None:
    ran: list[str] = []

    def complains(exc: BaseException) -> None:
        raise RuntimeError("the log is gone")

    queue = JudgingQueue(complains)
    queue.submit(lambda: 1 / 0)
    queue.submit(lambda: ran.append("next"))
    queue.close()
    assert ran == ["next"]


@pytest.mark.parametrize("bound", [{"max_jobs": 1}, {"max_bytes": 1}])
def test_wait_idle_returns_once_every_job_submitted_is_done(bound: dict[str, int]) -> None:
    ran: list[int] = []
    queue = JudgingQueue(no_error, **bound)
    for i in range(20):
        queue.submit(lambda i=i: ran.append(i), size=1)
    assert queue.wait_idle(HANG)
    assert ran == list(range(20))
    queue.close()


# ---- the proxy: background judging finds what inline judging finds ---------------------------

NO_RUN = "run-00000000-0000-4000-8000-000000000000"


def drive(url: str, agent: str) -> None:
    """One application's traffic, one request at a time: two runs created and polled (the
    first goes back from completed to running), a cancel, a listing, an invalid body, an
    unknown run and a route outside the contract."""
    messages = f"{url}/v1/agents/{agent}/messages"
    first = requests.post(f"{messages}/async", json=VALID, headers=AUTH).json()["id"]
    for _ in range(4):
        requests.get(f"{url}/v1/runs/{first}", headers=AUTH)
    second = requests.post(f"{messages}/async", json=VALID, headers=AUTH).json()["id"]
    requests.post(f"{messages}/cancel", json={"run_ids": [second]}, headers=AUTH)
    requests.get(f"{url}/v1/runs/{second}", headers=AUTH)
    requests.get(f"{url}/v1/runs/", params={"agent_id": agent}, headers=AUTH)
    requests.post(f"{messages}/async", json={"input": 5}, headers=AUTH)
    requests.get(f"{url}/v1/runs/{NO_RUN}", headers=AUTH)
    requests.get(f"{url}/v1/health/", headers=AUTH)


class Replay:
    """A WSGI app that answers the requests it gets with ``answers``, in order: the upstream
    gives the same answers, byte for byte, however often the traffic is driven."""

    def __init__(self, answers: list[tuple[str, Answer]]) -> None:
        self.answers = answers
        self.next = 0

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        request, answer = self.answers[self.next]
        self.next += 1
        assert f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}" == request
        start_response(f"{answer.status} Status", answer.headers)
        return [answer.body]


def recorded_answers(agent: str) -> list[tuple[str, Answer]]:
    """What the mock (one whose runs go back from completed to running) answers to
    :func:`drive`."""
    answers: list[tuple[str, Answer]] = []

    def keep(environ: Environ, answer: Answer) -> None:
        answers.append((f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}", answer))

    with serve(lambda app: Middleware(status_goes_back(app), None, keep), agent) as mock:
        drive(mock, agent)
    return answers


TIMES = frozenset({"seconds", "elapsed", "elapsed_ms", "at", "date"})


def untimed(value: Any) -> Any:
    """A report or cassette line without what depends on when it was made (durations, the
    offsets in a run's history, the upstream's Date header)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k.lower() not in TIMES}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\+\s*\d+\.\d+s ", "+T ", value)
    return value


def judged_through_proxy(
    upstream: str, agent: str, folder: Path, **options: Any
) -> tuple[Any, str, list[Any]]:
    """The report, the log and the cassette of a proxy that saw :func:`drive`'s traffic."""
    folder.mkdir()
    report, cassette = folder / "report.json", folder / "cassette.jsonl"
    with proxied(upstream, report=str(report), record=str(cassette), **options) as proxy:
        drive(proxy.url, agent)
    lines = [untimed(json.loads(line)) for line in cassette.read_text().splitlines()]
    return untimed(json.loads(report.read_text())), proxy.log.getvalue(), lines


def test_background_judging_finds_and_reports_what_inline_judging_does(tmp_path: Path) -> None:
    agent = f"agent-{uuid.uuid4()}"
    replay = Replay(recorded_answers(agent))
    with serve(lambda app: replay, agent) as upstream:
        inline = judged_through_proxy(upstream, agent, tmp_path / "inline", judge_inline=True)
        replay.next = 0
        background = judged_through_proxy(upstream, agent, tmp_path / "background")
    report, log, cassette = background
    assert [v["rule_id"] for v in report["violations"]] == ["terminal-final"]
    assert [f["kind"] for f in report["findings"]] == ["client"]
    assert report["divergences"] and report["requests"] == len(replay.answers)
    assert [line["seq"] for line in cassette] == list(range(1, len(replay.answers) + 1))
    assert "VIOLATION [status_moves_forward] terminal-final" in log
    assert inline == background
