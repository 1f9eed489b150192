"""Boundary values for every location of the request body, generated deterministically.

The documented request schema is walked from the root; every property, array item and union
member reached is a :class:`Location`, with a function that builds the smallest body holding
a given value there. For each location this module lists, without randomness, the values a
conformance suite should try (Schemathesis calls this its coverage phase):

* **valid** values: the location present, each enum value and union member, the empty,
  longest and astral-plane string, zero and -1, the documented bounds, an empty and a
  three-item list, an unknown extra key, and null where the documentation allows it;
* **invalid** values: a wrong JSON type, null where no reading allows it, a value outside an
  enum or tag, a required field left out, a documented bound crossed;
* **hostile** values that neither reading rules out but that servers often choke on: NUL and
  lone surrogates in strings, integers at the 32- and 64-bit limits.

Nothing here decides validity: the coverage phase classifies every body under both readings.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from letta_contract_kit.contract_tests.strategies import TINY_PNG
from letta_contract_kit.schemas import resolved

REQUEST = "letta-async-request"
Path = tuple[str | int, ...]
Build = Callable[[Any], Any]

TEXT = "Hello! A short answer is fine."
TEXT_PART = {"type": "text", "text": TEXT}
LONG_TEXT = ("Lisbon trip notes — día 2, 東京 next, עברית, 🙂🚋 " * 50)[:2000]
ASTRAL = "🙂🚋𝄞 𓀀 👩‍💻"
NUL = "before\u0000after"
LONE_SURROGATE = "before\ud800after"
INT_LIMITS = (2**31 - 1, 2**31, 2**63 - 1, 2**63)
EXTRA_KEY = "x_letta_contract_extra"
# Strings whose meaning a server may check beyond their type (a URL, base64 data, a media type,
# a model handle, a stored file): only realistic values are sent for them.
SEMANTIC_STRINGS = frozenset(
    {"url", "data", "media_type", "callback_url", "override_model", "file_id", "detail"}
)
# Fields whose valid values cost the target real work (another model) or reach the outside:
# only null is sent for them here; the lifecycle sets callback_url to the suite's receiver.
COSTLY = frozenset({"override_model", "callback_url"})
# A sample of each JSON type; a location gets the first one its schema does not allow.
WRONG_TYPES: dict[str, Any] = {
    "string": "seven",
    "integer": 7,
    "number": 2.5,
    "boolean": True,
    "array": ["listed"],
    "object": {"value": 1},
}


@dataclass(frozen=True)
class Location:
    """A place in the request body, reached through the documented schema."""

    path: Path
    node: dict[str, Any]
    build: Build
    label: str
    key: str  # the property name (or the parent's, for items and members)
    required: bool = False
    member_tags: tuple[tuple[int, str], ...] = ()  # (depth, tag): the union members on the way

    def body(self, value: Any) -> Any:
        return self.build(copy.deepcopy(value))

    @property
    def tags(self) -> dict[int, str]:
        return dict(self.member_tags)


@dataclass(frozen=True)
class Boundary:
    """One value to try at one location."""

    location: Location
    kind: str  # present, empty, long, astral, zero, ..., wrong-type, missing, hostile-nul, ...
    value: Any
    body: Any
    owner: str | None = None  # the check that reports a refusal of it (union/enum coverage)

    @property
    def label(self) -> str:
        return f"{self.location.label} {self.kind}"


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    found = {kind} if isinstance(kind, str) else set(kind or [])
    for union in ("anyOf", "oneOf"):
        for member in node.get(union, []):
            found |= _types(member)
    if "const" in node or "enum" in node:
        found.add("const")
    return found


def _members(node: dict[str, Any]) -> list[dict[str, Any]]:
    for union in ("anyOf", "oneOf"):
        if union in node:
            return [m for m in node[union] if m.get("type") != "null"]
    return []


def sample_string(key: str) -> str:
    """A realistic value for a string property, by its name."""
    return {
        "url": "https://images.letta-contract.invalid/pixel.png",
        "data": TINY_PNG,
        "media_type": "image/png",
        "detail": "auto",
        "file_id": "file-2c5f0b9e-8d1a-4a7e-9f3b-6e2d1c0a9b8f",
        "tool_call_id": "call_7f3a9c1d2e",
        "id": "call_7f3a9c1d2e",
        "name": "get_weather",
        "location": "skills/weather/SKILL.md",
        "description": "Looks up the weather of a city.",
        "otid": "3b1f6e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b",
        "assistant_message_tool_name": "send_message",
        "assistant_message_tool_kwarg": "message",
        "enable_thinking": "true",
        "override_system": "You are a concise assistant. Answer in one sentence.",
        "reason": "Approved: the user asked for this.",
        "approval_request_id": "message-6a1f0c2e-4b7d-4d9a-8c5e-1f2a3b4c5d6e",
        "group_id": "group-6a1f0c2e-4b7d-4d9a-8c5e-1f2a3b4c5d6e",
        "sender_id": "agent-6a1f0c2e-4b7d-4d9a-8c5e-1f2a3b4c5d6e",
        "batch_item_id": "batch-6a1f0c2e-4b7d-4d9a-8c5e-1f2a3b4c5d6e",
        "signature": "c2lnbmF0dXJlLTE=",
        "encrypted_content": "ZW5jcnlwdGVk",
    }.get(key, TEXT)


def minimal(node: dict[str, Any], key: str = "") -> Any:
    """The smallest realistic value the documented node allows (union tags always named)."""
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return next(v for v in node["enum"] if v is not None)
    members = _members(node)
    if members:
        return minimal(members[0], key)
    kinds = _types(node) - {"null"}
    if "object" in kinds:
        props: dict[str, Any] = node.get("properties", {})
        if not props:
            return {"city": "Lisbon"}
        required = set(node.get("required", ()))
        return {k: minimal(v, k) for k, v in props.items() if k in required or "const" in v}
    if "array" in kinds:
        items = node.get("items", {})
        return [minimal(items, key)] if items else []
    if "string" in kinds:
        return sample_string(key)
    if "integer" in kinds or "number" in kinds:
        return max(1, int(node.get("minimum", 1)))
    if "boolean" in kinds:
        return True
    return None


def _root_build(key: str) -> Build:
    # ``max_steps`` is left out so that bodies merge; ``with_steps`` sets it to 1 where no
    # boundary of max_steps chose a value.
    if key in ("messages", "input"):
        return lambda v: {key: v}
    return lambda v: {"input": [dict(TEXT_PART)], key: v}


def with_steps(body: Any) -> Any:
    """A body as sent: one step, unless a boundary set max_steps itself (costs stay low)."""
    if isinstance(body, dict) and "max_steps" not in body:
        return {**body, "max_steps": 1}
    return body


def locations() -> list[Location]:
    """Every location of the documented request body, parents before children."""
    root = resolved(REQUEST)
    found: list[Location] = []
    required = set(root.get("required", ()))
    for key, node in root["properties"].items():
        _walk(found, (key,), node, _root_build(key), key, key, key in required, ())
    return found


Tags = tuple[tuple[int, str], ...]


def _walk(
    found: list[Location],
    path: Path,
    node: dict[str, Any],
    build: Build,
    label: str,
    key: str,
    required: bool,
    tags: Tags,
) -> None:
    found.append(Location(path, node, build, label, key, required, tags))
    for member in _members(node):
        title = member.get("title")
        kinds = _types(member)
        if "object" in kinds and title:
            tag = member.get("properties", {}).get("type", {}).get("const")
            inner = (*tags, (len(path), str(tag))) if tag is not None else tags
            _walk_object(found, path, member, build, f"{label}<{title}>", key, inner)
        elif "array" in kinds:
            _walk_array(found, path, member, build, label, key, tags)
    if not _members(node):
        kinds = _types(node)
        if "object" in kinds and node.get("properties"):
            _walk_object(found, path, node, build, label, key, tags)
        elif "array" in kinds:
            _walk_array(found, path, node, build, label, key, tags)


def _walk_object(
    found: list[Location],
    path: Path,
    node: dict[str, Any],
    build: Build,
    label: str,
    key: str,
    tags: Tags,
) -> None:
    base = minimal(node, key)
    required = set(node.get("required", ()))
    for prop, child in node.get("properties", {}).items():
        if "const" in child:
            continue  # the member's tag: varied at the union's own location

        def child_build(v: Any, prop: str = prop) -> Any:
            return build({**copy.deepcopy(base), prop: v})

        _walk(
            found,
            (*path, prop),
            child,
            child_build,
            f"{label}.{prop}",
            prop,
            prop in required,
            tags,
        )


def _walk_array(
    found: list[Location],
    path: Path,
    node: dict[str, Any],
    build: Build,
    label: str,
    key: str,
    tags: Tags,
) -> None:
    items = node.get("items")
    if isinstance(items, dict) and items:
        _walk(found, (*path, 0), items, lambda v: build([v]), f"{label}[]", key, False, tags)


# ---- the path ids and the transport --------------------------------------------------------

AGENT_BASE = "agent-3f0c6b7e-9a51-4d2e-8c47-0b6f1e2d9a13"
UNKNOWN_AGENT = "agent-0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"
RUN_BASE = "run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b"
AGENT_PREFIXES = ("agents", "tool", "run", "Agent", "user")
RUN_PREFIXES = ("runs", "job", "step", "agent")
EXTRA_AGENT_IDS = {
    "empty after the prefix": "agent-",
    "a thousand characters": "agent-" + "a" * 994,
}
MALFORMED_JSON = {
    "truncated JSON": '{"input": "Hello',
    "trailing comma": '{"input": "Hello",}',
    "single quotes": "{'input': 'Hello'}",
    "not JSON at all": "input=Hello",
    "empty body": "",
}
HOSTILE_JSON = {
    "NaN literal": '{"input": "Hello", "max_steps": NaN}',
    "duplicate key": '{"input": "Hello", "input": "Hi again", "max_steps": 1}',
    "byte order mark": '\ufeff{"input": "Hello", "max_steps": 1}',
    "nested 200 deep": '{"input": "Hello", "max_steps": 1, "x": ' + "[" * 200 + "]" * 200 + "}",
}


# ---- the values ---------------------------------------------------------------------------


@cache
def _all() -> tuple[Boundary, ...]:
    return tuple(b for location in locations() for b in _of(location))


def boundaries() -> list[Boundary]:
    """Every boundary value of every location, the same list every time. Image URLs point
    at a host under ``.invalid``, which never resolves: a server that fetches images in the
    background fails that run, which no check holds against it."""
    return list(_all())


def _of(location: Location) -> Iterator[Boundary]:
    node, key = location.node, location.key

    def make(kind: str, value: Any, owner: str | None = None) -> Boundary:
        return Boundary(location, kind, value, location.body(value), owner)

    kinds = _types(node)
    members = _members(node)
    if key in COSTLY and len(location.path) == 1:
        yield make("null", None)
        yield make("wrong type integer", WRONG_TYPES["integer"])
        return
    yield make("present", minimal(node, key))
    yield make("null", None)  # valid where the documentation allows null, else a negative
    if members and any("const" in m.get("properties", {}).get("type", {}) for m in members):
        for member in members:
            tag = member.get("properties", {}).get("type", {}).get("const")
            if tag is not None:
                yield make(f"member {tag}", minimal(member, key), "union_members_accepted")
        first = minimal(members[0], key)
        if isinstance(first, dict):
            yield make("unknown tag", {**first, "type": "not_a_member"})
    if "enum" in node:
        for value in node["enum"]:
            if value is not None:
                yield make(f"value {value}", value, "enum_values_accepted")
        yield make("outside enum", "not_a_value")
    if "const" in node:
        yield make("outside const", "not_the_tag")
    yield from _typed(location, make, kinds - {"null", "const"})
    if "integer" in kinds and "number" not in kinds:
        yield make("fraction", 2.5)
    allowed = kinds | ({"object"} if members else set())
    for wrong, value in WRONG_TYPES.items():
        if wrong not in allowed and not (wrong == "integer" and "number" in allowed):
            yield make(f"wrong type {wrong}", value)
            break  # one wrong type per location keeps the count of requests down


def _of_kind(node: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The node itself, or its one union member, of JSON type ``kind``."""
    if kind in _types(node) and not _members(node):
        return node
    found = [m for m in _members(node) if kind in _types(m) and not _members(m)]
    return found[0] if len(found) == 1 and kind in ("array", "object") else None


