"""Comparing two JSON values by shape, not by content.

Two answers have the same shape when their objects have the same keys in the same order,
their values the same JSON types and the same null-ness, their enum-like values the same
values, and their generated strings (ids, timestamps, free text) the same *format*. Ids,
timestamps and texts are never compared literally: ``run-<uuid4>`` matches any other
``run-<uuid4>``, but not ``run-123`` or ``RUN-<UUID>``; ``...:34.634083Z`` matches any other
UTC timestamp with microseconds, but not a naive ``...:34.634083``.

Strings the caller replaced by placeholders (``⟨run⟩``, ``⟨agent⟩``: the same object seen
on both sides) are compared literally, and so is everything under a path the caller calls
literal (e.g. an echo of what was sent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

ABSENT = "<absent>"
PLACEHOLDER = re.compile(r"⟨[a-z0-9_:.-]+⟩")

# Keys whose values are drawn from a small closed set (enums, flags): compared literally.
ENUM_KEYS: frozenset[str] = frozenset(
    {
        "status",
        "stop_reason",
        "message_type",
        "run_type",
        "role",
        "source",
        "state",
        "origin",
        "provider_category",
        "type",
        "event_type",
        "feedback",
        "trigger",
        "background",
        "lettuce",
        "is_err",
        "is_error",
        "approve",
        "error_type",
    }
)

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
ANY_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
PREFIXED_UUID4 = re.compile(rf"([a-z][a-z_]*)-{UUID4}\Z")
PREFIXED_OTHER_UUID = re.compile(rf"([A-Za-z][A-Za-z_]*)-{ANY_UUID}\Z")
BARE_UUID4 = re.compile(rf"{UUID4}\Z")
TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d{2}:?\d{2})?\Z"
)
URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
CODED_TEXT = re.compile(r"([A-Z][A-Z_]{2,}): ")


@dataclass(frozen=True)
class Mismatch:
    """One way two JSON values differ in shape.

    ``aspect`` is one of: ``type``, ``null``, ``missing-key`` (the real answer has it, the
    mock's does not), ``extra-key`` (the other way round), ``key-order``, ``value`` (an enum
    value, flag or echo differs), ``format`` (a generated string has another format) and
    ``length`` (arrays of different lengths).
    """

    aspect: str
    path: str
    mock_value: Any
    real_value: Any


LiteralRule = Callable[[str, str | int | None], bool]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _timestamp_format(found: re.Match[str]) -> str:
    fraction = found.group("fraction")
    if fraction is None:
        precision = "seconds"
    elif len(fraction) == 7:
        precision = "microseconds"
    else:
        precision = f"{len(fraction) - 1}-digit fraction"
    zone = found.group("zone")
    if zone is None:
        offset = "no offset"
    elif zone == "Z":
        offset = "Z"
    else:
        offset = zone
    return f"timestamp ({precision}, {offset})"


def string_format(value: str) -> str:
    """The format class of a generated string, e.g. ``id run-<uuid4>`` or ``timestamp (...)``."""
    if PLACEHOLDER.fullmatch(value):
        return f"reference {value}"
    if value == "":
        return "empty string"
    found = PREFIXED_UUID4.match(value)
    if found:
        return f"id {found.group(1)}-<uuid4>"
    found = PREFIXED_OTHER_UUID.match(value)
    if found:
        return f"id {found.group(1)}-<uuid, not lower-case v4>"
    if BARE_UUID4.match(value):
        return "uuid4"
    stamp = TIMESTAMP.match(value)
    if stamp:
        return _timestamp_format(stamp)
    if URL.match(value):
        return "url"
    coded = CODED_TEXT.match(value)
    if coded:
        return f"text with code {coded.group(1)}"
    return "text"


def _describe(value: Any) -> Any:
    """A short stand-in for a value in a mismatch (objects and arrays by their keys/length)."""
    if isinstance(value, dict):
        return {"object with keys": list(value)}
    if isinstance(value, list):
        return {"array of length": len(value)}
    if isinstance(value, str) and len(value) > 160:
        return value[:157] + "..."
    return value


def no_literal(path: str, key: str | int | None) -> bool:
    return False


def literal_under(*prefixes: str) -> LiteralRule:
    """A rule making everything at or below these paths literal (``$.request_config``)."""

    def rule(path: str, key: str | int | None) -> bool:
        return any(
            path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in prefixes
        )

    return rule


def any_of(rules: Iterable[LiteralRule]) -> LiteralRule:
    chosen = tuple(rules)

    def rule(path: str, key: str | int | None) -> bool:
        return any(r(path, key) for r in chosen)

    return rule


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def compare(
    mock: Any,
    real: Any,
    path: str = "$",
    literal: LiteralRule = no_literal,
    key: str | int | None = None,
) -> list[Mismatch]:
    """Every shape mismatch between ``mock`` and ``real``, outermost first."""
    mock_type, real_type = json_type(mock), json_type(real)
    if mock_type != real_type:
        if "null" in (mock_type, real_type):
            return [Mismatch("null", path, _describe(mock), _describe(real))]
        if {mock_type, real_type} != {"integer", "number"} or literal(path, key):
            return [Mismatch("type", path, _describe(mock), _describe(real))]
        return [Mismatch("type", path, mock_type, real_type)]
    if mock_type == "object":
        return _compare_objects(mock, real, path, literal)
    if mock_type == "array":
        return _compare_arrays(mock, real, path, literal, key)
    if mock_type == "null":
        return []
    is_literal = (
        literal(path, key)
        or mock_type == "boolean"
        or (isinstance(key, str) and key in ENUM_KEYS)
        or (
            mock_type == "string"
            and bool(PLACEHOLDER.fullmatch(mock) or PLACEHOLDER.fullmatch(real))
        )
    )
    if is_literal:
        return [] if mock == real else [Mismatch("value", path, _describe(mock), _describe(real))]
    if mock_type == "string":
        mock_format, real_format = string_format(mock), string_format(real)
        if mock_format != real_format:
            return [
                Mismatch(
                    "format",
                    path,
                    f"{mock_format}: {_describe(mock)}",
                    f"{real_format}: {_describe(real)}",
                )
            ]
    return []


def _compare_objects(
    mock: dict[str, Any], real: dict[str, Any], path: str, literal: LiteralRule
) -> list[Mismatch]:
    found: list[Mismatch] = []
    for name in real:
        if name not in mock:
            found.append(Mismatch("missing-key", _child(path, name), ABSENT, _describe(real[name])))
    for name in mock:
        if name not in real:
            found.append(Mismatch("extra-key", _child(path, name), _describe(mock[name]), ABSENT))
    mock_order = [k for k in mock if k in real]
    real_order = [k for k in real if k in mock]
    if mock_order != real_order:
        found.append(Mismatch("key-order", path, mock_order, real_order))
    for name in real_order:
        found.extend(compare(mock[name], real[name], _child(path, name), literal, name))
    return found


def _compare_arrays(
    mock: list[Any], real: list[Any], path: str, literal: LiteralRule, key: str | int | None
) -> list[Mismatch]:
    if literal(path, key):
        return [] if mock == real else [Mismatch("value", path, mock, real)]
    found: list[Mismatch] = []
    if len(mock) != len(real):
        found.append(Mismatch("length", path, len(mock), len(real)))
    for index, (left, right) in enumerate(zip(mock, real, strict=False)):
        found.extend(compare(left, right, _child(path, index), literal, index))
    return found


def substitute(value: Any, replacements: dict[str, str]) -> Any:
    """``value`` with every occurrence of each key (in strings and object keys) replaced.

    Longer keys are replaced first, so an id inside a URL is replaced after the URL prefix.
    """
    if not replacements:
        return value
    order = sorted(replacements, key=len, reverse=True)

    def text(s: str) -> str:
        for old in order:
            if old and old in s:
                s = s.replace(old, replacements[old])
        return s

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return text(item)
        if isinstance(item, list):
            return [walk(x) for x in item]
        if isinstance(item, dict):
            return {text(k): walk(v) for k, v in item.items()}
        return item

    return walk(value)
