"""Turning the lax values the server accepts into the values it stores.

The server reading of the schemas accepts, where the real server parses leniently, an
integer written as ``"2"``, ``2.0`` or ``true`` (``lax-integer.json``) and a boolean written
as ``"yes"``, ``1`` or ``"off"`` (``lax-boolean.json``). The real server stores them as plain
integers and booleans, so the mock does too: request_config echoes ``true``, never ``"yes"``.
Where the schemas use those two types, and which words mean true, is read from the schemas,
never listed here. Without the ``lax-coercion`` quirk (``--no-quirk lax-coercion``) a lax
value is refused instead, as the documented types (integer, boolean) say.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator

from letta_contract_kit.schemas.contract import LAX_TRUE_VALUES
from letta_contract_kit.schemas.loader import Schema, name_of, raw, registry, resolved, schema, uri
from letta_contract_kit.schemas.validation import Problem

LAX_INTEGER = "lax-integer"
LAX_BOOLEAN = "lax-boolean"


class CoercionError(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def to_int(value: Any, location: tuple[str | int, ...]) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip().split(".", 1)[0]
    try:
        return int(text)
    except ValueError:
        raise CoercionError(
            Problem(
                location,
                "int_parsing_size",
                "Unable to parse input string as an integer, exceeded maximum size",
            )
        ) from None


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    return str(value).strip().lower() in LAX_TRUE_VALUES


def _refuse_lax(value: Any, target: str, location: tuple[str | int, ...]) -> None:
    """Raise unless ``value`` already has the documented type of ``target``."""
    if target == LAX_BOOLEAN and not isinstance(value, bool):
        raise CoercionError(Problem(location, "bool_type", "Input should be a valid boolean"))
    if target == LAX_INTEGER and (isinstance(value, bool) or not isinstance(value, int)):
        raise CoercionError(Problem(location, "int_type", "Input should be a valid integer"))


@cache
def _branch_validator(key: str) -> Draft202012Validator:
    # A base URI beside the schema files, so the branch's relative $refs resolve.
    branch = {**json.loads(key), "$id": uri("union-branch")}
    return Draft202012Validator(branch, registry=registry("server"), format_checker=None)


def _matches(branch: Schema, instance: Any) -> bool:
    return bool(_branch_validator(json.dumps(branch, sort_keys=True)).is_valid(instance))


def _walk(instance: Any, node: Schema, location: tuple[str | int, ...], lax: bool) -> Any:
    if "$ref" in node:
        target = name_of(node["$ref"])
        if target in (LAX_INTEGER, LAX_BOOLEAN) and not lax:
            _refuse_lax(instance, target, location)
        if target == LAX_INTEGER:
            return to_int(instance, location)
        if target == LAX_BOOLEAN:
            return to_bool(instance)
        instance = _walk(instance, schema(target, "server"), location, lax)
    for part in node.get("allOf", []):
        instance = _walk(instance, part, location, lax)
    if "if" in node:
        chosen = node.get("then") if _matches(node["if"], instance) else node.get("else")
        if isinstance(chosen, dict):
            instance = _walk(instance, chosen, location, lax)
    for keyword in ("anyOf", "oneOf"):
        for branch in node.get(keyword, []):
            if _matches(branch, instance):
                instance = _walk(instance, branch, location, lax)
                break
    properties = node.get("properties")
    if isinstance(properties, dict) and isinstance(instance, dict):
        instance = {
            key: _walk(value, properties[key], (*location, key), lax)
            if key in properties
            else value
            for key, value in instance.items()
        }
    items = node.get("items")
    if isinstance(items, dict) and isinstance(instance, list):
        instance = [_walk(item, items, (*location, i), lax) for i, item in enumerate(instance)]
    return instance


def _plain_types(node: Any, plain: dict[str, str]) -> Any:
    """``node`` with every inlined lax schema (known by its title) narrowed to its plain type."""
    if isinstance(node, list):
        return [_plain_types(item, plain) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("title") in plain:
        return {"type": plain[node["title"]]}
    return {key: _plain_types(value, plain) for key, value in node.items()}


@cache
def _plain_validator(name: str) -> Any:
    """A compiled validator of ``name``'s server reading in which no lax value passes."""
    plain = {raw(LAX_INTEGER)["title"]: "integer", raw(LAX_BOOLEAN)["title"]: "boolean"}
    return jsonschema_rs.validator_for(_plain_types(resolved(name, "server"), plain))


def canonical(name: str, instance: Any, lax: bool = True) -> Any:
    """``instance`` (already valid against ``name``'s server reading) with lax values made plain.

    Raises CoercionError for a value the schema pattern admits but no integer can hold, and,
    with ``lax=False``, for the first lax value that does not already have its plain type.
    Most bodies hold no lax value: a compiled check finds that in microseconds, and only the
    others are walked.
    """
    if _plain_validator(name).is_valid(instance):
        return instance
    return _walk(instance, schema(name, "server"), (), lax)