def _typed(
    location: Location, make: Callable[..., Boundary], kinds: set[str]
) -> Iterator[Boundary]:
    node, key = location.node, location.key
    free_text = key not in SEMANTIC_STRINGS and "enum" not in node and "const" not in node
    if "string" in kinds and free_text:
        yield make("empty string", "")
        yield make("long string", LONG_TEXT)
        yield make("astral string", ASTRAL)
        yield make("hostile NUL", NUL)
        yield make("hostile lone surrogate", LONE_SURROGATE)
    if "integer" in kinds:
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None:
            yield make("minimum", low)
            yield make("below minimum", low - 1)
        else:
            yield make("zero", 0)
            yield make("negative", -1)
        if high is not None:
            yield make("maximum", high)
            yield make("above maximum", high + 1)
        for limit in INT_LIMITS:
            yield make(f"hostile int {limit}", limit)
    if "boolean" in kinds:
        yield make("true", True)
        yield make("false", False)
    array = _of_kind(node, "array")
    if array is not None:
        items = array.get("items", {})
        if not array.get("minItems"):
            yield make("empty list", [])
        if items:
            one = minimal(items, key)
            yield make("three items", [one, copy.deepcopy(one), copy.deepcopy(one)])
    obj = _of_kind(node, "object")
    if obj is not None:
        base = minimal(obj, key)
        if isinstance(base, dict):
            yield make("extra key", {**base, EXTRA_KEY: "ignored"})
            for prop in obj.get("required", ()):
                if "const" not in obj.get("properties", {}).get(prop, {}):
                    yield make(f"missing {prop}", {k: v for k, v in base.items() if k != prop})


