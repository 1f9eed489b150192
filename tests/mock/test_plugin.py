"""The pytest plugin gives each test a reset ``letta_mock`` from one server per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = """
from letta_client import Letta

SEEN = []


def test_first_run_completes(letta_mock):
    client = Letta(base_url=letta_mock.base_url, api_key="k")
    run = client.agents.messages.create_async(letta_mock.agent_id, input="hi")
    assert client.runs.retrieve(run.id).status == "running"
    assert client.runs.retrieve(run.id).status == "completed"
    SEEN.append(letta_mock.base_url)


def test_second_test_starts_clean_on_the_same_server(letta_mock):
    client = Letta(base_url=letta_mock.base_url, api_key="k")
    assert client.runs.list().items == []
    assert SEEN == [letta_mock.base_url]


def test_queue_helper(letta_mock):
    letta_mock.queue("fail")
    client = Letta(base_url=letta_mock.base_url, api_key="k")
    run = client.agents.messages.create_async(letta_mock.agent_id, input="hi")
    client.runs.retrieve(run.id)
    assert client.runs.retrieve(run.id).status == "failed"
"""


def test_the_plugin_module_serves_a_session_server_reset_per_test(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(EXAMPLE)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "letta_contract_kit.mockserver.plugin",
            "-p",
            "no:cacheprovider",
            "--letta-mock-clock",
            "per-poll",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        # Only the plugin under test: no entry-point plugins (ours may or may not be installed).
        env={
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
