"""docs/proxy.md and the README stay true: their commands run as written (ports aside)."""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from letta_contract_kit.contract_tests.proxy.server import ProxyConfig
from letta_contract_kit.schemas import validator

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "proxy.md").read_text()
README = (ROOT / "README.md").read_text()
AGENT = "agent-123e4567-e89b-42d3-8456-426614174000"


def _free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert process.poll() is None, "the process ended before answering"
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer")


def _mock(port: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "letta_contract_kit.mockserver", "--port", port, "--agent", AGENT],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _proxy(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    assert argv[:2] == ["letta-contract", "proxy"]
    command = [sys.executable, "-m", "letta_contract_kit.contract_tests", *argv[1:]]
    return subprocess.Popen(command, cwd=cwd, stderr=subprocess.PIPE)


def _stop(process: subprocess.Popen[bytes], sig: int) -> tuple[int, str]:
    process.send_signal(sig)
    _, err = process.communicate(timeout=20)
    return process.returncode, err.decode()


def test_the_commands_of_the_proxy_page_and_the_readme_run_as_written(tmp_path: Path) -> None:
    block = DOC.split("<!-- commands run by tests/proxy/test_docs.py -->", 1)[1]
    lines = block.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    proxy_line, curl_line, kill_line = (line[2:] for line in lines if line.startswith("$ "))
    assert kill_line == "kill -INT %1" and proxy_line.endswith(" &")
    readme = README.split("## The validating proxy", 1)[1].split("```sh\n", 1)[1]
    readme_line = readme.split("```", 1)[0].strip()
    mock_port, proxy_port = _free_port(), _free_port()
    mock = _mock(mock_port)

    def ported(line: str) -> list[str]:
        text = line.rstrip(" &").replace("8283", mock_port).replace("8299", proxy_port)
        return shlex.split(text)

    try:
        _wait(f"http://127.0.0.1:{mock_port}/v1/health/", mock)
        for command, sig in ((proxy_line, signal.SIGINT), (readme_line, signal.SIGTERM)):
            proxy = _proxy(ported(command), tmp_path)
            _wait(f"http://127.0.0.1:{proxy_port}/v1/health/", proxy)
            sent = subprocess.run(ported(curl_line), capture_output=True, check=True)
            assert json.loads(sent.stdout)["status"] == "created"
            code, err = _stop(proxy, sig)
            assert code == 0, err
            assert "0 violation(s)" in err
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    report = json.loads((tmp_path / "proxy.json").read_text())
    assert report["violations"] == [] and report["requests"] == 2
    assert (tmp_path / "proxy.xml").read_text().startswith("<?xml")
    recorded = [json.loads(line) for line in (tmp_path / "cassette.jsonl").read_text().splitlines()]
    assert len(recorded) == 4  # two health checks and two POSTs, one of each per command
    assert all(validator("cassette-line").problems(line) == [] for line in recorded)


def test_the_exit_code_counts_client_findings_only_with_fail_on_client(tmp_path: Path) -> None:
    mock_port = _free_port()
    mock = _mock(mock_port)
    codes = {}
    try:
        _wait(f"http://127.0.0.1:{mock_port}/v1/health/", mock)
        for flags in ([], ["--fail-on-client"]):
            port = _free_port()
            argv = ["letta-contract", "proxy", "--upstream", f"http://127.0.0.1:{mock_port}"]
            proxy = _proxy([*argv, "--port", port, *flags], tmp_path)
            _wait(f"http://127.0.0.1:{port}/v1/health/", proxy)
            url = f"http://127.0.0.1:{port}/v1/agents/{AGENT}/messages/async"
            assert requests.post(url, json={"input": 5}, timeout=10).status_code == 422
            code, err = _stop(proxy, signal.SIGTERM)
            assert "CLIENT the body is invalid under both readings" in err
            codes[tuple(flags)] = (code, "(--fail-on-client)" in err)
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    assert codes == {(): (0, False), ("--fail-on-client",): (1, True)}


def test_every_flag_is_documented_with_its_default() -> None:
    defaults = ProxyConfig(upstream="http://x")
    for flag, default in (
        ("--upstream URL", "(required)"),
        ("--host HOST", f"`{defaults.host}`"),
        ("--port PORT", f"`{defaults.port}`"),
        ("--report FILE", "none"),
        ("--junit-xml FILE", "none"),
        ("--fail-on-violation", "off"),
        ("--judge-inline", "off"),
        ("--record FILE", "none"),
        ("--connections N", f"`{defaults.connections}`"),
        ("--fail-on-client", "off"),
    ):
        assert f"| `{flag}` | {default} |" in DOC, flag


def test_the_help_gives_the_connections_default_and_zero_is_refused_at_start() -> None:
    """The CLI leaves the default to ProxyConfig (it does not import the proxy to build its
    help), so the help's figure is checked against it here."""
    command = [sys.executable, "-m", "letta_contract_kit.contract_tests", "proxy"]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True)
    connections = ProxyConfig(upstream="http://x").connections
    assert f"(default: {connections})" in " ".join(shown.stdout.split())
    refused = subprocess.run(
        [*command, "--upstream", "http://127.0.0.1:9", "--connections", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert "error: the proxy needs at least 1 upstream connection, not 0" in refused.stderr


def test_every_field_of_the_cassette_line_is_documented() -> None:
    from letta_contract_kit.schemas import raw

    fields = raw("cassette-line")["properties"]
    table = DOC.split("## The cassette", 1)[1]
    for name in fields:
        assert f"`{name}" in table or f".{name}`" in table, name


def test_the_overhead_benchmark_of_the_proxy_page_runs_in_a_tiny_mode() -> None:
    """The command the Overhead section gives, for one second per target: it starts, measures
    every target, checks its goals and stops (what it measures is not asserted: it depends on
    the machine)."""
    block = DOC.split("<!-- command run by tests/proxy/test_docs.py, in a tiny mode -->", 1)[1]
    lines = block.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    [command] = [shlex.split(line[2:]) for line in lines if line.startswith("$ ")]
    assert command[:3] == ["python", "-m", "benchmarks.proxy_overhead"]
    tiny = ["--seconds", "1", "--rounds", "1", "--warmup", "0", "--no-results"]
    done = subprocess.run(
        [sys.executable, *command[1:], *tiny],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for target in ("direct", "proxy", "proxy-inline"):
        assert f"\n{target} " in done.stdout, done.stdout
    assert re.search(r"proxy: (\d+) exchanges, \d+ judged, 0 violation", done.stdout), done.stdout
    assert re.search(r"no 5xx of the proxy's own +0 +met", done.stdout), done.stdout
