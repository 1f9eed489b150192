"""The proxy's log: one line on stderr per finding, as it happens, secrets taken out."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

from letta_contract_kit.contract_tests.events import DivergenceFound, Event, Notice, SuiteFinished
from letta_contract_kit.contract_tests.proxy.judge import Judgement

PREFIX = "letta-contract proxy:"


class ProxyLog:
    """Writes a line for each violation, client finding and divergence, and the summary."""

    def __init__(self, stream: TextIO | None = None, scrub: Callable[[str], str] = str) -> None:
        self.stream = stream or sys.stderr
        self.scrub = scrub
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            self.stream.write(f"{PREFIX} {self.scrub(text)}\n")
            self.stream.flush()

    def judged(self, judgement: Judgement, request: str, status: int) -> None:
        where = f"(#{judgement.seq} {request} -> {status})"
        for check, failure in judgement.violations:
            self.line(f"VIOLATION [{check}] {failure.rule.id}: {failure.message} {where}")
        for check, failure in judgement.later:
            if failure.rule.binding:
                self.line(
                    f"VIOLATION [{check}] {failure.rule.id}: {failure.message} "
                    f"(an earlier answer, shown wrong by #{judgement.seq})"
                )
        if judgement.client is not None:
            self.line(f"CLIENT {judgement.client} {where}")

    def __call__(self, event: Event) -> None:
        if isinstance(event, DivergenceFound):
            d = event.divergence
            what = f"[{d.check}] {d.rule_id}: {d.message}" if d.rule_id else d.case
            self.line(f"divergence {what}")
        elif isinstance(event, Notice):
            self.line(f"{event.level}: {event.message}")
        elif isinstance(event, SuiteFinished):
            r = event.result
            clients = sum(1 for f in r.findings if f.kind == "client")
            self.line(
                f"{r.requests} exchanges ({r.cases} judged), {len(r.violations)} violation(s), "
                f"{len(r.divergences)} divergence(s), {clients} client finding(s)"
            )
