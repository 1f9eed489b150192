"""A waitress server whose own error answers (bad HTTP, oversized headers, crashes) are JSON."""

from __future__ import annotations

import json
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from mockserver.config import MockConfig

IDENT = "letta-mock"


class JsonErrorTask(ErrorTask):
    """Answers waitress's own errors as ``{"detail": ...}`` instead of plain text."""

    def execute(self) -> None:
        request: Any = self.request  # the stubs do not know ``error``
        error = request.error
        body = json.dumps({"detail": f"{error.reason}: {error.body}"}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        headers: Any = self.response_headers
        headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask


class JsonErrorServer(TcpWSGIServer):
    channel_class = JsonErrorChannel


def create_json_server(app: Any, config: MockConfig, **adjustments: Any) -> JsonErrorServer:
    """A started (listening) server for ``app`` on ``config.host``:``config.port``."""
    adj = Adjustments(
        host=config.host,
        port=config.port,
        threads=config.threads_for("waitress"),
        ident=IDENT,
        clear_untrusted_proxy_headers=True,
        **adjustments,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    sockinfo: Any = adj.listen[0]
    return JsonErrorServer(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo)


def bound_port(server: Any) -> int:
    """The port the server listens on (the stubs do not know ``effective_port``)."""
    return int(server.effective_port)
