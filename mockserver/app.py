"""The Flask app factory: routes, JSON errors, auth, faults and the request journal."""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from flask import Flask, Request, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response as AnyResponse

from letta_contract_kit.mockserver.config import MockConfig
from letta_contract_kit.mockserver.errors import ApiError, with_path_id_examples, with_string_detail
from letta_contract_kit.mockserver.faults import FAULT_HEADER, Fault, FaultError, FaultPlan
from letta_contract_kit.mockserver.journal import RECORDED_HEADERS, Journal, JournalEntry
from letta_contract_kit.mockserver.request_log import log_requests
from letta_contract_kit.mockserver.routes.admin import admin
from letta_contract_kit.mockserver.routes.agents import agents
from letta_contract_kit.mockserver.routes.common import EXTENSION, current_request
from letta_contract_kit.mockserver.routes.health import health
from letta_contract_kit.mockserver.routes.runs import runs
from letta_contract_kit.mockserver.service import MockService
from letta_contract_kit.mockserver.store.base import StoreFailed

log = logging.getLogger("letta_contract_kit.mockserver")

API_PREFIX = "/v1"
ADMIN_PREFIX = "/_mock"
OPEN_PATHS = ("/v1/health/",)
# What ``routes="minimal"`` switches off: everything but the contract's own routes.
OUTSIDE_CONTRACT = re.compile(r"/v1/agents/?|/v1/agents/[^/]+/?|/v1/health/?|/openapi\.json")
JSON_TYPE = "application/json"
# Where the request's injected fault is noted for the journal (in the WSGI environ).
FAULT_KEY = "letta_mock.fault"
MESSAGE_ITEM = re.compile(r"/v1/agents/[^/]+/messages/[^/]+")
RUN_ITEM = re.compile(r"/v1/runs/[^/]+/?")
# Where WSGI puts each recorded header (Content-Type has no HTTP_ prefix).
RECORDED_ENVIRON = {
    name: "CONTENT_TYPE" if name == "Content-Type" else "HTTP_" + name.upper().replace("-", "_")
    for name in RECORDED_HEADERS
}


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype=JSON_TYPE)


def _bearer_matches(req: Request, expected: str) -> bool:
    header = req.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # Compared as bytes: a header is Latin-1 text, and compare_digest refuses non-ASCII str.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("latin-1", "replace"), expected.encode("utf-8")
    )


def _canonical_redirect(req: Request, bare: bool = False) -> Response | None:
    """307 to the canonical form when the path's trailing slash differs from the route's.

    ``bare`` (the ``bare-redirect`` quirk): no body and no Content-Type, only Location.
    """
    rule = req.url_rule
    if rule is None:
        return None
    wants_slash = rule.rule.endswith("/")
    if req.path.endswith("/") == wants_slash:
        return None
    target = req.path + "/" if wants_slash else req.path.rstrip("/")
    query = req.query_string.decode("latin-1")
    location = req.host_url.rstrip("/") + target + (f"?{query}" if query else "")
    if bare:
        response = Response(b"", status=307, headers={"Location": location})
        del response.headers["Content-Type"]
        return response
    return _json({"detail": f"Use {target}"}, 307, {"Location": location})


class DroppedConnection(ConnectionAbortedError):
    """Raised mid-answer by the ``drop`` fault: the server then closes the connection."""


class _QuietDrops(logging.Filter):
    """Keeps the server's log free of tracebacks for connections dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("waitress").addFilter(_QuietDrops())


def _dropped_connection() -> Response:
    def broken() -> Iterator[bytes]:
        yield b'{"id": "'
        raise DroppedConnection("letta-mock fault: connection dropped mid-response")

    response = Response(broken(), status=200, mimetype=JSON_TYPE)
    response.headers["Content-Length"] = "4096"
    return response


def _apply_fault(req: Request, fault: Fault) -> Response | None:
    req.environ[FAULT_KEY] = fault.text
    if fault.kind == "latency":
        time.sleep(fault.seconds)
        return None
    if fault.kind == "drop":
        return _dropped_connection()
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    text = (
        "Too many requests (injected by letta-mock)"
        if fault.status == 429
        else f"Injected server error {fault.status} (letta-mock fault)"
    )
    return _json({"detail": text}, fault.status, headers)


def _journal_body(req: Request, max_bytes: int, kept: int) -> bytes | str | None:
    length = req.content_length or 0
    if length > max_bytes:
        return f"<{length} bytes, over the size limit>"
    try:
        return req.get_data(cache=True)[:kept]
    except HTTPException:
        return None


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON answers, encoded by orjson (a tenth of the standard encoder's time for a
    run). The output is the same JSON, compact and in key order, but for two things: text is
    sent as UTF-8 rather than as ASCII escapes, and what orjson cannot encode (integers beyond
    64 bits, keys that are not strings) falls back to the standard encoder."""

    def response(self, *args: Any, **kwargs: Any) -> AnyResponse:
        obj = self._prepare_response_obj(args, kwargs)
        try:
            text = orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
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


