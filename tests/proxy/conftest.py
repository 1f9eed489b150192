"""The proxy in process, in front of the mock (or of a mock broken on purpose)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from letta_contract_kit.contract_tests.proxy import ProxyConfig, ProxyServer

TOKEN = "sk-proxy-test-9f8e7d6c5b4a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Proxied:
    """A running proxy, the log it wrote, and (after the block) its result."""

    def __init__(self, server: ProxyServer, log: io.StringIO) -> None:
        self.server = server
        self.log = log

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def result(self) -> Any:
        assert self.server.result is not None, "the result is there once the proxy stopped"
        return self.server.result


@contextmanager
def proxied(upstream: str, **options: Any) -> Iterator[Proxied]:
    log = io.StringIO()
    server = ProxyServer(ProxyConfig(upstream=upstream, port=0, **options), stream=log)
    server.start()
    try:
        yield Proxied(server, log)
    finally:
        server.stop()
