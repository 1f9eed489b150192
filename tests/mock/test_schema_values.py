"""Values the mock takes from the schema files rather than writing them down itself."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from letta_contract_kit.mockserver.coercion import canonical, to_bool
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import LAX_TRUE_VALUES, LIST_ORDER, initial_values
from letta_contract_kit.schemas.loader import raw
from letta_contract_kit.schemas.openapi import build_openapi

from .conftest import poll_to_end, post_async


def test_a_new_runs_metadata_is_the_one_run_metadata_json_starts_with(client: FlaskClient) -> None:
    run = post_async(client).get_json()
    assert run["metadata"] == initial_values("run-metadata")
    assert run["metadata"] == {"run_type": "send_message_async", "lettuce": None}
    assert validator("run-metadata").problems(run["metadata"]) == []


def test_a_failed_runs_metadata_with_its_error_is_valid(client: FlaskClient) -> None:
    answer = post_async(client, headers={"X-Letta-Mock-Scenario": "fail"})
    run = poll_to_end(client, answer.get_json()["id"])[-1]
    assert isinstance(run["metadata"]["error"], str)
    assert validator("run-metadata").problems(run["metadata"]) == []
    assert validator("run-metadata").problems({**run["metadata"], "run_type": "other"}) != []


def test_a_new_agent_has_the_agent_type_agent_state_json_defaults_to(client: FlaskClient) -> None:
    agent = client.post("/v1/agents/", json={"name": "a"}).get_json()
    assert agent["agent_type"] == raw("agent-state")["properties"]["agent_type"]["default"]
    assert agent["agent_type"] == "letta_v1_agent"
    chosen = client.post("/v1/agents/", json={"name": "b", "agent_type": "memgpt_agent"})
    assert chosen.get_json()["agent_type"] == "memgpt_agent"


def test_the_true_words_of_a_lax_boolean_come_from_lax_boolean_json() -> None:
    assert frozenset({"1", "on", "t", "true", "y", "yes"}) == LAX_TRUE_VALUES
    lax = validator("lax-boolean", "server")
    for word in LAX_TRUE_VALUES:
        assert lax.is_valid(word.upper()) and to_bool(f" {word.upper()} ") is True
    for word in ("0", "off", "f", "false", "n", "no"):
        assert lax.is_valid(word) and to_bool(word) is False


@pytest.mark.parametrize(("text", "expected"), [("YES", True), ("t", True), ("Off", False)])
def test_query_booleans_read_the_same_words(client: FlaskClient, text: str, expected: bool) -> None:
    ended = poll_to_end(client, post_async(client).get_json()["id"])[-1]
    assert ended["background"] is True
    listed = client.get(f"/v1/runs/?background={text}").get_json()
    assert (ended["id"] in [r["id"] for r in listed]) is expected


def test_a_query_boolean_outside_the_lax_words_is_422(client: FlaskClient) -> None:
    answer = client.get("/v1/runs/?active=maybe")
    assert answer.status_code == 422
    assert answer.get_json()["detail"][0]["loc"] == ["query", "active"]


def test_the_list_order_values_come_from_list_order_json(client: FlaskClient) -> None:
    assert tuple(LIST_ORDER) == ("asc", "desc")
    answer = client.get("/v1/runs/?order=up")
    assert answer.status_code == 422
    assert answer.get_json()["detail"][0]["msg"] == "order must be 'asc' or 'desc', not 'up'"
    first = post_async(client).get_json()["id"]
    second = post_async(client).get_json()["id"]
    ids = [r["id"] for r in client.get("/v1/runs/?order=asc").get_json()]
    assert ids == [first, second]


def test_the_openapi_order_parameter_refers_to_the_list_order_component() -> None:
    document = build_openapi()
    params = document["paths"]["/v1/runs/"]["get"]["parameters"]
    (order,) = [p for p in params if p["name"] == "order"]
    assert order["schema"] == {"$ref": "#/components/schemas/ListOrder"}
    assert document["components"]["schemas"]["ListOrder"]["enum"] == ["asc", "desc"]


@pytest.mark.parametrize(("digits", "accepted"), [(4300, True), (4301, False)])
def test_a_lax_integer_string_may_have_at_most_4300_characters(
    client: FlaskClient, digits: int, accepted: bool
) -> None:
    answer = post_async(client, {"input": "hi", "max_steps": "1" * digits})
    if accepted:
        assert answer.status_code == 200
        return
    assert answer.status_code == 422
    assert [(i["loc"], i["type"]) for i in answer.get_json()["detail"]] == [
        (["body", "max_steps"], "int_parsing_size")
    ]


def test_without_lax_coercion_a_lax_value_is_refused(make_client: Any) -> None:
    client = make_client(no_quirks=["lax-coercion"])
    answer = post_async(client, {"input": "hi", "use_assistant_message": "yes"})
    assert answer.status_code == 422
    assert answer.get_json()["detail"] == [
        {
            "loc": ["body", "use_assistant_message"],
            "msg": "Input should be a valid boolean",
            "type": "bool_type",
        }
    ]
    assert post_async(client, {"input": "hi", "max_steps": 2}).status_code == 200
    assert canonical("letta-async-request", {"input": "x", "max_steps": "2"}) == {
        "input": "x",
        "max_steps": 2,
    }
