"""Each deliberately broken server is caught, by the check that owns the broken rule."""

from __future__ import annotations

import pytest

from contract_tests.engine import run_suite

from .broken import BROKEN, Broken, serve
from .conftest import fast_config


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
        assert violation.rule and violation.source


def test_the_same_mock_without_middleware_passes(agent_id: str) -> None:
    with serve(None, agent_id) as url:
        result = run_suite(fast_config(url, agent_id, use_fixtures=False))
    assert result.violations == [], [(v.check, v.message) for v in result.violations]
    assert result.exit_code == 0
