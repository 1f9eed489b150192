"""The mock's path prefixes: the API's, and that of its own test-double routes."""

from __future__ import annotations

API_PREFIX = "/v1"
ADMIN_PREFIX = "/_mock"


def is_admin_route(path: str) -> bool:
    """Whether ``path`` is one of the mock's own ``/_mock`` routes (a decoded path)."""
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


__all__ = ["ADMIN_PREFIX", "API_PREFIX", "is_admin_route"]
