"""JUnit XML: one test case per check, failing with each of its violations; one test case per
request the client got wrong, failing as the client's; the rest as the suite's output.

A client finding (the proxy's: a body the contract rejects, ...) is never the server's: its
test case has the class name ``letta_contract.client`` and failures of type ``client``, the
checks' have ``letta_contract`` and the violation's cause. Divergences, the other findings and
the notes are lines of the suite's ``system-out``, as in the JSON report: never failures.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from letta_contract_kit.contract_tests.checks.selection import all_checks
from letta_contract_kit.contract_tests.events import (
    Event,
    Finding,
    SuiteFinished,
    SuiteResult,
    Violation,
)

CHECK_CLASS = "letta_contract"
CLIENT_CLASS = "letta_contract.client"
CLIENT_KIND = "client"
CLIENT_PURPOSE = (
    "A request the application sent that the contract rejects: the client's mistake, "
    "never counted against the server."
)


def _details(v: Violation) -> str:
    lines = [
        v.message,
        f"rule: {v.rule} ({v.rule_id})",
        f"source: {v.source}",
        f"case: {v.case}",
    ]
    if v.request:
        lines.append(f"request: {json.dumps(v.request, default=str)}")
    if v.response:
        lines.append(f"response: {json.dumps(v.response, default=str)}")
    if v.excerpt is not None:
        lines.append(f"shows: {json.dumps(v.excerpt, default=str)}")
    lines.extend(v.history)
    if v.script:
        lines.append("reproduce the whole sequence (sh):")
        lines.append(v.script)
    elif v.curl:
        lines.append(f"reproduce: {v.curl}")
    lines.append(f"seed: {v.seed}")
    return "\n".join(lines)


def _client_details(f: Finding) -> str:
    lines = [
        "the client's mistake, not the server's (never a violation of the server):",
        f.message,
        f"case: {f.case}",
    ]
    if f.curl:
        lines.append(f"reproduce: {f.curl}")
    return "\n".join(lines)


def _client_cases(result: SuiteResult) -> dict[str, list[Finding]]:
    """The client findings by what the request was (one test case each, in order seen)."""
    cases: dict[str, list[Finding]] = {}
    for f in result.findings:
        if f.kind == CLIENT_KIND:
            cases.setdefault(f.case, []).append(f)
    return cases


def _output(result: SuiteResult) -> list[str]:
    """The suite's ``system-out``: divergences, the other findings, the notes."""
    lines = [
        f"divergence: [{d.check}] {d.message} (the real server: {d.rule})"
        if d.rule_id
        else f"divergence: {d.case}: {d.verdict}; answered {d.observed_status} ({d.sides_with})"
        for d in result.divergences
    ]
    lines.extend(
        f"finding [{f.kind}]: {f.case}: {f.message}"
        for f in result.findings
        if f.kind != CLIENT_KIND
    )
    lines.extend(f"note: {n}" for n in result.notices)
    return lines


def render(result: SuiteResult) -> bytes:
    checks = all_checks()
    clients = _client_cases(result)
    suite = ET.Element(
        "testsuite",
        name="letta-contract",
        tests=str(len(result.checks) + len(clients) + (1 if result.errors else 0)),
        failures=str(len({v.check for v in result.violations}) + len(clients)),
        errors=str(1 if result.errors else 0),
        time=f"{result.seconds:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("base_url", result.base_url),
        ("seed", str(result.seed)),
        ("profile", result.profile),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for name in result.checks:
        case = ET.SubElement(suite, "testcase", classname=CHECK_CLASS, name=name)
        if name in checks:
            ET.SubElement(case, "system-out").text = checks[name].purpose
        for v in (v for v in result.violations if v.check == name):
            failure = ET.SubElement(case, "failure", message=v.message[:500], type=v.cause[:200])
            failure.text = _details(v)
    for what, found in clients.items():
        case = ET.SubElement(suite, "testcase", classname=CLIENT_CLASS, name=f"client: {what}")
        ET.SubElement(case, "system-out").text = CLIENT_PURPOSE
        for f in found:
            message = f"the client's request: {f.message}"
            failure = ET.SubElement(case, "failure", message=message[:500], type=CLIENT_KIND)
            failure.text = _client_details(f)
    if result.errors:
        case = ET.SubElement(suite, "testcase", classname=CHECK_CLASS, name="setup")
        error = ET.SubElement(case, "error", message=result.errors[0][:500])
        error.text = "\n".join(result.errors)
    output = _output(result)
    if output:
        ET.SubElement(suite, "system-out").text = "\n".join(output)
    for check, why in result.skipped.items():
        for case in suite.iter("testcase"):
            if case.get("name") == check and case.get("classname") == CHECK_CLASS:
                ET.SubElement(case, "skipped", message=why[:500])
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))


class JUnitReporter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self, event: Event) -> None:
        if isinstance(event, SuiteFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(render(event.result))
