"""The coverage phase: deterministic boundary values for every location of the request, every
agent and run id mutation, and the body's transport (malformed JSON, content types).

The same cases every time, whatever the seed: the random phases add to them. Valid values are
packed into few bodies (each creates a run); a refused body is split until the value the
target refused is found. Invalid values go one per request (none creates a run on a
conforming server). Hostile values must not cause a 5xx; any other answer is the target's
choice.
"""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.boundaries import (
    AGENT_BASE,
    AGENT_PREFIXES,
    EXTRA_AGENT_IDS,
    HOSTILE_JSON,
    MALFORMED_JSON,
    RUN_BASE,
    RUN_PREFIXES,
    UNKNOWN_AGENT,
    Boundary,
    boundaries,
    is_hostile,
    pack,
    with_steps,
)
from letta_contract_kit.contract_tests.cases import (
    CLIENT_ERROR,
    REQUEST,
    SUCCESS,
    Case,
    expect,
    hostile_case,
    malformed_agent_case,
    malformed_run_case,
    negative_case,
    positive_case,
    unknown_agent_case,
    unknown_run_case,
)
from letta_contract_kit.contract_tests.client import BudgetExhausted
from letta_contract_kit.contract_tests.context import SuiteContext
from letta_contract_kit.contract_tests.exchanges import try_case
from letta_contract_kit.contract_tests.phases import Phase, response_checks_on
from letta_contract_kit.contract_tests.probes import probe_divergence
from letta_contract_kit.contract_tests.rules import schema_source
from letta_contract_kit.contract_tests.strategies import ID_MUTATIONS, wrong_prefix
from letta_contract_kit.schemas import Verdict, classify


def element(kind: str, name: str) -> str:
    return f"{kind}: {name}"


def run(ctx: SuiteContext) -> None:
    _ids(ctx)
    _transport(ctx)
    chosen = boundaries()
    valid: list[Boundary] = []
    hostile: list[Boundary] = []
    for b in chosen:
        body = with_steps(b.body)
        verdict = classify(REQUEST, body).verdict
        elements = (element("location", b.label),)
        if is_hostile(b):
            hostile.append(b)
        elif verdict is Verdict.VALID:
            valid.append(b)
        elif verdict is Verdict.INVALID:
            if ctx.out_of_time():
                return
            case = negative_case(
                "boundary", b.label, body, ctx.agent_id, phase="coverage", elements=elements
            )
            try_case(ctx, case)
        else:
            case = negative_case(
                "boundary", b.label, body, ctx.agent_id, phase="coverage", elements=elements
            )
            probe_divergence(ctx, case)
    if ctx.config.negative_only:
        return
    try:
        for members, body in pack(valid, _valid):
            _cover(ctx, members, body)
        for members, body in pack(hostile, lambda body: True):
            _provoke(ctx, members, body)
    except BudgetExhausted:
        ctx.notice("coverage stopped early: the budget on runs (--max-runs) is spent")


def _label(members: list[Boundary]) -> str:
    if len(members) == 1:
        return members[0].label
    return f"{len(members)} values ({members[0].label}, ...)"


def _cover(ctx: SuiteContext, members: list[Boundary], body: Any) -> None:
    """Send valid values together; a refused body is split until the refused value is found."""
    if ctx.out_of_time():
        return
    single = members[0] if len(members) == 1 else None
    case = positive_case(
        with_steps(body),
        ctx.agent_id,
        phase="coverage",
        label=_label(members),
        owner=single.owner if single else None,
        elements=tuple(element("location", b.label) for b in members),
        tags=("combined",) if single is None else (),
        cites=_cites(single) if single else None,
    )
    if case.classification is None or case.classification.verdict is not Verdict.VALID:
        ctx.notice(f"coverage body {case.label} is not valid under both readings; skipped", "error")
        return
    exchange, _ = try_case(ctx, case, spend=True)
    response = exchange.response
    if single is None and response is not None and 400 <= response.status < 500:
        half = len(members) // 2
        for part in (members[:half], members[half:]):
            for smaller, joined in pack(part, _valid):
                _cover(ctx, smaller, joined)


def _cites(b: Boundary) -> Any:
    if b.owner is None:
        return None
    tag = b.kind.split(" ", 1)[-1]
    node = b.location.node
    for member in node.get("anyOf", node.get("oneOf", [])):
        if member.get("properties", {}).get("type", {}).get("const") == tag and member.get("title"):
            return schema_source(_schema_name(member["title"]))
    return schema_source(REQUEST, str(b.location.path[0]))


