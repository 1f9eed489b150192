"""A flow recorded through the proxy against the real server replays from the mock.

The official SDK sends a message to the real Letta server through ``letta-contract proxy
--record``, polls the run until it ends and lists its messages; the mock started with
``--replay`` on that cassette (and no agent of its own) then answers the same flow as the
real server did: the same run, the same statuses in the order they were polled, the same
messages and the same final run.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from letta_client import Letta
from real_letta_server import RealLetta

from letta_contract_kit.contract_tests.proxy import ProxyConfig, ProxyServer
from letta_contract_kit.mockserver import MockConfig, MockServer
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import TERMINAL_STATUSES

pytestmark = pytest.mark.real_letta

POLLS = 120


@dataclass(frozen=True)
class Flow:
    run_id: str
    statuses: list[str]
    messages: list[tuple[str, str]]
    final: dict[str, Any]


def sdk_flow(base_url: str, agent_id: str, pause: float) -> Flow:
    client = Letta(base_url=base_url, api_key="any", max_retries=0, timeout=60)
    run = client.agents.messages.create_async(agent_id, input="Replay me: what is 2 + 2?")
    statuses = [str(run.status)]
    for _ in range(POLLS):
        if statuses[-1] in TERMINAL_STATUSES:
            break
        time.sleep(pause)
        run = client.runs.retrieve(run.id)
        statuses.append(str(run.status))
    listed = client.runs.messages.list(run.id).items
    return Flow(
        run.id,
        statuses,
        [(m.id, str(m.message_type)) for m in listed],
        run.model_dump(mode="json"),
    )


def test_a_flow_recorded_against_the_real_server_replays_from_the_mock(
    real_letta: RealLetta, tmp_path: Path
) -> None:
    cassette = tmp_path / "real.jsonl"
    config = ProxyConfig(upstream=real_letta.base_url, port=0, record=str(cassette))
    with ProxyServer(config, stream=io.StringIO()) as proxy:
        recorded = sdk_flow(proxy.base_url, real_letta.agent_id, pause=0.25)
    assert recorded.statuses[-1] in TERMINAL_STATUSES, recorded.statuses
    lines = [json.loads(line) for line in cassette.read_text("utf-8").splitlines()]
    assert len(lines) == len(recorded.statuses) + 1  # the POST, the polls, the messages
    assert all(validator("cassette-line").problems(line) == [] for line in lines)

    with MockServer(MockConfig(replay=str(cassette), replay_miss="404")) as mock:
        assert mock.config.agents == [real_letta.agent_id]
        assert sdk_flow(mock.base_url, real_letta.agent_id, pause=0) == recorded

    command = [sys.executable, "-m", "letta_contract_kit.mockserver", "--replay", str(cassette)]
    server = subprocess.Popen(
        [*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    try:
        url = json.loads(server.stdout.readline())["url"]
        assert sdk_flow(url, real_letta.agent_id, pause=0) == recorded
    finally:
        server.terminate()
        server.wait(timeout=10)
