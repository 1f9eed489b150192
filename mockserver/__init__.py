"""A stateful mock of Letta's Send Message Async endpoint and the runs it starts."""

from mockserver.app import create_app
from mockserver.config import MockConfig, Timings
from mockserver.server import MockServer

__all__ = ["MockConfig", "MockServer", "Timings", "create_app"]
