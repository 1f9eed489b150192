"""Validating instances against a reading, with problems a person can act on.

A failed union is explained through its discriminator: when the instance names its member
(``type``, ``message_type``), the problems are that member's; when the tag is missing or
unknown, the problem says so and lists the tags that are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import jsonschema_rs
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from letta_contract_kit.schemas.loader import Reading, Schema, name_of, registry, resolved, schema

Location = tuple[str | int, ...]

# A 422 explains at most this many problems: explaining is the costly part of a bad request.
MAX_PROBLEMS = 50
# ... and each problem's message is at most this many characters.
MAX_MESSAGE = 300


@dataclass(frozen=True)
class Problem:
    """One way an instance breaks a schema."""

    location: Location
    rule: str
    message: str

    def __post_init__(self) -> None:
        # Messages quote the offending value first and say what is wrong last; a huge value
        # must not make a huge answer, so its middle goes.
        if len(self.message) > MAX_MESSAGE:
            half = (MAX_MESSAGE - 3) // 2
            shortened = f"{self.message[:half]} … {self.message[-half:]}"
            object.__setattr__(self, "message", shortened)

    def as_dict(self, prefix: Location = ()) -> dict[str, Any]:
        """The ``{loc, msg, type}`` item of a 422 ``detail`` list."""
        return {"loc": [*prefix, *self.location], "msg": self.message, "type": self.rule}

    def __str__(self) -> str:
        where = "/".join(str(p) for p in self.location) or "(root)"
        return f"{where}: {self.message} [{self.rule}]"


SHOWN_CHARS = 80


def _shown(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut to SHOWN_CHARS."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _tag_of(branch: Schema, prop: str, reading: Reading) -> Any:
    """The constant a union member pins its discriminator ``prop`` to, if any."""
    if "$ref" in branch:
        return _tag_of(schema(name_of(branch["$ref"]), reading), prop, reading)
    pinned = branch.get("properties", {}).get(prop, {})
    if "const" in pinned:
        return pinned["const"]
    for part in branch.get("allOf", []):
        tag = _tag_of(part, prop, reading)
        if tag is not None:
            return tag
    return None


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema_: Schema
) -> Iterable[ValidationError]:
    """``pattern`` as JSON Schema means it: ECMA-262, where ``$`` is the end of the input.

    Python's ``$`` also matches before a trailing newline, so ``"agent-…\n"`` would pass.
    """
    if not isinstance(instance, str):
        return
    match = re.search(pattern, instance)
    if match is None or (pattern.endswith("$") and match.end() != len(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Draft202012 = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _ecma_pattern}
)


def _custom_error(error: ValidationError) -> dict[str, str] | None:
    """The ``x-error`` of the failing schema: ``{rule, message}``, or one such per keyword."""
    custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict) and "rule" not in custom:
        custom = custom.get(str(error.validator))
    return custom if isinstance(custom, dict) else None


class ContractValidator:
    """Validates instances of one schema in one reading.

    ``is_valid`` runs the compiled validator of jsonschema-rs on the self-contained schema (a
    few microseconds); only an instance that fails is walked again by ``jsonschema`` to
    explain where and why.
    """

    def __init__(self, name: str, reading: Reading = "documented") -> None:
        self.name = name
        self.reading = reading
        self._fast = jsonschema_rs.validator_for(resolved(name, reading))
        self._validator = _Draft202012(
            schema(name, reading),
            registry=registry(reading),
            format_checker=None,
        )

    def is_valid(self, instance: Any) -> bool:
        try:
            return bool(self._fast.is_valid(instance))
        except (UnicodeEncodeError, OverflowError, ValueError):
            # Text that is not Unicode (a lone surrogate escape) or a number Rust cannot hold:
            # the pure-Python validator judges those.
            return bool(self._validator.is_valid(instance))

    def problems(self, instance: Any, limit: int = MAX_PROBLEMS) -> list[Problem]:
        """Where and why ``instance`` is invalid; at most ``limit`` problems, then a note.

        Errors are found lazily, so a body with thousands of bad items costs no more to
        explain than one with ``limit`` of them.
        """
        if self.is_valid(instance):
            return []
        found: dict[Problem, None] = {}
        for error in self._validator.iter_errors(instance):
            found.update(dict.fromkeys(self._explain(error)))
            if len(found) >= limit:
                break
        listed = sorted(found, key=lambda p: [str(part) for part in p.location])[:limit]
        if len(found) >= limit:
            listed.append(
                Problem((), "too_many_problems", f"only the first {limit} problems are listed")
            )
        return listed

    def _explain(self, error: ValidationError) -> Iterable[Problem]:
        location: Location = tuple(error.absolute_path)
        custom = _custom_error(error)
        if custom:
            yield Problem(location, custom["rule"], custom["message"])
            return
        if error.validator in ("oneOf", "anyOf") and isinstance(error.schema, dict):
            yield from self._explain_union(error, location)
            return
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            yield Problem(
                (*location, missing) if missing else location, "missing", "Field required"
            )
            return
        yield Problem(location, str(error.validator), str(error.message))

    def _explain_union(self, error: ValidationError, location: Location) -> Iterable[Problem]:
        union = cast(Schema, error.schema)
        branches: Sequence[Schema] = union[str(error.validator)]
        instance = error.instance
        prop = union.get("discriminator", {}).get("propertyName")
        if prop and isinstance(instance, dict):
            tags = {_tag_of(b, prop, self.reading): i for i, b in enumerate(branches)}
            allowed = ", ".join(repr(t) for t in tags if t is not None)
            if prop not in instance:
                yield Problem(
                    (*location, prop),
                    "union_tag_not_found",
                    f"`{prop}` is required to tell which member this is (one of {allowed})",
                )
                return
            tag = instance[prop]
            if not isinstance(tag, str) or tag not in tags:
                yield Problem(
                    (*location, prop),
                    "union_tag_invalid",
                    f"{_shown(tag)} is not one of the allowed tags ({allowed})",
                )
                return
            chosen = tags[tag]
            for sub in error.context or []:
                if sub.schema_path and sub.schema_path[0] == chosen:
                    yield from self._explain(sub)
            return
        # No usable tag: report the member that came closest (fewest problems).
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or []:
            if sub.schema_path:
                by_branch.setdefault(int(sub.schema_path[0]), []).append(sub)
        if isinstance(instance, dict) and "type" in instance:
            # Not a declared discriminator, but the instance names its member: explain that one.
            named = [
                i
                for i, branch in enumerate(branches)
                if _tag_of(branch, "type", self.reading) == instance["type"]
            ]
            if len(named) == 1 and named[0] in by_branch:
                for sub in by_branch[named[0]]:
                    yield from self._explain(sub)
                return
        if error.validator == "oneOf" and not by_branch:
            yield Problem(location, "oneOf", "matches more than one member of the union")
            return
        if not by_branch:
            yield Problem(location, str(error.validator), str(error.message))
            return
        types_only = all(
            len(errs) == 1 and errs[0].validator == "type" and not errs[0].path
            for errs in by_branch.values()
        )
        if types_only and len(by_branch) == len(branches):
            expected = sorted({str(e.validator_value) for errs in by_branch.values() for e in errs})
            yield Problem(location, "type", f"{instance!r} is not of type {' or '.join(expected)}")
            return
        # The closest member: one whose schema explains the failure itself (x-error), else
        # the one with the fewest problems.
        closest = min(
            by_branch.values(),
            key=lambda errs: (
                not any(_custom_error(e) for e in errs),
                len(errs),
                -max(len(e.path) for e in errs),
            ),
        )
        for sub in closest:
            yield from self._explain(sub)


@cache
def validator(name: str, reading: Reading = "documented") -> ContractValidator:
    """A cached validator for one schema in one reading."""
    return ContractValidator(name, reading)
