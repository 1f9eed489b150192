"""The contract suite against targets that hang, reset, refuse or answer garbage.

Each run of ``letta-contract run`` must end by itself well within its deadline, exit with a
meaningful code (2: the target could not be talked to; 1: it answered against the contract),
say what went wrong in words a person can act on, and never crash with a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from reliability.receivers import (
    SocketServer,
    closed_port,
    garbage,
    garbage_json,
    hang,
    reset,
)

REQUEST_TIMEOUT = 2  # seconds the suite waits for one answer
DEADLINE = 20  # seconds the suite may run in all
GRACE = 40  # on top of the deadline, before this test stops waiting for the suite
AGENT = "agent-5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"


def run_suite(base_url: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-c",
        "import sys; from letta_contract_kit.contract_tests.cli import main; sys.exit(main())",
        "run",
        "--base-url",
        base_url,
        "--profile",
        "quick",
        "--timeout",
        str(REQUEST_TIMEOUT),
        "--deadline",
        str(DEADLINE),
        "--agent-id",
        AGENT,
        "--seed",
        "1",
        "--rate-limit",
        "0",
        "--no-callbacks",
    ]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=DEADLINE + GRACE, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"the suite was still running {DEADLINE + GRACE} s after start "
            f"(deadline {DEADLINE} s); output so far: {exc.stdout!r} {exc.stderr!r}"
        ) from None


def check_reported(
    completed: subprocess.CompletedProcess[str], codes: set[int], words: str, where: str
) -> None:
    output = completed.stdout + completed.stderr
    assert "Traceback (most recent call last)" not in output, output[-3000:]
    assert completed.returncode in codes, (completed.returncode, output[-3000:])
    assert re.search(words, output, re.IGNORECASE), (
        f"the output does not name the fault ({words}): {output[-3000:]}"
    )
    assert where in output, f"the output does not name the target {where}: {output[-3000:]}"


BROKEN: list[tuple[str, Callable[[SocketServer, Any], None], set[int], str]] = [
    ("hangs", hang, {2}, r"time(d)? ?out|no answer|did not answer"),
    ("resets", reset, {2}, r"reset|connection|abort"),
    ("answers-bytes-not-http", garbage, {2}, r"connection|http|protocol|status|invalid|malformed"),
    (
        "answers-nonsense-json",
        garbage_json,
        {1, 2},
        r"health|version|status|violat|schema|expected",
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "codes", "words"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_suite_reports_a_broken_target_and_stops(
    behaviour: Callable[[SocketServer, Any], None], codes: set[int], words: str
) -> None:
    with SocketServer(behaviour) as target:
        completed = run_suite(target.url)
        assert target.got_request.is_set(), "the suite never reached the target"
    check_reported(completed, codes, words, f"127.0.0.1:{target.port}")


def test_suite_reports_a_refused_connection_and_stops() -> None:
    port = closed_port()
    completed = run_suite(f"http://127.0.0.1:{port}")
    check_reported(completed, {2}, r"refused|connect", f"127.0.0.1:{port}")
