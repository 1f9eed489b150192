"""What the benchmarks send: one realistic request body, ids, and small HTTP helpers."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any

from letta_contract_kit.schemas.validation import validator

AGENT_ID = "agent-6a7f5d2e-1c4b-4e8a-9f3d-2b1c0e9a8d7f"

# A request shaped like the one the official SDK sends for a chat turn with two parts, a
# return-type filter and a step cap. No callback_url: the load would otherwise be callbacks.
REALISTIC_BODY: dict[str, Any] = {
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "Summarise yesterday's support tickets about failed logins and "
                    "suggest which ones need a follow-up today.",
                },
                {"type": "text", "text": "Keep it under ten bullet points."},
            ],
            "otid": "otid-5b1d9e7c-3f2a-4c8b-9d6e-1a2b3c4d5e6f",
        }
    ],
    "max_steps": 10,
    "use_assistant_message": True,
    "include_return_message_types": [
        "assistant_message",
        "tool_call_message",
        "tool_return_message",
    ],
    "enable_thinking": "true",
}

# Prism insists on the document's security scheme; the mock ignores the header unless it was
# started with a token, so sending it everywhere keeps the requests identical.
AUTH_HEADERS = {"Authorization": "Bearer benchmark"}


def realistic_body_text() -> str:
    """The body as sent, after checking that the schema accepts it."""
    if not validator("letta-async-request").is_valid(REALISTIC_BODY):
        raise RuntimeError("the benchmark's request body no longer matches the schema")
    return json.dumps(REALISTIC_BODY, separators=(",", ":"))


def async_path(agent_id: str = AGENT_ID) -> str:
    return f"/v1/agents/{agent_id}/messages/async"


def new_run_id() -> str:
    return f"run-{uuid.uuid4()}"


def create_runs(host: str, port: int, count: int, agent_id: str = AGENT_ID) -> list[str]:
    """POST ``count`` runs over one keep-alive connection; the ids the server gave back."""
    body = realistic_body_text()
    headers = {"Content-Type": "application/json", **AUTH_HEADERS}
    connection = http.client.HTTPConnection(host, port, timeout=10)
    ids: list[str] = []
    try:
        for _ in range(count):
            connection.request("POST", async_path(agent_id), body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"POST answered {response.status}: {payload[:300]!r}")
            ids.append(json.loads(payload)["id"])
    finally:
        connection.close()
    return ids
