"""A case: one request, what the contract says must come back, and how the readings judge it.

Every body is classified with ``schemas.classify`` before it is sent: a positive case must be
valid under both readings, a negative one invalid under both; what the readings disagree on
becomes a divergence probe, never a case that can blame the server.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import strategies as st

from contract_tests.strategies import BodyStrategies, Strategy, realistic_text
from schemas import Classification, Verdict, classify, raw, resolved, validator
from schemas.contract import MESSAGE_TYPE, REQUEST_FIELDS, tag_of, union_members
from schemas.loader import READINGS, SERVER_ANNOTATION
from schemas.versions import DOC_VERSIONS, NEWEST, describe

REQUEST = "letta-async-request"
PLACEHOLDER_IMAGE = "https://images.example.invalid/placeholder.png"
NO_BODY: Any = object()
_VERSION_KEY = re.compile(r"\b(00[0-9])\b")
_KNOWN_KEYS = {v.key for v in DOC_VERSIONS}
SERVER_NAME = "the real server (Letta 0.16.8)"


def async_path(agent_id: str) -> str:
    return f"/v1/agents/{agent_id}/messages/async"


def run_path(run_id: str) -> str:
    return f"/v1/runs/{run_id}"


def versions_in(text: str) -> list[str]:
    """Documentation version keys a ``x-doc`` note mentions, newest first."""
    order = [v.key for v in DOC_VERSIONS]
    found = {k for k in _VERSION_KEY.findall(text) if k in _KNOWN_KEYS}
    return sorted(found, key=order.index, reverse=True)


@cache
def doc_reference(schema_name: str, prop: str | None = None, aspect: str | None = None) -> str:
    """Which documentation version states a rule of ``schema_name`` (``prop``, ``aspect``)."""
    document = raw(schema_name)
    notes: list[str] = []
    node = document.get("properties", {}).get(prop, {}) if prop else document
    doc = node.get("x-doc", {}) if isinstance(node, dict) else {}
    if aspect and aspect in doc:
        notes.append(str(doc[aspect]))
    else:
        notes.extend(str(v) for v in doc.values())
    keys = versions_in(" ".join(notes))
    key = keys[0] if keys else NEWEST
    title = document.get("title", schema_name)
    where = f"{title}.{prop}" if prop else title
    return f"{where}, {describe(key)}"


@cache
def server_reason(schema_name: str, prop: str | None = None) -> str | None:
    """The ``why`` of the real-server annotation on a schema or one of its properties."""
    document = raw(schema_name)
    node = document.get("properties", {}).get(prop, {}) if prop else document
    note = node.get(SERVER_ANNOTATION) if isinstance(node, dict) else None
    return str(note["why"]) if isinstance(note, dict) and "why" in note else None


@dataclass(frozen=True)
class Case:
    """A request and the answer the contract requires."""

    phase: str
    family: str
    label: str
    method: str
    path: str
    expected: frozenset[int]
    rule: str
    source: str
    body: Any = NO_BODY
    classification: Classification | None = None
    owner: str | None = None
    agent_id: str | None = None
    may_create_run: bool = False
    tags: tuple[str, ...] = field(default=())

    @property
    def has_body(self) -> bool:
        return self.body is not NO_BODY

    def describe(self) -> str:
        return f"{self.family}: {self.label}"


def problems_text(c: Classification) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(str(p) for p in c.documented), tuple(str(p) for p in c.server)


def divergence_why(c: Classification) -> str:
    """The ``x-real-server`` reason that explains a divergence, best effort."""
    for problem in (*c.documented, *c.server):
        names = [str(p) for p in problem.location if isinstance(p, str)]
        if not names:
            reason = server_reason(REQUEST)
            if reason:
                return reason
            continue
        prop = names[-1]
        for name in _SCHEMAS_BY_DEPTH:
            reason = server_reason(name, prop) or (
                server_reason(name) if prop in ("type", *raw(name).get("properties", {})) else None
            )
            if reason and (prop in reason or prop in raw(name).get("properties", {})):
                return reason
    return "the documentation and the real server read this input differently"


_SCHEMAS_BY_DEPTH = (
    "text-content",
    "image-content",
    "image-source",
    "approval-create",
    "tool-return-create",
    "message-create",
    "message-create-union",
    "message-content-union",
    REQUEST,
)


# ---- positive cases -------------------------------------------------------------------------


def positive_case(
    body: Any,
    agent_id: str,
    *,
    phase: str,
    label: str,
    owner: str | None = None,
    source: str | None = None,
    tags: tuple[str, ...] = (),
) -> Case:
    return Case(
        phase=phase,
        family="valid body",
        label=label,
        method="POST",
        path=async_path(agent_id),
        expected=frozenset({200}),
        rule="a body valid under the contract is accepted with 200 and a Run",
        source=source or doc_reference(REQUEST),
        body=body,
        classification=classify(REQUEST, body),
        owner=owner,
        agent_id=agent_id,
        may_create_run=True,
        tags=tags,
    )


@dataclass(frozen=True)
class CoverageGroup:
    """Elements (parts, members, enum values) sent together in one body, split when refused."""

    owner: str
    name: str
    elements: tuple[tuple[str, str, Any], ...]  # (label, documentation reference, payload)
    build: Callable[[list[Any]], dict[str, Any]]

    def body(self, elements: tuple[tuple[str, str, Any], ...]) -> dict[str, Any]:
        return {**self.build([e[2] for e in elements]), "max_steps": 1}


def coverage_groups(image_url: str) -> list[CoverageGroup]:
    """Groups that together use every union member, content part, image source and enum value."""
    BodyStrategies(image_url)
    text = {
        "type": tag_of("text-content"),
        "text": "Here is the picture from my trip; what do you see?",
    }
    samples = _with_image_url(_part_samples(), image_url)
    msg = tag_of("message-create")
    sources = [
        {"type": tag_of("url-image"), "url": image_url},
        {"type": tag_of("base64-image"), "media_type": "image/png", "data": _png()},
        {"type": tag_of("letta-image"), "file_id": "file-2c5f0b9e-8d1a-4a7e-9f3b-6e2d1c0a9b8f"},
    ]
    union = "union_members_accepted"
    enums = "enum_values_accepted"
    role_values = raw("message-create")["properties"]["role"]["enum"]
    statuses = raw("tool-return")["properties"]["status"]["enum"]
    return [
        CoverageGroup(
            union,
            "input content parts",
            tuple(
                (
                    f"input part {tag_of(m)}",
                    doc_reference("input-content-union", aspect="members"),
                    samples[m],
                )
                for m in union_members("input-content-union")
            ),
            lambda parts: {"input": [text, *parts]},
        ),
        CoverageGroup(
            union,
            "message content parts",
            tuple(
                (
                    f"message content part {tag_of(m)}",
                    doc_reference("message-content-union", aspect="members"),
                    samples[m],
                )
                for m in union_members("message-content-union")
            ),
            lambda parts: {"messages": [{"type": msg, "role": "user", "content": [text, *parts]}]},
        ),
        CoverageGroup(
            union,
            "image sources",
            tuple((f"image source {s['type']}", doc_reference("image-source"), s) for s in sources),
            lambda srcs: {
                "input": [text, *({"type": tag_of("image-content"), "source": s} for s in srcs)]
            },
        ),
        CoverageGroup(
            union,
            "messages items",
            tuple(
                (
                    f"messages item {tag_of(m)}",
                    doc_reference("message-create-union", aspect="members"),
                    samples[m],
                )
                for m in union_members("message-create-union")
            ),
            lambda items: {"messages": items},
        ),
        CoverageGroup(
            enums,
            "roles",
            tuple((f"role {r}", doc_reference("message-create", "role"), r) for r in role_values),
            lambda roles: {
                "messages": [
                    {"type": msg, "role": r, "content": "Please keep answers short today."}
                    for r in roles
                ]
            },
        ),
        CoverageGroup(
            enums,
            "message types",
            tuple(
                (
                    f"include_return_message_types {v}",
                    f"MessageType, {describe(MESSAGE_TYPE.documented_in.get(v, [NEWEST])[0])}",
                    v,
                )
                for v in MESSAGE_TYPE
            ),
            lambda values: {
                "input": "What's the weather like in Lisbon today?",
                "include_return_message_types": values,
            },
        ),
        CoverageGroup(
            enums,
            "tool return statuses",
            tuple(
                (f"tool return status {s}", doc_reference("tool-return", "status"), s)
                for s in statuses
            ),
            lambda sts: {
                "messages": [
                    {
                        "type": tag_of("tool-return-create"),
                        "tool_returns": [
                            {
                                "type": tag_of("tool-return"),
                                "tool_call_id": f"call_7f3a9c1d2e{i}",
                                "status": s,
                                "tool_return": "temperature: 21 C",
                            }
                            for i, s in enumerate(sts)
                        ],
                    }
                ]
            },
        ),
    ]


def _png() -> str:
    from contract_tests.strategies import TINY_PNG

    return TINY_PNG


class _Found(Exception):
    pass


def _grab(bs: BodyStrategies, name: str, out: dict[str, dict[str, Any]]) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings

    readings = [validator(name, r) for r in READINGS]

    @settings(
        database=None,
        verbosity=Verbosity.quiet,
        derandomize=True,
        max_examples=50,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(bs.member(name))
    def grab(value: dict[str, Any]) -> None:
        if all(v.is_valid(value) for v in readings):
            out.setdefault(name, value)
            if len(value) > 2:  # prefer an example that uses some optional fields
                out[name] = value
                raise _Found

    grab()


def _with_image_url(samples: dict[str, dict[str, Any]], image_url: str) -> dict[str, Any]:
    text = json.dumps(samples).replace(json.dumps(PLACEHOLDER_IMAGE), json.dumps(image_url))
    return dict(json.loads(text))


@cache
def _part_samples() -> dict[str, dict[str, Any]]:
    """One fixed, realistic example of every member: the first valid value the walker gives."""
    bs = BodyStrategies(PLACEHOLDER_IMAGE)
    names = {*union_members("input-content-union"), *union_members("message-create-union")}
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        with contextlib.suppress(_Found):
            _grab(bs, name, out)
        if name not in out:
            raise RuntimeError(f"no valid example of {name} could be generated")
    return out


# ---- negative bodies ------------------------------------------------------------------------

Mutation = tuple[str, str, Any]  # (label, documentation reference, body)


def _with_input(part: Any) -> dict[str, Any]:
    return {"input": [{"type": "text", "text": "See the attachment."}, part], "max_steps": 1}


def _with_message(item: Any) -> dict[str, Any]:
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
        found.update(_type_name(v) for v in values)
    if "number" in found:
        found.add("integer")
    return found or set(JSON_SAMPLES)


def _type_name(value: Any) -> str:
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


def negative_families(bs: BodyStrategies) -> dict[str, Strategy[Mutation]]:
    """Strategies of bodies that each break one rule, by the family of the rule."""
    parts = union_members("input-content-union")
    tags = [tag_of(p) for p in parts]
    text = realistic_text()
    unknown_tags = st.sampled_from(("video", "audio", "file", "html", "Text", "text "))
    msg = tag_of("message-create")

    unknown_part = st.tuples(unknown_tags, text).map(
        lambda t: (
            f"content part type {t[0]!r}",
            doc_reference("input-content-union"),
            _with_input({"type": t[0], "text": t[1]}),
        )
    )

    def relabelled(pair: tuple[str, str]) -> Strategy[Mutation]:
        name, tag = pair
        return bs.member(name).map(
            lambda part: (
                f"{tag_of(name)} part labelled {tag!r}",
                doc_reference("input-content-union"),
                _with_input({**part, "type": tag}),
            )
        )

    relabel = (
        st.tuples(st.sampled_from(parts), st.sampled_from(tags))
        .filter(lambda pair: tag_of(pair[0]) != pair[1])
        .flatmap(relabelled)
    )
    unknown_source = st.sampled_from(("file", "s3", "URL", "path")).map(
        lambda t: (
            f"image source type {t!r}",
            doc_reference("image-source"),
            _with_input(
                {"type": tag_of("image-content"), "source": {"type": t, "url": bs.image_url}}
            ),
        )
    )
    unknown_item = st.tuples(st.sampled_from(("chat", "user", "text", "Message")), text).map(
        lambda t: (
            f"messages item type {t[0]!r}",
            doc_reference("message-create-union"),
            _with_message({"type": t[0], "role": "user", "content": t[1]}),
        )
    )
    bad_role = st.tuples(st.sampled_from(("tool", "moderator", "developer", "User", "")), text).map(
        lambda t: (
            f"role {t[0]!r}",
            doc_reference("message-create", "role"),
            _with_message({"type": msg, "role": t[0], "content": t[1]}),
        )
    )
    bad_message_type = st.sampled_from(
        ("debug_message", "stop_reason", "AssistantMessage", "ping")
    ).map(
        lambda v: (
            f"include_return_message_types {v!r}",
            doc_reference("message-type"),
            {
                "input": "What did I ask you yesterday?",
                "include_return_message_types": [MESSAGE_TYPE.values[2], v],
                "max_steps": 1,
            },
        )
    )
    bad_status = st.sampled_from(("ok", "partial", "SUCCESS", "done")).map(
        lambda s: (
            f"tool return status {s!r}",
            doc_reference("tool-return", "status"),
            _with_message(
                {
                    "type": tag_of("tool-return-create"),
                    "tool_returns": [
                        {
                            "type": tag_of("tool-return"),
                            "tool_call_id": "call_91b2",
                            "status": s,
                            "tool_return": "done",
                        }
                    ],
                }
            ),
        )
    )
    top = resolved(REQUEST)["properties"]
    fields = [k for k in REQUEST_FIELDS if k in top]

    def wrongly_typed(pair: tuple[str, str]) -> Strategy[Mutation]:
        key, words = pair
        return wrong_json_type(top[key]).map(
            lambda value: (
                f"{key} = {value!r}",
                doc_reference(REQUEST, key),
                {
                    **({"input": words} if key not in ("input", "messages") else {}),
                    key: value,
                    **({"max_steps": 1} if key != "max_steps" else {}),
                },
            )
        )

    wrong_type = st.tuples(st.sampled_from(fields), text).flatmap(wrongly_typed)
    nested_types = st.sampled_from(
        [
            ("message content = 7", _with_message({"type": msg, "role": "user", "content": 7})),
            (
                "message content = null",
                _with_message({"type": msg, "role": "user", "content": None}),
            ),
            ("text part text = 12", _with_input({"type": "text", "text": 12})),
            (
                "tool_call part input = 'city'",
                _with_input(
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
                _with_input(
                    {
                        "type": tag_of("reasoning-content"),
                        "is_native": "yes please",
                        "reasoning": "hmm",
                    }
                ),
            ),
        ]
    ).map(lambda t: (t[0], doc_reference("message-create"), t[1]))
    missing = st.sampled_from(
        [
            (
                "message without role",
                "message-create",
                _with_message({"type": msg, "content": "Hello again"}),
            ),
            (
                "message without content",
                "message-create",
                _with_message({"type": msg, "role": "user"}),
            ),
            ("text part without text", "text-content", _with_input({"type": "text"})),
            ("image part without source", "image-content", _with_input({"type": "image"})),
            (
                "base64 image without media_type",
                "base64-image",
                _with_input(
                    {"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo="}}
                ),
            ),
            (
                "url image without url",
                "url-image",
                _with_input({"type": "image", "source": {"type": "url"}}),
            ),
            (
                "tool return without tool_call_id",
                "tool-return",
                _with_message(
                    {
                        "type": "tool_return",
                        "tool_returns": [{"status": "success", "tool_return": "ok"}],
                    }
                ),
            ),
            (
                "tool_return item without tool_returns",
                "tool-return-create",
                _with_message({"type": "tool_return"}),
            ),
            (
                "client skill without location",
                "client-skill",
                {
                    "input": "Use my notes skill.",
                    "client_skills": [{"name": "notes", "description": "d"}],
                    "max_steps": 1,
                },
            ),
            (
                "client tool without name",
                "client-tool",
                {
                    "input": "Check the weather.",
                    "client_tools": [{"description": "weather"}],
                    "max_steps": 1,
                },
            ),
        ]
    ).map(lambda t: (t[0], doc_reference(t[1]), t[2]))
    xor = st.tuples(text, st.booleans()).map(
        lambda t: (
            (
                "both input and messages",
                doc_reference(REQUEST),
                {
                    "input": t[0],
                    "messages": [{"type": msg, "role": "user", "content": t[0]}],
                    "max_steps": 1,
                },
            )
            if t[1]
            else ("neither input nor messages", doc_reference(REQUEST), {"max_steps": 1})
        )
    )
    not_object = st.sampled_from(
        [
            ("body is a JSON array", []),
            ("body is a string", "hello"),
            ("body is a number", 42),
            ("body is null", None),
        ]
    ).map(lambda t: (t[0], doc_reference(REQUEST), t[1]))
    return {
        "unknown content-part type": unknown_part,
        "mislabelled content-part type": relabel,
        "unknown image source type": unknown_source,
        "unknown messages item type": unknown_item,
        "role outside its enum": bad_role,
        "message type outside its enum": bad_message_type,
        "tool return status outside its enum": bad_status,
        "wrong JSON type": wrong_type,
        "wrong JSON type (nested)": nested_types,
        "missing required field": missing,
        "input and messages": xor,
        "body not an object": not_object,
    }


def negative_case(family: str, label: str, source: str, body: Any, agent_id: str) -> Case:
    return Case(
        phase="negative",
        family=family,
        label=label,
        method="POST",
        path=async_path(agent_id),
        expected=frozenset({422}),
        rule="a body the contract rejects is answered 422 and creates no run",
        source=source,
        body=body,
        classification=classify(REQUEST, body),
        agent_id=agent_id,
        may_create_run=True,
    )


def is_invalid_both(c: Classification | None) -> bool:
    return c is not None and c.verdict is Verdict.INVALID


def is_valid_both(c: Classification | None) -> bool:
    return c is not None and c.verdict is Verdict.VALID


def id_verdict(schema_name: str, value: str) -> Verdict:
    documented, server = (bool(validator(schema_name, r).problems(value)) for r in READINGS)
    return {
        (False, False): Verdict.VALID,
        (False, True): Verdict.DOCUMENTED_ONLY,
        (True, False): Verdict.SERVER_ONLY,
        (True, True): Verdict.INVALID,
    }[(documented, server)]
