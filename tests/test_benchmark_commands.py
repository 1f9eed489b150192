"""Every benchmark command the README and the docs give is one its script accepts.

The benchmarks need wrk, Prism or py-spy and minutes of a quiet machine, so the tests do not
run them (the proxy's overhead benchmark, which needs neither, runs in a tiny mode in
tests/proxy/test_docs.py). What rots silently is a command: a flag renamed, a module moved.
So each ``python -m benchmarks.NAME ...`` written in README.md, docs/ or benchmarks/README.md
is parsed by that script's own argument parser (every script has ``parse_args``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from benchmark_scripts import load

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
# A command in a code block line or in inline code: up to a comment, a backtick or a pipe.
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE = re.compile(r"`[^`]+`")
COMMAND = re.compile(r"python -m benchmarks\.([a-z_]+)([^`#|\n]*)")


def _commands() -> list[tuple[str, str, tuple[str, ...]]]:
    found: dict[tuple[str, tuple[str, ...]], str] = {}
    for page in PAGES:
        text = page.read_text("utf-8")
        text = FENCE.sub(lambda m: m.group().replace("`", ""), text)
        text = INLINE.sub(lambda m: m.group().replace("\n", " "), text)  # wrapped inline code
        for match in COMMAND.finditer(text):
            words = shlex.split(match.group(2).replace("[", " ").replace("]", " "))
            key = (match.group(1), tuple(words))
            found.setdefault(key, page.name)
    return [(page, name, args) for (name, args), page in sorted(found.items())]


COMMANDS = _commands()


def test_the_pages_give_commands_for_every_benchmark_they_list() -> None:
    named = {name for _, name, _ in COMMANDS}
    scripts = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    assert named <= scripts, named - scripts
    assert {"mock_throughput", "profile_mock", "proxy_overhead", "scale", "soak"} <= named


@pytest.mark.parametrize(("page", "name", "args"), COMMANDS)
def test_each_benchmark_command_of_the_docs_is_accepted(
    page: str, name: str, args: tuple[str, ...]
) -> None:
    module = load(name)
    module.parse_args(list(args))  # argparse exits (SystemExit) on what it does not accept
