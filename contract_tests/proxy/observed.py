"""The case an observed request stands for, built with the suite's own case builders.

The suite knows what it sends and to whom; the proxy knows only what it sees. So a case
here carries the expectations that what the proxy knows supports, and no more:

* the body is classified under both readings, like every body the suite sends: valid under
  both is a ``valid body`` (``positive_case``), invalid under both an ``invalid body``
  (``negative_case``, and a *client* problem: the user's application is wrong), valid under
  one reading a ``divergent body`` (no status expectation: either answer is one reading's),
  except a ``documented omission``: a body that leaves out only the union tags the
  documentation (001) gives defaults must be accepted, as the suite's divergence phase
  expects (``optional-tag-accepted``);
* whether the agent (or the run) exists is not known before the upstream shows it: a valid
  body's status expectations hold once a 2xx about the agent shows it exists (the answer
  itself, or a later one: ids are the server's, so an id that exists later existed before);
  until then only "no 5xx" holds. Retrieving a run is the same, with the run;
* answers about the client's credentials, rate or the agent's state (401, 403, 407, 408,
  409, 429) are judged on nothing but their shape: the contract's status rules assume an
  authorised client.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.cases import (
    ANY_ANSWER,
    CLIENT_ERROR,
    NO_BODY,
    REQUEST,
    SUCCESS,
    Case,
    cancel_case,
    expect,
    hostile_case,
    id_verdict,
    listing_case,
    malformed_agent_case,
    negative_case,
    positive_case,
    retrieve_case,
)
from letta_contract_kit.schemas import Verdict, classify
from letta_contract_kit.schemas.tags import with_documented_tags

PHASE = "proxy"
ASYNC = re.compile(r"^/v1/agents/([^/]+)/messages/async/?$")
RUN = re.compile(r"^/v1/runs/([^/]+)/?$")
CANCEL = re.compile(r"^/v1/agents/([^/]+)/messages/cancel/?$")
AGENT = re.compile(r"^/v1/agents/([^/]+)/?$")
AGENTS = re.compile(r"^/v1/agents/?$")
LISTING = re.compile(r"^/v1/runs/?$")
# Answers about the client (credentials, rate) or about state the proxy cannot see.
UNJUDGED_STATUSES = frozenset({401, 403, 407, 408, 409, 429})
NO_5XX = (expect(ANY_ANSWER, R.NO_SERVER_ERROR),)


def _documented_omission(body: Any) -> bool:
    """Whether ``body`` leaves out only tags the documentation gives defaults, and so is
    valid under both readings once they are filled in."""
    tagged = with_documented_tags(body)
    return tagged is not body and classify(REQUEST, tagged).verdict is Verdict.VALID


def route_of(method: str, path: str) -> str | None:
    """The route of the contract (or an agent route, which tells what exists), or None."""
    if method == "POST" and ASYNC.match(path):
        return "async"
    if method == "GET" and LISTING.match(path):
        return "list"
    if method == "GET" and RUN.match(path):
        return "retrieve"
    if method == "POST" and CANCEL.match(path):
        return "cancel"
    if AGENT.match(path) or AGENTS.match(path):
        return "agent"
    return None


@dataclass(frozen=True)
class Seen:
    """What an observed request stands for, before its answer.

    ``case``: the expectations that hold whatever exists; ``proven``: those that hold once
    ``about`` (``("agent", id)`` or ``("run", id)``) is shown to exist (None: the same).
    ``client``: why the request itself is the client's mistake. ``divergent``: a body the
    readings judge differently (which reading the upstream follows is a divergence)."""

    route: str | None
    case: Case | None = None
    proven: Case | None = None
    about: tuple[str, str] | None = None
    client: str | None = None
    divergent: bool = False

    def for_status(self, status: int, exists: bool) -> Case | None:
        """The case to judge an answer with ``status`` by."""
        if self.case is None or self.proven is None:
            return self.case
        if status in UNJUDGED_STATUSES:
            return self.case
        return self.proven if exists or 200 <= status < 300 else self.case


class StrictJSONError(ValueError):
    """JSON that parses, but not as the contract's JSON (duplicate keys, NaN)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise StrictJSONError(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found


