"""A stateful mock of Letta's Send Message Async endpoint and the runs it starts.

>>> from mockserver import MockConfig, MockServer
>>> with MockServer(MockConfig(clock="per-poll")) as mock:
...     print(mock.base_url, mock.agent_id)

Names are imported lazily: the ``letta_mock`` pytest plugin imports this package in every
pytest session of every project that installs the kit, used or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockserver.app import create_app
    from mockserver.config import MockConfig, Timings
    from mockserver.server import MockServer

__all__ = ["MockConfig", "MockServer", "Timings", "create_app"]

_WHERE = {
    "MockConfig": "mockserver.config",
    "Timings": "mockserver.config",
    "MockServer": "mockserver.server",
    "create_app": "mockserver.app",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
