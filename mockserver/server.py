"""Serving the mock: with waitress in a thread (``MockServer``), or in the foreground (CLI)
with waitress (the default) or Granian."""

from __future__ import annotations

import contextlib
import gc
import json
import threading
import urllib.request
from dataclasses import replace
from types import TracebackType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.trigger import trigger

from letta_contract_kit.mockserver.app import create_app
from letta_contract_kit.mockserver.cassettes import read as read_cassette
from letta_contract_kit.mockserver.config import DEFAULT_PORT, MockConfig
from letta_contract_kit.mockserver.conversation import new_id
from letta_contract_kit.mockserver.dispatch import answered_at_once
from letta_contract_kit.mockserver.granian_server import (
    announce_when_accepting,
    free_port,
    serve_granian,
)
from letta_contract_kit.mockserver.journal import JournalFilter
from letta_contract_kit.mockserver.routes.admin import journal as _journal
from letta_contract_kit.mockserver.service import MockService, open_store
from letta_contract_kit.mockserver.waitress_json import bound_port, create_json_server

READY_TIMEOUT = 5.0
# Seconds the server's loop waits in select() when nothing happens: a whole number, as waitress
# reads it (a fraction becomes 0, and the loop spins a core while idle). stop() wakes it.
LOOP_TIMEOUT = 1
STOP_SECONDS = 1.0  # on stop, requests in flight get this long to end


class MockServer:
    """The mock on a real socket, for use in-process.

    >>> with MockServer(MockConfig(clock="per-poll")) as mock:
    ...     client = Letta(base_url=mock.base_url)
    ...     run = client.agents.messages.create_async(mock.agent_id, input="hi")

    It binds ``config.host`` and ``config.port``; ``port=`` wins over the config's. A port of
    0 or None (the config's default) picks a free one. Without configured agents one is
    seeded and kept across resets: ``mock.agent_id``.
    """

    def __init__(
        self, config: MockConfig | None = None, *, port: int | None = None, **fields: Any
    ) -> None:
        base = config if config is not None else MockConfig(**fields)
        if config is not None and fields:
            base = replace(base, **fields)
        if not base.agents:  # a replayed cassette's agents, else a new one
            recorded = list(read_cassette(base.replay).agents) if base.replay else []
            base = replace(base, agents=recorded or [new_id("agent")])
        chosen = port if port is not None else base.port
        self.config = replace(base, port=chosen or 0)
        self.service: MockService | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._app: Any = None

    # -- life ---------------------------------------------------------------------------

    def start(self) -> MockServer:
        if self._server is not None:
            return self
        self.service = MockService(self.config)
        self._app = create_app(service=self.service)
        try:
            self._server = create_json_server(
                self._app,
                self.config,
                at_once=answered_at_once(self._app),
                asyncore_loop_timeout=LOOP_TIMEOUT,
            )
        except OSError:  # e.g. the port is taken: nothing is left running
            self.service.close()
            self.service = None
            raise
        self._thread = threading.Thread(target=self._server.run, name="letta-mock", daemon=True)
        self._thread.start()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        # With routes="minimal" there is no health route: the listing answers instead.
        probe = "/v1/runs/?limit=1" if self.config.routes == "minimal" else "/v1/health/"
        with urllib.request.urlopen(f"{self.base_url}{probe}", timeout=READY_TIMEOUT) as r:
            if r.status != 200:
                raise RuntimeError(f"letta-mock did not come up: {probe} answered {r.status}")

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return

        def close_connections() -> None:
            # Runs inside the server's loop thread, so no socket is closed under its select().
            for channel in list(server._map.values()):
                if isinstance(channel, HTTPChannel):
                    channel.handle_close()
                elif isinstance(channel, BaseWSGIServer):  # a listening socket, not the trigger
                    wasyncore.dispatcher.close(channel)  # (waitress' close() closes both)
                elif channel is not server.trigger:
                    channel.close()

        # The connections and the listener first; the wake-up trigger only once the request
        # threads are done: a thread that ends its request pulls it (to hand the answer to the
        # loop), and a closed trigger would make that an error in the log.
        try:
            server.trigger.pull_trigger(close_connections)
        except OSError:
            # The trigger's pipe is gone (its read end saw end-of-file and closed it): give the
            # loop a new one, which it takes up at its next turn (within LOOP_TIMEOUT).
            server.trigger = trigger(server._map)
            server.trigger.pull_trigger(close_connections)
        server.task_dispatcher.shutdown(timeout=STOP_SECONDS)
        with contextlib.suppress(OSError):
            server.trigger.pull_trigger(server.trigger.close)  # the loop ends: its map is empty
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.service is not None:
            self.service.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the mock is not running: use it as a context manager or start()")
        return bound_port(self._server)

    @property
    def base_url(self) -> str:
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    @property
    def agent_id(self) -> str:
        return self.config.agents[0]

    @property
    def _service(self) -> MockService:
        if self.service is None:
            raise RuntimeError("the mock is not running")
        return self.service

    # -- helpers for tests ----------------------------------------------------------------

    def reset(self) -> None:
        """Forget runs, created agents, queued scenarios and the journal (and, replaying,
        start the cassette again)."""
        self._service.reset()

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (the mock must run with clock='virtual')."""
        self._service.advance_clock(seconds)

    def queue(self, *scenarios: str) -> list[str]:
        """Outcomes of the next runs, in order, e.g. ``mock.queue("fail", "stop:max_steps")``."""
        return self._service.queue_scenarios(list(scenarios))

    def create_agent(self, **fields: Any) -> str:
        return str(self._service.create_agent(fields)["id"])

    def requests(
        self,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        path_prefix: str | None = None,
    ) -> list[dict[str, Any]]:
        where = JournalFilter(method=method, path=path, status=status, path_prefix=path_prefix)
        return [e.as_dict() for e in _journal_of(self._app).entries(where)]

    def wait_for_callbacks(self, timeout: float = 10.0) -> bool:
        """Wait until every callback due so far was delivered or failed."""
        return self._service.callbacks.drain(timeout)

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The run as stored, without counting as a poll."""
        return self._service.get_run(run_id)


