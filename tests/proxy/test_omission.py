"""A body that leaves out only the union tags the documentation gives defaults (001: a text
part's and an image source's ``type``) is the client relying on a stated fact: no client
finding, and the upstream must accept it, as the suite's divergence phase expects."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from letta_contract_kit.mockserver import MockConfig, MockServer

from .conftest import AUTH, proxied

WITHOUT_TAGS = {
    "messages": [
        {
            "role": "user",
            "content": [
                {"text": "What is in this picture?"},
                {"type": "image", "source": {"url": "https://example.com/cat.png"}},
            ],
        }
    ],
    "max_steps": 1,
}
VALID = {"input": "What is the capital of Portugal?", "max_steps": 1}


def _judged(profile: str | None) -> tuple[int, Any]:
    """The omission's status through the proxy, after a valid body showed the agent exists."""
    config = MockConfig(clock="per-poll", **({"profile": profile} if profile else {}))
    with MockServer(config) as mock, proxied(mock.base_url) as proxy:
        url = f"{proxy.url}/v1/agents/{mock.agent_id}/messages/async"
        assert requests.post(url, json=VALID, headers=AUTH).status_code == 200
        status = requests.post(url, json=WITHOUT_TAGS, headers=AUTH).status_code
    return status, proxy.result


@pytest.mark.parametrize("profile", [None, "letta-0.16.8"])
def test_a_documented_omission_is_never_the_clients_mistake(profile: str | None) -> None:
    _, result = _judged(profile)
    assert [f for f in result.findings if f.kind == "client"] == []


def test_an_upstream_that_accepts_the_omission_breaks_no_rule() -> None:
    status, result = _judged(None)
    assert status == 200 and result.violations == []


def test_an_upstream_that_refuses_the_omission_breaks_optional_tag_accepted() -> None:
    status, result = _judged("letta-0.16.8")  # requires every tag, as Letta 0.16.8 does
    assert status == 422
    rules = {(v.check, v.rule_id) for v in result.violations}
    assert ("status_code_conformance", "optional-tag-accepted") in rules
    (violation,) = [v for v in result.violations if v.rule_id == "optional-tag-accepted"]
    assert "001" in str(violation.source)
