"""Fixtures for the mock's own tests.

``letta_mock`` comes from the plugin module (imported here so these tests run whether or not
the ``pytest11`` entry point is installed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from letta_contract_kit.mockserver import MockConfig, MockServer, create_app
from letta_contract_kit.mockserver.plugin import letta_mock, letta_mock_server

from .redis_server import RedisServer, session_server, stop_session_server

__all__ = ["letta_mock", "letta_mock_server"]

AGENT = "agent-123e4567-e89b-42d3-8456-426614174000"
OTHER_AGENT = "agent-00000000-0000-4000-8000-0000000000aa"
TERMINAL = ("completed", "failed", "cancelled")


@pytest.fixture(scope="session")
def letta_mock_config() -> MockConfig:
    """These tests need the per-poll clock whatever --letta-mock-clock says (the documented
    way to configure the plugin's server: override this fixture)."""
    return MockConfig(clock="per-poll")


@pytest.fixture
def make_client() -> Iterator[Callable[..., FlaskClient]]:
    """A Flask test client of a fresh mock; keyword arguments are MockConfig fields."""
    apps: list[Any] = []

    def make(**fields: Any) -> FlaskClient:
        fields.setdefault("agents", [AGENT])
        fields.setdefault("clock", "per-poll")
        app = create_app(MockConfig(**fields))
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["letta_mock"].close()


@pytest.fixture
def client(make_client: Callable[..., FlaskClient]) -> FlaskClient:
    return make_client()


@pytest.fixture
def make_server() -> Iterator[Callable[..., MockServer]]:
    """A running MockServer on 127.0.0.1 (free port); stopped after the test."""
    servers: list[MockServer] = []

    def make(**fields: Any) -> MockServer:
        server = MockServer(MockConfig(**fields)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server the session's tests share, each under a key prefix of its own (skipped
    without redis-server; failed in CI)."""
    yield session_server(tmp_path_factory.mktemp("redis")).url
    stop_session_server()


@pytest.fixture
def make_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """redis-servers of the test's own (to stop, kill and start again); stopped after it."""
    made: list[RedisServer] = []

    def make(append_only: bool = False) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(made)}", append_only=append_only)
        made.append(server)
        return server.start()

    yield make
    for server in made:
        server.stop()


def post_async(client: FlaskClient, body: Any = None, agent: str = AGENT, **kw: Any) -> Any:
    if body is None:
        body = {"input": "hello"}
    return client.post(f"/v1/agents/{agent}/messages/async", json=body, **kw)


def poll_to_end(client: FlaskClient, run_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """GET the run until it ends; every observed state, in order."""
    seen = []
    for _ in range(limit):
        run = client.get(f"/v1/runs/{run_id}").get_json()
        seen.append(run)
        if run["status"] in TERMINAL:
            return seen
    raise AssertionError(f"run {run_id} did not end within {limit} polls: {seen[-1]['status']}")
