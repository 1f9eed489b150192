"""Where the real Letta server of the fidelity tests is, and how to talk to it.

``tox -e real-letta`` sets one up with ``../shared/tools/real-letta`` (``start.sh`` writes
``BASE_URL`` and ``AGENT_ID`` to ``/tmp/letta-real/run/env``). ``LETTA_REAL_BASE_URL`` and
``LETTA_REAL_AGENT_ID`` point the tests elsewhere (loopback only). Without a server the tests
are skipped, and the default test run never collects them (marker ``real_letta``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
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

    def with_new_agent(self, name: str, timeout: float = 30.0) -> RealLetta:
        """The same server with a new agent called ``name``, made with the model and
        embedding of the configured agent (``delete_agent`` removes it again)."""
        agents = f"{self.base_url}/v1/agents/"
        template = requests.get(agents + self.agent_id, timeout=timeout)
        template.raise_for_status()
        body = {
            "name": name,
            "model": template.json()["llm_config"]["handle"],
            "embedding": template.json()["embedding_config"]["handle"],
        }
        made = requests.post(agents, json=body, timeout=timeout)
        made.raise_for_status()
        return replace(self, agent_id=str(made.json()["id"]))

    def delete_agent(self, timeout: float = 30.0) -> None:
        answer = requests.delete(f"{self.base_url}/v1/agents/{self.agent_id}", timeout=timeout)
        answer.raise_for_status()


def saved_settings() -> dict[str, str]:
    if not ENV_FILE.exists():
        return {}
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}
