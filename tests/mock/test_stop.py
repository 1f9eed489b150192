"""Stopping the in-process mock (the ``letta_mock`` fixture's server) while requests are in
flight, or just answered: it stops, and nothing is written to the log."""

from __future__ import annotations

import contextlib
import logging
import threading

import pytest
import requests

from letta_contract_kit.mockserver import MockServer, hooks
from letta_contract_kit.mockserver.faults import FAULT_HEADER

GUARD_SECONDS = 10  # against a hang, not a measure


def test_a_request_still_in_flight_when_the_mock_stops_ends_quietly(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request is held in the app (its latency fault waits on an event) until stop() has
    closed every connection and let the request threads go; its thread then hands its
    answer to a stopped server."""
    caplog.set_level(logging.DEBUG, logger="waitress")
    entered, release = threading.Event(), threading.Event()

    def held(_seconds: float) -> None:  # the fault's sleep: held by an event, nothing timed
        entered.set()
        release.wait(GUARD_SECONDS)

    monkeypatch.setattr(hooks.time, "sleep", held)
    mock = MockServer(port=0).start()
    client = threading.Thread(
        target=_get, args=(f"{mock.base_url}/v1/runs/",), kwargs={FAULT_HEADER: "latency:1"}
    )
    client.start()
    assert entered.wait(GUARD_SECONDS)
    mock.stop()  # waits STOP_SECONDS for the held request, then stops without it
    release.set()
    client.join(GUARD_SECONDS)
    for thread in threading.enumerate():
        if thread.name.startswith("waitress-"):
            thread.join(GUARD_SECONDS)
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == [("WARNING", "1 thread(s) still running")]  # waitress says so; no error


def test_a_request_thread_that_ends_its_answer_as_the_mock_stops_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The thread that answered wakes the server's loop once the answer is out (it pulls the
    server's trigger), and so possibly after stop() began: here it is held at that moment
    until stop() has closed the connections and the listener. The trigger must still be
    open then (it was closed with them once: an OSError logged by waitress)."""
    caplog.set_level(logging.DEBUG, logger="waitress")
    mock = MockServer(port=0).start()
    server = mock._server
    entered, release = threading.Event(), threading.Event()
    wake = server.pull_trigger

    def held(*args: object) -> None:
        if threading.current_thread().name.startswith("waitress-") and not entered.is_set():
            entered.set()
            release.wait(GUARD_SECONDS)
        wake(*args)

    server.pull_trigger = held
    client = threading.Thread(target=_get, args=(f"{mock.base_url}/v1/health/",), daemon=True)
    client.start()
    assert entered.wait(GUARD_SECONDS)
    stopper = threading.Thread(target=mock.stop, daemon=True)
    stopper.start()
    for _ in range(1000):  # until stop() has closed the listener (a sync, not a measure)
        if server.socket is None or server.socket.fileno() == -1:
            break
        stopper.join(0.01)
    release.set()
    stopper.join(GUARD_SECONDS)
    client.join(GUARD_SECONDS)
    assert not stopper.is_alive()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def _get(url: str, **headers: str) -> None:
    with contextlib.suppress(requests.RequestException):  # the mock stopped under it
        requests.get(url, headers=headers, timeout=5)
