"""The suite's limits hold against a hostile target: every request has a limit in total, the
deadline cuts a request in flight, an answer over the size cap is read no further and not
judged, the report is always written, and redaction never changes what the checks see.

No test here times anything: a thread that does not end within a generous guard is a hang
("did not end"), which is the defect these tests are about.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_contract_kit.contract_tests.client import Client, DeadlineReached, RequestTimedOut
from letta_contract_kit.contract_tests.engine import run_suite
from letta_contract_kit.contract_tests.redaction import REDACTED, Redactor
from letta_contract_kit.contract_tests.reporting import JsonReporter, JUnitReporter
from letta_contract_kit.contract_tests.verdicts import FINDINGS_PER_KIND
from letta_contract_kit.mockserver import MockConfig, MockServer
from letta_contract_kit.mockserver.config import Timings

from .broken import Answer, Middleware, WSGIApp, is_async_post, is_get_run, rewrite_runs, serve
from .conftest import fast_config

HANG_GUARD = 60.0  # seconds: only a hang gets near this
GIB = 1024**3


@contextmanager
def raw_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback server that reads a request's head and lets ``answer`` write anything."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(HANG_GUARD)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                answer(conn)
            except OSError:
                return  # the client cut the connection: what these tests want

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(HANG_GUARD)
        listener.close()


def trickle_forever(conn: socket.socket) -> None:
    """Announce a GiB, then send a KiB every fifth of a second, for ever."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {GIB}\r\n\r\n".encode()
    )
    while True:
        conn.sendall(b" " * 1024)
        time.sleep(0.2)


def head_one_byte_at_a_time(conn: socket.socket) -> None:
    """Never finish the status line: a byte every fifth of a second."""
    while True:
        conn.sendall(b"H")
        time.sleep(0.2)


def flood(conn: socket.socket) -> None:
    """Announce a GiB and send it as fast as the client reads."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {GIB}\r\n\r\n".encode()
    )
    block = b"[" * 65536
    for _ in range(GIB // len(block)):
        conn.sendall(block)


def ended(target: Callable[[], Any]) -> Any:
    """``target()``'s value, or the exception it raised; fails the test if it hangs."""
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = target()
        except BaseException as exc:  # handed to the test as the value
            outcome["value"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), "did not end: the request was not cut"
    return outcome["value"]


# ---- the client ---------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [trickle_forever, head_one_byte_at_a_time])
def test_a_trickling_answer_is_cut_at_the_per_request_limit(
    answer: Callable[[socket.socket], None],
) -> None:
    with raw_server(answer) as url:
        client = Client(url, timeout=1.0)
        outcome = ended(lambda: client.send("GET", "/v1/health/"))
    assert isinstance(outcome, RequestTimedOut)
    assert "no complete answer within 1 s" in str(outcome)


def test_the_deadline_cuts_a_request_in_flight() -> None:
    with raw_server(trickle_forever) as url:
        client = Client(url, timeout=300.0, deadline=time.monotonic() + 1.0)
        outcome = ended(lambda: client.send("GET", "/v1/health/"))
    assert isinstance(outcome, DeadlineReached)
    assert "during GET" in str(outcome)


def test_an_answer_over_the_size_cap_is_read_no_further_and_not_parsed() -> None:
    cap = 256 * 1024
    with raw_server(flood) as url:
        client = Client(url, max_response_bytes=cap)
        exchange = ended(lambda: client.send("GET", "/v1/runs/"))
    response = exchange.response
    assert response.truncated
    assert len(response.text) == cap
    assert response.json() is None
    shown = response.as_dict()
    assert shown["truncated"] is True
    assert len(json.dumps(shown)) < 8 * 1024  # an excerpt, not the answer


def test_an_unreachable_target_is_named_in_a_few_words() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = ended(lambda: Client(f"http://127.0.0.1:{port}").send("GET", "/v1/health/"))
    assert str(outcome) == f"GET http://127.0.0.1:{port}/v1/health/: connection refused"


# ---- the suite ------------------------------------------------------------------------------


