"""docs/mock.md stays true: its example is a real test file, it names every flag, and the
commands it shows run as shown."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import requests

from letta_contract_kit.mockserver.cli import build_parser
from letta_contract_kit.mockserver.compat import quirk_table

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "mock.md").read_text("utf-8")
FLAGS = [
    option
    for action in build_parser()._actions
    for option in action.option_strings
    if option.startswith("--") and option != "--help"
]


def test_the_usage_example_is_the_test_file_verbatim() -> None:
    match = re.search(r"<!-- example: (\S+) -->\n```python\n(.*?)```", DOC, re.S)
    assert match is not None, "docs/mock.md lost its example block"
    assert (ROOT / match.group(1)).read_text("utf-8") == match.group(2)


def test_every_cli_flag_is_documented() -> None:
    missing = [flag for flag in FLAGS if f"`{flag}" not in DOC]
    assert FLAGS and missing == []


def _commands(marker: str) -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the console block after ``marker``, with the lines shown below it."""
    block = DOC.split(marker, 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            found[-1][1].append(line)
    return found


def _in_path() -> dict[str, str]:
    """The environment, with the console scripts beside this interpreter first in PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _served_with_a_request_log(command: str, shown: list[str]) -> None:
    """Start the server as written, send it one request, read the line it logs."""
    server = subprocess.Popen(
        shlex.split(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_in_path()
    )
    assert server.stdout is not None and server.stderr is not None
    try:
        listening = json.loads(server.stdout.readline())
        assert listening["letta_mock"] == "listening"
        assert requests.get(f"{listening['url']}/v1/health/", timeout=5).ok
        logged = json.loads(server.stderr.readline())
    finally:
        server.terminate()
        server.wait(timeout=10)
    example = json.loads(shown[1])
    assert set(logged) == set(example)
    assert (logged["method"], logged["path"], logged["status"]) == ("GET", "/v1/health/", 200)


def test_the_commands_of_the_request_log_section_run_as_shown() -> None:
    commands = _commands("<!-- commands run by tests/mock/test_docs.py -->")
    assert [command.split()[1] for command, _ in commands] == [
        "--version",
        "--port",
        "--list-quirks",
    ]
    for command, shown in commands:
        if command == "letta-mock --version":
            out = subprocess.run(
                shlex.split(command), capture_output=True, text=True, env=_in_path(), check=True
            ).stdout
            assert out == f"letta-mock {version('letta-contract-kit')}\n"
            assert re.fullmatch(r"letta-mock \d+\.\d+\.\d+\S*", shown[0])
        elif "--log-requests" in command:
            _served_with_a_request_log(command, shown)
        else:  # a listing read in part: no traceback, the first line of the table
            listing = subprocess.run(
                ["sh", "-c", command], capture_output=True, text=True, env=_in_path()
            )
            assert (listing.returncode, listing.stderr) == (0, "")
            assert listing.stdout.splitlines() == shown == [quirk_table().splitlines()[0]]


def test_the_replicas_example_is_two_mocks_over_one_redis_behind_a_balancer() -> None:
    import yaml

    folder = ROOT / "docs" / "examples"
    compose = yaml.safe_load((folder / "replicas-compose.yml").read_text("utf-8"))
    services = compose["services"]
    assert set(services) == {"redis", "replica-a", "replica-b", "balancer"}
    assert services["redis"]["image"].startswith("redis:")
    assert {"--appendonly", "--appendfsync"} <= set(services["redis"]["command"])
    urls = set()
    for name in ("replica-a", "replica-b"):
        command = services[name]["command"]
        assert command[0] == "letta-mock" and "--redis-url" in command, command
        assert command[command.index("--store") + 1] == "redis"
        assert command[command.index("--port") + 1] == "8283"
        urls.add(command[command.index("--redis-url") + 1])
        assert "redis" in services[name]["depends_on"]
        # every flag given is one letta-mock has
        assert {w for w in command if w.startswith("--")} <= set(FLAGS), command
    assert urls == {"redis://redis:6379/0"}  # both replicas share one store
    balancer = services["balancer"]
    assert balancer["image"].startswith("nginx:") and balancer["ports"] == ["8283:80"]
    (mounted,) = (v.split(":")[0] for v in balancer["volumes"])
    upstreams = re.findall(r"server (\S+);", (folder / mounted).read_text("utf-8"))
    assert upstreams == ["replica-a:8283", "replica-b:8283"]
    assert "examples/replicas-compose.yml" in DOC


REPLAY_MARKER = "<!-- replay commands run by tests/mock/test_docs.py -->"
README_REPLAY_MARKER = "<!-- replay command run by tests/mock/test_docs.py -->"
AGENT = "agent-123e4567-e89b-42d3-8456-426614174000"


def _record_the_cassette(folder: Path, body: dict[str, str]) -> str:
    """cassette.jsonl in ``folder``: the POST of the section's curl and a GET of its run,
    recorded through the proxy in front of a mock. The run's id."""
    import io

    from letta_contract_kit.contract_tests.proxy import ProxyConfig, ProxyServer
    from letta_contract_kit.mockserver import MockConfig, MockServer

    with MockServer(MockConfig(clock="per-poll", agents=[AGENT])) as mock:
        config = ProxyConfig(upstream=mock.base_url, port=0, record=str(folder / "cassette.jsonl"))
        with ProxyServer(config, stream=io.StringIO()) as proxy:
            url = f"{proxy.base_url}/v1/agents/{AGENT}/messages/async"
            run_id = str(requests.post(url, json=body, timeout=10).json()["id"])
            requests.get(f"{proxy.base_url}/v1/runs/{run_id}", timeout=10).raise_for_status()
    return run_id


def _free_port() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_the_commands_of_the_replay_section_and_the_readme_run_as_shown(tmp_path: Path) -> None:
    commands = _commands(REPLAY_MARKER)
    assert [command.split()[0] for command, _ in commands] == [
        "letta-mock",
        "curl",
        "curl",
        "kill",
        "letta-mock",
    ]
    (serve, serve_shown), (send, send_shown), (ask, ask_shown), _, (bad, bad_shown) = commands
    body = json.loads(shlex.split(send)[-1])
    run_id = _record_the_cassette(tmp_path, body)
    port = _free_port()

    def ported(command: str) -> list[str]:
        return shlex.split(command.removesuffix(" &").replace("8284", port))

    server = subprocess.Popen(
        ported(serve),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_in_path(),
    )
    assert server.stdout is not None and server.stderr is not None
    try:
        assert server.stderr.readline().rstrip("\n") == serve_shown[0]
        listening = json.loads(server.stdout.readline())
        assert serve_shown[1].startswith('{"letta_mock": "listening", "url": ')
        assert listening["url"] == f"http://127.0.0.1:{port}"
        sent = json.loads(subprocess.run(ported(send), capture_output=True, check=True).stdout)
        assert (sent["id"], sent["status"]) == (run_id, "created")
        assert send_shown[0].startswith('{"id":"run-') and '"status":"created"' in send_shown[0]
        missed = json.loads(subprocess.run(ported(ask), capture_output=True, check=True).stdout)
        assert missed["detail"].startswith(json.loads(ask_shown[0])["detail"].removesuffix(" …"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    refused = subprocess.run(
        shlex.split(bad), cwd=tmp_path, capture_output=True, text=True, env=_in_path()
    )
    assert (refused.returncode, refused.stdout, refused.stderr.splitlines()) == (2, "", bad_shown)

    readme = (ROOT / "README.md").read_text("utf-8").split(README_REPLAY_MARKER, 1)[1]
    readme_command = readme.split("```sh\n", 1)[1].split("```", 1)[0].strip()
    server = subprocess.Popen(
        ported(readme_command),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_in_path(),
    )
    assert server.stdout is not None
    try:
        url = json.loads(server.stdout.readline())["url"]
        again = requests.post(f"{url}/v1/agents/{AGENT}/messages/async", json=body, timeout=10)
        assert again.json()["id"] == run_id
    finally:
        server.terminate()
        server.wait(timeout=10)
