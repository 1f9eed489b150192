"""Progress while the suite runs, then every violation with how to reproduce it.

Marks: ``.`` an answer as both readings expect, ``x`` a violation (each has its entry in the
report below), ``~`` a divergence (listed below too).
"""

from __future__ import annotations

import json
import sys
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

WIDTH = 72


class ConsoleReporter:
    """Writes to ``stream``: a mark per answer, then the report."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        verbose: bool = False,
        reproduce: str = "letta-contract run",
        option_prefix: str = "--",
    ) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.reproduce = reproduce
        self.option_prefix = option_prefix
        self._column = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, SuiteStarted):
            self._line(
                f"letta-contract: {event.base_url}  profile={event.profile}  "
                f"seed={event.seed}  checks={len(event.checks)}  max-runs={event.max_runs}"
            )
            self._line("  marks: . as expected   x violation   ~ divergence (both listed below)")
        elif isinstance(event, PhaseStarted):
            self._line(f"{event.phase}: {event.description}")
            self._column = 0
        elif isinstance(event, CaseFinished):
            self._progress(event.mark)
        elif isinstance(event, PhaseFinished):
            self._end_progress()
            self._line(f"  {event.cases} requests in {event.seconds:.1f} s")
        elif isinstance(event, Notice):
            self._end_progress()
            mark = "error" if event.level == "error" else "note"
            self._line(f"  [{mark}] {event.message}")
        elif isinstance(event, DivergenceFound) and self.verbose:
            self._end_progress()
            self._line(f"  [divergence] {event.divergence.case or event.divergence.message}")
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
            self._line(f"VIOLATIONS ({len(result.violations)}): departures from the documentation")
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
            self._line(f"ERROR: {error}")
        checks_failed = len({v.check for v in result.violations})
        verdict = {0: "CONFORMING", 1: "NOT CONFORMING", 2: "ERROR", 130: "INTERRUPTED"}[
            result.exit_code
        ]
        self._line("")
        self._line(
            f"{verdict}: {len(result.violations)} violation(s) in {checks_failed} check(s), "
            f"{len(result.divergences)} divergence(s); {result.cases} cases, "
            f"{result.requests} requests, {result.runs_created} runs created, "
            f"{result.runs_cancelled} cancelled, {result.seconds:.1f} s (seed {result.seed})"
        )

    def _divergences(self, result: SuiteResult) -> None:
        self._line("")
        self._line(
            f"DIVERGENCES ({len(result.divergences)}): where this server does what only one "
            "reading predicts; never violations"
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
        self._line(f"{number}. [{v.check}] {v.message}")
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
