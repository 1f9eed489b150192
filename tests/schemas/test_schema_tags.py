"""The tags the documentation lets a client leave out (001: a text part's and an image
source's ``type``) are filled in, and nothing else changes."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from letta_contract_kit.contract_tests.strategies import BodyStrategies
from letta_contract_kit.schemas import Verdict, classify
from letta_contract_kit.schemas.tags import PART_LISTS, with_documented_tags

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


def filled_in(value: Any, parts: bool = False) -> Any:
    """The rule, stated plainly (a deep copy): in a list under a part-list key, a part with
    ``text`` and no ``type`` is a text part, an image source with ``url`` and no ``type`` a
    url source; everything else as it was, at any depth."""
    if isinstance(value, list):
        return [filled_in(_as_part(item) if parts else item) for item in value]
    if isinstance(value, dict):
        return {key: filled_in(item, parts=key in PART_LISTS) for key, item in value.items()}
    return value


def _as_part(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    item = dict(item)
    if "type" not in item and "text" in item:
        item["type"] = "text"
    source = item.get("source")
    if isinstance(source, dict) and "type" not in source and "url" in source:
        item["source"] = {**source, "type": "url"}
    return item


# JSON values whose objects use the keys the rule looks at, nested in any way.
KEYS = st.sampled_from([*PART_LISTS, "messages", "type", "text", "source", "url", "x"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300)  # cheap: a few milliseconds for all of them
@given(JSON_VALUES)
@example([[{"content": [{"text": "a"}]}]])  # parts in an object in a list in a list
@example({"x": {"input": [{"text": "a", "source": {"url": "u"}}, "b"]}})
@example({"tool_return": [{"type": "image", "source": {"url": "u", "type": "url"}}]})
def test_the_tags_are_filled_in_wherever_parts_are_and_nothing_else_changes(value: Any) -> None:
    sent = copy.deepcopy(value)
    read = with_documented_tags(value)
    assert read == filled_in(sent)
    assert value == sent  # what was sent is not changed
    if read == sent:
        assert read is value  # and not copied when nothing was filled in