def trickling_run(app: WSGIApp) -> WSGIApp:
    """Every retrieve of a run announces a GiB and sends a KiB every fifth of a second."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not is_get_run(environ):
            return app(environ, start_response)
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(GIB))]
        )

        def body() -> Iterator[bytes]:
            while True:
                yield b" " * 1024
                time.sleep(0.2)

        return body()

    return wrapped


def flooding_run(app: WSGIApp) -> WSGIApp:
    """Every retrieve of a run answers 100 MiB of JSON-looking bytes, fast."""
    block = b"[" * 65536

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not is_get_run(environ):
            return app(environ, start_response)
        size = 100 * 1024 * 1024
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(size))]
        )
        return (block for _ in range(size // len(block)))

    return wrapped


def test_a_suite_against_a_trickling_server_ends_at_its_deadline_with_its_report(
    tmp_path: Path, agent_id: str
) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    with serve(trickling_run, agent_id) as url:
        config = fast_config(url, agent_id, timeout=300.0, deadline=4.0)
        result = ended(lambda: run_suite(config, [JsonReporter(report), JUnitReporter(junit)]))
    written = json.loads(report.read_text())
    assert written["seed"] == result.seed
    assert junit.read_text().startswith("<?xml")
    assert any("deadline passed" in n for n in written["notices"]), written["notices"]
    assert not result.violations  # cutting is no verdict on the contract


def test_a_suite_against_a_flooding_server_reports_the_cut_and_keeps_its_report_small(
    tmp_path: Path, agent_id: str
) -> None:
    report = tmp_path / "report.json"
    with serve(flooding_run, agent_id) as url:
        config = fast_config(
            url, agent_id, max_response_bytes=64 * 1024, deadline=60.0, run_deadline=1.0
        )
        result = ended(lambda: run_suite(config, [JsonReporter(report)]))
    cut = [f for f in result.findings if f.kind == "too-large"]
    assert 0 < len(cut) <= FINDINGS_PER_KIND
    assert any("more 'too-large' findings are not listed" in n for n in result.notices)
    assert report.stat().st_size < 2 * 1024 * 1024
    # Half an answer proves nothing: no check judged one.
    assert not [v for v in result.violations if "JSON" in v.message]


# ---- redaction ------------------------------------------------------------------------------


def test_a_one_letter_token_changes_nothing_the_checks_see() -> None:
    with MockServer(MockConfig(clock="per-poll", token="e")) as mock:
        result = run_suite(fast_config(mock.base_url, mock.agent_id, token="e"))
    assert result.exit_code == 0, [v.message for v in result.violations]
    assert any("shorter than 8 characters" in n for n in result.notices)


def echoes_the_token_and_answers_201(app: WSGIApp) -> WSGIApp:
    """Every run carries the caller's bearer token in its metadata; a new run is a 201."""

    def change(environ: dict[str, Any], run: dict[str, Any]) -> None:
        token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        run["metadata"] = {"echo": token}

    rewrite = rewrite_runs(change)

    def after(environ: dict[str, Any], answer: Answer) -> None:
        rewrite(environ, answer)
        if is_async_post(environ) and answer.status == 200:
            answer.status = 201

    return Middleware(app, None, after)


def test_a_long_token_echoed_by_the_target_is_shown_redacted_in_every_report(
    tmp_path: Path, agent_id: str
) -> None:
    token = "sk-echoed-0123456789"
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    with serve(echoes_the_token_and_answers_201, agent_id, token=token) as url:
        config = fast_config(url, agent_id, token=token, checks=("status_code_conformance",))
        result = run_suite(config, [JsonReporter(report), JUnitReporter(junit)])
    assert result.violations, "the 201 is a violation, and its answer carries the token"
    shown = result.violations[0].response
    assert shown is not None and shown["body"]["metadata"] == {"echo": REDACTED}
    for text in (json.dumps(result.as_dict(), default=str), report.read_text(), junit.read_text()):
        assert token not in text


TOKENS = st.text(st.characters(codec="ascii", categories=("L", "N", "P")), min_size=1, max_size=24)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=TOKENS, body=st.text(max_size=200), repeat=st.integers(0, 3))
def test_what_the_target_answered_is_what_the_checks_get(
    token: str, body: str, repeat: int
) -> None:
    text = body + token * repeat
    payload = json.dumps({"detail": text}).encode()

    def answer(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )

    with raw_server(answer) as url:
        exchange = Client(url, token=token).send("POST", "/v1/x", json_body={})
    assert exchange.response is not None
    assert exchange.response.json() == {"detail": text}


@given(token=TOKENS, text=st.text(max_size=200))
def test_redaction_replaces_whole_long_secrets_and_nothing_else(token: str, text: str) -> None:
    redactor = Redactor([token])
    shown = redactor.text(text + token)
    if len(token) >= 8:
        assert token not in shown and shown.endswith(REDACTED)
    else:
        assert shown == text + token
        assert redactor.warning() is not None


def test_redaction_reaches_every_string_of_a_result() -> None:
    secret = "s3cr3t-value-42"
    redactor = Redactor([secret])
    nested = {"a": [secret, (f"x{secret}y",)], secret: {"deep": [f"--token {secret}"]}}
    shown = redactor.scrub(nested)
    assert secret not in json.dumps(shown)
    assert re.search(r"x\[REDACTED\]y", json.dumps(shown))
    assert nested["a"][0] == secret  # the original is not changed


# ---- an interrupted run -----------------------------------------------------------------------


def test_ctrl_c_cancels_the_runs_writes_the_report_and_exits_130(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with MockServer(MockConfig(clock="wall", timings=Timings(queued=60, running=60))) as mock:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "letta_contract_kit.contract_tests",
                "run",
                "--base-url",
                mock.base_url,
                "--agent-id",
                mock.agent_id,
                "--rate-limit",
                "0",
                "--report",
                str(report),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:  # wait until runs exist: the lifecycle phase has begun
            if line.startswith("lifecycle "):  # "lifecycle [n/N]: ..."
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=HANG_GUARD)
        left_active = [
            run
            for run in requests.get(f"{mock.base_url}/v1/runs/", timeout=10).json()
            if run["status"] not in ("completed", "failed", "cancelled")
        ]
    assert process.returncode == 130, err
    assert "Traceback" not in err
    written = json.loads(report.read_text())
    assert written["interrupted"] is True and written["exit_code"] == 130
    assert written["runs_created"] > 0
    assert left_active == []  # the runs it created were cancelled on the way out
