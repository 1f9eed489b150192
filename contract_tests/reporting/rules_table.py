"""The provenance table as docs/suite.md shows it: check, rule, verdict, source."""

from __future__ import annotations

from letta_contract_kit.contract_tests.checks.selection import all_checks


def markdown() -> str:
    lines = ["| check | rule | when broken | source |", "|---|---|---|---|"]
    for name, check in all_checks().items():
        for rule in check.rules:
            verdict = "violation" if rule.binding else "divergence"
            text = rule.text.replace("|", "\\|")
            source = str(rule.source).replace("|", "\\|")
            lines.append(f"| `{name}` | `{rule.id}`: {text} | {verdict} | {source} |")
    return "\n".join(lines)
