"""docs/mock.md stays true: its example is a real test file and it names every flag."""

from __future__ import annotations

import re
from pathlib import Path

from letta_contract_kit.mockserver.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "mock.md").read_text("utf-8")


def test_the_usage_example_is_the_test_file_verbatim() -> None:
    match = re.search(r"<!-- example: (\S+) -->\n```python\n(.*?)```", DOC, re.S)
    assert match is not None, "docs/mock.md lost its example block"
    assert (ROOT / match.group(1)).read_text("utf-8") == match.group(2)


def test_every_cli_flag_is_documented() -> None:
    flags = [
        option
        for action in build_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    missing = [flag for flag in flags if f"`{flag}" not in DOC]
    assert flags and missing == []
