"""The quick profile exercises every element of the contract, as the target itself recorded
what it was sent (the mock's request journal), the same set for every seed."""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests import coverage
from letta_contract_kit.contract_tests.config import SuiteConfig
from letta_contract_kit.contract_tests.engine import run_suite
from letta_contract_kit.contract_tests.events import SuiteResult
from letta_contract_kit.mockserver import MockConfig, MockServer

from .conftest import SEED


def _quick(seed: int) -> tuple[SuiteResult, list[dict[str, Any]]]:
    config = MockConfig(clock="per-poll", journal_size=20_000, journal_body_bytes=1_048_576)
    with MockServer(config) as mock:
        result = run_suite(
            SuiteConfig(
                base_url=mock.base_url,
                agent_id=mock.agent_id,
                seed=seed,
                rate_limit=None,
                poll_interval=0.0,
                cancel_settle=0.0,
            )
        )
        journal = mock.requests()
    return result, journal


def test_every_contract_element_is_exercised_by_the_quick_profile() -> None:
    result, journal = _quick(SEED)
    assert result.exit_code == 0, [(v.check, v.message) for v in result.violations]
    rows = coverage.table(coverage.from_journal(journal))
    missing = [f"{r['group']}: {r['element']}" for r in rows if not r["covered"]]
    lifecycle = [r for r in rows if r["group"] == "lifecycle"]
    assert [r for r in missing if not r.startswith("lifecycle")] == []
    assert lifecycle, "the table lists the lifecycle moments"
    # the lifecycle moments come from what the suite saw of its runs (statuses, callbacks)
    seen = [f"{r['group']}: {r['element']}" for r in result.coverage if not r["covered"]]
    assert seen == []
    groups = {group for group, _, _ in coverage.summary(rows)}
    assert {"valid value", "invalid value", "hostile value", "agent id", "run id"} <= groups
    assert {"listing", "transport", "cancel", "two agents", "lifecycle"} <= groups


def test_the_suite_counts_what_the_target_received() -> None:
    """The table from the suite's own log and the one from the target's journal agree."""
    result, journal = _quick(SEED)
    from_journal = {
        (r["group"], r["element"]): r["covered"]
        for r in coverage.table(coverage.from_journal(journal))
        if r["group"] != "lifecycle"
    }
    from_report = {
        (r["group"], r["element"]): r["covered"]
        for r in result.coverage
        if r["group"] != "lifecycle"
    }
    assert from_journal == from_report


def test_another_seed_exercises_the_same_elements() -> None:
    """The elements come from the contract, not from the seed: every one is exercised
    whatever the seed (Hypothesis only adds random cases on top)."""
    _, journal = _quick(SEED + 1)
    rows = coverage.table(coverage.from_journal(journal))
    assert [r["element"] for r in rows if not r["covered"] and r["group"] != "lifecycle"] == []
