"""The suite against the real Letta 0.16.8: its true departures from the documentation are
violations, each with its documentation source; what only the real server does is at most a
divergence; no run that ended is called stuck; the printed replay line reruns as printed."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator

import pytest
from real_letta_server import RealLetta

from letta_contract_kit.contract_tests.config import SuiteConfig
from letta_contract_kit.contract_tests.engine import run_suite
from letta_contract_kit.contract_tests.events import SuiteResult
from letta_contract_kit.contract_tests.replay import render

pytestmark = pytest.mark.real_letta

# Letta 0.16.8 departs from the documentation in these ways every time ...
ALWAYS = {
    "timestamp-offset",  # completed_at, callback_sent_at without an offset
    "422-body",  # detail is a string
    "optional-tag-accepted",  # a text part without type is refused
    "listing-cursor",  # after/before compare run ids, not the sort order
}
# ... and in these when the timing shows them (a cancel a late step overwrites).
SOMETIMES = {"listing-pages", "terminal-final", "cancel-stays"}


@pytest.fixture(scope="module")
def second_agent(real_letta: RealLetta) -> Iterator[str]:
    other = real_letta.with_new_agent("letta-contract-second-agent")
    try:
        yield other.agent_id
    finally:
        other.delete_agent()


@pytest.fixture(scope="module")
def quick(real_letta: RealLetta, second_agent: str) -> SuiteResult:
    return run_suite(
        SuiteConfig(
            base_url=real_letta.base_url,
            agent_id=real_letta.agent_id,
            agent_id_2=second_agent,
            seed=20261122,
        )
    )


def test_the_true_departures_are_violations_with_their_documentation_source(
    quick: SuiteResult,
) -> None:
    found = {v.rule_id for v in quick.violations}
    assert found >= ALWAYS, found
    assert found <= ALWAYS | SOMETIMES, [(v.rule_id, v.message) for v in quick.violations]
    for violation in quick.violations:
        assert violation.source.startswith(("documentation:", "both readings:")), violation


def test_server_only_facts_are_divergences(quick: SuiteResult) -> None:
    by_rule = {d.rule_id for d in quick.divergences if d.rule_id}
    assert "listing-same-nulls" in by_rule  # total_duration_ns only in listings
    for d in quick.divergences:
        if d.rule_id:
            assert d.source.startswith("real server:"), d


def test_no_run_that_ended_is_called_stuck(quick: SuiteResult) -> None:
    assert [v for v in quick.violations if v.check == "run_reaches_terminal"] == []


def test_every_lifecycle_moment_and_contract_element_was_exercised(quick: SuiteResult) -> None:
    assert [r["element"] for r in quick.coverage if not r["covered"]] == []


def test_the_replay_line_reruns_as_printed(quick: SuiteResult) -> None:
    violation = next(v for v in quick.violations if v.rule_id == "timestamp-offset")
    line = render(quick.replay, "--", violation.check)
    command = [sys.executable, "-m", "letta_contract_kit.contract_tests", "run", *shlex.split(line)]
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert rerun.returncode == 1, rerun.stdout[-3000:] + rerun.stderr[-2000:]
    assert f"[{violation.check}]" in rerun.stdout
