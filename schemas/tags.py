"""The union tags a client may leave out, and a body with them filled in.

The documentation (001) gives two discriminators a default: a text part's ``type``
(``text``) and an image source's ``type`` (``url``). The real server's reading requires
them. The mock reads bodies with them filled in (unless its ``union-tag-required`` quirk is
on); the proxy uses the same reading to tell a documented omission from other divergent
bodies.
"""

from __future__ import annotations

from typing import Any

from letta_contract_kit.schemas.contract import tag_of

# The properties whose values are lists of content parts.
PART_LISTS = ("input", "content", "tool_return")


def with_documented_tags(body: Any) -> Any:
    """``body`` with the tags the documentation lets a client leave out filled in: ``text``
    on a text part (a part with ``text`` and no ``type``) and ``url`` on an image source with
    a ``url`` and no ``type``, wherever a list of parts is. What needs no tag is returned as it
    is (the same object), so a body that names its tags is not copied."""
    if isinstance(body, dict):
        return _tagged_object(body)
    if isinstance(body, list):
        return _tagged_list(body)
    return body


def _tagged_object(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for key, value in body.items():
        if isinstance(value, list):
            tagged: Any = value
            if key in PART_LISTS:
                parts = [_tagged_part(item) for item in value]
                if any(a is not b for a, b in zip(parts, value, strict=True)):
                    tagged = parts
            tagged = _tagged_list(tagged)
        elif isinstance(value, dict):
            tagged = _tagged_object(value)
        else:  # a scalar holds no parts
            continue
        if tagged is not value:
            if out is None:
                out = dict(body)
            out[key] = tagged
    return body if out is None else out


def _tagged_list(items: list[Any]) -> list[Any]:
    out: list[Any] | None = None
    for index, item in enumerate(items):
        if isinstance(item, dict):
            tagged: Any = _tagged_object(item)
        elif isinstance(item, list):
            tagged = _tagged_list(item)
        else:
            continue
        if tagged is not item:
            if out is None:
                out = list(items)
            out[index] = tagged
    return items if out is None else out


def _tagged_part(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    if "type" not in item and "text" in item:
        item = {**item, "type": tag_of("text-content")}
    source = item.get("source")
    if isinstance(source, dict) and "type" not in source and "url" in source:
        item = {**item, "source": {**source, "type": tag_of("url-image")}}
    return item


__all__ = ["PART_LISTS", "with_documented_tags"]
