"""JUnit XML: one test case per check, failing with each of its violations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from letta_contract_kit.contract_tests.checks.selection import all_checks
from letta_contract_kit.contract_tests.events import Event, SuiteFinished, SuiteResult, Violation


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


def render(result: SuiteResult) -> bytes:
    checks = all_checks()
    suite = ET.Element(
        "testsuite",
        name="letta-contract",
        tests=str(len(result.checks) + (1 if result.errors else 0)),
        failures=str(len({v.check for v in result.violations})),
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
        case = ET.SubElement(suite, "testcase", classname="letta_contract", name=name)
        if name in checks:
            ET.SubElement(case, "system-out").text = checks[name].purpose
        for v in (v for v in result.violations if v.check == name):
            failure = ET.SubElement(case, "failure", message=v.message[:500], type=v.cause[:200])
            failure.text = _details(v)
    if result.errors:
        case = ET.SubElement(suite, "testcase", classname="letta_contract", name="setup")
        error = ET.SubElement(case, "error", message=result.errors[0][:500])
        error.text = "\n".join(result.errors)
    if result.divergences:
        out = ET.SubElement(suite, "system-out")
        out.text = "\n".join(
            f"divergence: [{d.check}] {d.message} (the real server: {d.rule})"
            if d.rule_id
            else f"divergence: {d.case}: {d.verdict}; answered {d.observed_status} ({d.sides_with})"
            for d in result.divergences
        )
    for check, why in result.skipped.items():
        for case in suite.iter("testcase"):
            if case.get("name") == check:
                ET.SubElement(case, "skipped", message=why[:500])
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))


class JUnitReporter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self, event: Event) -> None:
        if isinstance(event, SuiteFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(render(event.result))
