"""Telling the two readings of the contract apart.

``documented``: the newest documentation version (001), where it is silent the older ones.
``server``: what the real server (Letta 0.16.8) accepts or returns.
A request the kit sends as *valid* must be valid in both; one it sends as *invalid* must be
invalid in both; anything else is a divergence, reported as such and never as a violation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from letta_contract_kit.schemas.loader import READINGS, Reading
from letta_contract_kit.schemas.validation import Problem, validator


class Verdict(StrEnum):
    VALID = "valid under both readings"
    DOCUMENTED_ONLY = "valid under the documentation only"
    SERVER_ONLY = "valid for the real server only"
    INVALID = "invalid under both readings"

    @property
    def diverges(self) -> bool:
        return self in (Verdict.DOCUMENTED_ONLY, Verdict.SERVER_ONLY)


class Classification:
    """How both readings judge one instance. The verdict is decided by the fast validators;
    the problems that explain it are found only when asked for."""

    __slots__ = ("_instance", "_name", "_problems", "verdict")

    def __init__(self, name: str, instance: Any, verdict: Verdict) -> None:
        self._name = name
        self._instance = instance
        self.verdict = verdict
        self._problems: dict[str, tuple[Problem, ...]] = {}

    def _of(self, reading: Reading) -> tuple[Problem, ...]:
        if reading not in self._problems:
            self._problems[reading] = tuple(validator(self._name, reading).problems(self._instance))
        return self._problems[reading]

    @property
    def documented(self) -> tuple[Problem, ...]:
        return self._of("documented")

    @property
    def server(self) -> tuple[Problem, ...]:
        return self._of("server")


def classify(name: str, instance: Any) -> Classification:
    """How both readings judge ``instance`` as an instance of schema ``name``."""
    documented, server = (not validator(name, r).is_valid(instance) for r in READINGS)
    verdict = {
        (False, False): Verdict.VALID,
        (False, True): Verdict.DOCUMENTED_ONLY,
        (True, False): Verdict.SERVER_ONLY,
        (True, True): Verdict.INVALID,
    }[(documented, server)]
    return Classification(name, instance, verdict)
