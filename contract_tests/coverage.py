"""What of the contract a run of the suite exercised: a table "contract element → exercised by".

The elements come from the contract itself (every location of the request body and each of
its boundary values, every enum value and union member, every agent and run id mutation,
every listing parameter, the body's transport) plus the lifecycle moments the suite steers.
Whether an element was exercised is decided from the requests alone (method, path, query,
body), so the same table can be computed from the suite's own log or from the request
journal of a server that records what it was sent (the kit's mock does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from letta_contract_kit.contract_tests.boundaries import (
    AGENT_BASE,
    AGENT_PREFIXES,
    EXTRA_AGENT_IDS,
    HOSTILE_JSON,
    MALFORMED_JSON,
    RUN_BASE,
    RUN_PREFIXES,
    SEMANTIC_STRINGS,
    UNKNOWN_AGENT,
    Boundary,
    Location,
    boundaries,
    is_hostile,
    with_steps,
)
from letta_contract_kit.contract_tests.cases import REQUEST
from letta_contract_kit.contract_tests.client import SentRequest
from letta_contract_kit.contract_tests.observations import RunTrace
from letta_contract_kit.schemas import Verdict, classify
from letta_contract_kit.schemas.contract import RUN_STATUS

ASYNC_SUFFIX = "/messages/async"
CANCEL_SUFFIX = "/messages/cancel"


@dataclass(frozen=True)
class Sent:
    """One request as the coverage table sees it."""

    method: str
    path: str  # percent-decoded
    query: tuple[tuple[str, str], ...]
    body: Any  # decoded JSON, or the raw text when it is not JSON, or None
    content_type: str | None
    valid: bool = False  # an async POST whose body both readings accept

    @property
    def is_async_post(self) -> bool:
        return self.method == "POST" and self.path.endswith(ASYNC_SUFFIX)

    def param(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


def _sent(
    method: str, path: str, query: tuple[tuple[str, str], ...], body: Any, kind: str | None
) -> Sent:
    valid = (
        method == "POST"
        and path.endswith(ASYNC_SUFFIX)
        and isinstance(body, dict)
        and classify(REQUEST, body).verdict is Verdict.VALID
    )
    return Sent(method, path, query, body, kind, valid)


def from_log(log: Iterable[SentRequest]) -> list[Sent]:
    found = []
    for r in log:
        body: Any = r.body
        if r.raw_body is not None:
            body = _decoded(r.raw_body)
        found.append(_sent(r.method, unquote(r.path), r.query, body, r.content_type))
    return found


def from_journal(entries: Iterable[dict[str, Any]]) -> list[Sent]:
    """Requests from the kit's mock's journal (``GET /_mock/requests``)."""
    found = []
    for e in entries:
        body = e.get("body")
        if isinstance(body, str):
            body = _decoded(body)
        query = tuple(parse_qsl(str(e.get("query") or ""), keep_blank_values=True))
        headers = e.get("headers") or {}
        found.append(
            _sent(str(e["method"]), str(e["path"]), query, body, headers.get("Content-Type"))
        )
    return found


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---- reaching a location ---------------------------------------------------------------


def values_at(body: Any, location: Location) -> Iterator[Any]:
    """Every value of ``body`` at ``location`` (any list item; union members by their tag)."""
    yield from _walk(body, location.path, 0, location.tags)


def _walk(value: Any, path: tuple[Any, ...], depth: int, tags: dict[int, str]) -> Iterator[Any]:
    tag = tags.get(depth)
    if tag is not None and not (isinstance(value, dict) and value.get("type") == tag):
        return
    if depth == len(path):
        yield value
        return
    step = path[depth]
    if isinstance(step, int):
        if isinstance(value, list):
            for item in value:
                yield from _walk(item, path, depth + 1, tags)
    elif isinstance(value, dict) and step in value:
        yield from _walk(value[step], path, depth + 1, tags)


# ---- the elements ------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    group: str
    name: str
    covered_by: Callable[[list[Sent]], list[int]]  # indexes of the requests that exercise it

    @property
    def key(self) -> str:
        return f"{self.group}: {self.name}"


def _has_value(sent: list[Sent], b: Boundary, need: Verdict | None) -> list[int]:
    hits = []
    exact = with_steps(b.body) if need is Verdict.INVALID else None
    for i, s in enumerate(sent):
        if not s.is_async_post or not isinstance(s.body, dict):
            continue
        if need is Verdict.VALID and not s.valid:
            continue
        if exact is not None and s.body != exact:
            continue
        if any(_same(v, b) for v in values_at(s.body, b.location)):
            hits.append(i)
    return hits


def _same(value: Any, b: Boundary) -> bool:
    if b.location.key in SEMANTIC_STRINGS and isinstance(b.value, str) and b.kind == "present":
        return isinstance(value, str)  # a URL or a media type: any realistic one will do
    return type(value) is type(b.value) and value == b.value


def boundary_elements() -> list[Element]:
    found = []
    for b in boundaries():
        verdict = classify(REQUEST, with_steps(b.body)).verdict
        if is_hostile(b):
            group, need = "hostile value", None
        elif verdict is Verdict.VALID:
            group, need = "valid value", Verdict.VALID
        elif verdict is Verdict.INVALID:
            group, need = "invalid value", Verdict.INVALID
        else:
            group, need = "divergent value", None
        found.append(Element(group, b.label, _value_finder(b, need)))
    return found


Finder = Callable[[list[Sent]], list[int]]


def _value_finder(b: Boundary, need: Verdict | None) -> Finder:
    return lambda sent: _has_value(sent, b, need)


def _where(test: Callable[[Sent], bool]) -> Finder:
    return lambda sent: [i for i, s in enumerate(sent) if test(s)]


def _posted_to_agent(agent_id: str) -> Finder:
    return _where(lambda s: s.is_async_post and s.path == f"/v1/agents/{agent_id}{ASYNC_SUFFIX}")


def _got_run(run_id: str) -> Finder:
    return _where(lambda s: s.method == "GET" and s.path == f"/v1/runs/{run_id}")


def _sent_raw(expected: Any) -> Finder:
    return _where(lambda s: s.is_async_post and _raw_match(s.body, expected))


def _statuses_are(status: str) -> Callable[[Sent], bool]:
    return lambda s: s.param("statuses") == [status]


def id_elements() -> list[Element]:
    from letta_contract_kit.contract_tests.strategies import ID_MUTATIONS, wrong_prefix

    agents = {label: mutate(AGENT_BASE) for label, mutate in ID_MUTATIONS.items()}
    agents.update({f"prefix {p!r}": wrong_prefix(AGENT_BASE, p) for p in AGENT_PREFIXES})
    agents.update(EXTRA_AGENT_IDS)
    agents["unknown"] = UNKNOWN_AGENT
    runs = {label: mutate(RUN_BASE) for label, mutate in ID_MUTATIONS.items()}
    runs.update({f"prefix {p!r}": wrong_prefix(RUN_BASE, p) for p in RUN_PREFIXES})
    runs["unknown"] = RUN_BASE
    found = [Element("agent id", label, _posted_to_agent(v)) for label, v in agents.items()]
    found += [Element("run id", label, _got_run(v)) for label, v in runs.items()]
    return found


def _listing(test: Callable[[Sent], bool]) -> Callable[[list[Sent]], list[int]]:
    return lambda sent: [
        i for i, s in enumerate(sent) if s.method == "GET" and s.path == "/v1/runs/" and test(s)
    ]


def _int(values: list[str]) -> int | None:
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def listing_elements() -> list[Element]:
    def limit_is(test: Callable[[int], bool]) -> Callable[[Sent], bool]:
        return lambda s: (n := _int(s.param("limit"))) is not None and test(n)

    table: dict[str, Callable[[Sent], bool]] = {
        "agent_id": lambda s: bool(s.param("agent_id")),
        "order asc": lambda s: s.param("order") == ["asc"],
        "order desc": lambda s: s.param("order") == ["desc"],
        "order default": lambda s: not s.param("order") and bool(s.param("agent_id")),
        "after": lambda s: bool(s.param("after")),
        "before": lambda s: bool(s.param("before")),
        "paging (after with limit 2)": lambda s: (
            bool(s.param("after")) and s.param("limit") == ["2"]
        ),
        "several statuses": lambda s: len(s.param("statuses")) > 1,
        "stop_reason": lambda s: bool(s.param("stop_reason")),
        "background": lambda s: bool(s.param("background")),
        "active": lambda s: bool(s.param("active")),
        "conversation_id": lambda s: bool(s.param("conversation_id")),
        "limit 1": limit_is(lambda n: n == 1),
        "limit 1000 (the maximum)": limit_is(lambda n: n == 1000),
        "limit above the maximum": limit_is(lambda n: n > 1000),
        "limit 0": limit_is(lambda n: n == 0),
        "limit below 0": limit_is(lambda n: n < 0),
        "limit not a number": lambda s: bool(s.param("limit")) and _int(s.param("limit")) is None,
        "invalid order": lambda s: (
            bool(s.param("order")) and s.param("order")[0] not in ("asc", "desc")
        ),
        "invalid statuses": lambda s: any(v not in RUN_STATUS for v in s.param("statuses")),
    }
    for status in RUN_STATUS:
        table[f"statuses {status}"] = _statuses_are(status)
    return [Element("listing", name, _listing(test)) for name, test in table.items()]


def transport_elements() -> list[Element]:
    found = []
    for label, text in {**MALFORMED_JSON, **HOSTILE_JSON}.items():
        expected = _decoded(text) if text else None
        found.append(Element("transport", label, _sent_raw(expected)))
    found.append(
        Element(
            "transport",
            "content type with charset",
            lambda sent: [
                i
                for i, s in enumerate(sent)
                if s.is_async_post and "charset" in (s.content_type or "").lower()
            ],
        )
    )
    return found


def _raw_match(body: Any, expected: Any) -> bool:
    if body == expected and type(body) is type(expected):
        return True
    # A server may decode a body that starts with a byte order mark as JSON (RFC 8259 §8.1
    # lets it ignore the mark): the journal then shows the object.
    if isinstance(expected, str) and expected.startswith("\ufeff"):
        return bool(body == _decoded(expected.removeprefix("\ufeff")))
    return False


def cancel_elements() -> list[Element]:
    def cancels(test: Callable[[int, Sent, list[Sent]], bool]) -> Callable[[list[Sent]], list[int]]:
        return lambda sent: [
            i
            for i, s in enumerate(sent)
            if s.method == "POST" and s.path.endswith(CANCEL_SUFFIX) and test(i, s, sent)
        ]

    def run_ids(s: Sent) -> list[str]:
        ids = s.body.get("run_ids") if isinstance(s.body, dict) else None
        return [str(r) for r in ids] if isinstance(ids, list) else []

    def polled_before(i: int, s: Sent, sent: list[Sent]) -> int:
        ids = run_ids(s)
        return sum(1 for t in sent[:i] if t.method == "GET" and t.path.rsplit("/", 1)[-1] in ids)

    return [
        Element(
            "cancel",
            "by id, before the run was polled",
            cancels(lambda i, s, sent: bool(run_ids(s)) and polled_before(i, s, sent) == 0),
        ),
        Element(
            "cancel",
            "by id, after a poll",
            cancels(lambda i, s, sent: bool(run_ids(s)) and polled_before(i, s, sent) > 0),
        ),
        Element("cancel", "without run_ids", cancels(lambda i, s, sent: not run_ids(s))),
    ]


def request_elements() -> list[Element]:
    return [
        *boundary_elements(),
        *id_elements(),
        *listing_elements(),
        *transport_elements(),
        *cancel_elements(),
        Element(
            "two agents",
            "runs of two agents",
            lambda sent: _two_agents(sent),
        ),
    ]


def _two_agents(sent: list[Sent]) -> list[int]:
    agents: dict[str, int] = {}
    for i, s in enumerate(sent):
        if s.valid:
            agents.setdefault(s.path.split("/")[3], i)
    return list(agents.values()) if len(agents) > 1 else []


# ---- lifecycle moments (from what the suite saw of its runs) -----------------------------

MOMENTS = (
    "a run seen created",
    "a run seen ended",
    "cancel while created",
    "cancel while active (after a poll)",
    "cancel after the end",
    "cancel without run_ids while active",
    "cancel without run_ids, nothing active",
    "callback received",
    "a run of the second agent during a bare cancel",
)


def moments(traces: Iterable[RunTrace], seen: Iterable[str] = ()) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {m: [] for m in MOMENTS}
    for t in traces:
        statuses = set(t.statuses)
        if RUN_STATUS.created in statuses:
            found["a run seen created"].append(t.run_id)
        if statuses & {"completed", "failed", "cancelled"}:
            found["a run seen ended"].append(t.run_id)
        for c in t.cancels:
            before = c.status_before
            if c.by_id and before == RUN_STATUS.created and "cancel-at-once" in t.roles:
                found["cancel while created"].append(t.run_id)
            elif c.by_id and before in (RUN_STATUS.created, RUN_STATUS.running):
                found["cancel while active (after a poll)"].append(t.run_id)
            elif c.by_id:
                found["cancel after the end"].append(t.run_id)
            elif before not in ("completed", "failed", "cancelled"):
                found["cancel without run_ids while active"].append(t.run_id)
        if t.callbacks:
            found["callback received"].append(t.run_id)
        if "bystander-of-bare-cancel" in t.roles:
            found["a run of the second agent during a bare cancel"].append(t.run_id)
    for name in seen:
        found.setdefault(name, []).append("(the agent)")
    return found


def table(
    sent: list[Sent],
    traces: Iterable[RunTrace] = (),
    seen: Iterable[str] = (),
    elements: list[Element] | None = None,
) -> list[dict[str, Any]]:
    """Each element with the requests (their index in ``sent``) or runs that exercised it."""
    rows: list[dict[str, Any]] = []
    for e in elements if elements is not None else request_elements():
        hits = e.covered_by(sent)
        rows.append(
            {
                "group": e.group,
                "element": e.name,
                "covered": bool(hits),
                "by": [_describe(sent[i]) for i in hits[:3]],
                "count": len(hits),
            }
        )
    for name, runs in moments(traces, seen).items():
        rows.append(
            {
                "group": "lifecycle",
                "element": name,
                "covered": bool(runs),
                "by": runs[:3],
                "count": len(runs),
            }
        )
    return rows


def _describe(s: Sent) -> str:
    query = "&".join(f"{k}={v}" for k, v in s.query)
    return f"{s.method} {s.path}{'?' + query if query else ''}"


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    """(group, covered, all) per group, in table order."""
    groups: dict[str, list[int]] = {}
    for row in rows:
        counts = groups.setdefault(row["group"], [0, 0])
        counts[0] += int(row["covered"])
        counts[1] += 1
    return [(g, c[0], c[1]) for g, c in groups.items()]
