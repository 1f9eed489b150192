"""Shared settings for the suite's own tests: fast, derandomized, on the per-poll mock."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from letta_contract_kit.contract_tests.config import Profile, SuiteConfig

SEED = 20261122
# Few examples per phase: enough to reach every check, small enough to keep tests fast.
FAST = Profile(
    "quick",
    negative_examples=2,
    positive_examples=1,
    lifecycle_examples=2,
    lifecycle_steps=6,
    max_runs=60,
    deadline=120.0,
)


def fast_config(base_url: str, agent_id: str | None, **overrides: Any) -> SuiteConfig:
    config = SuiteConfig(
        base_url=base_url,
        agent_id=agent_id,
        seed=SEED,
        rate_limit=None,
        timeout=10.0,
        run_deadline=10.0,
        poll_interval=0.0,
        cancel_settle=0.0,
        custom_profile=FAST,
    )
    return replace(config, **overrides)


@pytest.fixture
def agent_id() -> str:
    return f"agent-{uuid.uuid4()}"
