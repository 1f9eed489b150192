"""The pytest plugin gives each test a reset ``letta_mock`` from one server per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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
    result = run_pytest(tmp_path, "--letta-mock-clock", "per-poll")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_pytest(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """pytest in ``folder`` with only the mock's plugin (no entry-point plugins: ours may or
    may not be installed), and ``env`` over the environment less the caller's LETTA_MOCK_*."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LETTA_MOCK_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "letta_contract_kit.mockserver.plugin",
            "-p",
            "no:cacheprovider",
            *args,
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
        env={
            **inherited,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            **(env or {}),
        },
    )


SERVED_AT = """
import os

import requests


def test_served_where_configured(letta_mock):
    host, port = os.environ["EXPECTED_HOST"], int(os.environ["EXPECTED_PORT"])
    assert (letta_mock.port, letta_mock.base_url) == (port, f"http://{host}:{port}")
    assert requests.get(f"http://{host}:{port}/v1/health/", timeout=5).json()["status"] == "ok"
"""


def test_a_port_set_in_an_overridden_config_is_the_one_served(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "conftest.py").write_text(
        "import pytest\n"
        "from letta_contract_kit.mockserver import MockConfig\n\n\n"
        '@pytest.fixture(scope="session")\n'
        "def letta_mock_config():\n"
        f'    return MockConfig(clock="per-poll", port={port})\n'
    )
    (tmp_path / "test_served.py").write_text(SERVED_AT)
    env = {"EXPECTED_HOST": "127.0.0.1", "EXPECTED_PORT": str(port), "LETTA_MOCK_PORT": "1"}
    result = run_pytest(tmp_path, env=env)  # the overridden fixture wins over the variable
    assert result.returncode == 0, result.stdout + result.stderr


def test_host_and_port_come_from_the_environment_and_the_option_wins(tmp_path: Path) -> None:
    (tmp_path / "test_served.py").write_text(SERVED_AT)
    port = free_port()
    env = {"LETTA_MOCK_HOST": "127.0.0.2", "LETTA_MOCK_PORT": str(port)}
    result = run_pytest(
        tmp_path, env={**env, "EXPECTED_HOST": "127.0.0.2", "EXPECTED_PORT": str(port)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    other = free_port()
    expected = {"EXPECTED_HOST": "127.0.0.2", "EXPECTED_PORT": str(other)}
    result = run_pytest(tmp_path, "--letta-mock-port", str(other), env={**env, **expected})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("value", ["abc", "70000", "-1"])
def test_a_port_that_is_no_port_stops_the_session_in_one_line(tmp_path: Path, value: str) -> None:
    (tmp_path / "test_served.py").write_text(SERVED_AT)
    result = run_pytest(tmp_path, env={"LETTA_MOCK_PORT": value})
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.strip() == (
        f"ERROR: letta_mock: LETTA_MOCK_PORT must be a port number from 0 to 65535 "
        f"(0 picks a free one), not {value!r}."
    )


def test_a_port_in_use_is_said_once_per_test_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "test_served.py").write_text(SERVED_AT)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_pytest(tmp_path, env={"LETTA_MOCK_PORT": str(port)})
    assert result.returncode == pytest.ExitCode.TESTS_FAILED
    assert f"letta_mock: cannot serve on 127.0.0.1:{port} (" in result.stdout
    assert "choose another with LETTA_MOCK_HOST / LETTA_MOCK_PORT" in result.stdout
    assert "Traceback" not in result.stdout and "OSError" not in result.stdout
