"""Progress while the suite runs, then every violation with how to reproduce it.

Marks: ``.`` an answer as both readings expect, ``x`` a violation (each has its entry in the
report below), ``~`` a divergence (listed below too). On a terminal (not in CI) the marks
give way to one line per phase, redrawn in place: its number of the phases, the answers so
far, the violations and divergences among them and the time spent. Violations are in colour
on a terminal, unless ``NO_COLOR`` is set.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from letta_contract_kit.contract_tests.events import (
    CaseFinished,
    DivergenceFound,
    Event,
    Notice,
    PhaseFinished,
    PhaseStarted,
    SuiteFinished,
    SuiteResult,
    SuiteStarted,
    Violation,
)
from letta_contract_kit.contract_tests.replay import render
from letta_contract_kit.contract_tests.reporting.terminal import Terminal

WIDTH = 72
# Seconds between two redraws of the progress line (a redraw per answer would cost more
# than the answers on a fast target).
REDRAW_EVERY = 0.1
MARK_STYLES = {"x": ("red", "bold"), "~": ("yellow",)}
VERDICT_STYLES = {0: ("green", "bold"), 1: ("red", "bold"), 2: ("red", "bold"), 130: ("yellow",)}


class ConsoleReporter:
    """Writes to ``stream``: a mark per answer (or a progress line), then the report.

    ``terminal``: whether to use colour and the progress line; by default, what ``stream``
    and the environment allow (:meth:`Terminal.of`).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        verbose: bool = False,
        reproduce: str = "letta-contract run",
        option_prefix: str = "--",
        terminal: Terminal | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.reproduce = reproduce
        self.option_prefix = option_prefix
        self.terminal = terminal if terminal is not None else Terminal.of(self.stream)
        self._clock = clock
        self._column = 0
        self._phase: PhaseStarted | None = None
        self._phase_began = 0.0
        self._marks: dict[str, int] = {}
        self._drawn = ""  # the progress line on screen, if any
        self._drawn_at = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, SuiteStarted):
            self._line(
                f"letta-contract: {event.base_url}  profile={event.profile}  "
                f"seed={event.seed}  checks={len(event.checks)}  max-runs={event.max_runs}"
            )
            if self.terminal.live:
                self._line(
                    "  per phase: requests, time; x violations, ~ divergences (listed below)"
                )
            else:
                self._line(
                    "  marks: . as expected   x violation   ~ divergence (both listed below)"
                )
        elif isinstance(event, PhaseStarted):
            self._end_progress()
            step = f" [{event.number}/{event.of}]" if event.of else ""
            self._line(f"{event.phase}{step}: {event.description}")
            self._phase, self._phase_began, self._marks = event, self._clock(), {}
            self._draw(force=True)
        elif isinstance(event, CaseFinished):
            self._marks[event.mark] = self._marks.get(event.mark, 0) + 1
            if self.terminal.live:
                self._draw()
            else:
                self._progress(event.mark)
        elif isinstance(event, PhaseFinished):
            self._end_progress()
            tally = self._tally(painted=True)
            self._line(f"  {event.cases} requests in {event.seconds:.1f} s{tally}")
            self._phase = None
        elif isinstance(event, Notice):
            # An error ends the run: the summary states it, once.
            if event.level == "warning":
                self._aside(self.terminal.paint(f"  [warning] {event.message}", "yellow"))
            elif event.level != "error":
                self._aside(f"  [note] {event.message}")
        elif isinstance(event, DivergenceFound) and self.verbose:
            self._aside(f"  [divergence] {event.divergence.case or event.divergence.message}")
        elif isinstance(event, SuiteFinished):
            self._end_progress()
            self._summary(event.result)
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")

    def _aside(self, text: str) -> None:
        """A line between the marks, or above the progress line (drawn again below it)."""
        self._end_progress()
        self._line(text)
        self._draw(force=True)

    def _progress(self, mark: str) -> None:
        if self._column == 0:
            self.stream.write("  ")
        self.stream.write(self.terminal.paint(mark, *MARK_STYLES.get(mark, ())))
        self._column += 1
        if self._column >= WIDTH:
            self.stream.write("\n")
            self._column = 0

    def _draw(self, force: bool = False) -> None:
        """Redraw the progress line of the phase (on a terminal; at most every REDRAW_EVERY)."""
        if not self.terminal.live or self._phase is None:
            return
        now = self._clock()
        if not force and now - self._drawn_at < REDRAW_EVERY:
            return
        phase = self._phase
        step = f"[{phase.number}/{phase.of}] " if phase.of else ""
        cases = sum(self._marks.values())
        head = f"  {step}{phase.phase}  {cases} requests  {now - self._phase_began:.1f} s"
        plain = head + self._tally()
        width = max(20, shutil.get_terminal_size().columns - 1)
        self._clear()
        self.stream.write(
            head + self._tally(painted=True) if len(plain) <= width else plain[:width]
        )
        self._drawn, self._drawn_at = plain[:width], now

    def _tally(self, painted: bool = False) -> str:
        """``; 2 x, 1 ~``: the violations and divergences marked in this phase, if any."""
        counts = []
        for mark in ("x", "~"):
            if self._marks.get(mark):
                text = f"{self._marks[mark]} {mark}"
                counts.append(self.terminal.paint(text, *MARK_STYLES[mark]) if painted else text)
        return "; " + ", ".join(counts) if counts else ""

    def _clear(self) -> None:
        """Take the progress line off the screen: spaces over it, no escape code."""
        if self._drawn:
            self.stream.write("\r" + " " * len(self._drawn) + "\r")
            self._drawn = ""

    def _end_progress(self) -> None:
        self._clear()
        if self._column:
            self.stream.write("\n")
            self._column = 0

    def _summary(self, result: SuiteResult) -> None:
        if result.violations:
            paint = self.terminal.paint
            self._line("")
            self._line("=" * WIDTH)
            self._line(
                paint(
                    f"VIOLATIONS ({len(result.violations)}): departures from the documentation",
                    "red",
                    "bold",
                )
            )
            self._line("=" * WIDTH)
            for number, violation in enumerate(result.violations, 1):
                self._violation(number, violation, result)
        if result.divergences:
            self._divergences(result)
        if result.findings:
            self._line("")
            self._line(f"FINDINGS ({len(result.findings)}): worth knowing, not verdicts")
            for f in result.findings[:20]:
                self._line(f"  - [{f.kind}] {f.case}: {f.message}")
            if len(result.findings) > 20:
                self._line(f"  ... and {len(result.findings) - 20} more (see the JSON report)")
        absent = [name for name, present in result.routes.items() if not present]
        if absent:
            self._line("")
            self._line(f"OPTIONAL ROUTES ABSENT: {', '.join(absent)}")
        for check, why in result.skipped.items():
            self._line(f"SKIPPED {check}: {why}")
        for error in result.errors:
            self._line(self.terminal.paint(f"ERROR: {error}", "red"))
        checks_failed = len({v.check for v in result.violations})
        verdict = {0: "CONFORMING", 1: "NOT CONFORMING", 2: "ERROR", 130: "INTERRUPTED"}[
            result.exit_code
        ]
        self._line("")
        self._line(
            f"{self.terminal.paint(verdict, *VERDICT_STYLES[result.exit_code])}: "
            f"{len(result.violations)} violation(s) in {checks_failed} check(s), "
            f"{len(result.divergences)} divergence(s); {result.cases} cases, "
            f"{result.requests} requests, {result.runs_created} runs created, "
            f"{result.runs_cancelled} cancelled, {result.seconds:.1f} s (seed {result.seed})"
        )

    def _divergences(self, result: SuiteResult) -> None:
        self._line("")
        self._line(
            self.terminal.paint(
                f"DIVERGENCES ({len(result.divergences)}): where this server does what only "
                "one reading predicts; never violations",
                "yellow",
            )
        )
        for d in result.divergences:
            if d.rule_id:
                self._line(f"  - [{d.check}] {d.message}")
                self._line(f"      the real server: {d.rule} ({d.source})")
                if self.verbose and d.curl:
                    self._line(f"      reproduce: {d.curl}")
                continue
            if d.observed_status is None:
                seen = "not sent (budget on runs spent, or --negative-only)"
            elif d.sides_with == "neither":
                seen = f"answered {d.observed_status}"
            else:
                seen = f"answered {d.observed_status}: follows the {d.sides_with} reading"
            self._line(f"  - {d.case}: {d.verdict}; {seen}")
            if self.verbose:
                self._line(f"      why: {d.why}")

    def _violation(self, number: int, v: Violation, result: SuiteResult) -> None:
        self._line("")
        self._line(self.terminal.paint(f"{number}. [{v.check}] {v.message}", "red"))
        self._line(f"   rule:   {v.rule} ({v.rule_id})")
        self._line(f"   source: {v.source}")
        if v.case:
            self._line(f"   case:   {v.case} (phase {v.phase})")
        if v.request:
            self._line(f"   request:  {v.request.get('method')} {v.request.get('url')}")
            body = v.request.get("body")
            if body is not None:
                self._line(f"             {_compact(body)}")
        if v.response:
            self._line(
                f"   response: {v.response.get('status')} {_compact(v.response.get('body'))}"
            )
        if v.excerpt is not None:
            self._line(f"   shows:    {_compact(v.excerpt)}")
        for line in v.history:
            self._line(f"   | {line}")
        if v.script:
            self._line("   reproduce the whole sequence (sh; the token from $LETTA_API_KEY):")
            for line in v.script.splitlines():
                self._line(f"     {line}")
        elif v.curl:
            self._line(f"   reproduce: {v.curl}")
        replay = render(result.replay, self.option_prefix, v.check)
        self._line(f"   replay the suite: {self.reproduce} {replay}")


def _compact(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."
