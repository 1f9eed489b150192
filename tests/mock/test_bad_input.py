"""Client mistakes get a 4xx JSON answer a person can act on; never a 500 or a partial run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from letta_contract_kit.schemas import validator

from .conftest import AGENT, post_async

ASYNC = f"/v1/agents/{AGENT}/messages/async"


def runs_of(client: FlaskClient) -> list[dict[str, Any]]:
    answer = client.get("/v1/runs/")
    assert answer.status_code == 200
    runs: list[dict[str, Any]] = answer.get_json()
    return runs


def assert_validation_error(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 422
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert validator("http-validation-error", "documented").problems(body) == []
    items: list[dict[str, Any]] = body["detail"]
    assert items, "a 422 must name at least one problem"
    return items


@pytest.mark.parametrize(
    "agent_id",
    [
        "agent-123",
        "foo",
        "agent-123E4567-E89B-42D3-8456-426614174000",  # upper case
        "agent-123e4567-e89b-12d3-a456-426614174000",  # uuid v1
        "123e4567-e89b-42d3-8456-426614174000",  # bare uuid
        "tool-123e4567-e89b-42d3-8456-426614174000",
    ],
)
def test_malformed_agent_id_is_422_at_the_path(client: FlaskClient, agent_id: str) -> None:
    items = assert_validation_error(post_async(client, agent=agent_id))
    assert items[0]["loc"] == ["path", "agent_id"]
    assert items[0]["type"] == "string_pattern_mismatch"
    assert "agent-" in items[0]["msg"]
    assert runs_of(client) == []


def test_well_formed_unknown_agent_is_404_and_creates_no_run(client: FlaskClient) -> None:
    answer = post_async(client, agent="agent-00000000-0000-4000-8000-000000000001")
    assert answer.status_code == 404
    assert answer.get_json() == {"detail": "Agent not found"}
    assert runs_of(client) == []


def test_auto_agents_creates_an_unknown_well_formed_agent_on_first_use(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(agents=[], auto_agents=True)
    fresh = "agent-00000000-0000-4000-8000-000000000002"
    assert post_async(client, agent=fresh).status_code == 200
    assert client.get(f"/v1/agents/{fresh}").get_json()["id"] == fresh


@pytest.mark.parametrize(
    "run_id",
    [
        "run-123",
        "foo",
        "job-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b",
        "run-4B3F1E0A-9C2D-4E5F-8A6B-7C8D9E0F1A2B",
    ],
)
@pytest.mark.parametrize("suffix", ["", "/messages", "/steps", "/usage"])
def test_malformed_run_id_is_400(client: FlaskClient, run_id: str, suffix: str) -> None:
    answer = client.get(f"/v1/runs/{run_id}{suffix}")
    assert answer.status_code == 400
    assert "run-<uuid4>" in answer.get_json()["detail"]


@pytest.mark.parametrize("suffix", ["", "/messages", "/steps", "/usage"])
def test_unknown_run_is_404(client: FlaskClient, suffix: str) -> None:
    answer = client.get(f"/v1/runs/run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b{suffix}")
    assert answer.status_code == 404
    assert "Run not found" in answer.get_json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"input": [{"text": "hi"}]},
        {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
        {"input": [{"type": "image", "source": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
    ],
)
def test_a_part_or_source_without_its_optional_type_is_read_as_documented(
    make_client: Callable[..., FlaskClient], body: dict[str, Any]
) -> None:
    """001 marks a text part's and an image source's `type` optional: the strict profile reads
    them as `text` and `url`; Letta 0.16.8 (`union-tag-required`) refuses them."""
    assert post_async(make_client(), body).status_code == 200
    refused = post_async(make_client(quirks=["union-tag-required"]), body)
    assert refused.status_code == 422
    assert "union_tag_not_found" in str(refused.get_json())


@pytest.mark.parametrize(
    ("body", "loc", "rule"),
    [
        ({}, ["body"], "value_error"),
        ({"input": "a", "messages": [{"role": "user", "content": "b"}]}, ["body"], "value_error"),
        ({"input": None, "messages": None}, ["body"], "value_error"),
        (
            {"messages": [{"role": "user", "content": [{"signature": "c2ln"}]}]},
            ["body", "messages", 0, "content", 0, "type"],
            "union_tag_not_found",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "bogus"}]}]},
            ["body", "messages", 0, "content", 0, "type"],
            "union_tag_invalid",
        ),
        ({"input": "hi", "max_steps": 2.5}, ["body", "max_steps"], "type"),
        ({"input": "hi", "max_steps": None}, ["body", "max_steps"], "type"),
        ({"input": "hi", "enable_thinking": True}, ["body", "enable_thinking"], "type"),
        (
            {"input": "hi", "include_return_message_types": ["nope"]},
            ["body", "include_return_message_types", 0],
            "enum",
        ),
        ({"input": "hi", "callback_url": 123}, ["body", "callback_url"], "type"),
    ],
)
def test_invalid_body_is_422_naming_the_location_and_rule(
    client: FlaskClient, body: dict[str, Any], loc: list[Any], rule: str
) -> None:
    items = assert_validation_error(post_async(client, body))
    assert {"loc": loc, "type": rule} in [{"loc": i["loc"], "type": i["type"]} for i in items]
    assert all(i["msg"] for i in items)
    assert runs_of(client) == []


def test_role_tool_is_rejected(client: FlaskClient) -> None:
    items = assert_validation_error(
        post_async(client, {"messages": [{"role": "tool", "content": "x"}]})
    )
    assert all(i["loc"][:3] == ["body", "messages", 0] for i in items)


def test_every_offending_location_is_reported(client: FlaskClient) -> None:
    items = assert_validation_error(
        post_async(client, {"input": "hi", "max_steps": "x", "enable_thinking": 1})
    )
    assert {tuple(i["loc"]) for i in items} >= {("body", "max_steps"), ("body", "enable_thinking")}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"messages": []}, ["body", "messages"]),
        ({"input": ""}, ["body", "input"]),
        ({"input": []}, ["body", "input"]),
        ({"messages": [{"role": "user", "content": ""}]}, ["body", "messages", 0, "content"]),
        ({"messages": [{"role": "user", "content": []}]}, ["body", "messages", 0, "content"]),
    ],
)
def test_without_background_validation_empty_messages_and_content_are_refused(
    make_client: Callable[..., FlaskClient], body: dict[str, Any], loc: list[Any]
) -> None:
    """The documentation accepts these bodies, so every profile does (the run then fails);
    ``--no-quirk background-validation`` refuses them at once instead."""
    client = make_client(no_quirks=["background-validation"])
    items = assert_validation_error(post_async(client, body))
    assert [i["loc"] for i in items] == [loc]
    assert "real server" in items[0]["msg"]


def test_unknown_fields_are_ignored(client: FlaskClient) -> None:
    answer = post_async(client, {"input": "hi", "foo": 1, "stream": True, "metadata": {"a": 1}})
    assert answer.status_code == 200


def test_system_alias_and_lax_values_the_server_accepts_are_accepted(client: FlaskClient) -> None:
    assert post_async(client, {"input": "hi", "max_steps": 0}).status_code == 200
    assert post_async(client, {"input": "hi", "callback_url": "not a url"}).status_code == 200


def test_malformed_json_is_422_json_invalid_with_the_offset(client: FlaskClient) -> None:
    answer = client.post(ASYNC, data='{"input": ', content_type="application/json")
    items = assert_validation_error(answer)
    assert items[0]["loc"][0] == "body" and isinstance(items[0]["loc"][1], int)
    assert items[0]["type"] == "json_invalid"


@pytest.mark.parametrize("payload", ["[1, 2]", '"hi"', "42", "null"])
def test_a_body_that_is_not_an_object_is_422(client: FlaskClient, payload: str) -> None:
    answer = client.post(ASYNC, data=payload, content_type="application/json")
    assert assert_validation_error(answer)[0]["type"] == "model_attributes_type"


def test_an_empty_body_is_422_missing(client: FlaskClient) -> None:
    answer = client.post(ASYNC, data=b"", content_type="application/json")
    assert assert_validation_error(answer)[0] == {
        "loc": ["body"],
        "msg": assert_validation_error(answer)[0]["msg"],
        "type": "missing",
    }


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_non_json_content_type_is_422_saying_what_to_send(
    client: FlaskClient, content_type: str
) -> None:
    answer = client.post(ASYNC, data='{"input": "hi"}', content_type=content_type)
    items = assert_validation_error(answer)
    assert "application/json" in items[0]["msg"]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json; charset=utf-8", "application/vnd.api+json"],
)
def test_json_content_types_the_server_accepts_are_accepted(
    client: FlaskClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.post(ASYNC, data='{"input": "hi"}', headers=headers)
    assert answer.status_code == 200, answer.get_json()


def test_a_body_over_the_size_limit_is_413(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(max_body_bytes=100)
    answer = post_async(client, {"input": "x" * 200})
    assert answer.status_code == 413
    assert "100" in answer.get_json()["detail"]
    assert runs_of(client) == []


def test_unknown_route_and_wrong_method_answer_json(client: FlaskClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert (missing.status_code, missing.get_json()) == (404, {"detail": "Not Found"})
    wrong = client.get(ASYNC)
    assert (wrong.status_code, wrong.get_json()) == (405, {"detail": "Method Not Allowed"})
    assert "POST" in wrong.headers["Allow"]


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/v1/runs", "/v1/runs/"),
        ("/v1/health", "/v1/health/"),
        (f"/v1/agents/{AGENT}/", f"/v1/agents/{AGENT}"),
        (
            "/v1/runs/run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b/",
            "/v1/runs/run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b",
        ),
    ],
)
def test_the_other_slash_form_is_a_307_to_the_canonical_path(
    client: FlaskClient, path: str, target: str
) -> None:
    answer = client.get(path + "?limit=5")
    assert answer.status_code == 307
    assert answer.headers["Location"] == f"http://localhost{target}?limit=5"


def test_post_to_agents_without_the_slash_is_a_307_to_the_canonical_path(
    client: FlaskClient,
) -> None:
    answer = client.post("/v1/agents", json={"name": "x"})
    assert (answer.status_code, answer.headers["Location"]) == (307, "http://localhost/v1/agents/")


def test_post_to_the_slashed_async_route_is_a_307_keeping_the_method(client: FlaskClient) -> None:
    answer = client.post(ASYNC + "/", json={"input": "hi"})
    assert answer.status_code == 307
    assert answer.headers["Location"].endswith(ASYNC)
    assert runs_of(client) == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=0", 422),
        ("limit=1001", 422),
        ("limit=abc", 422),
        ("order=sideways", 422),
        ("statuses=bogus", 400),
        ("stop_reason=bogus", 422),
        ("active=maybe", 422),
        ("background=perhaps", 422),
        ("after=run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b", 400),
    ],
)
def test_bad_run_list_queries_are_rejected(client: FlaskClient, query: str, status: int) -> None:
    answer = client.get(f"/v1/runs/?{query}")
    assert answer.status_code == status
    assert answer.get_json()["detail"]


def test_run_list_limit_bounds_are_accepted(client: FlaskClient) -> None:
    assert client.get("/v1/runs/?limit=1").status_code == 200
    assert client.get("/v1/runs/?limit=1000").status_code == 200


def test_bad_scenario_header_is_400_listing_the_scenarios(client: FlaskClient) -> None:
    answer = post_async(client, headers={"X-Letta-Mock-Scenario": "explode"})
    assert answer.status_code == 400
    assert "succeed" in answer.get_json()["detail"]
    assert runs_of(client) == []


@pytest.mark.parametrize("body", [{"run_ids": "run-x"}, {"run_ids": [1]}, [1]])
def test_bad_cancel_body_is_422(client: FlaskClient, body: Any) -> None:
    answer = client.post(f"/v1/agents/{AGENT}/messages/cancel", json=body)
    assert_validation_error(answer)


def test_cancel_for_an_unknown_agent_is_404(client: FlaskClient) -> None:
    answer = client.post(
        "/v1/agents/agent-00000000-0000-4000-8000-000000000003/messages/cancel", json={}
    )
    assert answer.status_code == 404


def test_create_agent_with_a_bad_body_is_422(client: FlaskClient) -> None:
    assert_validation_error(client.post("/v1/agents/", json={"name": 5}))


def test_retrieve_agent_with_a_malformed_id_is_422(client: FlaskClient) -> None:
    assert_validation_error(client.get("/v1/agents/agent-1"))


def test_lax_values_the_server_accepts_are_stored_as_plain_ones(client: FlaskClient) -> None:
    answer = post_async(client, {"input": "hi", "use_assistant_message": "off", "max_steps": "2"})
    assert answer.status_code == 200
    assert answer.get_json()["request_config"]["use_assistant_message"] is False


def test_a_lax_integer_too_long_to_hold_is_422_int_parsing_size(client: FlaskClient) -> None:
    items = assert_validation_error(post_async(client, {"input": "hi", "max_steps": "9" * 5000}))
    assert items == [
        {
            "loc": ["body", "max_steps"],
            "msg": items[0]["msg"],
            "type": "int_parsing_size",
        }
    ]
    assert runs_of(client) == []


def test_a_json_integer_too_long_to_convert_is_422(client: FlaskClient) -> None:
    answer = client.post(
        ASYNC,
        data=b'{"input": "hi", "max_steps": ' + b"9" * 5000 + b"}",
        content_type="application/json",
    )
    assert assert_validation_error(answer)[0]["type"] == "json_invalid"


@pytest.mark.parametrize("depth", [100, 5000])
def test_json_nested_too_deeply_is_422(client: FlaskClient, depth: int) -> None:
    answer = client.post(ASYNC, data="[" * depth + "]" * depth, content_type="application/json")
    assert assert_validation_error(answer)[0]["type"] in ("json_too_deep", "json_invalid")
