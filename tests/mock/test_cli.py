"""The letta-mock command: flags, config files, and a server that is up within a second."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
import requests

from letta_contract_kit.mockserver.cli import (
    EXAMPLES,
    EXIT_CLOSED_PIPE,
    HelpFormatter,
    build_parser,
    config_from_args,
    main,
)
from letta_contract_kit.mockserver.config import Timings, load_config_file

AGENT = "agent-123e4567-e89b-42d3-8456-426614174000"


def test_defaults_bind_loopback_on_8283_with_the_wall_clock() -> None:
    config = config_from_args([])
    assert (config.host, config.port, config.clock, config.store) == (
        "127.0.0.1",
        8283,
        "wall",
        "memory",
    )


def test_every_flag_reaches_the_config() -> None:
    config = config_from_args(
        [
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--agent",
            AGENT,
            "--auto-agents",
            "--clock",
            "virtual",
            "--queued-seconds",
            "0.5",
            "--running-seconds",
            "2",
            "--slow-seconds",
            "9",
            "--scenario",
            "fail:llm_api_error",
            "--profile",
            "strict",
            "--token",
            "t",
            "--admin-token",
            "a",
            "--max-body-bytes",
            "2048",
            "--store",
            "sqlite",
            "--sqlite-path",
            "/tmp/x.db",
            "--max-runs",
            "5",
            "--callback-timeout",
            "1.5",
            "--callback-host",
            "hooks.local",
            "--fault-rate",
            "0.1",
            "--fault",
            "503",
            "--fault",
            "latency:0.2",
            "--fault-seed",
            "3",
            "--journal-size",
            "50",
            "--server-version",
            "9.9.9",
            "--threads",
            "2",
            "--lmdb-path",
            "/tmp/x.lmdb",
            "--workers",
            "1",
            "--idle-timeout",
            "2.5",
            "--max-connections",
            "40",
        ]
    )
    assert config.agents == [AGENT] and config.auto_agents
    assert config.timings == Timings(queued=0.5, running=2, slow_running=9)
    assert (config.scenario, config.token, config.admin_token) == ("fail:llm_api_error", "t", "a")
    assert (config.max_body_bytes, config.store, config.sqlite_path) == (
        2048,
        "sqlite",
        "/tmp/x.db",
    )
    assert (config.max_runs, config.callback_timeout, config.callback_hosts) == (
        5,
        1.5,
        ["hooks.local"],
    )
    assert (config.fault_rate, config.faults, config.fault_seed) == (0.1, ["503", "latency:0.2"], 3)
    assert (config.journal_size, config.server_version, config.threads) == (50, "9.9.9", 2)
    assert (config.lmdb_path, config.workers) == ("/tmp/x.lmdb", 1)
    assert (config.idle_timeout, config.max_connections) == (2.5, 40)


def test_a_toml_config_file_is_read_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text(
        '[letta-mock]\nclock = "per-poll"\nscenario = "slow"\nagents = ["' + AGENT + '"]\n'
        "[letta-mock.timings]\nslow_running = 3\n"
    )
    config = config_from_args(["--config", str(path), "--scenario", "tools"])
    assert (config.clock, config.scenario, config.agents) == ("per-poll", "tools", [AGENT])
    assert config.phase_timings == Timings(queued=1, running=1, slow_running=3)


def test_a_json_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mock.json"
    path.write_text(json.dumps({"auto_agents": True, "callback-hosts": ["*"]}))
    config = load_config_file(path)
    assert config.auto_agents and config.callback_hosts == ["*"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--agent", "agent-123"],
        ["--scenario", "explode"],
        ["--store", "sqlite"],
        ["--store", "lmdb"],
        ["--workers", "0"],
        ["--workers", "2", "--server", "granian"],  # the memory store is one process's
        ["--workers", "2", "--store", "lmdb", "--lmdb-path", "/tmp/x.lmdb"],  # waitress
        ["--fault-rate", "2"],
        ["--fault", "teapot"],
        ["--max-runs", "0"],
    ],
)
def test_bad_settings_exit_2_with_a_reason(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "letta-mock:" in capsys.readouterr().err


def test_unknown_config_keys_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mock.json"
    path.write_text('{"clocks": "wall"}')
    assert main(["--config", str(path)]) == 2
    assert "clocks" in capsys.readouterr().err


def answers_health(extra: list[str]) -> bool:
    """Start the console script; whether GET /v1/health/ answers it is ok (within 10 s)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = Path(sys.executable).with_name("letta-mock")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-m", "letta_contract_kit.mockserver"]
    )
    started = time.monotonic()
    server = subprocess.Popen(
        [*command, "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        while time.monotonic() - started < 10:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/v1/health/", timeout=0.5)
                assert answer.json()["status"] == "ok"
                assert answer.headers["Server"] == "letta-mock"
                return True
            except requests.ConnectionError:
                time.sleep(0.01)
        raise AssertionError("the server never answered its health check")
    finally:
        server.terminate()
        server.wait(timeout=5)


def test_the_console_script_answers_health() -> None:
    """It comes up and answers health (how fast: benchmarks/mock_throughput.py's start-up
    figure; tests never time)."""
    assert answers_health(["--agent", AGENT])


def test_a_store_file_that_cannot_open_stops_granian_workers_before_they_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--server", "granian", "--workers", "2", "--port", "0"]
    argv += ["--store", "lmdb", "--lmdb-path", str(tmp_path)]  # a directory
    assert main(argv) == 2
    assert "cannot open the LMDB store" in capsys.readouterr().err


def mock_command() -> list[str]:
    """The console script, or ``python -m`` where it is not installed beside the interpreter."""
    script = Path(sys.executable).with_name("letta-mock")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "letta_contract_kit.mockserver"]


