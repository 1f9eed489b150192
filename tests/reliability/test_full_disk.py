"""A store whose disk is full, or whose path cannot be a store, says so.

The full disk is made with the process's own file-size limit (``RLIMIT_FSIZE``, and
``SIGXFSZ`` ignored, so a write past it fails with ``EFBIG`` as one on a full disk fails
with ``ENOSPC``): a write the store cannot make is answered 507 with a JSON body that says
why, the health check reports the failing store, and every run acknowledged before is
still there.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from letta_contract_kit.mockserver.config import FILE_STORES
from reliability.cli_process import CliMock
from reliability.hostile_corpus import AGENT
from reliability.raw_http import request_json
from reliability.receivers import closed_port

FILE_LIMIT = 2 * 1024 * 1024  # bytes any one file of the process may reach
BODY = {"input": "x" * 100_000}


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


class FullDiskMock(CliMock):
    """``letta-mock`` whose files cannot grow past FILE_LIMIT."""

    preexec = staticmethod(_limit_file_size)


@pytest.fixture(params=FILE_STORES)
def full_disk_mock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CliMock]:
    kind = str(request.param)
    args = ("--agent", AGENT, "--clock", "per-poll", "--store", kind)
    mock = FullDiskMock(
        closed_port(),
        tmp_path / "mock.log",
        *args,
        f"--{kind}-path",
        str(tmp_path / f"runs.{kind}"),
    )
    mock.start()
    yield mock
    mock.kill()


def test_a_full_disk_is_a_507_that_says_why_and_loses_no_acknowledged_run(
    full_disk_mock: CliMock,
) -> None:
    base = full_disk_mock.base_url
    acknowledged: list[str] = []
    for _ in range(100):  # 10 MB of bodies: well past the limit
        status, answer = request_json(base, "POST", f"/v1/agents/{AGENT}/messages/async", BODY)
        if status != 200:
            break
        acknowledged.append(answer["id"])
    assert acknowledged, "the store failed before its first run"
    assert status == 507, answer
    assert "nothing of this request was stored" in answer["detail"], answer
    health, said = request_json(base, "GET", "/v1/health/")
    assert health == 503 and said["status"] == "error" and said["detail"], said
    for run_id in acknowledged:
        status, run = request_json(base, "GET", f"/v1/runs/{run_id}")
        assert status in (200, 507), run  # a poll may need to write the run's next phase
        if status == 507:
            assert "free space" in run["detail"]


STORE_PATHS: dict[str, Callable[[Path], str]] = {
    "a directory": lambda tmp: str(tmp),
    "a file in a missing directory": lambda tmp: str(tmp / "missing" / "runs.db"),
    "a file that is not a store": lambda tmp: _garbage(tmp / "garbage.bin"),
}


def _garbage(path: Path) -> str:
    path.write_bytes(b"not a store\x00" * 1000)
    return str(path)


@pytest.mark.parametrize("kind", FILE_STORES)
@pytest.mark.parametrize("what", list(STORE_PATHS))
@pytest.mark.parametrize("server", ["waitress", "granian"])
def test_an_unusable_store_path_is_one_line_and_exit_2(
    kind: str, what: str, server: str, tmp_path: Path
) -> None:
    path = STORE_PATHS[what](tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "letta_contract_kit.mockserver",
            "--port",
            str(closed_port()),
            "--server",
            server,
            "--store",
            kind,
            f"--{kind}-path",
            path,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("letta-mock: "), done.stderr
    assert path in lines[0] and f"--{kind}-path" in lines[0], lines[0]
