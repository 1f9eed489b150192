"""A stateful mock of Letta's Send Message Async endpoint and the runs it starts.

>>> from letta_contract_kit.mockserver import MockConfig, MockServer
>>> with MockServer(MockConfig(clock="per-poll")) as mock:
...     print(mock.base_url, mock.agent_id)

Names are imported lazily: the ``letta_mock`` pytest plugin imports this package in every
pytest session of every project that installs the kit, used or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from letta_contract_kit.mockserver.app import create_app
    from letta_contract_kit.mockserver.config import MockConfig, Timings
    from letta_contract_kit.mockserver.server import MockServer

__all__ = ["MockConfig", "MockServer", "Timings", "create_app"]

_WHERE = {
    "MockConfig": "letta_contract_kit.mockserver.config",
    "Timings": "letta_contract_kit.mockserver.config",
    "MockServer": "letta_contract_kit.mockserver.server",
    "create_app": "letta_contract_kit.mockserver.app",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'letta_contract_kit.mockserver' has no attribute {name!r}")
