"""Injected faults: latency, 5xx answers, 429 with Retry-After, dropped connections.

A fault is written ``latency:SECONDS``, a status code ``500``..``599``, ``429`` or
``429:RETRY_AFTER_SECONDS``, or ``drop``. It applies to one request through the
``X-Letta-Mock-Fault`` header, or to a share of all ``/v1`` requests (``fault_rate``, picking
among the configured faults).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

FAULT_HEADER = "X-Letta-Mock-Fault"
DEFAULT_RETRY_AFTER = 1


class FaultError(ValueError):
    """A fault text that does not parse."""


@dataclass(frozen=True)
class Fault:
    text: str
    kind: str  # "latency", "status" or "drop"
    seconds: float = 0.0
    status: int = 0
    retry_after: int | None = None


USAGE = "a fault is latency:<seconds>, a 5xx status such as 503, 429 or 429:<seconds>, or drop"


def parse_fault(text: str) -> Fault:
    cleaned = text.strip().lower()
    head, _, argument = cleaned.partition(":")
    if head == "drop" and not argument:
        return Fault(cleaned, "drop")
    if head == "latency":
        try:
            seconds = float(argument)
        except ValueError:
            raise FaultError(f"{text!r}: {USAGE}") from None
        if not 0 <= seconds <= 60:
            raise FaultError(f"{text!r}: latency must be between 0 and 60 seconds")
        return Fault(cleaned, "latency", seconds=seconds)
    if head.isdigit():
        status = int(head)
        if status == 429:
            retry = DEFAULT_RETRY_AFTER
            if argument:
                if not argument.isdigit():
                    raise FaultError(f"{text!r}: Retry-After must be whole seconds")
                retry = int(argument)
            return Fault(cleaned, "status", status=429, retry_after=retry)
        if 500 <= status <= 599 and not argument:
            return Fault(cleaned, "status", status=status)
    raise FaultError(f"unknown fault {text!r}: {USAGE}")


class FaultPlan:
    """Decides which fault, if any, a request gets."""

    def __init__(self, rate: float, faults: list[str], seed: int | None = None) -> None:
        self.rate = rate
        self.faults = [parse_fault(f) for f in faults]
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def choose(self, header: str | None) -> Fault | None:
        """The header's fault, else a random one at ``rate``; raises FaultError on a bad header."""
        if header:
            return parse_fault(header)
        if self.rate <= 0 or not self.faults:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            return self._random.choice(self.faults)
