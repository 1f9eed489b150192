"""The one place that reads schema files.

Every schema file states the contract as the newest documentation reads it. Where the real
server differs, the file carries an ``x-real-server`` annotation: ``{"why": ..., "schema":
{...}}``, whose ``schema`` keys replace the keys beside it (``null`` removes a key). Applying
those replacements gives the second reading of the same file, so both readings live in one
place and cannot drift apart.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any, Literal

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

Reading = Literal["documented", "server"]
READINGS: tuple[Reading, ...] = ("documented", "server")
BASE_URI = "https://letta-contract-kit.invalid/schemas/"
SERVER_ANNOTATION = "x-real-server"

Schema = dict[str, Any]


@cache
def _files() -> dict[str, Schema]:
    root = resources.files(__package__)
    found: dict[str, Schema] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))
    return found


def names() -> list[str]:
    """The names of all schema files, e.g. ``"run"`` for ``run.json``."""
    return list(_files())


def uri(name: str) -> str:
    return f"{BASE_URI}{name}.json"


def name_of(ref: str) -> str:
    """The schema name a ``$ref`` such as ``"run-id.json"`` points to."""
    return ref.removeprefix(BASE_URI).split("#", 1)[0].removesuffix(".json")


def raw(name: str) -> Schema:
    """The file as written: the documented reading plus its annotations."""
    return copy.deepcopy(_files()[name])


def _apply_server_reading(node: Any) -> Any:
    if isinstance(node, list):
        return [_apply_server_reading(item) for item in node]
    if not isinstance(node, dict):
        return node
    merged = dict(node)
    override = merged.get(SERVER_ANNOTATION)
    if isinstance(override, dict):
        for key, value in override["schema"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
    return {
        key: value if key == SERVER_ANNOTATION else _apply_server_reading(value)
        for key, value in merged.items()
    }


@cache
def _schema(name: str, reading: Reading) -> Schema:
    document = _files()[name]
    return document if reading == "documented" else _apply_server_reading(document)


def schema(name: str, reading: Reading = "documented") -> Schema:
    """One schema in the given reading (a copy: callers may change it)."""
    return copy.deepcopy(_schema(name, reading))


@cache
def registry(reading: Reading = "documented") -> Registry[Any]:
    """All schemas of one reading, by ``$id``; ``$ref``s never reach the network."""
    resources_ = [
        (
            uri(name),
            Resource.from_contents(_schema(name, reading), default_specification=DRAFT202012),
        )
        for name in _files()
    ]
    return Registry().with_resources(resources_).crawl()


def _inline(node: Any, reading: Reading, seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, reading, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = name_of(node["$ref"])
        if target in seen:
            raise ValueError(f"recursive $ref to {target!r} cannot be inlined")
        body = {k: v for k, v in _schema(target, reading).items() if k not in ("$schema", "$id")}
        inlined = _inline(body, reading, (*seen, target))
        rest = {k: _inline(v, reading, seen) for k, v in node.items() if k != "$ref"}
        return {**inlined, **rest} if rest else inlined
    return {key: _inline(value, reading, seen) for key, value in node.items()}


@cache
def _resolved(name: str, reading: Reading) -> Schema:
    return dict(_inline(_schema(name, reading), reading, (name,)))


def resolved(name: str, reading: Reading = "documented") -> Schema:
    """The schema with every ``$ref`` inlined: self-contained, for generators and fast validators."""
    return copy.deepcopy(_resolved(name, reading))


def annotated(name: str, key: str = SERVER_ANNOTATION) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every annotation ``key`` in a schema file, with the JSON path where it stands."""

    def walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == key:
                    yield path, v
                else:
                    yield from walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, (*path, str(i)))

    yield from walk(_files()[name], ())