def create_app(config: MockConfig | None = None, service: MockService | None = None) -> Flask:
    """A Flask app serving the mock. Pass a config, or an already built service."""
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
    faults = FaultPlan(cfg.fault_rate, cfg.faults, cfg.fault_seed)
    quirks = svc.quirks
    for blueprint in (agents, runs, health, admin):
        app.register_blueprint(blueprint)
    if cfg.log_requests:  # first, so that its hooks time the others too
        log_requests(app, cfg.log_format)

    @app.before_request
    def before() -> Response | None:
        req = current_request()
        path = req.path
        if path.startswith(ADMIN_PREFIX):
            if cfg.admin_token and not _bearer_matches(req, cfg.admin_token):
                return _json(
                    {"detail": "Unauthorized: send Authorization: Bearer <admin token>"},
                    401,
                    {"WWW-Authenticate": "Bearer"},
                )
            return None
        if cfg.routes == "minimal" and OUTSIDE_CONTRACT.fullmatch(path):
            return _json({"detail": "Not Found"}, 404)
        if not path.startswith(API_PREFIX):
            return _canonical_redirect(req, quirks.bare_redirect)
        canonical = path if path.endswith("/") else path + "/"
        if cfg.token and canonical not in OPEN_PATHS and not _bearer_matches(req, cfg.token):
            return _json(
                {"detail": "Unauthorized: send Authorization: Bearer <token>"},
                401,
                {"WWW-Authenticate": "Bearer"},
            )
        if quirks.delete_run_500 and req.method == "DELETE" and RUN_ITEM.fullmatch(path):
            return _json({"detail": "An unknown error occurred"}, 500)  # nothing is deleted
        moved = _canonical_redirect(req, quirks.bare_redirect)
        if moved is not None:
            return moved
        asked = req.headers.get(FAULT_HEADER)
        if canonical in OPEN_PATHS and not asked:
            return None  # readiness probes are never faulted at random
        try:
            fault = faults.choose(asked)
        except FaultError as exc:
            return _json({"detail": f"{FAULT_HEADER}: {exc}"}, 400)
        return _apply_fault(req, fault) if fault is not None else None

    @app.after_request
    def after(response: Response) -> Response:
        req = current_request()
        path = req.path
        if not path.startswith(ADMIN_PREFIX):
            environ = req.environ
            headers = {
                name: environ[key] for name, key in RECORDED_ENVIRON.items() if key in environ
            }
            journal.add(
                JournalEntry(
                    seq=journal.next_seq(),
                    at=time.time(),
                    method=req.method,
                    path=path,
                    query=req.query_string.decode("latin-1"),
                    headers=headers,
                    raw_body=_journal_body(req, cfg.max_body_bytes, cfg.journal_body_bytes),
                    status=response.status_code,
                    fault=environ.get(FAULT_KEY),
                )
            )
        svc.sweep_if_due()
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        body = error.body
        if error.status == 422 and quirks.path_id_422_examples:
            body = with_path_id_examples(body, request.view_args or {})
        if error.status == 422 and quirks.string_422_detail:
            body = with_string_detail(body)
        return _json(body, error.status, error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        text = error.name
        if status == 413:
            text = f"The body is over {cfg.max_body_bytes} bytes, the most this server accepts."
        headers = {}
        allowed = error.get_headers()
        for key, value in allowed:
            if key.lower() == "allow":
                headers["Allow"] = value
        if status == 405 and quirks.allow_patch_on_405 and MESSAGE_ITEM.fullmatch(request.path):
            headers["Allow"] = "PATCH"  # the server's message item route, PATCH only, wins
        return _json({"detail": text}, status, headers)

    @app.errorhandler(StoreFailed)
    def store_failed(error: StoreFailed) -> Response:
        svc.note_store_failure(error)
        if error.status == 503:  # unreachable (Redis down): it may come back
            advice = "try again once the store is back"
        elif cfg.store == "redis":  # e.g. Redis' maxmemory reached
            advice = "give Redis more memory (maxmemory) or lower --max-store-bytes"
        else:
            where = "--sqlite-path" if cfg.store == "sqlite" else "--lmdb-path"
            advice = f"free space or choose another {where}"
        text = f"{error}; nothing of this request was stored: {advice}"
        return _json({"detail": text}, error.status, {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("letta-mock: unexpected error on %s %s", request.method, request.path)
        return _json({"detail": "An unknown error occurred"}, 500)

    svc.start()
    return app


__all__ = ["create_app"]
