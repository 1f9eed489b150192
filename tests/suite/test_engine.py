"""The suite against the mock: conforming modes, budgets, secrets, exit codes, reports."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
import requests

from letta_contract_kit.contract_tests.checks.selection import all_checks
from letta_contract_kit.contract_tests.cli import main
from letta_contract_kit.contract_tests.client import Client, RateLimiter
from letta_contract_kit.contract_tests.config import PROFILES, SuiteConfig
from letta_contract_kit.contract_tests.engine import run_suite
from letta_contract_kit.contract_tests.events import (
    CaseFinished,
    Event,
    PhaseStarted,
    SuiteFinished,
)
from letta_contract_kit.contract_tests.replay import render
from letta_contract_kit.contract_tests.reporting import ConsoleReporter, JsonReporter, JUnitReporter
from letta_contract_kit.mockserver import MockConfig, MockServer

from .broken import accepts_malformed_agent_id, serve
from .conftest import SEED, fast_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("clock", ["wall", "per-poll"], ids=["default", "deterministic"])
def test_the_mock_conforms(clock: Literal["wall", "per-poll"]) -> None:
    with MockServer(MockConfig(clock=clock)) as mock:
        options: dict[str, Any] = {"poll_interval": 0.05} if clock == "wall" else {}
        result = run_suite(fast_config(mock.base_url, mock.agent_id, **options))
    assert result.errors == []
    assert result.violations == [], [(v.check, v.message) for v in result.violations]
    assert result.exit_code == 0
    assert result.runs_created > 0 and result.divergences


def test_the_quick_profile_as_a_user_runs_it_conforms_within_its_budget() -> None:
    """The real quick profile with its default rate limit and polling (its time is measured
    by benchmarks/suite_vs_schemathesis.py, not here)."""
    with MockServer(MockConfig(clock="per-poll")) as mock:
        result = run_suite(
            SuiteConfig(
                base_url=mock.base_url, agent_id=mock.agent_id, seed=SEED, cancel_settle=0.5
            )
        )
    assert result.exit_code == 0, [(v.check, v.message) for v in result.violations]
    assert 0 < result.runs_created <= PROFILES["quick"].max_runs


def test_events_flow_and_the_engine_does_not_print(capsys: pytest.CaptureFixture[str]) -> None:
    events: list[Event] = []
    with MockServer(MockConfig(clock="per-poll")) as mock:
        run_suite(fast_config(mock.base_url, mock.agent_id), [events.append])
    out = capsys.readouterr()
    assert out.out == "" and "letta-contract" not in out.err
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases == ["negative", "coverage", "positive", "lifecycle", "listing", "divergence"]
    assert sum(isinstance(e, CaseFinished) for e in events) > 50
    assert isinstance(events[-1], SuiteFinished)


def test_budget_on_runs_is_respected() -> None:
    with MockServer(MockConfig(clock="per-poll")) as mock:
        result = run_suite(fast_config(mock.base_url, mock.agent_id, max_runs=3))
        created = [
            e
            for e in mock.requests(method="POST", status=200)
            if e["path"].endswith("/messages/async")
        ]
    assert result.runs_created <= 3
    assert len(created) <= 3
    assert result.exit_code == 0


def test_negative_only_creates_no_run() -> None:
    with MockServer(MockConfig(clock="per-poll")) as mock:
        result = run_suite(fast_config(mock.base_url, mock.agent_id, negative_only=True))
        accepted = [
            e
            for e in mock.requests(method="POST", status=200)
            if e["path"].endswith("/messages/async")
        ]
    assert result.exit_code == 0
    assert result.runs_created == 0 and accepted == []
    assert result.cases > 30


def test_runs_left_running_are_cancelled_at_the_end() -> None:
    with MockServer(MockConfig(clock="per-poll")) as mock:
        result = run_suite(
            fast_config(mock.base_url, mock.agent_id, checks=("status_code_conformance",))
        )
        listed = requests.get(
            f"{mock.base_url}/v1/runs/", params={"agent_id": mock.agent_id}, timeout=5
        ).json()
        stored = [mock.run(run["id"]) for run in listed]
    assert result.runs_created > 0
    assert len(stored) == result.runs_created
    assert result.runs_cancelled == result.runs_created
    assert all(run is not None and run["status"] == "cancelled" for run in stored)


def test_the_token_never_appears_in_output_or_reports(tmp_path: Path) -> None:
    token = "sk-letta-very-secret-0123456789"
    console = tmp_path / "console.txt"
    with MockServer(MockConfig(clock="per-poll", token=token)) as mock, console.open("w") as stream:
        result = run_suite(
            fast_config(mock.base_url, mock.agent_id, token=token),
            [
                ConsoleReporter(stream),
                JsonReporter(tmp_path / "r.json"),
                JUnitReporter(tmp_path / "j.xml"),
            ],
        )
    assert result.exit_code == 0, result.errors  # the token was sent: no 401
    for path in (console, tmp_path / "r.json", tmp_path / "j.xml"):
        assert token not in path.read_text()


def test_violations_are_reported_once_with_a_curl_and_the_seed(
    tmp_path: Path, agent_id: str
) -> None:
    with serve(accepts_malformed_agent_id(agent_id), agent_id) as url:
        result = run_suite(
            fast_config(url, agent_id),
            [JsonReporter(tmp_path / "r.json"), JUnitReporter(tmp_path / "j.xml")],
        )
    keys = [v.key for v in result.violations]
    assert len(keys) == len(set(keys))
    violation = next(v for v in result.violations if v.check == "status_code_conformance")
    assert violation.curl and violation.curl.startswith("curl ")
    assert (violation.seed == SEED and "agent_id" in violation.source.lower()) or violation.source
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["exit_code"] == 1 and report["violations"]
    suite = ET.parse(tmp_path / "j.xml").getroot()
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert "status_code_conformance" in failed
    assert {c.get("name") for c in suite.iter("testcase")} >= set(result.checks)


def test_an_unreachable_target_is_exit_code_2() -> None:
    result = run_suite(SuiteConfig(base_url="http://127.0.0.1:9", agent_id=None, timeout=2))
    assert result.exit_code == 2
    assert "cannot reach" in result.errors[0]


def test_an_unknown_check_is_a_usage_error() -> None:
    result = run_suite(SuiteConfig(base_url="http://127.0.0.1:9", checks=("no_such_check",)))
    assert result.exit_code == 2 and "no_such_check" in result.errors[0]


def test_without_agent_id_the_suite_creates_one() -> None:
    with MockServer(MockConfig(clock="per-poll")) as mock:
        result = run_suite(fast_config(mock.base_url, None, negative_only=True))
    assert result.exit_code == 0, result.errors
    assert any("created agent" in n for n in result.notices)


class _Json(BaseHTTPRequestHandler):
    """A quiet handler that answers JSON (or nothing, for ``body=None``)."""

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


class _Refuse(_Json):
    def do_GET(self) -> None:
        self._send(200, {"status": "ok"})

    def do_POST(self) -> None:
        self._send(400, {"detail": "INVALID_ARGUMENT: Must specify either model or llm_config"})


@pytest.fixture
def tiny_server() -> Iterator[tuple[str, type[BaseHTTPRequestHandler]]]:
    yield from _tiny(_Refuse)


def _tiny(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, Any]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_agent_creation_is_explained(tiny_server: tuple[str, Any]) -> None:
    url, _ = tiny_server
    result = run_suite(SuiteConfig(base_url=url))
    assert result.exit_code == 2
    assert "could not create an agent" in result.errors[0]
    assert "--agent-id" in result.errors[0]


class _Throttle(_Json):
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            self._send(429, headers={"Retry-After": "0.2"})
            return
        self._send(200, {"ok": True})


def test_429_retry_after_is_honoured() -> None:
    for url, handler in _tiny(_Throttle):
        client = Client(url)
        started = time.monotonic()
        exchange = client.send("GET", "/v1/health/")
        assert exchange.response is not None and exchange.response.status == 200
        assert client.throttled == 1 and handler.calls == 2
        assert time.monotonic() - started >= 0.2


def test_rate_limit_spaces_requests() -> None:
    limiter = RateLimiter(20.0)
    started = time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - started >= 0.24


def test_curl_redacts_the_token() -> None:
    client = Client("http://127.0.0.1:9", token="tok-123")
    from letta_contract_kit.contract_tests.client import SentRequest, render_curl

    request = SentRequest(
        "POST",
        "http://127.0.0.1:9/x",
        "/x",
        client._headers("application/json", True),
        {"input": "it's"},
    )
    rendered = render_curl(request)
    assert "tok-123" in rendered  # the raw headers hold it ...
    exchange_headers = {"Authorization": "Bearer [REDACTED]"}
    shown = render_curl(
        SentRequest("POST", "http://127.0.0.1:9/x", "/x", exchange_headers, {"input": "it's"})
    )
    assert "tok-123" not in shown and "[REDACTED]" in shown and "it'\"'\"'s" in shown


def test_cli_list_checks_and_openapi(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list-checks"]) == 0
    listed = capsys.readouterr().out
    for name in all_checks():
        assert name in listed
    assert main(["openapi"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "/v1/agents/{agent_id}/messages/async" in document["paths"]


def test_cli_run_exit_codes(capsys: pytest.CaptureFixture[str], agent_id: str) -> None:
    with MockServer(MockConfig(clock="per-poll")) as mock:
        code = main(
            [
                "run",
                "--base-url",
                mock.base_url,
                "--agent-id",
                mock.agent_id,
                "--seed",
                str(SEED),
                "--rate-limit",
                "0",
                "--poll-interval",
                "0",
                "--cancel-settle",
                "0",
                "--negative-only",
            ]
        )
    assert code == 0
    assert "CONFORMING" in capsys.readouterr().out
    with serve(accepts_malformed_agent_id(agent_id), agent_id) as url:
        code = main(
            [
                "run",
                "--base-url",
                url,
                "--agent-id",
                agent_id,
                "--seed",
                str(SEED),
                "--rate-limit",
                "0",
                "--negative-only",
                "--check",
                "status_code_conformance",
            ]
        )
    out = capsys.readouterr().out
    assert code == 1 and "[status_code_conformance]" in out and "reproduce: curl" in out
    assert main(["run", "--base-url", "http://127.0.0.1:9", "--timeout", "1"]) == 2
    assert main(["run", "--base-url", "http://x", "--rate-limit", "fast"]) == 2


def test_the_plugins_import_nothing_beyond_pytest_and_the_standard_library() -> None:
    # Both plugins load in every pytest session of a venv that has the kit: they must not
    # pull in Flask, Hypothesis, requests or the engine until a fixture or option is used.
    code = (
        "import sys, pytest\n"
        "before = set(sys.modules)\n"
        "import letta_contract_kit.mockserver.plugin, letta_contract_kit.contract_tests.plugin\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    added = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    ours = {"letta_contract_kit"}
    foreign = [m for m in added if m.split(".")[0] not in ours | sys.stdlib_module_names]
    assert foreign == [], foreign
    assert (
        "letta_contract_kit.mockserver.plugin" in added
        and "letta_contract_kit.contract_tests.plugin" in added
    )
    assert not [
        m
        for m in added
        if m.startswith(
            ("letta_contract_kit.mockserver.app", "letta_contract_kit.contract_tests.engine")
        )
    ]


def test_pytest_plugin_runs_the_suite(agent_id: str, tmp_path: Path) -> None:
    with serve(accepts_malformed_agent_id(agent_id), agent_id) as url:
        run = _pytest(url, agent_id, tmp_path)
    assert run.returncode == 1, run.stdout[-2000:]
    assert "test_check[status_code_conformance] FAILED" in run.stdout
    assert "test_check[content_type_conformance] PASSED" in run.stdout
    assert "test_target_usable PASSED" in run.stdout


def test_pytest_plugin_does_nothing_without_its_options(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_one():\n    assert True\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert run.returncode == 0 and "1 passed" in run.stdout
    skipped = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "letta_contract_kit.contract_tests",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert skipped.returncode == 0 and "skipped" in skipped.stdout


def _pytest(url: str, agent: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "letta_contract_kit.contract_tests",
            "-v",
            "-p",
            "no:cacheprovider",
            "--letta-base-url",
            url,
            "--letta-agent-id",
            agent,
            "--letta-seed",
            str(SEED),
            "--letta-rate-limit",
            "0",
            "--letta-poll-interval",
            "0",
            "--letta-cancel-settle",
            "0",
            "--letta-negative-only",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


def test_an_agent_the_target_does_not_have_is_a_usage_error() -> None:
    with MockServer(MockConfig(clock="per-poll")) as mock:
        result = run_suite(fast_config(mock.base_url, "agent-3f0c6b7e-9a51-4d2e-8c47-0b6f1e2d9a13"))
    assert result.exit_code == 2 and "no agent" in result.errors[0]


def test_refused_credentials_are_a_usage_error() -> None:
    with MockServer(MockConfig(clock="per-poll", token="right-token")) as mock:
        result = run_suite(fast_config(mock.base_url, mock.agent_id, token="wrong-token"))
    assert result.exit_code == 2 and "credentials" in result.errors[0]
    assert "wrong-token" not in " ".join(result.errors)


def test_a_target_that_goes_away_mid_run_is_exit_code_2() -> None:
    mock = MockServer(MockConfig(clock="per-poll")).start()

    def stop_at_coverage(event: Event) -> None:
        if isinstance(event, PhaseStarted) and event.phase == "coverage":
            mock.stop()

    try:
        result = run_suite(fast_config(mock.base_url, mock.agent_id), [stop_at_coverage])
    finally:
        mock.stop()
    assert result.exit_code == 2
    assert "stopped answering" in result.errors[0]


def test_selected_checks_decide_which_phases_run() -> None:
    events: list[Event] = []
    with MockServer(MockConfig(clock="per-poll")) as mock:
        result = run_suite(
            fast_config(mock.base_url, mock.agent_id, checks=("run_reaches_terminal",)),
            [events.append],
        )
    assert result.checks == ("run_reaches_terminal",)
    assert [e.phase for e in events if isinstance(e, PhaseStarted)] == ["lifecycle"]
    assert result.exit_code == 0 and result.runs_created >= 1


def test_the_replay_line_reruns_the_violation_as_printed(
    capsys: pytest.CaptureFixture[str], agent_id: str
) -> None:
    with serve(accepts_malformed_agent_id(agent_id), agent_id) as url:
        result = run_suite(fast_config(url, agent_id, use_fixtures=False))
        violation = next(v for v in result.violations if v.check == "status_code_conformance")
        line = render(result.replay, "--", violation.check)
        assert f"--agent-id {agent_id}" in line and "--profile quick" in line
        assert main(["run", *shlex.split(line)]) == 1
    out = capsys.readouterr().out
    assert f"[{violation.check}]" in out and f"replay the suite: letta-contract run {line}" in out


def test_a_target_with_only_the_contracts_routes_conforms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No health, agent or openapi route: the suite notes them absent once and goes on."""
    report = tmp_path / "r.json"
    with MockServer(MockConfig(clock="per-poll", routes="minimal")) as mock:
        options = ["--base-url", mock.base_url, "--agent-id", mock.agent_id, "--seed", "3"]
        fast = ["--rate-limit", "0", "--poll-interval", "0", "--cancel-settle", "0"]
        code = main(["run", *options, "--profile", "quick", *fast, "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert "OPTIONAL ROUTES ABSENT: health, agent retrieve" in out
    found = json.loads(report.read_text())
    assert found["routes"]["health"] is False and found["violations"] == []


def test_a_lifecycle_violation_comes_with_a_script_that_replays_the_sequence(
    agent_id: str, tmp_path: Path
) -> None:
    from .broken import cancel_does_not_stick

    with serve(cancel_does_not_stick, agent_id) as url:
        result = run_suite(fast_config(url, agent_id, checks=("cancel_sticks",)))
        found = [v for v in result.violations if v.check == "cancel_sticks"]
        assert found and found[0].script, result.violations
        script = tmp_path / "replay.sh"
        script.write_text(found[0].script)
        played = subprocess.run(
            ["sh", str(script)], capture_output=True, text=True, timeout=60, check=True
        )
    assert "$RUN_ID" in found[0].script and "cancel" in found[0].script
    statuses = [
        json.loads(line).get("status")
        for line in played.stdout.splitlines()
        if line.startswith("{") and '"status"' in line
    ]
    # The same story again, on a run of its own: cancelled first, completed later.
    assert "cancelled" in statuses, played.stdout
    assert statuses[-1] == "completed", played.stdout
    assert statuses.index("cancelled") < len(statuses) - 1
