"""The generated OpenAPI 3.1 document: valid, and carrying the contract under the docs' names."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from openapi_spec_validator import validate
from schema_refs import refs_in

from letta_contract_kit.schemas import raw
from letta_contract_kit.schemas.openapi import build_openapi

AGENT_ID_PATTERN = "^agent-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
DOCUMENTED_RUN_ID_PATTERN = "^(job|run)-[a-fA-F0-9]{8}"
SERVER_RUN_ID_PATTERN = "^run-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

# The lists as documentation version 001 prints them.
MESSAGE_TYPES_001 = [
    "system_message",
    "user_message",
    "assistant_message",
    "reasoning_message",
    "hidden_reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "approval_request_message",
    "approval_response_message",
    "summary_message",
    "event_message",
]
RUN_STATUSES_001 = ["created", "running", "completed", "failed", "cancelled"]
STOP_REASONS_001 = [
    "end_turn",
    "error",
    "llm_api_error",
    "invalid_llm_response",
    "invalid_tool_call",
    "max_steps",
    "max_tokens_exceeded",
    "no_tool_call",
    "tool_rule",
    "cancelled",
    "insufficient_credits",
    "requires_approval",
    "context_window_overflow_in_system_prompt",
]

# Component names the documentation uses for the request, its parts and the Run.
DOCUMENTED_NAMES = [
    "Run",
    "MessageCreate",
    "ApprovalCreate",
    "ApprovalReturn",
    "ToolReturn",
    "ToolReturnCreate",
    "TextContent",
    "ImageContent",
    "ToolCallContent",
    "ToolReturnContent",
    "ReasoningContent",
    "RedactedReasoningContent",
    "OmittedReasoningContent",
    "SummarizedReasoning",
    "MessageType",
    "StopReasonType",
]


@cache
def document() -> dict[str, Any]:
    return build_openapi()


def components() -> dict[str, Any]:
    schemas: dict[str, Any] = document()["components"]["schemas"]
    return schemas


def test_the_openapi_document_passes_the_openapi_spec_validator() -> None:
    validate(document())


def test_the_openapi_document_is_version_3_1_with_the_2020_12_dialect() -> None:
    assert document()["openapi"].startswith("3.1")
    assert document()["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_ref_in_the_openapi_document_points_to_an_existing_component() -> None:
    prefix = "#/components/schemas/"
    refs = set(refs_in(document()))
    assert refs, "the document has no $ref at all"
    assert sorted(r for r in refs if not r.startswith(prefix)) == []
    assert sorted(r for r in refs if r.removeprefix(prefix) not in components()) == []


@pytest.mark.parametrize("name", DOCUMENTED_NAMES)
def test_components_carry_the_documentations_names(name: str) -> None:
    assert name in components()


def test_the_agent_id_component_has_the_uuid4_pattern_and_length_42() -> None:
    agent_id = components()["AgentId"]
    assert agent_id["pattern"] == AGENT_ID_PATTERN
    assert agent_id["minLength"] == agent_id["maxLength"] == 42


def test_the_async_route_takes_its_agent_id_from_the_agent_id_component() -> None:
    operation = document()["paths"]["/v1/agents/{agent_id}/messages/async"]["post"]
    (parameter,) = operation["parameters"]
    assert parameter["in"] == "path" and parameter["required"] is True
    assert parameter["schema"] == {"$ref": "#/components/schemas/AgentId"}


def test_the_async_route_takes_a_letta_async_request_and_answers_a_run() -> None:
    operation = document()["paths"]["/v1/agents/{agent_id}/messages/async"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/LettaAsyncRequest"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Run"}
    assert "422" in operation["responses"]


def test_the_run_routes_document_400_for_a_malformed_run_id() -> None:
    for path in ("/v1/runs/{run_id}", "/v1/runs/{run_id}/messages", "/v1/runs/{run_id}/steps"):
        assert "400" in document()["paths"][path]["get"]["responses"], path


def test_the_run_id_component_keeps_the_documented_pattern_and_the_servers_in_an_extension() -> (
    None
):
    run_id = components()["RunId"]
    assert run_id["pattern"] == DOCUMENTED_RUN_ID_PATTERN
    assert run_id["x-real-server"]["schema"]["pattern"] == SERVER_RUN_ID_PATTERN
    assert components()["Run"]["properties"]["id"] == {"$ref": "#/components/schemas/RunId"}


def test_message_type_lists_the_11_values_of_version_001_in_order() -> None:
    assert components()["MessageType"]["enum"] == MESSAGE_TYPES_001


def test_stop_reason_type_lists_the_13_values_of_version_001_in_order() -> None:
    assert components()["StopReasonType"]["enum"] == STOP_REASONS_001


def test_run_status_lists_the_5_values_of_version_001_in_order() -> None:
    assert components()["RunStatus"]["enum"] == RUN_STATUSES_001
    status = components()["Run"]["properties"]["status"]
    assert {"$ref": "#/components/schemas/RunStatus"} in status["anyOf"]


def test_run_has_the_17_fields_in_the_order_the_server_sends_them() -> None:
    assert list(components()["Run"]["properties"]) == list(raw("run")["properties"])
    assert len(components()["Run"]["properties"]) == 17


@pytest.mark.parametrize(
    ("union", "expected"),
    [
        ("LettaInputContentUnion", 8),
        ("LettaMessageContentUnion", 7),
        ("ImageSource", 3),
        ("LettaMessage", 11),
    ],
)
def test_every_discriminated_union_maps_each_tag_to_the_component_that_pins_it(
    union: str, expected: int
) -> None:
    component = components()[union]
    mapping = component["discriminator"]["mapping"]
    assert len(mapping) == expected
    prop = component["discriminator"]["propertyName"]
    wrong = {
        tag: target
        for tag, target in mapping.items()
        if components()[target.rsplit("/", 1)[1]]["properties"][prop].get("const") != tag
    }
    assert wrong == {}
