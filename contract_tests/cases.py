"""A case: one request, what must come back (and by which rule), and how the readings judge it.

Every body is classified with ``schemas.classify`` before it is sent: a positive case must be
valid under both readings, a negative one invalid under both; what the readings disagree on
becomes a divergence probe, never a case that can blame the server by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.provenance import Rule, Source
from letta_contract_kit.schemas import Classification, Verdict, classify, raw, validator
from letta_contract_kit.schemas.loader import READINGS, SERVER_ANNOTATION

REQUEST = "letta-async-request"
NO_BODY: Any = object()
SUCCESS = frozenset(range(200, 300))
CLIENT_ERROR = frozenset(range(400, 500))
ANY_ANSWER = frozenset(range(100, 500))  # anything but a server error


def async_path(agent_id: str) -> str:
    return f"/v1/agents/{quote(agent_id, safe='')}/messages/async"


def run_path(run_id: str) -> str:
    return f"/v1/runs/{quote(run_id, safe='')}"


def cancel_path(agent_id: str) -> str:
    return f"/v1/agents/{agent_id}/messages/cancel"


LIST_PATH = "/v1/runs/"


@dataclass(frozen=True)
class Expect:
    """The statuses a rule allows for a case."""

    statuses: frozenset[int]
    rule: Rule

    def allows(self, status: int) -> bool:
        return status in self.statuses

    def describe(self) -> str:
        if self.statuses == SUCCESS:
            return "2xx"
        if self.statuses == CLIENT_ERROR:
            return "4xx"
        if self.statuses == ANY_ANSWER:
            return "anything but a 5xx"
        return " or ".join(str(s) for s in sorted(self.statuses))


def expect(statuses: frozenset[int] | set[int] | int, rule: Rule) -> Expect:
    chosen = frozenset({statuses}) if isinstance(statuses, int) else frozenset(statuses)
    return Expect(chosen, rule)


@dataclass(frozen=True)
class Case:
    """A request and the answers the contract allows (broadest rule first)."""

    phase: str
    family: str
    label: str
    method: str
    path: str
    expect: tuple[Expect, ...]
    body: Any = NO_BODY
    raw_body: str | None = None
    content_type: str | None = "application/json"
    params: tuple[tuple[str, str], ...] = ()
    classification: Classification | None = None
    owner: str | None = None
    agent_id: str | None = None
    may_create_run: bool = False
    tags: tuple[str, ...] = field(default=())
    elements: tuple[str, ...] = field(default=())
    cites: Source | None = None  # the documentation of the element a coverage case is about

    @property
    def has_body(self) -> bool:
        return self.body is not NO_BODY or self.raw_body is not None

    def describe(self) -> str:
        return f"{self.family}: {self.label}"

    @property
    def expected(self) -> frozenset[int]:
        """The statuses every rule of the case allows."""
        allowed = SUCCESS | CLIENT_ERROR
        for item in self.expect:
            allowed &= item.statuses
        return allowed


def problems_text(c: Classification) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(str(p) for p in c.documented), tuple(str(p) for p in c.server)


# ---- why the readings differ ------------------------------------------------------------


@cache
def server_reason(schema_name: str, prop: str | None = None) -> str | None:
    """The ``why`` of the real-server annotation on a schema or one of its properties."""
    document = raw(schema_name)
    node = document.get("properties", {}).get(prop, {}) if prop else document
    note = node.get(SERVER_ANNOTATION) if isinstance(node, dict) else None
    return str(note["why"]) if isinstance(note, dict) and "why" in note else None


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


def _lax_reason(c: Classification) -> str | None:
    """Why a value only the server's lenient parsing accepts is accepted (not a word on null)."""
    if c.verdict is not Verdict.SERVER_ONLY:
        return None
    for problem in c.documented:
        if problem.rule != "type" or not problem.location:
            continue
        prop = str(problem.location[-1])
        node = raw(REQUEST).get("properties", {}).get(prop, {})
        target = str(node.get(SERVER_ANNOTATION, {}).get("schema", {}).get("$ref", ""))
        if target.startswith("lax-"):
            return str(raw(target.removesuffix(".json"))["description"])
    return None


def divergence_why(c: Classification) -> str:
    """The ``x-real-server`` reason that explains a divergence, best effort."""
    lax = _lax_reason(c)
    if lax:
        return lax
    for problem in (*c.documented, *c.server):
        names = [str(p) for p in problem.location if isinstance(p, str)]
        if not names:
            reason = server_reason(REQUEST)
            if reason:
                return reason
            continue
        prop = names[-1]
        for name in _SCHEMAS_BY_DEPTH:
            props = raw(name).get("properties", {})
            reason = server_reason(name, prop) or (
                server_reason(name) if prop in ("type", *props) else None
            )
            if reason and (prop in reason or prop in props):
                return reason
    return "the documentation and the real server read this input differently"


# ---- cases ------------------------------------------------------------------------------


def positive_case(
    body: Any,
    agent_id: str,
    *,
    phase: str,
    label: str,
    owner: str | None = None,
    elements: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    content_type: str | None = "application/json",
    cites: Source | None = None,
) -> Case:
    """A body both readings should accept: 2xx and a Run (exactly 200)."""
    return Case(
        phase=phase,
        family="valid body",
        label=label,
        method="POST",
        path=async_path(agent_id),
        expect=(expect(SUCCESS, R.VALID_ACCEPTED), expect(200, R.VALID_200)),
        body=body,
        classification=classify(REQUEST, body),
        owner=owner,
        agent_id=agent_id,
        may_create_run=True,
        tags=tags,
        elements=elements,
        content_type=content_type,
        cites=cites,
    )


