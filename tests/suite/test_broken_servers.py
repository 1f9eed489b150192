"""The suite's verdicts, kept honest from both sides.

* Each deliberately broken server is caught, by a violation of the check that owns the
  broken rule.
* Each server that differs from the real one only where the documentation lets it (the
  no-false-positive matrix) gets no violation at all.
* The ten servers written from the documentation alone, apart from the suite, are caught.
"""

from __future__ import annotations

from typing import Any

import pytest

import letta_contract_kit.mockserver.callbacks
from letta_contract_kit.contract_tests.engine import run_suite
from letta_contract_kit.contract_tests.events import SuiteResult

from .broken import BROKEN, DOCUMENTED_DEPARTURES, LEGIT, Broken, Legit, serve
from .conftest import fast_config
from .independent import INDEPENDENT, Independent


def _described(result: SuiteResult) -> list[tuple[str, str, str]]:
    return [(v.check, v.rule_id, v.message[:160]) for v in result.violations]


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_broken_server_is_caught_by_the_right_check(broken: Broken, agent_id: str) -> None:
    with serve(broken.make(agent_id), agent_id) as url:
        # The project's fixed example bodies are left out here: generated cases must suffice.
        result = run_suite(fast_config(url, agent_id, use_fixtures=False, **broken.options))
    caught = {v.check for v in result.violations}
    assert result.exit_code == 1, result.errors
    assert broken.check in caught, f"{broken.name}: caught only by {sorted(caught)}"
    for violation in result.violations:
        assert violation.seed == result.seed
        assert violation.rule and violation.source.startswith(("documentation", "both readings"))


@pytest.mark.parametrize("legit", LEGIT, ids=[t.name for t in LEGIT])
def test_a_server_that_differs_only_where_the_documentation_lets_it_passes(
    legit: Legit, agent_id: str
) -> None:
    wrap = legit.make(agent_id) if legit.make else None
    with serve(wrap, agent_id, **legit.config) as url:
        result = run_suite(fast_config(url, agent_id))
    assert result.errors == []
    assert result.violations == [], _described(result)
    assert result.exit_code == 0


def test_a_callback_body_of_only_run_id_and_status_passes(
    agent_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documentation does not describe the callback's body: a server whose callback
    carries only the run's id and status differs from Letta (a divergence), no more."""

    def minimal(record: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"run_id": record.id, "status": record.run["status"]}

    monkeypatch.setattr(letta_contract_kit.mockserver.callbacks, "callback_payload", minimal)
    with serve(None, agent_id) as url:
        result = run_suite(fast_config(url, agent_id))
    assert result.violations == [], _described(result)
    assert any(d.rule_id == "callback-body" for d in result.divergences)


def test_the_compat_profile_shows_only_its_documented_departures(agent_id: str) -> None:
    """Letta 0.16.8's quirks that break a documentation fact are violations (as they are
    against the real server); every other quirk is at most a divergence."""
    with serve(None, agent_id, profile="letta-0.16.8") as url:
        result = run_suite(fast_config(url, agent_id))
    rules = {v.rule_id for v in result.violations}
    assert rules, "the documented departures of letta-0.16.8 were not reported"
    assert rules <= {
        "timestamp-offset",  # naive-completed-at
        "422-body",  # string-422-detail
        "optional-tag-accepted",  # union-tag-required
        "terminal-final",  # cancel-overwritten-by-completion
        "cancel-stays",
    }, _described(result)
    assert len(DOCUMENTED_DEPARTURES) == 4


@pytest.mark.parametrize("server", INDEPENDENT, ids=[s.name for s in INDEPENDENT])
def test_a_fault_written_from_the_documentation_alone_is_caught(
    server: Independent, agent_id: str
) -> None:
    with serve(server.make(agent_id), agent_id) as url:
        result = run_suite(fast_config(url, agent_id, use_fixtures=False))
    assert result.exit_code == 1, f"{server.name} ({server.fact}) went unnoticed"
