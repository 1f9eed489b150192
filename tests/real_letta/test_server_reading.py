"""The schemas' server reading predicts what a real Letta server accepts.

Every body is classified by the schemas first; the real server must then answer 200 exactly
when the server reading holds the body valid, and 422 otherwise. Bodies that would create a
run use ``max_steps: 0`` where possible, so the real server makes no LLM call for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from real_letta_server import RealLetta

from letta_contract_kit.schemas import Verdict, classify

pytestmark = pytest.mark.real_letta

CORPUS: dict[str, Any] = json.loads((Path(__file__).parent / "bodies.json").read_text())


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_real_server_accepts_exactly_what_the_server_reading_accepts(
    real_letta: RealLetta, name: str
) -> None:
    body = CORPUS[name]
    verdict = classify("letta-async-request", body)
    expected = 200 if verdict.verdict in (Verdict.VALID, Verdict.SERVER_ONLY) else 422
    answer = real_letta.post_async(body)
    assert answer.status_code == expected, (
        f"{name}: schemas say {verdict.verdict.value} "
        f"(server problems: {[str(p) for p in verdict.server]}), "
        f"the real server answered {answer.status_code}: {answer.text[:300]}"
    )
