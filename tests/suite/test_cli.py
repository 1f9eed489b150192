"""The letta-contract command's manners: --version, a help that shows what is required and
every default, errors said once in one sentence, quiet when its reader leaves early."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from letta_contract_kit.contract_tests.cli import EXIT_CLOSED_PIPE, HelpFormatter, _parser, main


def contract_command() -> list[str]:
    """The console script, or ``python -m`` where it is not installed beside the interpreter."""
    script = Path(sys.executable).with_name("letta-contract")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "letta_contract_kit.contract_tests"]


def test_version_names_the_command_and_the_installed_kit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"letta-contract {version('letta-contract-kit')}\n"


def test_run_help_marks_the_base_url_required_and_shows_every_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "usage: letta-contract run [-h] --base-url BASE_URL " in out  # no brackets
    assert "\nrequired:\n  --base-url BASE_URL" in out and "(required)." in out
    assert "(default: 20/s)" in out and "(default: quick)" in out
    assert "examples:\n  letta-contract run --base-url" in out
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    run = commands.choices["run"]
    formatter = HelpFormatter("letta-contract run")
    for action in run._actions:
        if action.default is not argparse.SUPPRESS and not action.required:
            shown = formatter._get_help_string(action) or ""
            assert "default" in shown, action.option_strings


def test_without_a_base_url_argparse_says_it_is_required(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("error: the following arguments are required: --base-url\n")


def test_a_rate_that_is_no_rate_is_one_sentence_saying_the_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--base-url", "http://x", "--rate-limit", "fast"]) == 2
    assert capsys.readouterr().err == (
        "letta-contract: error: the rate limit 'fast' is not a rate: write requests per "
        "second, minute or hour as N/s, N/m or N/h (e.g. 5/s), or 0 for no limit\n"
    )


def test_an_unreachable_target_is_reported_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--base-url", "http://127.0.0.1:9", "--timeout", "1"]) == 2
    out = capsys.readouterr().out
    assert out.count("cannot reach the target") == 1


def test_an_unknown_check_says_where_the_names_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--base-url", "http://127.0.0.1:9", "--check", "nope"]) == 2
    out = capsys.readouterr().out
    assert out.count("unknown check(s) nope: choose from not_a_server_error, ") == 1
    assert "`letta-contract list-checks` says what each verifies" in out


@pytest.mark.parametrize("command", [["list-checks", "--verbose"], ["openapi"]])
def test_a_reader_that_leaves_early_gets_no_traceback(command: list[str]) -> None:
    """``letta-contract list-checks | head -1``: the pipe is closed before anything is written."""
    listing = subprocess.Popen(
        [*contract_command(), *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # long before the interpreter has started
    err = listing.stderr.read().decode()
    assert listing.wait(timeout=30) in (0, EXIT_CLOSED_PIPE)
    assert err == ""
