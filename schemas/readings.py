"""Telling the two readings of the contract apart.

``documented``: the newest documentation version (001), where it is silent the older ones.
``server``: what the real server (Letta 0.16.8) accepts or returns.
A request the kit sends as *valid* must be valid in both; one it sends as *invalid* must be
invalid in both; anything else is a divergence, reported as such and never as a violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from schemas.loader import READINGS
from schemas.validation import Problem, validator


class Verdict(StrEnum):
    VALID = "valid under both readings"
    DOCUMENTED_ONLY = "valid under the documentation only"
    SERVER_ONLY = "valid for the real server only"
    INVALID = "invalid under both readings"

    @property
    def diverges(self) -> bool:
        return self in (Verdict.DOCUMENTED_ONLY, Verdict.SERVER_ONLY)


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    documented: tuple[Problem, ...]
    server: tuple[Problem, ...]


def classify(name: str, instance: Any) -> Classification:
    """How both readings judge ``instance`` as an instance of schema ``name``."""
    documented, server = (tuple(validator(name, r).problems(instance)) for r in READINGS)
    verdict = {
        (False, False): Verdict.VALID,
        (False, True): Verdict.DOCUMENTED_ONLY,
        (True, False): Verdict.SERVER_ONLY,
        (True, True): Verdict.INVALID,
    }[(bool(documented), bool(server))]
    return Classification(verdict, documented, server)
