"""The tags the documentation lets a client leave out (001: a text part's and an image
source's ``type``) are filled in, and nothing else changes."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given

from letta_contract_kit.contract_tests.strategies import BodyStrategies
from letta_contract_kit.schemas import Verdict, classify
from letta_contract_kit.schemas.tags import with_documented_tags

UNTAGGED = {
    "messages": [
        {
            "role": "user",
            "content": [
                {"text": "What is in this picture?"},
                {"type": "image", "source": {"url": "https://example.com/cat.png"}},
            ],
        }
    ],
}


@given(BodyStrategies().valid_body())
def test_a_body_that_names_its_tags_is_returned_as_it_is(body: dict[str, Any]) -> None:
    assert with_documented_tags(body) is body


def test_left_out_tags_are_filled_in_on_a_copy() -> None:
    sent = copy.deepcopy(UNTAGGED)
    read = with_documented_tags(sent)
    assert sent == UNTAGGED  # the body sent is not changed
    text, image = read["messages"][0]["content"]
    assert text == {"type": "text", "text": "What is in this picture?"}
    assert image["source"] == {"type": "url", "url": "https://example.com/cat.png"}
    assert classify("letta-async-request", UNTAGGED).verdict is Verdict.DOCUMENTED_ONLY
    assert classify("letta-async-request", read).verdict is Verdict.VALID
