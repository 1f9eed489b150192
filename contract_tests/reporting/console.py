"""Progress while the suite runs, then every violation with how to reproduce it."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from contract_tests.events import (
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

WIDTH = 72


class ConsoleReporter:
    """Writes to ``stream``: a dot per answer as expected, ``x`` otherwise."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        verbose: bool = False,
        reproduce: str = "letta-contract run",
    ) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.reproduce = reproduce
        self._column = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, SuiteStarted):
            self._line(
                f"letta-contract: {event.base_url}  profile={event.profile}  "
                f"seed={event.seed}  checks={len(event.checks)}  max-runs={event.max_runs}"
            )
        elif isinstance(event, PhaseStarted):
            self._line(f"{event.phase}: {event.description}")
            self._column = 0
        elif isinstance(event, CaseFinished):
            self._progress("." if event.ok else "x")
        elif isinstance(event, PhaseFinished):
            self._end_progress()
            self._line(f"  {event.cases} requests in {event.seconds:.1f} s")
        elif isinstance(event, Notice):
            self._end_progress()
            mark = "error" if event.level == "error" else "note"
            self._line(f"  [{mark}] {event.message}")
        elif isinstance(event, DivergenceFound) and self.verbose:
            self._end_progress()
            self._line(f"  [divergence] {event.divergence.case}")
        elif isinstance(event, SuiteFinished):
            self._end_progress()
            self._summary(event.result)
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")

    def _progress(self, mark: str) -> None:
        if self._column == 0:
            self.stream.write("  ")
        self.stream.write(mark)
        self._column += 1
        if self._column >= WIDTH:
            self.stream.write("\n")
            self._column = 0

    def _end_progress(self) -> None:
        if self._column:
            self.stream.write("\n")
            self._column = 0

    def _summary(self, result: SuiteResult) -> None:
        if result.violations:
            self._line("")
            self._line("=" * WIDTH)
            self._line(f"VIOLATIONS ({len(result.violations)})")
            self._line("=" * WIDTH)
            for number, violation in enumerate(result.violations, 1):
                self._violation(number, violation, result)
        if result.divergences:
            self._line("")
            self._line(
                f"DIVERGENCES ({len(result.divergences)}): the readings disagree; not violations"
            )
            for d in result.divergences:
                if d.observed_status is None:
                    seen = "not sent (budget on runs spent, or --negative-only)"
                else:
                    seen = f"answered {d.observed_status}: follows the {d.sides_with} reading"
                self._line(f"  - {d.case}: {d.verdict}; {seen}")
                if self.verbose:
                    self._line(f"      why: {d.why}")
        for error in result.errors:
            self._line(f"ERROR: {error}")
        checks_failed = len({v.check for v in result.violations})
        verdict = {0: "CONFORMING", 1: "NOT CONFORMING", 2: "ERROR"}[result.exit_code]
        self._line("")
        self._line(
            f"{verdict}: {len(result.violations)} violation(s) in {checks_failed} check(s), "
            f"{len(result.divergences)} divergence(s); {result.cases} cases, "
            f"{result.requests} requests, {result.runs_created} runs created, "
            f"{result.runs_cancelled} cancelled, {result.seconds:.1f} s (seed {result.seed})"
        )

    def _violation(self, number: int, v: Violation, result: SuiteResult) -> None:
        self._line("")
        self._line(f"{number}. [{v.check}] {v.message}")
        self._line(f"   rule:   {v.rule}")
        self._line(f"   source: {v.source}")
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
        for line in v.history:
            self._line(f"   | {line}")
        if v.curl:
            self._line(f"   reproduce: {v.curl}")
        self._line(
            f"   replay the suite: {self.reproduce} --base-url {result.base_url} "
            f"--seed {v.seed} --check {v.check}"
        )


def _compact(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."
