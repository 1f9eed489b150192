"""The mock on a real loopback socket, shared by the reliability tests of one module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from letta_contract_kit.mockserver import MockConfig, MockServer
from reliability.cli_process import CliMock
from reliability.hostile_corpus import AGENT, MAX_BODY_BYTES
from reliability.receivers import closed_port


class Target(Protocol):
    base_url: str


@pytest.fixture(scope="module", params=["waitress-in-process", "granian-cli"])
def hostile_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The mock as shipped (strict profile, one known agent) under each HTTP server: waitress
    (in-process, as ``MockServer`` and the command by default run it) and Granian (the command
    with ``--server granian``)."""
    if request.param == "waitress-in-process":
        config = MockConfig(agents=[AGENT], clock="per-poll", max_body_bytes=MAX_BODY_BYTES)
        with MockServer(config) as mock:
            yield mock
        return
    log: Path = tmp_path_factory.mktemp("granian") / "mock.log"
    args = ("--server", "granian", "--agent", AGENT, "--clock", "per-poll")
    args += ("--max-body-bytes", str(MAX_BODY_BYTES))
    cli = CliMock(closed_port(), log, *args).start()
    try:
        yield cli
    finally:
        cli.stop()
