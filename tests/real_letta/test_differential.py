"""The mock answers every corpus case the way a real Letta 0.16.8 server does.

Each case is played against the mock (in the profile ``sides`` chose) and the real server at
once; the test fails with every difference found (status codes, headers, error-body and Run
shapes, statuses seen, callbacks), except those that come from the real server's set-up (the
fake LLM: see the ``environment`` findings), which are only reported. ``report.py`` writes
the same comparison, with every difference, as Markdown.
"""

from __future__ import annotations

import pytest
from differential import Case, corpus, describe, run_case
from findings import from_environment
from sides import Sides

pytestmark = pytest.mark.real_letta

CORPUS = corpus()


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_mock_answers_like_the_real_server(sides: Sides, case: Case) -> None:
    result = run_case(case, sides.mock, sides.real, sides.recorder)
    contract = [d for d in result.differences if not from_environment(d)]
    assert not contract, (
        f"{case.name} ({case.purpose}), mock profile {sides.profile!r}:\n" + describe(contract)
    )
