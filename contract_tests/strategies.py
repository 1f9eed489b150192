"""What to send: request bodies and ids generated from the schemas.

Positive bodies are built by walking the self-contained (``resolved``) schemas, with strings
that look like what a real client sends and costly options kept small. Negative bodies take a
realistic body and break exactly one rule. Nothing here decides whether a body is valid: the
cases module asks ``classify`` about every one of them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from letta_contract_kit.contract_tests import hypothesis_compat
from letta_contract_kit.schemas import resolved
from letta_contract_kit.schemas.contract import (
    MESSAGE_TYPE,
    REQUEST_FIELDS,
    tag_of,
    union_members,
)

hypothesis_compat.install()

Json = Any
Strategy = st.SearchStrategy

USER_TEXTS = (
    "Hi! Can you remind me what we decided about the launch date?",
    "Summarise the last three messages in one sentence, please.",
    "What's on my calendar for tomorrow morning?",
    "Please draft a short, friendly reply to Maria about the invoice.",
    "I moved to Lisbon last month; update my profile.",
    "Translate 'good morning, team' into Portuguese.",
    "Remember that my favourite tea is genmaicha.",
    "How many days are left until the end of the quarter?",
    "Thanks, that was helpful. One more question about the budget?",
    "Can you list three ideas for the team offsite?",
    "Ignore the previous draft and start over, shorter this time.",
    "What did I tell you about my sister's birthday?",
)
WORDS = (
    "weather",
    "calendar",
    "invoice",
    "notes",
    "search_docs",
    "lookup_order",
    "send_email",
    "budget",
)
TOOL_NAMES = ("get_weather", "lookup_order", "search_docs", "send_email", "create_ticket")
MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")
# A 1x1 transparent PNG: small, and a real image a server can decode.
TINY_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()
# Options that make a run expensive or fail for reasons unrelated to the contract: left out of
# generated bodies (the lifecycle and callback checks set callback_url themselves).
COSTLY_FIELDS = frozenset({"callback_url", "override_model", "messages", "input"})


def hex_id(prefix: str) -> Strategy[str]:
    return st.uuids(version=4).map(lambda u: f"{prefix}{u.hex[:24]}")


def realistic_text() -> Strategy[str]:
    return st.sampled_from(USER_TEXTS)


def _string_for(hint: str, image_url: str) -> Strategy[str]:
    name = hint.lower()
    if name == "url":
        return st.just(image_url)
    if name == "media_type":
        return st.sampled_from(MEDIA_TYPES)
    if name == "data":
        return st.just(TINY_PNG)
    if name == "detail":
        return st.sampled_from(("auto", "low", "high"))
    if name in ("otid",):
        return st.uuids(version=4).map(str)
    if name == "tool_call_id" or name == "id":
        return hex_id("call_")
    if name == "file_id":
        return st.uuids(version=4).map(lambda u: f"file-{u}")
    if name == "name":
        return st.sampled_from(TOOL_NAMES)
    if name == "location":
        return st.sampled_from(WORDS).map(lambda w: f"skills/{w}/SKILL.md")
    if name in ("signature", "encrypted_content", "data_redacted"):
        return st.binary(min_size=8, max_size=16).map(lambda b: base64.b64encode(b).decode())
    if name in ("group_id", "sender_id", "batch_item_id", "approval_request_id"):
        return st.uuids(version=4).map(lambda u: f"message-{u}")
    if name in ("assistant_message_tool_name",):
        return st.just("send_message")
    if name in ("assistant_message_tool_kwarg",):
        return st.just("message")
    if name in ("enable_thinking",):
        return st.sampled_from(("true", "false"))
    if name in ("description", "reason", "override_system"):
        return st.sampled_from(
            (
                "Looks up the status of a customer's order.",
                "Approved: the user asked for this.",
                "You are a concise assistant. Answer in two sentences at most.",
            )
        )
    return realistic_text()


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


@dataclass(frozen=True)
class SchemaWalker:
    """Builds realistic values for a self-contained schema node."""

    image_url: str

    def value(self, node: Any, hint: str = "") -> Strategy[Json]:
        if not isinstance(node, dict) or not node:
            return st.just(None)
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            values = [v for v in node["enum"] if v is not None]
            return st.sampled_from(values or node["enum"])
        if "allOf" in node and len(node) <= 3:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return self.value(_merge([rest, *node["allOf"]]), hint)
        for union in ("oneOf", "anyOf"):
            if union in node:
                members = [m for m in node[union] if m.get("type") != "null"] or node[union]
                return st.one_of(
                    [
                        self.value(
                            _merge(
                                [
                                    {
                                        k: v
                                        for k, v in node.items()
                                        if k not in (union, "discriminator")
                                    },
                                    m,
                                ]
                            ),
                            hint,
                        )
                        for m in members
                    ]
                )
        kind = node.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or kind
            return st.one_of([self.value({**node, "type": k}, hint) for k in kinds])
        if kind == "object":
            return self.obj(node)
        if kind == "array":
            items = node.get("items", {})
            low = int(node.get("minItems", 1))
            return st.lists(self.value(items, hint), min_size=low, max_size=max(low, 3))
        if kind == "string":
            if "pattern" in node:
                return st.from_regex(node["pattern"], fullmatch=True)
            return _string_for(hint, self.image_url)
        if kind == "integer":
            low = int(node.get("minimum", 0))
            return st.integers(low, max(low, int(node.get("maximum", low + 5))))
        if kind == "number":
            return st.floats(0, 1, allow_nan=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        return from_schema(node)

    def obj(self, node: dict[str, Any], always: frozenset[str] = frozenset()) -> Strategy[Json]:
        props: dict[str, Any] = node.get("properties", {})
        if not props:
            return st.dictionaries(
                st.sampled_from(("city", "order_id", "units", "query")),
                st.one_of(st.sampled_from(("Lisbon", "A-1042", "metric")), st.integers(1, 99)),
                max_size=2,
            )
        required = set(node.get("required", ())) | always
        for key, prop in props.items():
            if isinstance(prop, dict) and "const" in prop:
                required.add(key)  # always name the member: what real clients do
        fixed = {k: self.value(v, k) for k, v in props.items() if k in required}
        optional = {k: self.value(v, k) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)


class BodyStrategies:
    """Request bodies for one target; ``image_url`` is what URL images point at."""

    def __init__(self, image_url: str = "https://example.com/cat.png") -> None:
        self.walker = SchemaWalker(image_url)
        self.image_url = image_url

    # ---- content parts and message items -------------------------------------------
    def member(self, name: str) -> Strategy[dict[str, Any]]:
        """One member of a union (``text-content``, ``approval-create``...), as the server reads it."""
        return self.walker.obj(resolved(name))

    def parts(self, union: str) -> Strategy[list[dict[str, Any]]]:
        members = union_members(union)
        weighted = [self.member("text-content")] * 3 + [self.member(m) for m in members]
        return st.lists(st.one_of(weighted), min_size=1, max_size=3)

    def user_message(self) -> Strategy[dict[str, Any]]:
        content = st.one_of(realistic_text(), self.parts("message-content-union"))
        return st.fixed_dictionaries(
            {
                "type": st.just(tag_of("message-create")),
                "role": st.just("user"),
                "content": content,
            },
            optional={"otid": st.uuids(version=4).map(str)},
        )

    def message_item(self) -> Strategy[dict[str, Any]]:
        others = [self.member(m) for m in union_members("message-create-union")]
        return st.one_of(self.user_message(), self.user_message(), *others)

    def options(self) -> Strategy[dict[str, Any]]:
        """The optional top-level fields, each present now and then, small when costly."""
        top = resolved("letta-async-request")["properties"]
        picked: dict[str, Strategy[Json]] = {}
        for key in REQUEST_FIELDS:
            if key in COSTLY_FIELDS or key not in top:
                continue
            if key == "max_steps":
                picked[key] = st.integers(1, 2)
            elif key == "include_return_message_types":
                picked[key] = st.lists(
                    st.sampled_from(MESSAGE_TYPE.values), unique=True, min_size=1, max_size=4
                )
            else:
                picked[key] = self.walker.value(top[key], key)
        keys = st.lists(st.sampled_from(sorted(picked)), unique=True, max_size=3)
        return keys.flatmap(lambda ks: st.fixed_dictionaries({k: picked[k] for k in ks}))

    def valid_body(self) -> Strategy[dict[str, Any]]:
        """A body meant to be valid under both readings (the caller confirms with classify)."""
        by_input = st.fixed_dictionaries(
            {"input": st.one_of(realistic_text(), self.parts("input-content-union"))}
        )
        by_messages = st.fixed_dictionaries(
            {"messages": st.lists(self.message_item(), min_size=1, max_size=2)}
        )
        first = st.one_of(by_input, by_messages)
        return st.tuples(first, self.options(), st.integers(1, 2)).map(
            lambda t: {**t[0], **t[1], "max_steps": t[1].get("max_steps", t[2])}
        )


# ---- agent and run ids ------------------------------------------------------------------


def agent_ids() -> Strategy[str]:
    return st.uuids(version=4).map(lambda u: f"agent-{u}")


def run_ids() -> Strategy[str]:
    return st.uuids(version=4).map(lambda u: f"run-{u}")


def _swap_version(value: str, nibble: str) -> str:
    # agent-xxxxxxxx-xxxx-Vxxx-...: the version digit sits after the second hyphen of the uuid
    head, uuid_part = value.split("-", 1)
    groups = uuid_part.split("-")
    groups[2] = nibble + groups[2][1:]
    return "-".join([head, *groups])


def _swap_variant(value: str, nibble: str) -> str:
    head, uuid_part = value.split("-", 1)
    groups = uuid_part.split("-")
    groups[3] = nibble + groups[3][1:]
    return "-".join([head, *groups])


IdMutation = Callable[[str], str]
ID_MUTATIONS: dict[str, IdMutation] = {
    "upper-case hex": lambda v: v.split("-", 1)[0] + "-" + v.split("-", 1)[1].upper(),
    "uuid version 1": lambda v: _swap_version(v, "1"),
    "uuid variant c": lambda v: _swap_variant(v, "c"),
    "one character short": lambda v: v[:-1],
    "one character long": lambda v: v + "0",
    "trailing newline": lambda v: v + "\n",
    "leading space": lambda v: " " + v,
    "bare uuid": lambda v: v.split("-", 1)[1],
    "non-hex character": lambda v: v[:-1] + "g",
    "hyphens removed": lambda v: v.split("-", 1)[0] + "-" + v.split("-", 1)[1].replace("-", ""),
    "truncated to 8 hex": lambda v: v[: v.index("-") + 9],
}


def wrong_prefix(value: str, prefix: str) -> str:
    return prefix + "-" + value.split("-", 1)[1]


def mutated_ids(kind: str, prefixes: tuple[str, ...]) -> Strategy[tuple[str, str]]:
    """(label, id): a well-formed ``kind`` id (``agent``/``run``) broken in one way.

    For agent ids "one character short/long" are the 41 and 43 character ids
    (``AGENT_ID_LENGTH`` is 42).
    """
    base = agent_ids() if kind == "agent" else run_ids()
    names = sorted(ID_MUTATIONS)
    by_rule = st.tuples(st.sampled_from(names), base).map(
        lambda t: (t[0], ID_MUTATIONS[t[0]](t[1]))
    )
    by_prefix = st.tuples(st.sampled_from(prefixes), base).map(
        lambda t: (f"prefix {t[0]!r}", wrong_prefix(t[1], t[0]))
    )
    return st.one_of(by_rule, by_prefix)