def test_version_names_the_command_and_the_installed_kit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"letta-mock {version('letta-contract-kit')}\n"


def test_help_groups_the_flags_shows_every_default_and_examples(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per flag
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    groups = ("server", "lifecycle", "store", "callbacks", "compat", "faults", "admin", "logging")
    for group in groups:
        assert f"\n{group}:\n" in out, group
    assert "--port PORT" in out and "(default: 8283)" in out and "(default: waitress)" in out
    assert out.rstrip().endswith("--store lmdb --lmdb-path runs.lmdb")
    # Every flag that has a default says it (--help, --version, --list-quirks and --compat
    # have none: argparse.SUPPRESS).
    formatter = HelpFormatter("letta-mock")
    for action in build_parser()._actions:
        if action.default is not argparse.SUPPRESS:
            shown = formatter._get_help_string(action) or ""
            assert "default" in shown, action.option_strings


def test_the_help_examples_are_valid_command_lines() -> None:
    examples = [line.split()[1:] for line in EXAMPLES.splitlines() if line.startswith("  ")]
    assert len(examples) >= 3
    for argv in examples:
        assert config_from_args(argv).port is not None


def test_a_config_file_port_is_kept_and_none_means_8283(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text("port = 0\n")
    assert config_from_args(["--config", str(path)]).port == 0
    assert config_from_args(["--config", str(path), "--port", "9000"]).port == 9000
    assert config_from_args(["--port", "8283", "--clock", "wall"]).port == 8283


def test_log_flags_reach_the_config() -> None:
    assert (config_from_args([]).log_requests, config_from_args([]).log_format) == (False, "text")
    config = config_from_args(["--log-requests", "--log-format", "json"])
    assert (config.log_requests, config.log_format) == (True, "json")
    assert config_from_args(["-v"]).log_requests


def test_errors_are_one_line_that_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "absent.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "check the --config path" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot serve on 127.0.0.1:{port}" in err and "(0 picks a free one)" in err


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    """``letta-mock --list-quirks | head -1``: the pipe is closed before the table is written."""
    listing = subprocess.Popen(
        [*mock_command(), "--list-quirks"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # long before the interpreter has started
    err = listing.stderr.read().decode()
    assert listing.wait(timeout=30) in (0, EXIT_CLOSED_PIPE)
    assert err == ""
