"""docs/suite.md stays true: every check, option and rule (with its source) is there, and its
example check is a real file that works."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import requests

from letta_contract_kit.contract_tests.checks.registry import REGISTRY
from letta_contract_kit.contract_tests.checks.selection import all_checks
from letta_contract_kit.contract_tests.cli import main
from letta_contract_kit.contract_tests.options import OPTIONS
from letta_contract_kit.contract_tests.reporting.rules_table import markdown
from letta_contract_kit.contract_tests.rules import catalogue

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "suite.md").read_text()


def test_every_check_is_documented() -> None:
    for name in all_checks():
        assert f"| `{name}` |" in DOC, name


def test_every_option_is_documented_for_the_cli_and_the_plugin() -> None:
    for name, _ in OPTIONS:
        assert f"`--{name}" in DOC, name
        assert f"`--letta-{name}`" in DOC, name


def test_the_provenance_table_is_the_rules_of_the_code() -> None:
    table = DOC.split("<!-- rules -->\n", 1)[1].split("\n<!-- /rules -->", 1)[0]
    assert table == markdown()


def test_every_rule_belongs_to_a_registered_check_and_has_a_source() -> None:
    checks = all_checks()
    for check, rules in catalogue().items():
        assert check in checks, check
        for rule in rules:
            assert rule.source.citation, rule.id
    ids = [rule.id for rules in catalogue().values() for rule in rules]
    assert len(ids) == len(set(ids))


def test_every_rule_is_used_by_the_code() -> None:
    code = "\n".join(
        path.read_text()
        for path in (ROOT / "contract_tests").rglob("*.py")
        if path.name != "rules.py"
    )
    rules_source = (ROOT / "contract_tests" / "rules.py").read_text()
    names = re.findall(r"^([A-Z_0-9]+) = _rule\(", rules_source, re.M)
    unused = [name for name in names if f"R.{name}" not in code]
    assert unused == []


def test_list_checks_verbose_prints_every_rule_and_source(capsys: object) -> None:
    import pytest

    assert isinstance(capsys, pytest.CaptureFixture)
    assert main(["list-checks", "--verbose"]) == 0
    out = capsys.readouterr().out
    for rules in catalogue().values():
        for rule in rules:
            assert f"- {rule.id} (" in out
            assert str(rule.source) in out


def test_the_custom_check_example_is_the_file_and_registers() -> None:
    match = re.search(r"<!-- example: (\S+) -->\n```python\n(.*?)```", DOC, re.S)
    assert match is not None
    path = ROOT / match.group(1)
    assert path.read_text() == match.group(2)
    spec = importlib.util.spec_from_file_location("custom_check_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        assert "no_cache_header" in all_checks()
    finally:
        REGISTRY.pop("no_cache_header", None)


def _commands(block_start: str) -> list[list[str]]:
    """The ``$ ...`` commands of the console block that follows ``block_start``."""
    block = DOC.split(block_start, 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    joined = block.replace("\\\n", " ")
    return [
        shlex.split(line[2:].rstrip(" &")) for line in joined.splitlines() if line.startswith("$ ")
    ]


def test_the_commands_to_test_the_kit_itself_pass_as_written(tmp_path: Path) -> None:
    mock_command, suite_command = _commands("To test the kit itself in CI")
    assert mock_command[0] == "letta-mock" and suite_command[:2] == ["letta-contract", "run"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    argv = [a if a != "8283" else port for a in mock_command[1:]]
    log = (tmp_path / "mock.log").open("wb")
    mock = subprocess.Popen(
        [sys.executable, "-m", "letta_contract_kit.mockserver", *argv], stdout=log, stderr=log
    )
    try:
        for _ in range(200):
            try:
                if requests.get(f"http://127.0.0.1:{port}/v1/health/", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        report = tmp_path / "contract.json"
        suite = [a.replace("8283", port) for a in suite_command[2:]]
        assert main(["run", *suite, "--report", str(report)]) == 0
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    assert main(["coverage", str(report)]) == 0


def test_the_ci_example_in_the_docs_is_the_real_workflow_file() -> None:
    example = (ROOT / "docs" / "examples" / "contract-ci.yml").read_text()
    block = DOC.split("## In CI (JUnit)", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block == example
    assert "python -m pip install ./letta-contract-kit" in example


def _in_path() -> dict[str, str]:
    """The environment, with the console scripts beside this interpreter first in PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_the_version_and_partial_listing_commands_run_as_shown() -> None:
    block = DOC.split("<!-- commands run by tests/suite/test_docs.py -->", 1)[1]
    lines = block.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line for line in lines if line.startswith("$ ")] == [
        "$ letta-contract --version",
        "$ letta-contract list-checks | head -1",
    ]
    shown_version, shown_listing = lines[1], lines[3]
    ran = subprocess.run(
        ["sh", "-c", lines[0][2:]], capture_output=True, text=True, env=_in_path(), check=True
    )
    assert ran.stdout == f"letta-contract {version('letta-contract-kit')}\n"
    assert re.fullmatch(r"letta-contract \d+\.\d+\.\d+\S*", shown_version)
    listing = subprocess.run(
        ["sh", "-c", lines[2][2:]], capture_output=True, text=True, env=_in_path()
    )
    assert (listing.returncode, listing.stderr) == (0, "")
    assert listing.stdout == shown_listing + "\n"
