"""The suite's options, shared by the CLI and the pytest plugin (standard library only)."""

from __future__ import annotations

import os
from typing import Any

# (name without dashes, argparse/pytest keyword arguments). The CLI uses ``--name``; the
# pytest plugin ``--letta-name``. Every help says the default (``%(default)s`` is argparse's,
# which pytest expands too).
OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("base-url", {"help": "Root URL of the server under test, e.g. https://staging.example.com"}),
    ("token", {"help": "Bearer token (default: $LETTA_API_KEY). Never printed."}),
    (
        "agent-id",
        {"help": "An existing agent to use (default: none, the suite creates one and deletes it)."},
    ),
    (
        "agent-id-2",
        {
            "help": "A second agent, for the checks that two agents' runs stay apart "
            "(default: none, the suite creates one where it can, else skips those checks)."
        },
    ),
    (
        "profile",
        {
            "choices": ["quick", "standard", "thorough"],
            "default": "quick",
            "help": "How hard to try (default: %(default)s).",
        },
    ),
    (
        "seed",
        {
            "type": int,
            "help": "Seed for the generated cases (default: random; printed with every run).",
        },
    ),
    (
        "max-runs",
        {
            "type": int,
            "help": "Most runs the suite may create (default: per profile; quick: 50, "
            "standard: 80, thorough: 150).",
        },
    ),
    (
        "rate-limit",
        {
            "type": str,
            "default": "20/s",
            "help": "Most requests a second, minute or hour, e.g. 5/s or 300/m, or 0 for none "
            "(default: %(default)s).",
        },
    ),
    (
        "timeout",
        {
            "type": float,
            "default": 30.0,
            "help": "Seconds one request may take in total, answer included; a request "
            "still going then is cut (default: %(default)s).",
        },
    ),
    (
        "max-response-bytes",
        {
            "type": int,
            "default": 4 * 1024 * 1024,
            "help": "Bytes of an answer the suite reads; a longer answer is cut, reported "
            "as a finding and not judged (default: 4 MiB).",
        },
    ),
    (
        "deadline",
        {
            "type": float,
            "help": "Overall deadline in seconds; it also cuts a request in flight "
            "(default: per profile).",
        },
    ),
    (
        "run-deadline",
        {
            "type": float,
            "default": 60.0,
            "help": "Seconds a run may take to end (default: %(default)s).",
        },
    ),
    (
        "latency-budget",
        {
            "type": float,
            "default": 10.0,
            "help": "Seconds an answer may take before it is reported as slow (a finding, "
            "not a violation; 0 for none; default: %(default)s).",
        },
    ),
    (
        "poll-interval",
        {"type": float, "default": 0.25, "help": "Seconds between polls (default: %(default)s)."},
    ),
    (
        "cancel-settle",
        {
            "type": float,
            "default": 3.0,
            "help": "Seconds a cancelled run is watched to see it stays cancelled "
            "(default: %(default)s).",
        },
    ),
    (
        "check",
        {
            "action": "append",
            "default": None,
            "metavar": "NAME",
            "help": "Run only this check (repeatable; default: every check).",
        },
    ),
    (
        "skip-check",
        {
            "action": "append",
            "default": None,
            "metavar": "NAME",
            "help": "Do not run this check (repeatable; default: none).",
        },
    ),
    (
        "negative-only",
        {
            "action": "store_true",
            "help": "Send only requests that must be rejected: creates no runs (default: off).",
        },
    ),
    (
        "no-cancel-at-end",
        {
            "action": "store_true",
            "help": "Leave the runs the suite created running at the end (default: off).",
        },
    ),
    ("no-callbacks", {"action": "store_true", "help": "Do not test callback_url (default: off)."}),
    ("junit-xml", {"metavar": "FILE", "help": "Write a JUnit XML report (default: none)."}),
    ("report", {"metavar": "FILE", "help": "Write a JSON report (default: none)."}),
)


def parse_rate(text: str | None) -> float | None:
    """``"5/s"``, ``"5"`` or ``"300/m"`` as requests per second; 0 or empty means no limit."""
    if not text:
        return None
    value, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}.get(unit.strip().lower())
    try:
        count = float(value)
    except ValueError:
        count = -1.0
    if per is None or not count >= 0 or count == float("inf"):
        raise ValueError(
            f"the rate limit {text!r} is not a rate: write requests per second, minute or hour "
            "as N/s, N/m or N/h (e.g. 5/s), or 0 for no limit"
        )
    return count / per or None


def config_from(values: dict[str, Any]) -> Any:
    """A SuiteConfig from option values keyed by ``name`` with underscores."""
    from letta_contract_kit.contract_tests.config import SuiteConfig

    base_url = values.get("base_url")
    if not base_url:
        raise ValueError("a base URL is required")
    overall = values.get("deadline")
    return SuiteConfig(
        base_url=str(base_url),
        token=values.get("token") or os.environ.get("LETTA_API_KEY") or None,
        agent_id=values.get("agent_id"),
        agent_id_2=values.get("agent_id_2"),
        profile=values.get("profile") or "quick",
        seed=values.get("seed"),
        max_runs=values.get("max_runs"),
        rate_limit=parse_rate(values.get("rate_limit")),
        timeout=float(values.get("timeout") or 30.0),
        max_response_bytes=int(values.get("max_response_bytes") or 4 * 1024 * 1024),
        deadline=float(overall) if overall is not None else None,
        run_deadline=float(values.get("run_deadline") or 60.0),
        latency_budget=_number(values.get("latency_budget"), 10.0) or None,
        poll_interval=_number(values.get("poll_interval"), 0.25),
        cancel_settle=_number(values.get("cancel_settle"), 3.0),
        checks=tuple(values.get("check") or ()),
        skip_checks=tuple(values.get("skip_check") or ()),
        negative_only=bool(values.get("negative_only")),
        cancel_at_end=not values.get("no_cancel_at_end"),
        callbacks=not values.get("no_callbacks"),
    )


def _number(value: Any, default: float) -> float:
    return default if value is None else float(value)
