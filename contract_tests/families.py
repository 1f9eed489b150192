"""Negative families: strategies of bodies that each break one rule of the request.

Each family is a small named function from the body strategies to a strategy of
``(label, body)``; ``FAMILIES`` lists them by name. Nothing here decides whether a body is
invalid: the negative phase asks ``classify`` about every one and sends only those both
readings reject (the others are divergence probes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from letta_contract_kit.contract_tests.strategies import BodyStrategies, Strategy, realistic_text
from letta_contract_kit.schemas import resolved
from letta_contract_kit.schemas.contract import MESSAGE_TYPE, REQUEST_FIELDS, tag_of, union_members

Mutation = tuple[str, Any]  # (label, body)
REQUEST = "letta-async-request"


def with_input(part: Any) -> dict[str, Any]:
    return {"input": [{"type": "text", "text": "See the attachment."}, part], "max_steps": 1}


def with_message(item: Any) -> dict[str, Any]:
    return {"messages": [item], "max_steps": 1}


JSON_SAMPLES: dict[str, tuple[Any, ...]] = {
    "string": ("five", "true", "assistant_message"),
    "integer": (8080, 0, -3),
    "number": (2.5, -0.75),
    "boolean": (True, False),
    "array": (["hello"], [1, 2], []),
    "object": ({"value": 1}, {"role": "user", "content": "hi"}),
}


def json_types(node: Any) -> set[str]:
    """The JSON types a schema node allows (following ``anyOf``/``oneOf``)."""
    if not isinstance(node, dict):
        return set(JSON_SAMPLES)
    found: set[str] = set()
    kind = node.get("type")
    if isinstance(kind, str):
        found.add(kind)
    elif isinstance(kind, list):
        found.update(kind)
    for union in ("anyOf", "oneOf"):
        for member in node.get(union, []):
            found |= json_types(member)
    if "const" in node or "enum" in node:
        values = [node["const"]] if "const" in node else node["enum"]
        found.update(type_name(v) for v in values)
    if "number" in found:
        found.add("integer")
    return found or set(JSON_SAMPLES)


def type_name(value: Any) -> str:
    for name, kind in (
        ("boolean", bool),
        ("integer", int),
        ("number", float),
        ("string", str),
        ("array", list),
        ("object", dict),
    ):
        if isinstance(value, kind):
            return name
    return "null"


def wrong_json_type(node: Any) -> Strategy[Any]:
    """Values of a JSON type the schema node does not allow (``classify`` still decides)."""
    allowed = json_types(node)
    choices = [v for kind, values in JSON_SAMPLES.items() if kind not in allowed for v in values]
    return st.sampled_from(choices) if choices else st.nothing()


def unknown_part_type(bs: BodyStrategies) -> Strategy[Mutation]:
    tags = st.sampled_from(("video", "audio", "file", "html", "Text", "text "))
    return st.tuples(tags, realistic_text()).map(
        lambda t: (f"content part type {t[0]!r}", with_input({"type": t[0], "text": t[1]}))
    )


def mislabelled_part(bs: BodyStrategies) -> Strategy[Mutation]:
    parts = union_members("input-content-union")
    tags = [tag_of(p) for p in parts]

    def relabelled(pair: tuple[str, str]) -> Strategy[Mutation]:
        name, tag = pair
        return bs.member(name).map(
            lambda part: (
                f"{tag_of(name)} part labelled {tag!r}",
                with_input({**part, "type": tag}),
            )
        )

    return (
        st.tuples(st.sampled_from(parts), st.sampled_from(tags))
        .filter(lambda pair: tag_of(pair[0]) != pair[1])
        .flatmap(relabelled)
    )


def unknown_image_source(bs: BodyStrategies) -> Strategy[Mutation]:
    return st.sampled_from(("file", "s3", "URL", "path")).map(
        lambda t: (
            f"image source type {t!r}",
            with_input(
                {"type": tag_of("image-content"), "source": {"type": t, "url": bs.image_url}}
            ),
        )
    )


def unknown_item_type(bs: BodyStrategies) -> Strategy[Mutation]:
    kinds = st.sampled_from(("chat", "user", "text", "Message"))
    return st.tuples(kinds, realistic_text()).map(
        lambda t: (
            f"messages item type {t[0]!r}",
            with_message({"type": t[0], "role": "user", "content": t[1]}),
        )
    )


def role_outside_enum(bs: BodyStrategies) -> Strategy[Mutation]:
    msg = tag_of("message-create")
    roles = st.sampled_from(("tool", "moderator", "developer", "User", ""))
    return st.tuples(roles, realistic_text()).map(
        lambda t: (f"role {t[0]!r}", with_message({"type": msg, "role": t[0], "content": t[1]}))
    )


def message_type_outside_enum(bs: BodyStrategies) -> Strategy[Mutation]:
    values = st.sampled_from(("debug_message", "stop_reason", "AssistantMessage", "ping"))
    return values.map(
        lambda v: (
            f"include_return_message_types {v!r}",
            {
                "input": "What did I ask you yesterday?",
                "include_return_message_types": [MESSAGE_TYPE.values[2], v],
                "max_steps": 1,
            },
        )
    )


def tool_status_outside_enum(bs: BodyStrategies) -> Strategy[Mutation]:
    def body(status: str) -> dict[str, Any]:
        item = {
            "type": tag_of("tool-return"),
            "tool_call_id": "call_91b2",
            "status": status,
            "tool_return": "done",
        }
        return with_message({"type": tag_of("tool-return-create"), "tool_returns": [item]})

    return st.sampled_from(("ok", "partial", "SUCCESS", "done")).map(
        lambda s: (f"tool return status {s!r}", body(s))
    )


def wrong_json_type_top(bs: BodyStrategies) -> Strategy[Mutation]:
    top = resolved(REQUEST)["properties"]
    fields = [k for k in REQUEST_FIELDS if k in top]

    def wrongly_typed(pair: tuple[str, str]) -> Strategy[Mutation]:
        key, words = pair
        return wrong_json_type(top[key]).map(
            lambda value: (
                f"{key} = {value!r}",
                {
                    **({"input": words} if key not in ("input", "messages") else {}),
                    key: value,
                    **({"max_steps": 1} if key != "max_steps" else {}),
                },
            )
        )

    return st.tuples(st.sampled_from(fields), realistic_text()).flatmap(wrongly_typed)


def wrong_json_type_nested(bs: BodyStrategies) -> Strategy[Mutation]:
    msg = tag_of("message-create")
    return st.sampled_from(
        [
            ("message content = 7", with_message({"type": msg, "role": "user", "content": 7})),
            (
                "message content = null",
                with_message({"type": msg, "role": "user", "content": None}),
            ),
            ("text part text = 12", with_input({"type": "text", "text": 12})),
            (
                "tool_call part input = 'city'",
                with_input(
                    {
                        "type": tag_of("tool-call-content"),
                        "id": "call_1",
                        "name": "get_weather",
                        "input": "city",
                    }
                ),
            ),
            (
                "reasoning part is_native = 'yes please'",
                with_input(
                    {
                        "type": tag_of("reasoning-content"),
                        "is_native": "yes please",
                        "reasoning": "hmm",
                    }
                ),
            ),
        ]
    )


def missing_required(bs: BodyStrategies) -> Strategy[Mutation]:
    msg = tag_of("message-create")
    return st.sampled_from(
        [
            ("message without role", with_message({"type": msg, "content": "Hello again"})),
            ("message without content", with_message({"type": msg, "role": "user"})),
            ("text part without text", with_input({"type": "text"})),
            ("image part without source", with_input({"type": "image"})),
            (
                "base64 image without media_type",
                with_input({"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo="}}),
            ),
            ("url image without url", with_input({"type": "image", "source": {"type": "url"}})),
            (
                "tool return without tool_call_id",
                with_message(
                    {
                        "type": "tool_return",
                        "tool_returns": [{"status": "success", "tool_return": "ok"}],
                    }
                ),
            ),
            ("tool_return item without tool_returns", with_message({"type": "tool_return"})),
            (
                "client skill without location",
                {
                    "input": "Use my notes skill.",
                    "client_skills": [{"name": "notes", "description": "d"}],
                    "max_steps": 1,
                },
            ),
            (
                "client tool without name",
                {
                    "input": "Check the weather.",
                    "client_tools": [{"description": "weather"}],
                    "max_steps": 1,
                },
            ),
        ]
    )


def input_and_messages(bs: BodyStrategies) -> Strategy[Mutation]:
    msg = tag_of("message-create")

    def body(pair: tuple[str, bool]) -> Mutation:
        text, both = pair
        if both:
            item = {"type": msg, "role": "user", "content": text}
            return ("both input and messages", {"input": text, "messages": [item], "max_steps": 1})
        return ("neither input nor messages", {"max_steps": 1})

    return st.tuples(realistic_text(), st.booleans()).map(body)


def body_not_an_object(bs: BodyStrategies) -> Strategy[Mutation]:
    return st.sampled_from(
        [
            ("body is a JSON array", []),
            ("body is a string", "hello"),
            ("body is a number", 42),
            ("body is null", None),
        ]
    )


Family = Callable[[BodyStrategies], Strategy[Mutation]]
FAMILIES: dict[str, Family] = {
    "unknown content-part type": unknown_part_type,
    "mislabelled content-part type": mislabelled_part,
    "unknown image source type": unknown_image_source,
    "unknown messages item type": unknown_item_type,
    "role outside its enum": role_outside_enum,
    "message type outside its enum": message_type_outside_enum,
    "tool return status outside its enum": tool_status_outside_enum,
    "wrong JSON type": wrong_json_type_top,
    "wrong JSON type (nested)": wrong_json_type_nested,
    "missing required field": missing_required,
    "input and messages": input_and_messages,
    "body not an object": body_not_an_object,
}


def negative_families(bs: BodyStrategies) -> dict[str, Strategy[Mutation]]:
    """Every family's strategy, by family name."""
    return {name: family(bs) for name, family in FAMILIES.items()}
