"""What a run will do: the scenario language and the queue of upcoming outcomes.

A scenario is a short text, sent in the ``X-Letta-Mock-Scenario`` header, queued through the
admin API or set as the server default:

``succeed``                 completed / end_turn, reasoning and an assistant reply
``tools``                   completed / end_turn after a tool call and its return
``fail`` or ``fail:REASON`` failed with that stop reason (default ``error``) and metadata.error
``stop:REASON``             completed with that stop reason (``max_steps``, ``requires_approval``,
                            ``max_tokens_exceeded``, ...); the messages fit the reason
``slow`` or ``slow:SECONDS`` succeeds, after a long running phase (polls with the per-poll clock)
``never``                   stays running until cancelled
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from letta_contract_kit.schemas.contract import RUN_STATUS, STOP_REASON

SCENARIO_HEADER = "X-Letta-Mock-Scenario"
KINDS = ("succeed", "tools", "fail", "stop", "slow", "never")


class ScenarioError(ValueError):
    """A scenario text that does not parse; the message lists what would."""


@dataclass(frozen=True)
class Scenario:
    text: str
    kind: str
    status: str | None
    stop_reason: str | None
    running_seconds: float | None = None

    @property
    def finishes(self) -> bool:
        return self.status is not None

    @property
    def uses_tools(self) -> bool:
        return self.kind == "tools"


def _usage() -> str:
    return (
        "a scenario is one of succeed, tools, fail, fail:<stop_reason>, stop:<stop_reason>, "
        "slow, slow:<seconds>, never"
    )


def _stop_reason(text: str, argument: str, refused: tuple[str, ...]) -> str:
    if argument not in STOP_REASON:
        allowed = ", ".join(v for v in STOP_REASON if v not in refused)
        raise ScenarioError(f"{text!r}: {argument!r} is not a stop reason (one of {allowed})")
    if argument in refused:
        raise ScenarioError(f"{text!r}: stop reason {argument!r} cannot be chosen here")
    return argument


@functools.lru_cache(maxsize=256)
def parse_scenario(text: str) -> Scenario:
    """Parse one scenario text; raises ScenarioError saying what is allowed.

    Scenarios are immutable and a mock sees few distinct texts, so parses are cached: every
    run is parsed again each time it moves on.
    """
    cleaned = text.strip()
    kind, _, argument = cleaned.partition(":")
    kind = kind.strip().lower()
    argument = argument.strip()
    if kind not in KINDS:
        raise ScenarioError(f"unknown scenario {text!r}: {_usage()}")
    if kind in ("succeed", "tools", "never") and argument:
        raise ScenarioError(f"scenario {kind!r} takes no argument: {_usage()}")
    if kind in ("succeed", "tools"):
        return Scenario(cleaned, kind, RUN_STATUS.completed, STOP_REASON.end_turn)
    if kind == "never":
        return Scenario(cleaned, kind, None, None)
    if kind == "fail":
        reason = (
            _stop_reason(cleaned, argument, (STOP_REASON.end_turn, STOP_REASON.cancelled))
            if argument
            else STOP_REASON.error
        )
        return Scenario(cleaned, kind, RUN_STATUS.failed, reason)
    if kind == "stop":
        if not argument:
            raise ScenarioError(f"{text!r}: 'stop' needs a stop reason, e.g. stop:max_steps")
        reason = _stop_reason(cleaned, argument, (STOP_REASON.cancelled,))
        return Scenario(cleaned, kind, RUN_STATUS.completed, reason)
    seconds: float | None = None
    if argument:
        try:
            seconds = float(argument)
        except ValueError:
            raise ScenarioError(f"{text!r}: 'slow' takes a number of seconds") from None
        if not seconds >= 0 or seconds == float("inf"):
            raise ScenarioError(f"{text!r}: the duration must be a finite number >= 0")
    return Scenario(cleaned, kind, RUN_STATUS.completed, STOP_REASON.end_turn, seconds)


def parse_scenarios(texts: list[str]) -> list[Scenario]:
    return [parse_scenario(text) for text in texts]
