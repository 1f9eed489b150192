"""Walking schema documents for their ``$ref``s, shared by the schema tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def refs_in(node: Any) -> Iterator[str]:
    """Every ``$ref`` value in a JSON document, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)
