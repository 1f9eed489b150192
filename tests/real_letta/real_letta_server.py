"""Where the real Letta server of the fidelity tests is, and how to talk to it.

``tox -e real-letta`` sets one up with ``../shared/tools/real-letta`` (``start.sh`` writes
``BASE_URL`` and ``AGENT_ID`` to ``/tmp/letta-real/run/env``). ``LETTA_REAL_BASE_URL`` and
``LETTA_REAL_AGENT_ID`` point the tests elsewhere (loopback only). Without a server the tests
are skipped, and the default test run never collects them (marker ``real_letta``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import requests

ENV_FILE = Path(os.environ.get("LETTA_REAL_DIR", "/tmp/letta-real")) / "run" / "env"


@dataclass(frozen=True)
class RealLetta:
    base_url: str
    agent_id: str

    def post_async(self, body: object, timeout: float = 30.0) -> requests.Response:
        url = f"{self.base_url}/v1/agents/{self.agent_id}/messages/async"
        return requests.post(url, json=body, timeout=timeout)


def saved_settings() -> dict[str, str]:
    if not ENV_FILE.exists():
        return {}
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}
