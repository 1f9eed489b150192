"""What every request goes through around its route: the gate before it (admin and API
tokens, ``routes="minimal"``, canonical redirects, injected faults), the journal and the sweep
after it, and the JSON answers for errors.

One ``Hooks`` per app. The Flask app registers its methods as hooks and error handlers; the
prepared dispatch (``dispatch``) calls the same methods for the routes it answers itself, so
both paths gate, journal and answer errors alike.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Request, Response
from werkzeug.exceptions import HTTPException

from letta_contract_kit.mockserver.bodies import body_bytes, declared_length
from letta_contract_kit.mockserver.errors import ApiError, with_path_id_examples, with_string_detail
from letta_contract_kit.mockserver.faults import FAULT_HEADER, Fault, FaultError, FaultPlan
from letta_contract_kit.mockserver.journal import RECORDED_HEADERS, Journal, JournalEntry
from letta_contract_kit.mockserver.json_text import JSON_TYPE
from letta_contract_kit.mockserver.paths import ADMIN_PREFIX, API_PREFIX
from letta_contract_kit.mockserver.service import MockService
from letta_contract_kit.mockserver.store.base import StoreFailed

log = logging.getLogger("letta_contract_kit.mockserver")

OPEN_PATHS = ("/v1/health/",)
# What ``routes="minimal"`` switches off: everything but the contract's own routes.
OUTSIDE_CONTRACT = re.compile(r"/v1/agents/?|/v1/agents/[^/]+/?|/v1/health/?|/openapi\.json")
# Where the request's injected fault is noted for the journal (in the WSGI environ).
FAULT_KEY = "letta_mock.fault"
MESSAGE_ITEM = re.compile(r"/v1/agents/[^/]+/messages/[^/]+")
RUN_ITEM = re.compile(r"/v1/runs/[^/]+/?")
# Where WSGI puts each recorded header (Content-Type has no HTTP_ prefix).
RECORDED_ENVIRON = {
    name: "CONTENT_TYPE" if name == "Content-Type" else "HTTP_" + name.upper().replace("-", "_")
    for name in RECORDED_HEADERS
}


def json_answer(body: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
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

    ``bare`` (the ``bare-redirect`` quirk): no body and no Content-Type, only Location. A
    request no route matched (``url_rule`` None) is never redirected.
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
    return json_answer({"detail": f"Use {target}"}, 307, {"Location": location})


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
    return json_answer({"detail": text}, fault.status, headers)


def _journal_body(req: Request, max_bytes: int, kept: int) -> bytes | str | None:
    environ = req.environ
    if not environ.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in environ:
        return b""  # no body was sent (a GET): nothing to read
    length = declared_length(req) or 0
    if length > max_bytes:
        return f"<{length} bytes, over the size limit>"
    try:
        return body_bytes(req)[:kept]
    except HTTPException:
        return None


class Hooks:
    """The gate, the journal and the error answers of one app."""

    def __init__(self, svc: MockService, journal: Journal) -> None:
        self.svc = svc
        self.cfg = svc.config
        self.quirks = svc.quirks
        self.journal = journal
        self.faults = FaultPlan(self.cfg.fault_rate, self.cfg.faults, self.cfg.fault_seed)

    # -- before the route -----------------------------------------------------------------

    def gate(self, req: Request) -> Response | None:
        """The answer a request gets instead of its route's, or None to let it through."""
        cfg, quirks = self.cfg, self.quirks
        path = req.path
        if path.startswith(ADMIN_PREFIX):
            if cfg.admin_token and not _bearer_matches(req, cfg.admin_token):
                return json_answer(
                    {"detail": "Unauthorized: send Authorization: Bearer <admin token>"},
                    401,
                    {"WWW-Authenticate": "Bearer"},
                )
            return None
        if cfg.routes == "minimal" and OUTSIDE_CONTRACT.fullmatch(path):
            return json_answer({"detail": "Not Found"}, 404)
        if not path.startswith(API_PREFIX):
            return _canonical_redirect(req, quirks.bare_redirect)
        canonical = path if path.endswith("/") else path + "/"
        if cfg.token and canonical not in OPEN_PATHS and not _bearer_matches(req, cfg.token):
            return json_answer(
                {"detail": "Unauthorized: send Authorization: Bearer <token>"},
                401,
                {"WWW-Authenticate": "Bearer"},
            )
        if quirks.delete_run_500 and req.method == "DELETE" and RUN_ITEM.fullmatch(path):
            return json_answer({"detail": "An unknown error occurred"}, 500)  # nothing deleted
        moved = _canonical_redirect(req, quirks.bare_redirect)
        if moved is not None:
            return moved
        asked = req.headers.get(FAULT_HEADER)
        if canonical in OPEN_PATHS and not asked:
            return None  # readiness probes are never faulted at random
        try:
            fault = self.faults.choose(asked)
        except FaultError as exc:
            return json_answer({"detail": f"{FAULT_HEADER}: {exc}"}, 400)
        return _apply_fault(req, fault) if fault is not None else None

    # -- after it -------------------------------------------------------------------------

    def record(self, req: Request, status: int) -> None:
        """Journal the request (admin requests are not) and sweep the runs if it is time."""
        path = req.path
        if not path.startswith(ADMIN_PREFIX):
            environ = req.environ
            headers = {
                name: environ[key] for name, key in RECORDED_ENVIRON.items() if key in environ
            }
            journal = self.journal
            journal.add(
                JournalEntry(
                    seq=journal.next_seq(),
                    at=time.time(),
                    method=req.method,
                    path=path,
                    query=req.query_string.decode("latin-1"),
                    headers=headers,
                    raw_body=_journal_body(
                        req, self.cfg.max_body_bytes, self.cfg.journal_body_bytes
                    ),
                    status=status,
                    fault=environ.get(FAULT_KEY),
                )
            )
        self.svc.sweep_if_due()

    # -- error answers --------------------------------------------------------------------

    def api_error(self, error: ApiError, view_args: Mapping[str, Any] | None) -> Response:
        body = error.body
        if error.status == 422 and self.quirks.path_id_422_examples:
            body = with_path_id_examples(body, dict(view_args or {}))
        if error.status == 422 and self.quirks.string_422_detail:
            body = with_string_detail(body)
        return json_answer(body, error.status, error.headers)

    def http_error(self, error: HTTPException, path: str) -> Response:
        status = error.code or 500
        text = error.name
        if status == 413:
            text = (
                f"The body is over {self.cfg.max_body_bytes} bytes, the most this server accepts."
            )
        headers = {}
        for key, value in error.get_headers():
            if key.lower() == "allow":
                headers["Allow"] = value
        if status == 405 and self.quirks.allow_patch_on_405 and MESSAGE_ITEM.fullmatch(path):
            headers["Allow"] = "PATCH"  # the server's message item route, PATCH only, wins
        return json_answer({"detail": text}, status, headers)

    def store_failed(self, error: StoreFailed) -> Response:
        cfg = self.cfg
        self.svc.note_store_failure(error)
        if error.status == 503:  # unreachable (Redis down): it may come back
            advice = "try again once the store is back"
        elif cfg.store == "redis":  # e.g. Redis' maxmemory reached
            advice = "give Redis more memory (maxmemory) or lower --max-store-bytes"
        else:
            where = "--sqlite-path" if cfg.store == "sqlite" else "--lmdb-path"
            advice = f"free space or choose another {where}"
        text = f"{error}; nothing of this request was stored: {advice}"
        return json_answer({"detail": text}, error.status, {"Retry-After": "5"})

    def unexpected(self, error: Exception, req: Request) -> Response:
        log.exception("letta-mock: unexpected error on %s %s", req.method, req.path, exc_info=error)
        return json_answer({"detail": "An unknown error occurred"}, 500)


__all__ = ["DroppedConnection", "Hooks", "json_answer"]
