"""Health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from letta_contract_kit.mockserver.routes.common import service
from letta_contract_kit.schemas.openapi import build_openapi

health = Blueprint("health", __name__)


@health.get("/v1/health/")
def health_check() -> dict[str, Any]:
    return {"version": service().config.server_version, "status": "ok"}


@health.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return build_openapi(server_url=request.host_url.rstrip("/"))
