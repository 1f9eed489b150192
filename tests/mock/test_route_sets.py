"""`--routes minimal` serves only the contract's routes; the journal keeps as much of a body
as `--journal-body-bytes` says; listings filter by conversation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from flask.testing import FlaskClient

from letta_contract_kit.mockserver import MockConfig, MockServer

from .conftest import AGENT, post_async

MakeClient = Callable[..., FlaskClient]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/health/"),
        ("GET", "/openapi.json"),
        ("GET", f"/v1/agents/{AGENT}"),
        ("POST", "/v1/agents/"),
    ],
)
def test_minimal_routes_answer_404_outside_the_contract(
    make_client: MakeClient, method: str, path: str
) -> None:
    answer = make_client(routes="minimal").open(path, method=method, json={})
    assert answer.status_code == 404
    assert answer.get_json() == {"detail": "Not Found"}


def test_minimal_routes_keep_the_contract(make_client: MakeClient) -> None:
    client = make_client(routes="minimal")
    run = post_async(client).get_json()
    assert client.get(f"/v1/runs/{run['id']}").status_code == 200
    assert client.get("/v1/runs/", query_string={"agent_id": AGENT}).status_code == 200
    cancel = client.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [run["id"]]})
    assert cancel.status_code == 200


def test_an_unknown_route_set_is_refused() -> None:
    with pytest.raises(ValueError, match="routes must be one of"):
        MockConfig(routes="some")  # type: ignore[arg-type]


def test_the_journal_keeps_the_configured_share_of_a_body() -> None:
    text = "x" * 10_000
    for kept, whole in ((4096, False), (1_048_576, True)):
        with MockServer(MockConfig(clock="per-poll", journal_body_bytes=kept)) as mock:
            url = f"{mock.base_url}/v1/agents/{mock.agent_id}/messages/async"
            requests.post(url, json={"input": text}, timeout=10)
            body = mock.requests(method="POST")[-1]["body"]
        assert (isinstance(body, dict) and body["input"] == text) is whole


def test_the_listing_filters_by_conversation(make_client: MakeClient) -> None:
    client = make_client()
    post_async(client)
    listed = client.get("/v1/runs/", query_string={"agent_id": AGENT}).get_json()
    other = client.get(
        "/v1/runs/", query_string={"agent_id": AGENT, "conversation_id": "conv-1"}
    ).get_json()
    assert len(listed) == 1 and other == []
