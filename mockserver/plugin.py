"""pytest plugin: a ``letta_mock`` fixture (one server per session, reset before each test).

Registered through the ``pytest11`` entry point ``letta_mock = "letta_contract_kit.mockserver.plugin"``, or with
``pytest_plugins = ["letta_contract_kit.mockserver.plugin"]`` in a conftest. Options (all ``--letta-mock-...``)
and the matching environment variables (``LETTA_MOCK_...``; an option wins over its variable)
configure the session's server; override the ``letta_mock_config`` fixture for anything else.
The server binds ``host`` and ``port`` of that config: by default 127.0.0.1 and a free port.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from letta_contract_kit.mockserver.config import MockConfig
    from letta_contract_kit.mockserver.server import MockServer

# (option name, environment variable, default): ``--letta-mock-NAME``, ``LETTA_MOCK_NAME``.
OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("host", "LETTA_MOCK_HOST", "127.0.0.1"),
    ("port", "LETTA_MOCK_PORT", "0"),
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
            help=f"{name} of the letta_mock server (env {env}; default {default or 'none'}"
            + ("; 0 picks a free one)" if name == "port" else ")"),
        )


def pytest_configure(config: pytest.Config) -> None:
    # A port that is no port stops the session at once, in one line (the rest is checked
    # when the fixture is first used, so that sessions which never use it pay nothing).
    port_number(*_option_and_source(config, "port"))


def _option(config: pytest.Config, name: str) -> str:
    return _option_and_source(config, name)[0]


def _option_and_source(config: pytest.Config, name: str) -> tuple[str, str]:
    """The value of one option, and where it came from: the option, the variable or the default."""
    for option_name, env, default in OPTIONS:
        if option_name == name:
            value = config.getoption(f"letta_mock_{name}", default=None)
            if value:
                return str(value), f"--letta-mock-{name}"
            if os.environ.get(env):
                return os.environ[env], env
            return default, "the default"
    raise KeyError(name)


def port_number(text: str, source: str) -> int:
    """``text`` as a port (0: a free one), or a usage error naming ``source``."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or int(stripped) > 65535:
        raise pytest.UsageError(
            f"letta_mock: {source} must be a port number from 0 to 65535 (0 picks a free one), "
            f"not {text!r}."
        )
    return int(stripped)


@pytest.fixture(scope="session")
def letta_mock_config(pytestconfig: pytest.Config) -> MockConfig:
    """The session server's configuration; override this fixture to change it."""
    from letta_contract_kit.mockserver.config import (
        MockConfig,
        config_from_mapping,
        load_config_file,
    )

    path = _option(pytestconfig, "config")
    try:
        if path:
            return load_config_file(path)
        on, off = split_quirks(_option(pytestconfig, "quirks"))
        overrides: dict[str, Any] = {
            "host": _option(pytestconfig, "host"),
            "port": port_number(*_option_and_source(pytestconfig, "port")),
            "clock": _option(pytestconfig, "clock"),
            "scenario": _option(pytestconfig, "scenario"),
            "profile": _option(pytestconfig, "profile"),
            "quirks": on,
            "no_quirks": off,
        }
        return config_from_mapping(overrides, MockConfig())
    except (ValueError, OSError) as exc:
        problem = str(exc)
    # Failed outside the except clause, or pytest shows the exception being handled too.
    where = f"the config file {path}" if path else "the --letta-mock-* options or variables"
    pytest.fail(f"letta_mock: {problem} (from {where}).", pytrace=False)


def split_quirks(text: str) -> tuple[list[str], list[str]]:
    """``"a,-b"``: quirks to switch on (``a``) and off (``b``, written with a leading ``-``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    return [n for n in names if not n.startswith("-")], [n[1:] for n in names if n.startswith("-")]


@pytest.fixture(scope="session")
def letta_mock_server(letta_mock_config: MockConfig) -> Iterator[MockServer]:
    from letta_contract_kit.mockserver.server import MockServer

    server = MockServer(letta_mock_config)
    try:
        server.start()
    except OSError as exc:
        problem = exc.strerror or str(exc)
    else:
        with server:
            yield server
        return
    where = f"{server.config.host}:{server.config.port}"
    pytest.fail(
        f"letta_mock: cannot serve on {where} ({problem}): choose another with "
        "LETTA_MOCK_HOST / LETTA_MOCK_PORT, or port 0 for a free one.",
        pytrace=False,
    )


@pytest.fixture
def letta_mock(letta_mock_server: MockServer) -> MockServer:
    """The session's mock server, reset: no runs, no queued scenarios, an empty journal."""
    letta_mock_server.reset()
    return letta_mock_server