def negative_case(
    family: str,
    label: str,
    body: Any,
    agent_id: str,
    *,
    phase: str = "negative",
    elements: tuple[str, ...] = (),
) -> Case:
    """A body both readings reject: 4xx (exactly 422) and no run."""
    return Case(
        phase=phase,
        family=family,
        label=label,
        method="POST",
        path=async_path(agent_id),
        expect=(expect(CLIENT_ERROR, R.INVALID_REFUSED), expect(422, R.INVALID_422)),
        body=body,
        classification=classify(REQUEST, body),
        agent_id=agent_id,
        may_create_run=True,
        elements=elements,
    )


def hostile_case(
    family: str,
    label: str,
    agent_id: str,
    *,
    phase: str,
    body: Any = NO_BODY,
    raw_body: str | None = None,
    content_type: str | None = "application/json",
    rule: Rule = R.NO_SERVER_ERROR,
    allowed: frozenset[int] = ANY_ANSWER,
    elements: tuple[str, ...] = (),
) -> Case:
    """A request whose only firm rule is ``rule`` (by default: no 5xx)."""
    return Case(
        phase=phase,
        family=family,
        label=label,
        method="POST",
        path=async_path(agent_id),
        expect=(expect(allowed, rule),),
        body=body,
        raw_body=raw_body,
        content_type=content_type,
        classification=classify(REQUEST, body) if body is not NO_BODY else None,
        agent_id=agent_id,
        may_create_run=True,
        tags=("hostile",),
        elements=elements,
    )


SIMPLE_BODY = {"input": "Hello! Just checking in.", "max_steps": 1}


def malformed_agent_case(label: str, value: str, phase: str, elements: tuple[str, ...]) -> Case:
    return Case(
        phase,
        "malformed agent id",
        f"{label}: {value!r}",
        "POST",
        async_path(value),
        (expect(CLIENT_ERROR, R.BAD_AGENT_REFUSED), expect(422, R.BAD_AGENT_422)),
        SIMPLE_BODY,
        agent_id=value,
        may_create_run=True,
        elements=elements,
    )


def unknown_agent_case(value: str, phase: str, elements: tuple[str, ...] = ()) -> Case:
    return Case(
        phase,
        "unknown agent",
        value,
        "POST",
        async_path(value),
        (expect(404, R.UNKNOWN_AGENT_404),),
        SIMPLE_BODY,
        agent_id=value,
        may_create_run=True,
        elements=elements,
    )


def malformed_run_case(label: str, value: str, phase: str, elements: tuple[str, ...]) -> Case:
    return Case(
        phase,
        "malformed run id",
        f"{label}: {value!r}",
        "GET",
        run_path(value),
        (expect(CLIENT_ERROR, R.UNKNOWN_RUN_REFUSED), expect(400, R.BAD_RUN_400)),
        elements=elements,
    )


def unknown_run_case(value: str, phase: str, elements: tuple[str, ...] = ()) -> Case:
    return Case(
        phase,
        "unknown run",
        value,
        "GET",
        run_path(value),
        (expect(CLIENT_ERROR, R.UNKNOWN_RUN_REFUSED), expect(404, R.UNKNOWN_RUN_404)),
        elements=elements,
    )


def retrieve_case(run_id: str, agent_id: str, phase: str) -> Case:
    return Case(
        phase,
        "retrieve run",
        run_id,
        "GET",
        run_path(run_id),
        (expect(200, R.RUN_RETRIEVABLE),),
        agent_id=agent_id,
    )


def listing_case(
    label: str,
    params: dict[str, str | list[str]],
    phase: str,
    *,
    expect_: tuple[Expect, ...] | None = None,
    elements: tuple[str, ...] = (),
) -> Case:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, item))
    return Case(
        phase,
        "list runs",
        label,
        "GET",
        LIST_PATH,
        expect_ if expect_ is not None else (expect(200, R.LIST_ARRAY),),
        params=tuple(pairs),
        elements=elements,
    )


def cancel_case(
    agent_id: str,
    label: str,
    phase: str,
    run_ids: list[str] | None,
    *,
    expect_: tuple[Expect, ...] | None = None,
    elements: tuple[str, ...] = (),
) -> Case:
    return Case(
        phase,
        "cancel",
        label,
        "POST",
        cancel_path(agent_id),
        expect_
        if expect_ is not None
        else (expect(ANY_ANSWER, R.NO_SERVER_ERROR), expect(200, R.CANCEL_200)),
        {"run_ids": run_ids} if run_ids is not None else NO_BODY,
        agent_id=agent_id,
        elements=elements,
    )


def id_verdict(schema_name: str, value: str) -> Verdict:
    documented, server = (bool(validator(schema_name, r).problems(value)) for r in READINGS)
    return {
        (False, False): Verdict.VALID,
        (False, True): Verdict.DOCUMENTED_ONLY,
        (True, False): Verdict.SERVER_ONLY,
        (True, True): Verdict.INVALID,
    }[(documented, server)]