def _journal_of(app: Any) -> Any:
    with app.app_context():
        return _journal()


def announce(config: MockConfig, port: int) -> None:
    """The one line the CLI prints on stdout when it listens."""
    print(
        json.dumps(
            {
                "letta_mock": "listening",
                "url": f"http://{config.host}:{port}",
                "agents": config.agents,
                "clock": config.clock,
                "store": config.store,
                "server": config.server,
                "workers": config.workers,
            }
        ),
        flush=True,
    )


def freeze_start_up_heap() -> None:
    """Collect the start-up garbage, then move every object still alive (modules, schemas,
    compiled validators, the app: about 40,000 of them) into the collector's permanent
    generation, so that a full collection while serving walks only what serving made. Full
    collections stop every request in flight; they took 9-14 ms each with the start-up heap
    in them. The runs the store keeps are bytes, which the collector does not track.

    Only for a process the mock owns (the CLI's foreground server, a Granian worker): in a
    test process the ``MockServer`` thread would freeze the user's objects too, and a cycle
    among them would never be collected."""
    gc.collect()
    gc.freeze()


def serve(config: MockConfig, service: MockService | None = None) -> None:
    """Serve in the foreground until interrupted (the CLI's job).

    ``service``: an already built one (e.g. with a filled store); by default one is built from
    ``config``. Under Granian it is built, or inherited, in each worker process. Without a
    port, it serves on ``DEFAULT_PORT``.
    """
    if config.port is None:
        config = replace(config, port=DEFAULT_PORT)
    if config.server == "granian":
        _serve_granian(config, service)
        return
    built = service if service is not None else MockService(config)
    app = create_app(service=built)
    server = create_json_server(app, config, at_once=answered_at_once(app))
    freeze_start_up_heap()
    announce(config, bound_port(server))
    try:
        server.run()
    finally:
        built.close()


def _serve_granian(config: MockConfig, service: MockService | None) -> None:
    if service is None and config.store != "memory":
        # Open the file once here, so a bad path or a file of another version stops the
        # command with its message instead of failing in every worker.
        open_store(config).close()
    port = config.port or free_port(config.host)
    config = replace(config, port=port)

    def build_app() -> Any:  # in each worker, also in one that replaces a dead one
        app = create_app(service=service if service is not None else MockService(config))
        freeze_start_up_heap()
        return app

    # The supervisor says "listening" once the workers accept, not when one has built its app.
    announce_when_accepting(config, port, lambda: announce(config, port))
    serve_granian(config, port, build_app)
