"""docs/suite.md documents every check and every option the code has."""

from __future__ import annotations

from pathlib import Path

from contract_tests.checks.registry import all_checks
from contract_tests.options import OPTIONS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "suite.md").read_text()


def test_every_check_is_documented() -> None:
    for name in all_checks():
        assert f"| `{name}` |" in DOC, name


def test_every_option_is_documented_for_the_cli_and_the_plugin() -> None:
    for name, _ in OPTIONS:
        assert f"`--{name}" in DOC, name
        assert f"`--letta-{name}`" in DOC, name
