"""The Flask app factory: routes, JSON errors, auth, faults and the request journal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response as AnyResponse

from letta_contract_kit.mockserver.config import MockConfig
from letta_contract_kit.mockserver.dispatch import PreparedDispatch
from letta_contract_kit.mockserver.errors import ApiError
from letta_contract_kit.mockserver.hooks import Hooks
from letta_contract_kit.mockserver.journal import Journal
from letta_contract_kit.mockserver.json_text import json_text
from letta_contract_kit.mockserver.request_log import log_requests
from letta_contract_kit.mockserver.routes.admin import admin
from letta_contract_kit.mockserver.routes.agents import agents
from letta_contract_kit.mockserver.routes.common import EXTENSION, current_request
from letta_contract_kit.mockserver.routes.health import health
from letta_contract_kit.mockserver.routes.runs import runs
from letta_contract_kit.mockserver.service import MockService
from letta_contract_kit.mockserver.store.base import StoreFailed


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON answers, as ``json_text`` writes them: the same JSON as the standard
    encoder's but for text, which is sent as UTF-8 rather than as ASCII escapes; what orjson
    cannot encode falls back to the standard encoder."""

    def response(self, *args: Any, **kwargs: Any) -> AnyResponse:
        text = json_text(self._prepare_response_obj(args, kwargs))
        if text is None:
            return super().response(*args, **kwargs)
        return Response(text, mimetype=self.mimetype)


class MockFlask(Flask):
    """Flask, less some costs per request: JSON answers are encoded by orjson, and whether a
    view or hook is a coroutine function is decided once per function rather than on every
    call (the mock has no async views)."""

    json_provider_class = OrjsonProvider

    def __init__(self, import_name: str) -> None:
        super().__init__(import_name)
        self._callables: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        found = self._callables.get(func)
        if found is None:
            found = self._callables[func] = super().ensure_sync(func)
        return found


def create_app(
    config: MockConfig | None = None, service: MockService | None = None, prepared: bool = True
) -> Flask:
    """A Flask app serving the mock. Pass a config, or an already built service.

    ``prepared=False`` answers every request through Flask's own dispatch, without the
    prepared dispatch of the hot routes (``dispatch``): the same answers, more slowly; for
    comparing the two.
    """
    svc = service if service is not None else MockService(config or MockConfig())
    cfg = svc.config
    app = MockFlask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False  # "//" is no path of the API: 404, not an HTML 308
    # One byte more than allowed, so that a body streamed without Content-Length (chunked)
    # and cut at the limit is still seen to be too large (bodies.read_json answers 413).
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body_bytes + 1
    app.extensions[EXTENSION] = svc
    journal = Journal(cfg.journal_size)
    app.extensions["letta_mock_journal"] = journal
    svc.on_reset(journal.clear)
    hooks = Hooks(svc, journal)
    for blueprint in (agents, runs, health, admin):
        app.register_blueprint(blueprint)
    if cfg.log_requests:  # first, so that its hooks time the others too
        log_requests(app, cfg.log_format)

    @app.before_request
    def before() -> Response | None:
        return hooks.gate(current_request())

    @app.after_request
    def after(response: Response) -> Response:
        hooks.record(current_request(), response.status_code)
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return hooks.api_error(error, request.view_args)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return hooks.http_error(error, request.path)

    @app.errorhandler(StoreFailed)
    def store_failed(error: StoreFailed) -> Response:
        return hooks.store_failed(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        return hooks.unexpected(error, current_request())

    # The request log and the replay hook into Flask's path only.
    if prepared and not cfg.log_requests and not cfg.replay:
        app.wsgi_app = PreparedDispatch(app, app.wsgi_app, svc, hooks)  # type: ignore[method-assign]
    if cfg.replay:  # answers from a cassette, after the gate (mockserver/replay.py)
        from letta_contract_kit.mockserver.replay import install_replay

        install_replay(app, svc)
    svc.start()
    return app


__all__ = ["create_app"]
