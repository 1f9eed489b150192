"""An OpenAPI 3.1 document generated from the schema files, never written by hand.

Components carry the documentation's names (the ``title`` of each file) and the documented
reading; the real server's departures stay visible as ``x-real-server`` extensions.
"""

from __future__ import annotations

import copy
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from letta_contract_kit.schemas.loader import Schema, name_of, names, raw
from letta_contract_kit.schemas.versions import NEWEST, describe

JSON = "application/json"


# Schemas of the kit's own formats (the proxy's cassette), not of the API: left out.
KIT_FORMATS = ("cassette-",)


def _titles() -> dict[str, str]:
    return {name: raw(name)["title"] for name in names() if not name.startswith(KIT_FORMATS)}


def _component_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{_titles()[name]}"}


def _rewrite(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out.update(_component_ref(name_of(value)))
        elif key in ("$schema", "$id"):
            continue
        else:
            out[key] = _rewrite(value)
    discriminator = out.get("discriminator")
    branches = node.get("oneOf") or node.get("anyOf")
    if isinstance(discriminator, dict) and branches:
        prop = discriminator["propertyName"]
        mapping = {}
        for branch in branches:
            if "$ref" in branch:
                target = name_of(branch["$ref"])
                tag = raw(target).get("properties", {}).get(prop, {}).get("const")
                if tag is not None:
                    mapping[tag] = _component_ref(target)["$ref"]
        if mapping:
            out["discriminator"] = {**discriminator, "mapping": mapping}
    return out


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(name: str, description: str) -> dict[str, Any]:
    return _json(_component_ref(name), description)


def _param(
    name: str, where: str, schema: Schema, description: str, required: bool = False
) -> Schema:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


def _paths() -> dict[str, Any]:
    agent_id = _param("agent_id", "path", _component_ref("agent-id"), "The agent: 'agent-<uuid4>'.")
    run_id = _param(
        "run_id", "path", {"type": "string"}, "The run: 'run-<uuid4>' (anything else gets 400)."
    )
    bad_agent = _error("http-validation-error", "The agent id or the body is malformed.")
    no_agent = _error("error-response", "No agent has this id.")
    bad_run = _error("error-response", "The run id is malformed.")
    no_run = _error("error-response", "No run has this id.")
    runs = {"type": "array", "items": _component_ref("run")}
    cursor = {"type": "string"}
    paging = [
        _param("before", "query", cursor, "Only items before this id."),
        _param("after", "query", cursor, "Only items after this id."),
        _param("limit", "query", {"type": "integer", "minimum": 1}, "Most items returned."),
        _param("order", "query", _component_ref("list-order"), "Sort order by creation time."),
    ]
    return {
        "/v1/agents/{agent_id}/messages/async": {
            "post": {
                "operationId": "create_agent_message_async",
                "summary": "Send a message to an agent; it is processed by a background run",
                "description": (
                    "Answers at once with a Run in status `created`. Poll GET /v1/runs/{run_id} "
                    "until its status is terminal (`completed`, `failed` or `cancelled`)."
                ),
                "parameters": [agent_id],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _component_ref("letta-async-request")}},
                },
                "responses": {
                    "200": _json(_component_ref("run"), "The run that will process the message."),
                    "404": no_agent,
                    "422": bad_agent,
                },
            }
        },
        "/v1/agents/{agent_id}/messages/cancel": {
            "post": {
                "operationId": "cancel_agent_run",
                "summary": "Cancel runs of an agent",
                "parameters": [agent_id],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _component_ref("cancel-request")}},
                },
                "responses": {
                    "200": _json(_component_ref("cancel-response"), "What became of each run."),
                    "404": no_agent,
                    "409": _error("error-response", "The agent has no active run to cancel."),
                    "422": bad_agent,
                },
            }
        },
        "/v1/agents/": {
            "post": {
                "operationId": "create_agent",
                "summary": "Create an agent",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _component_ref("create-agent-request")}},
                },
                "responses": {
                    "200": _json(_component_ref("agent-state"), "The new agent."),
                    "422": _error("http-validation-error", "The body is malformed."),
                },
            }
        },
        "/v1/agents/{agent_id}": {
            "get": {
                "operationId": "retrieve_agent",
                "summary": "Retrieve an agent",
                "parameters": [agent_id],
                "responses": {
                    "200": _json(_component_ref("agent-state"), "The agent."),
                    "404": no_agent,
                    "422": bad_agent,
                },
            }
        },
        "/v1/runs/": {
            "get": {
                "operationId": "list_runs",
                "summary": "List runs, newest first unless told otherwise",
                "parameters": [
                    _param("agent_id", "query", {"type": "string"}, "Only this agent's runs."),
                    _param(
                        "statuses",
                        "query",
                        {"type": "array", "items": _component_ref("run-status")},
                        "Only runs in these statuses.",
                    ),
                    _param("active", "query", {"type": "boolean"}, "Only created or running runs."),
                    _param("background", "query", {"type": "boolean"}, "Only background runs."),
                    _param(
                        "stop_reason",
                        "query",
                        _component_ref("stop-reason-type"),
                        "Only runs that stopped so.",
                    ),
                    *paging,
                ],
                "responses": {
                    "200": _json(runs, "The runs."),
                    "400": _error("error-response", "A filter value is not allowed."),
                    "422": _error("http-validation-error", "A query parameter is malformed."),
                },
            }
        },
        "/v1/runs/{run_id}": {
            "get": {
                "operationId": "retrieve_run",
                "summary": "Retrieve a run",
                "parameters": [run_id],
                "responses": {
                    "200": _json(_component_ref("run"), "The run."),
                    "400": bad_run,
                    "404": no_run,
                },
            }
        },
        "/v1/runs/{run_id}/messages": {
            "get": {
                "operationId": "list_messages_for_run",
                "summary": "The messages of a run, oldest first, filtered by its include_return_message_types",
                "parameters": [run_id, *paging],
                "responses": {
                    "200": _json(
                        {"type": "array", "items": _component_ref("letta-message")}, "The messages."
                    ),
                    "400": bad_run,
                    "404": no_run,
                },
            }
        },
        "/v1/runs/{run_id}/steps": {
            "get": {
                "operationId": "list_steps_for_run",
                "summary": "The steps of a run, newest first",
                "parameters": [run_id, *paging],
                "responses": {
                    "200": _json({"type": "array", "items": _component_ref("step")}, "The steps."),
                    "400": bad_run,
                    "404": no_run,
                },
            }
        },
        "/v1/runs/{run_id}/usage": {
            "get": {
                "operationId": "retrieve_usage_for_run",
                "summary": "Tokens a run used",
                "parameters": [run_id],
                "responses": {
                    "200": _json(_component_ref("usage-statistics"), "The usage."),
                    "400": bad_run,
                    "404": no_run,
                },
            }
        },
        "/v1/runs/{run_id}/metrics": {
            "get": {
                "operationId": "retrieve_metrics_for_run",
                "summary": "Timing and counts of a run (run_ns once it has ended)",
                "parameters": [run_id],
                "responses": {
                    "200": _json(_component_ref("run-metrics"), "The metrics."),
                    "400": bad_run,
                    "404": no_run,
                },
            }
        },
        "/v1/health/": {
            "get": {
                "operationId": "health",
                "summary": "Whether the server is up",
                "security": [],
                "responses": {"200": _json(_component_ref("health"), "The server is up.")},
            }
        },
    }


def _version() -> str:
    try:
        return version("letta-contract-kit")
    except PackageNotFoundError:
        return "0+unknown"


def build_openapi(server_url: str = "http://127.0.0.1:8283") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the endpoint, its runs, cancel and agents."""
    components = {title: _rewrite(raw(name)) for name, title in _titles().items()}
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "info": {
                "title": "Letta Send Message Async (contract kit)",
                "version": _version(),
                "description": (
                    "Generated from the letta-contract-kit JSON Schemas. Follows "
                    f"{describe(NEWEST)}; `x-real-server` extensions record where Letta 0.16.8 "
                    "differs, `x-doc` which documentation version a fact comes from."
                ),
            },
            "servers": [{"url": server_url}],
            "security": [{"bearerAuth": []}],
            "paths": _paths(),
            "components": {
                "schemas": components,
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            },
        }
    )
