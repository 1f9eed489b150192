"""The console reporter: plain lines where output is a file, a pipe or a CI log; a progress
line redrawn in place and colour on a terminal; no colour under NO_COLOR."""

from __future__ import annotations

import io

import pytest

from letta_contract_kit.contract_tests.events import (
    CaseFinished,
    Event,
    Notice,
    PhaseFinished,
    PhaseStarted,
    SuiteFinished,
    SuiteResult,
    SuiteStarted,
    Violation,
)
from letta_contract_kit.contract_tests.reporting import ConsoleReporter
from letta_contract_kit.contract_tests.reporting.terminal import Terminal

ESCAPE = "\x1b["
RED = "\x1b[31m"


class FakeTerminal(io.StringIO):
    """What the reporter writes, from a stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def violation() -> Violation:
    return Violation(
        check="status_code_conformance",
        purpose="answers have the documented status",
        message="expected 4xx, got 200",
        cause="malformed agent id",
        rule="a malformed agent id is refused",
        rule_id="malformed-agent-id-refused",
        source="documentation version 003",
        phase="negative",
        case="malformed agent id",
        seed=7,
        curl="curl -X POST http://127.0.0.1:9/v1/agents/agent-x/messages/async",
    )


def a_run(clock: FakeClock) -> list[Event]:
    """A suite run of one phase with three answers (one a violation), in events."""
    result = SuiteResult("http://127.0.0.1:9", "quick", 7, ("status_code_conformance",))
    result.violations = [violation()]
    events: list[Event] = [
        SuiteStarted("http://127.0.0.1:9", "quick", 7, ("status_code_conformance",), 50),
        PhaseStarted("negative", "requests the contract rejects", 1, 2),
        CaseFinished("negative", "a", 422, "."),
        CaseFinished("negative", "b", 200, "x"),
        Notice("the target has no listing route", "info"),
        CaseFinished("negative", "c", 422, "."),
        PhaseFinished("negative", 3, 1.5),
        Notice("cannot reach the target: connection refused", "error"),
        SuiteFinished(result),
    ]
    return events


def report(stream: io.StringIO, terminal: Terminal | None = None) -> str:
    clock = FakeClock()
    reporter = ConsoleReporter(stream, terminal=terminal, clock=clock)
    for event in a_run(clock):
        clock.now += 0.5  # every event comes after a redraw is due
        reporter(event)
    return stream.getvalue()


def test_a_file_or_pipe_gets_plain_lines_of_marks_and_no_escape_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = report(io.StringIO())
    assert ESCAPE not in out and "\r" not in out
    assert "negative [1/2]: requests the contract rejects\n  .x\n" in out
    assert "  [note] the target has no listing route\n  .\n  3 requests in 1.5 s; 1 x\n" in out


def test_a_terminal_gets_a_progress_line_and_violations_in_colour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    out = report(FakeTerminal())
    assert "\r  [1/2] negative  2 requests  1.0 s; \x1b[31;1m1 x\x1b[0m" in out  # redrawn
    assert "  3 requests in 1.5 s; \x1b[31;1m1 x\x1b[0m\n" in out
    assert RED + "1. [status_code_conformance] expected 4xx, got 200" in out
    assert "\x1b[31;1mNOT CONFORMING\x1b[0m: 1 violation(s)" in out
    assert ".x" not in out  # the marks gave way to the progress line


@pytest.mark.parametrize(
    ("environ", "colour", "live"),
    [
        ({"TERM": "xterm"}, True, True),
        ({"TERM": "xterm", "NO_COLOR": "1"}, False, True),
        ({"TERM": "xterm", "NO_COLOR": ""}, True, True),  # set but empty: no-color.org says ignore
        ({"TERM": "xterm", "CI": "true"}, True, False),
        ({"TERM": "xterm", "CI": "false"}, True, True),
        ({"TERM": "dumb"}, False, False),
    ],
)
def test_what_a_terminal_allows_follows_the_environment(
    environ: dict[str, str], colour: bool, live: bool
) -> None:
    assert Terminal.of(FakeTerminal(), environ) == Terminal(colour=colour, live=live)
    assert Terminal.of(io.StringIO(), environ) == Terminal(colour=False, live=False)


def test_no_color_on_a_terminal_means_no_escape_code_at_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    out = report(FakeTerminal())
    assert ESCAPE not in out
    assert "\r  [1/2] negative  2 requests  1.0 s; 1 x" in out  # the line is still redrawn


def test_an_error_is_printed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    clock = FakeClock()
    result = SuiteResult("http://127.0.0.1:9", "quick", 7, ())
    result.errors = ["cannot reach the target: connection refused"]
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, clock=clock)
    reporter(Notice(result.errors[0], "error"))
    reporter(SuiteFinished(result))
    assert stream.getvalue().count("cannot reach the target") == 1
    assert "ERROR: cannot reach the target: connection refused\n" in stream.getvalue()