def _no_constants(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON number (RFC 8259)")


def parse_body(text: str) -> Any:
    """The body as JSON; ValueError (StrictJSONError for what JSON parsers disagree on)."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def observe(
    method: str,
    path: str,
    query: tuple[tuple[str, str], ...],
    content_type: str | None,
    body: bytes,
    seq: int,
    run_agent: str | None = None,
) -> Seen:
    """What request number ``seq`` stands for. ``run_agent``: the agent of the run a retrieve
    names, when the proxy has seen it."""
    route = route_of(method, path)
    label = f"request #{seq}"
    if route == "async":
        return _async(path, content_type, body, label)
    if route == "retrieve":
        run_id = unquote(RUN.match(path).group(1))  # type: ignore[union-attr]
        proven = replace(retrieve_case(run_id, run_agent or "", PHASE), agent_id=run_agent)
        first = replace(proven, expect=NO_5XX)
        return Seen(route, first, proven, ("run", run_id))
    if route == "list":
        params: dict[str, str | list[str]] = {}
        for key, value in query:
            listed = params.setdefault(key, [])
            assert isinstance(listed, list)
            listed.append(value)
        return Seen(route, listing_case(label, params, PHASE, expect_=NO_5XX))
    if route == "cancel":
        agent_id = unquote(CANCEL.match(path).group(1))  # type: ignore[union-attr]
        parsed = _json_or_none(body)
        ids = parsed.get("run_ids") if isinstance(parsed, dict) else None
        run_ids = [str(i) for i in ids] if isinstance(ids, list) else None
        case = cancel_case(agent_id, label, PHASE, run_ids)
        return Seen(route, replace(case, body=parsed if body else NO_BODY))
    return Seen(route)


def _json_or_none(body: bytes) -> Any:
    try:
        return parse_body(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _async(path: str, content_type: str | None, data: bytes, label: str) -> Seen:
    agent_id = unquote(ASYNC.match(path).group(1))  # type: ignore[union-attr]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        case = hostile_case("hostile JSON", label, agent_id, phase=PHASE, raw_body=None)
        return Seen("async", case, client="the body is not UTF-8 text (RFC 8259 §8.1)")
    if not _is_json(content_type):
        case = hostile_case("content type", label, agent_id, phase=PHASE, raw_body=text)
        shown = content_type or "missing"
        return Seen("async", case, client=f"the Content-Type is {shown}, not application/json")
    try:
        body = parse_body(text)
    except StrictJSONError as exc:
        case = hostile_case("hostile JSON", label, agent_id, phase=PHASE, raw_body=text)
        return Seen("async", case, client=f"the body is JSON other parsers read differently: {exc}")
    except ValueError as exc:
        case = hostile_case(
            "malformed JSON",
            label,
            agent_id,
            phase=PHASE,
            raw_body=text,
            rule=R.NOT_JSON_REFUSED,
            allowed=CLIENT_ERROR,
        )
        return Seen("async", case, client=f"the body is not JSON: {exc}")
    content = content_type or "application/json"
    agent_verdict = id_verdict("agent-id", agent_id)
    if agent_verdict is Verdict.INVALID:
        case = replace(malformed_agent_case(label, agent_id, PHASE, ()), body=body)
        return Seen("async", case, client=f"the agent id {agent_id!r} is malformed")
    if agent_verdict is not Verdict.VALID:
        case = replace(positive_case(body, agent_id, phase=PHASE, label=label), expect=NO_5XX)
        return Seen("async", case, client=f"the agent id {agent_id!r} is {agent_verdict.value}")
    verdict = classify(REQUEST, body)
    if verdict.verdict is Verdict.VALID:
        proven = positive_case(body, agent_id, phase=PHASE, label=label, content_type=content)
        return Seen("async", replace(proven, expect=NO_5XX), proven, ("agent", agent_id))
    if verdict.verdict is Verdict.INVALID:
        case = negative_case("invalid body", label, body, agent_id, phase=PHASE)
        problem = verdict.documented[0] if verdict.documented else "invalid"
        return Seen("async", case, client=f"the body is invalid under both readings: {problem}")
    if verdict.verdict is Verdict.DOCUMENTED_ONLY and _documented_omission(body):
        # The documentation gives the tags left out defaults (001): the client relies on a
        # stated fact, and the upstream must accept the body once the agent exists.
        omitted = replace(
            positive_case(body, agent_id, phase=PHASE, label=label, content_type=content),
            family="documented omission",
        )
        accepted = replace(omitted, expect=(expect(SUCCESS, R.OMITTED_TAG_ACCEPTED),))
        return Seen("async", replace(omitted, expect=NO_5XX), accepted, ("agent", agent_id))
    problems = verdict.server if verdict.verdict is Verdict.DOCUMENTED_ONLY else verdict.documented
    first = str(problems[0]) if problems else verdict.verdict.value
    # One divergence per kind of body, however often the application sends it.
    case = replace(
        positive_case(body, agent_id, phase=PHASE, label=first, content_type=content),
        family="divergent body",
        expect=NO_5XX,
    )
    why = f"the body is {verdict.verdict.value}: the other reading refuses it ({first})"
    return Seen("async", case, client=why, divergent=True)