def _schema_name(title: str) -> str:
    from letta_contract_kit.schemas.loader import names, raw

    for name in names():
        if raw(name).get("title") == title:
            return name
    return REQUEST


def _valid(body: Any) -> bool:
    return classify(REQUEST, with_steps(body)).verdict is Verdict.VALID


def _provoke(ctx: SuiteContext, members: list[Boundary], body: Any) -> None:
    """Hostile values together; a 5xx is split until the value that caused it is found."""
    if ctx.out_of_time():
        return
    case = hostile_case(
        "hostile value",
        _label(members),
        ctx.agent_id,
        phase="coverage",
        body=with_steps(body),
        elements=tuple(element("hostile", b.label) for b in members),
    )
    exchange, _ = try_case(ctx, case, spend=True)
    response = exchange.response
    if len(members) > 1 and response is not None and response.status >= 500:
        half = len(members) // 2
        for part in (members[:half], members[half:]):
            for smaller, joined in pack(part, lambda body: True):
                _provoke(ctx, smaller, joined)


def _ids(ctx: SuiteContext) -> None:
    """Every agent id and run id mutation, once each."""
    for label, mutate in ID_MUTATIONS.items():
        case = malformed_agent_case(
            label, mutate(AGENT_BASE), "coverage", (element("agent id", label),)
        )
        try_case(ctx, case)
    for prefix in AGENT_PREFIXES:
        label = f"prefix {prefix!r}"
        value = wrong_prefix(AGENT_BASE, prefix)
        try_case(ctx, malformed_agent_case(label, value, "coverage", (element("agent id", label),)))
    for label, value in EXTRA_AGENT_IDS.items():
        try_case(ctx, malformed_agent_case(label, value, "coverage", (element("agent id", label),)))
    try_case(ctx, unknown_agent_case(UNKNOWN_AGENT, "coverage", (element("agent id", "unknown"),)))
    for label, mutate in ID_MUTATIONS.items():
        case = malformed_run_case(label, mutate(RUN_BASE), "coverage", (element("run id", label),))
        try_case(ctx, case)
    for prefix in RUN_PREFIXES:
        label = f"prefix {prefix!r}"
        value = wrong_prefix(RUN_BASE, prefix)
        try_case(ctx, malformed_run_case(label, value, "coverage", (element("run id", label),)))
    try_case(ctx, unknown_run_case(RUN_BASE, "coverage", (element("run id", "unknown"),)))


def _transport(ctx: SuiteContext) -> None:
    """Bodies that are not JSON, and JSON sent in other ways."""
    for label, text in MALFORMED_JSON.items():
        case = hostile_case(
            "malformed JSON",
            label,
            ctx.agent_id,
            phase="coverage",
            raw_body=text,
            rule=R.NOT_JSON_REFUSED,
            allowed=CLIENT_ERROR,
            elements=(element("transport", label),),
        )
        try_case(ctx, case)
    if ctx.config.negative_only:
        return
    for label, text in HOSTILE_JSON.items():
        case = hostile_case(
            "hostile JSON",
            label,
            ctx.agent_id,
            phase="coverage",
            raw_body=text,
            elements=(element("transport", label),),
        )
        _spend_try(ctx, case)
    body = {"input": "Sent with a charset parameter.", "max_steps": 1}
    charset = positive_case(
        body,
        ctx.agent_id,
        phase="coverage",
        label="application/json; charset=utf-8",
        content_type="application/json; charset=utf-8",
        elements=(element("transport", "content type with charset"),),
    )
    charset = _with_rule(charset, R.CHARSET_ACCEPTED)
    _spend_try(ctx, charset)


def _with_rule(case: Case, rule: Any) -> Case:
    from dataclasses import replace

    return replace(case, expect=(expect(SUCCESS, rule), *case.expect[1:]))


def _spend_try(ctx: SuiteContext, case: Case) -> None:
    try:
        try_case(ctx, case, spend=True)
    except BudgetExhausted:
        ctx.notice(f"not sent, the budget on runs is spent: {case.describe()}")


PHASE = Phase(
    "coverage",
    "boundary values of every location, every id mutation, the body's transport",
    run,
    response_checks_on,
)
