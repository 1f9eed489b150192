"""Names, enums and patterns of the contract, read from the schema files.

The rest of the kit uses these instead of writing a value down again: ``RUN_STATUS.completed``
is ``"completed"`` only because ``run-status.json`` lists it, and raises if it ever stops
listing it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from letta_contract_kit.schemas.loader import Reading, raw, schema


class EnumValues:
    """The values of one enum schema, reachable as attributes and iterable in order."""

    def __init__(self, name: str) -> None:
        document = raw(name)
        self.schema_name = name
        self.values: tuple[str, ...] = tuple(document["enum"])
        self.documented_in: dict[str, list[str]] = document.get("x-documented-in", {})
        for value in self.values:  # plain attributes: read on every run's every move
            if value.isidentifier() and value not in self.__dict__:
                self.__dict__[value] = value

    def __getattr__(self, value: str) -> str:
        if value in self.__dict__.get("values", ()):
            return value
        raise AttributeError(f"{value!r} is not a value of {self.schema_name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __contains__(self, value: object) -> bool:
        return value in self.values

    def __len__(self) -> int:
        return len(self.values)


RUN_STATUS = EnumValues("run-status")
STOP_REASON = EnumValues("stop-reason-type")
MESSAGE_TYPE = EnumValues("message-type")
LIST_ORDER = EnumValues("list-order")

LAX_TRUE_VALUES: frozenset[str] = frozenset(raw("lax-boolean")["x-true-values"])
"""The words a lax boolean reads as true (lower case; compare after trimming and lowering)."""

TERMINAL_STATUSES: frozenset[str] = frozenset(raw("run-status")["x-terminal"])
STATUS_RANK: dict[str, int] = dict(raw("run-status")["x-order"])


def pattern(name: str, reading: Reading = "documented") -> re.Pattern[str]:
    """The ``pattern`` of a string schema such as ``agent-id``, compiled for Python.

    JSON Schema patterns are ECMA-262, where ``$`` ends the input; Python's ``$`` also matches
    before a trailing newline, so a final ``$`` becomes ``\\Z``.
    """
    source: str = schema(name, reading)["pattern"]
    return re.compile(source.removesuffix("$") + r"\Z" if source.endswith("$") else source)


AGENT_ID = pattern("agent-id")
RUN_ID = pattern("run-id", "server")
DOCUMENTED_RUN_ID = pattern("run-id", "documented")
AGENT_ID_LENGTH: int = raw("agent-id")["maxLength"]


@cache
def fields(name: str) -> tuple[str, ...]:
    """The property names of an object schema, in the order the schema lists them."""
    return tuple(raw(name)["properties"])


def defaults(name: str) -> dict[str, Any]:
    """The documented default of every property of ``name`` that has one (a fresh copy; only
    containers are copied deeply, as this is asked for on every run a check reads)."""
    return {
        key: copy.deepcopy(value) if isinstance(value, (dict, list)) else value
        for key, value in _defaults(name).items()
    }


@cache
def _defaults(name: str) -> dict[str, Any]:
    return {k: v["default"] for k, v in raw(name)["properties"].items() if "default" in v}


def initial_values(name: str) -> dict[str, Any]:
    """The required properties of ``name`` with the value each starts with (its ``const`` or
    ``default``), e.g. a new run's metadata from ``run-metadata.json``. A fresh copy (made
    per run, so only containers are copied deeply)."""
    return {
        key: copy.deepcopy(value) if isinstance(value, (dict, list)) else value
        for key, value in _initial_values(name).items()
    }


@cache
def _initial_values(name: str) -> dict[str, Any]:
    document = raw(name)
    return {
        key: spec.get("const", spec.get("default"))
        for key, spec in document["properties"].items()
        if key in document.get("required", ())
    }


RUN_FIELDS = fields("run")
REQUEST_CONFIG_FIELDS = fields("request-config")
REQUEST_FIELDS = fields("letta-async-request")


@cache
def tag_of(name: str, prop: str = "type") -> str:
    """The discriminator value a union member pins, e.g. ``tag_of("text-content") == "text"``."""
    return str(raw(name)["properties"][prop]["const"])


def union_members(name: str, reading: Reading = "documented") -> tuple[str, ...]:
    """The schema names a union (``oneOf``/``anyOf`` of ``$ref``s) is made of."""
    from letta_contract_kit.schemas.loader import name_of

    document = schema(name, reading)
    branches = document.get("oneOf") or document.get("anyOf") or []
    return tuple(name_of(b["$ref"]) for b in branches if "$ref" in b)
