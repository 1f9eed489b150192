"""Granian, LMDB and redis-py are extras: the mock runs without them and says how to get
them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from letta_contract_kit.mockserver import extras
from letta_contract_kit.mockserver.cli import main
from letta_contract_kit.mockserver.config import MockConfig

from .conftest import AGENT

# Imports of granian, lmdb or redis fail, as in an environment installed without the extras.
WITHOUT_EXTRAS = """
import sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("granian", "lmdb", "redis"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Absent())
"""


def test_the_mock_serves_and_its_fixture_runs_without_granian_lmdb_or_redis() -> None:
    code = WITHOUT_EXTRAS + (
        "import json, urllib.request\n"
        "from letta_contract_kit.mockserver import MockServer, MockConfig\n"
        "import letta_contract_kit.mockserver.plugin, letta_contract_kit.mockserver.store\n"
        "with MockServer(MockConfig(clock='per-poll')) as mock:\n"
        "    request = urllib.request.Request(\n"
        "        f'{mock.base_url}/v1/agents/{mock.agent_id}/messages/async',\n"
        "        data=b'{\"input\": \"hi\"}', headers={'Content-Type': 'application/json'})\n"
        "    print(json.load(urllib.request.urlopen(request))['status'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('granian', 'lmdb', 'redis')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["created", "[]"]


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["--server", "granian"], "fast"),
        (["--store", "lmdb", "--lmdb-path", "runs.lmdb"], "lmdb"),
        (["--store", "redis", "--redis-url", "redis://127.0.0.1:6379/0"], "redis"),
    ],
)
def test_a_missing_extra_is_one_line_naming_the_pip_command(
    argv: list[str],
    extra: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(extras, "installed", lambda module: False)
    assert main(["--agent", AGENT, *argv]) == 2
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1, said
    assert f"[{extra}] extra" in said[0] and "pip install " in said[0]


def test_a_missing_extra_is_a_configuration_error_for_the_fixture_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extras, "installed", lambda module: False)
    with pytest.raises(ValueError, match=r"\[fast\] extra\): pip install granian"):
        MockConfig(server="granian")
    assert MockConfig().server == "waitress"  # the default needs no extra
