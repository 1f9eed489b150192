"""The options that rerun the suite as it ran (printed with every violation): the target, the
agents, the profile and seed, and every budget that was not the default. Never the token."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from letta_contract_kit.contract_tests.config import SuiteConfig
from letta_contract_kit.contract_tests.context import Targets

# option name -> SuiteConfig field, for the values worth repeating when not the default
_VALUES = {
    "max-runs": "max_runs",
    "timeout": "timeout",
    "max-response-bytes": "max_response_bytes",
    "deadline": "deadline",
    "run-deadline": "run_deadline",
    "poll-interval": "poll_interval",
    "cancel-settle": "cancel_settle",
    "latency-budget": "latency_budget",
}
_FLAGS = {
    "negative-only": "negative_only",
    "no-cancel-at-end": "cancel_at_end",
    "no-callbacks": "callbacks",
}


def replay_options(config: SuiteConfig, seed: int, targets: Targets | None) -> list[list[str]]:
    """``[[option, value], [flag]]`` pairs, in the order they are printed."""
    defaults = {f.name: f.default for f in fields(SuiteConfig)}
    found: list[list[str]] = [["--base-url", config.base_url]]
    agent = config.agent_id
    second = config.agent_id_2
    if targets is not None:
        agent = agent or (targets.agent_id if targets.agent_id not in targets.created else None)
        second = second or (
            targets.agent_id_2 if targets.agent_id_2 not in targets.created else None
        )
    if agent:
        found.append(["--agent-id", agent])
    if second:
        found.append(["--agent-id-2", second])
    found += [["--profile", config.profile], ["--seed", str(seed)]]
    for option, name in _VALUES.items():
        value: Any = getattr(config, name)
        if value != defaults[name] and value is not None:
            found.append([f"--{option}", f"{value:g}" if isinstance(value, float) else str(value)])
    rate = config.rate_limit
    if rate != defaults["rate_limit"]:
        found.append(["--rate-limit", "0" if not rate else f"{rate:g}/s"])
    for option, name in _FLAGS.items():
        value = getattr(config, name)
        if value != defaults[name]:
            found.append([f"--{option}"])
    return found


def render(options: list[list[str]], prefix: str = "--", check: str | None = None) -> str:
    """The options as a command line (``prefix`` is ``--letta-`` for the pytest plugin)."""
    import shlex

    parts = []
    for item in [*options, *([["--check", check]] if check else [])]:
        parts.append(prefix + item[0].removeprefix("--"))
        parts.extend(shlex.quote(v) for v in item[1:])
    return " ".join(parts)
