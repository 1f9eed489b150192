"""hypothesis-jsonschema works on the installed Hypothesis, whichever side of 6.170.10 it is
(``tox -e py`` gets the newest; ``tox -e hypothesis-older`` one from before the change)."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from letta_contract_kit.contract_tests import hypothesis_compat
from letta_contract_kit.contract_tests.strategies import (
    BodyStrategies,  # installs the adapter where needed
)

OBJECT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id"],
    "patternProperties": {"^x-": {"type": "string"}},
    "additionalProperties": False,
    "minProperties": 2,
}


def test_the_adapter_is_installed_exactly_when_hypothesis_needs_it() -> None:
    assert BodyStrategies is not None
    assert hypothesis_compat.install() is hypothesis_compat.needed()


@settings(max_examples=100)
@given(st.data())
def test_objects_with_required_and_pattern_keys_are_generated_valid(data: st.DataObject) -> None:
    value: Any = data.draw(from_schema(OBJECT))
    jsonschema.validate(value, OBJECT)
    assert "id" in value and len(value) >= 2
