"""A mock on a real loopback socket, shared by the reliability tests of one module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockserver import MockConfig, MockServer
from reliability.hostile_corpus import AGENT, MAX_BODY_BYTES


@pytest.fixture(scope="module")
def hostile_target() -> Iterator[MockServer]:
    """The mock as shipped (waitress, strict profile), with one known agent."""
    config = MockConfig(agents=[AGENT], clock="per-poll", max_body_bytes=MAX_BODY_BYTES)
    with MockServer(config) as mock:
        yield mock
