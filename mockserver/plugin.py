"""pytest plugin: a ``letta_mock`` fixture (one server per session, reset before each test).

Registered through the ``pytest11`` entry point ``letta_mock = "letta_contract_kit.mockserver.plugin"``, or with
``pytest_plugins = ["letta_contract_kit.mockserver.plugin"]`` in a conftest. Options (all ``--letta-mock-...``)
and the matching environment variables configure the session's server; override the
``letta_mock_config`` fixture for anything else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from letta_contract_kit.mockserver.config import MockConfig
    from letta_contract_kit.mockserver.server import MockServer

OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("clock", "LETTA_MOCK_CLOCK", "per-poll"),
    ("scenario", "LETTA_MOCK_SCENARIO", "succeed"),
    ("profile", "LETTA_MOCK_PROFILE", "strict"),
    ("quirks", "LETTA_MOCK_QUIRKS", ""),
    ("config", "LETTA_MOCK_CONFIG", ""),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("letta-mock", "Letta async mock server")
    for name, env, default in OPTIONS:
        group.addoption(
            f"--letta-mock-{name}",
            dest=f"letta_mock_{name}",
            default=None,
            help=f"{name} of the letta_mock server (env {env}; default {default or 'none'})",
        )


def _option(config: pytest.Config, name: str) -> str:
    for option_name, env, default in OPTIONS:
        if option_name == name:
            value = config.getoption(f"letta_mock_{name}", default=None)
            return str(value) if value else os.environ.get(env, default)
    raise KeyError(name)


@pytest.fixture(scope="session")
def letta_mock_config(pytestconfig: pytest.Config) -> MockConfig:
    """The session server's configuration; override this fixture to change it."""
    from letta_contract_kit.mockserver.config import (
        MockConfig,
        config_from_mapping,
        load_config_file,
    )

    path = _option(pytestconfig, "config")
    base = load_config_file(path) if path else MockConfig()
    on, off = split_quirks(_option(pytestconfig, "quirks"))
    overrides: dict[str, Any] = {
        "clock": _option(pytestconfig, "clock"),
        "scenario": _option(pytestconfig, "scenario"),
        "profile": _option(pytestconfig, "profile"),
        "quirks": on,
        "no_quirks": off,
    }
    return config_from_mapping(overrides, base) if not path else base


def split_quirks(text: str) -> tuple[list[str], list[str]]:
    """``"a,-b"``: quirks to switch on (``a``) and off (``b``, written with a leading ``-``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    return [n for n in names if not n.startswith("-")], [n[1:] for n in names if n.startswith("-")]


@pytest.fixture(scope="session")
def letta_mock_server(letta_mock_config: MockConfig) -> Iterator[MockServer]:
    from letta_contract_kit.mockserver.server import MockServer

    with MockServer(letta_mock_config) as server:
        yield server


@pytest.fixture
def letta_mock(letta_mock_server: MockServer) -> MockServer:
    """The session's mock server, reset: no runs, no queued scenarios, an empty journal."""
    letta_mock_server.reset()
    return letta_mock_server
