"""Health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from letta_contract_kit.mockserver.routes.common import service
from letta_contract_kit.schemas.openapi import build_openapi

health = Blueprint("health", __name__)


@health.get("/v1/health/")
def health_check() -> tuple[dict[str, Any], int]:
    """``ok`` (200), or 503 with why the store cannot write (a full disk)."""
    svc = service()
    problem = svc.store_health()
    if problem is not None:
        return {"version": svc.config.server_version, "status": "error", "detail": problem}, 503
    return {"version": svc.config.server_version, "status": "ok"}, 200


@health.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return build_openapi(server_url=request.host_url.rstrip("/"))