def is_hostile(b: Boundary) -> bool:
    return b.kind.startswith("hostile")


# ---- packing valid values into few bodies --------------------------------------------------

_CONFLICT: Any = object()


def merge(a: Any, b: Any) -> Any:
    """Two bodies as one: objects merged key by key, lists joined; a clash of two different
    scalars at one place is a conflict."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            if key in out:
                merged = merge(out[key], value)
                if merged is _CONFLICT:
                    return _CONFLICT
                out[key] = merged
            else:
                out[key] = value
        return out
    if isinstance(a, list) and isinstance(b, list):
        return [*a, *b]
    return a if a == b and type(a) is type(b) else _CONFLICT


def family(b: Boundary) -> str:
    """`messages` and `input` boundaries never share a body (one or the other is sent);
    boundaries of the other fields (``any``) join either."""
    root = b.location.path[0]
    return str(root) if root in ("messages", "input") else "any"


def _joinable(b: Boundary, fam: str) -> Any:
    """``b``'s body as it joins a body of family ``fam`` (or None if it cannot)."""
    own = family(b)
    if own == fam or (fam == "any" and own == "any"):
        return b.body
    if own == "any" and isinstance(b.body, dict):
        return {k: v for k, v in b.body.items() if k != "input"}
    return None


def pack(
    chosen: list[Boundary], valid: Callable[[Any], bool], most: int = 100
) -> list[tuple[list[Boundary], Any]]:
    """Group boundaries into as few bodies as merge allows, each still ``valid``; at most
    ``most`` boundaries share a body (so that a refused body is quick to split)."""
    groups: list[tuple[str, list[Boundary], Any, set[str]]] = []
    for b in sorted(chosen, key=lambda b: family(b) == "any"):
        # A list set whole at the top (empty, three items) must not be extended by others.
        whole = str(b.location.path[0]) if len(b.location.path) == 1 else None
        for i, (fam, members, body, fixed) in enumerate(groups):
            part = _joinable(b, fam)
            if part is None or len(members) >= most or set(part) & fixed:
                continue
            if whole is not None and whole in body:
                continue
            merged = merge(body, part)
            if merged is not _CONFLICT and valid(merged):
                keep = fixed | ({whole} if whole and isinstance(b.value, list) else set())
                groups[i] = (fam if fam != "any" else family(b), [*members, b], merged, keep)
                break
        else:
            keep = {whole} if whole and isinstance(b.value, list) else set()
            groups.append((family(b), [b], b.body, keep))
    return [(members, body) for _, members, body, _ in groups]
