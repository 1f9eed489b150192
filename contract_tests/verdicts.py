"""Turning failures into verdicts: violations, divergences and findings, each reported once.

A failure whose rule has a binding source (the documentation, or both readings) is a
violation; one whose rule only the real server holds is a divergence. Nothing else decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from letta_contract_kit.contract_tests.cases import Case, divergence_why, problems_text
from letta_contract_kit.contract_tests.checks.registry import Check, Failure
from letta_contract_kit.contract_tests.client import Exchange
from letta_contract_kit.contract_tests.events import (
    Divergence,
    DivergenceFound,
    Event,
    Finding,
    Violation,
    ViolationFound,
)
from letta_contract_kit.schemas import Verdict

FINDINGS_PER_KIND = 20


def _size(violation: Violation) -> int:
    request = violation.request or {}
    return len(json.dumps(request.get("body"), default=str)) + len(str(request.get("url", "")))


class Verdicts:
    """Everything the suite concluded about the target so far."""

    def __init__(self, seed: int, emit: Callable[[Event], None]) -> None:
        self.seed = seed
        self.emit = emit
        self.violations: dict[tuple[str, str], Violation] = {}
        self.divergences: dict[str, Divergence] = {}
        self.findings: list[Finding] = []
        self.finding_counts: dict[str, int] = {}
        self._announced: set[tuple[str, str]] = set()
        self._why: dict[str, str] = {}

    def record(
        self,
        check: Check,
        failure: Failure,
        case: Case | None,
        exchange: Exchange | None,
        phase: str,
        history: tuple[str, ...] = (),
        script: str | None = None,
    ) -> str:
        """Record one failure; returns ``x`` for a violation, ``~`` for a divergence."""
        shown = failure.evidence or exchange
        if not failure.rule.binding:
            self._divergence_from(check, failure, case, shown)
            return "~"
        violation = Violation(
            check=check.name,
            purpose=check.purpose,
            message=failure.message,
            cause=failure.cause,
            rule=failure.rule.text,
            rule_id=failure.rule.id,
            source=str(failure.rule.source),
            phase=phase,
            case=case.describe() if case else "",
            seed=self.seed,
            request=shown.request.as_dict() if shown else None,
            response=shown.response.as_dict() if shown and shown.response else None,
            excerpt=failure.excerpt,
            curl=shown.curl() if shown else None,
            history=history,
            script=script,
        )
        old = self.violations.get(violation.key)
        if old is None or _size(violation) < _size(old):
            self.violations[violation.key] = violation
        return "x"

    def _divergence_from(
        self, check: Check, failure: Failure, case: Case | None, shown: Exchange | None
    ) -> None:
        status = shown.response.status if shown and shown.response else None
        found = Divergence(
            case=case.describe() if case else "",
            why=failure.rule.text,
            source=str(failure.rule.source),
            check=check.name,
            rule_id=failure.rule.id,
            rule=failure.rule.text,
            message=failure.message,
            observed_status=status,
            sides_with="documentation" if status is not None else "",
            curl=shown.curl() if shown else None,
        )
        key = f"{failure.rule.id}|{failure.cause}"
        if key not in self.divergences:
            self.divergences[key] = found
            self.emit(DivergenceFound(found))

    def explain(self, label: str, why: str) -> None:
        """A reason for a divergent request that the classification cannot give."""
        self._why[label] = why

    def request_divergence(self, case: Case, exchange: Exchange | None) -> None:
        """A request the readings judge differently, and which reading the target followed."""
        if case.classification is None or case.label in self.divergences:
            return
        documented, server = problems_text(case.classification)
        status = exchange.response.status if exchange and exchange.response else None
        accepted = status is not None and 200 <= status < 300
        verdict = case.classification.verdict
        if status is None:
            sides = "not sent"
        elif status >= 500:
            sides = "neither"
        elif accepted == (verdict is Verdict.DOCUMENTED_ONLY):
            sides = "documentation"
        else:
            sides = "server"
        found = Divergence(
            case=case.describe(),
            why=self._why.get(case.label) or divergence_why(case.classification),
            source="the two readings disagree on this request",
            verdict=verdict.value,
            documented=documented,
            server=server,
            observed_status=status,
            sides_with=sides,
            curl=exchange.curl() if exchange else None,
        )
        self.divergences[case.label] = found
        self.emit(DivergenceFound(found))

    def known(self, label: str) -> bool:
        return label in self.divergences

    def finding(self, kind: str, message: str, case: Case, exchange: Exchange | None) -> None:
        """A finding; past ``FINDINGS_PER_KIND`` of one kind, only counted (a target that
        is slow or too large on every poll would otherwise fill the report)."""
        seen = self.finding_counts[kind] = self.finding_counts.get(kind, 0) + 1
        if seen <= FINDINGS_PER_KIND:
            self.findings.append(
                Finding(kind, message, case.describe(), exchange.curl() if exchange else None)
            )

    def unlisted_findings(self) -> list[str]:
        """What ``finding`` counted but did not keep, as notices."""
        return [
            f"{count - FINDINGS_PER_KIND} more {kind!r} findings are not listed"
            for kind, count in sorted(self.finding_counts.items())
            if count > FINDINGS_PER_KIND
        ]

    def announce(self) -> None:
        for key, violation in self.violations.items():
            if key not in self._announced:
                self._announced.add(key)
                self.emit(ViolationFound(violation))

    def sorted_violations(self) -> list[Violation]:
        return sorted(self.violations.values(), key=lambda v: v.key)

    def all_divergences(self) -> list[Divergence]:
        return list(self.divergences.values())
