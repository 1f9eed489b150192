"""The prepared dispatch: the two routes clients call most, the async send and the retrieve
of a run, answered without Flask's per-request machinery.

It sits in front of the Flask app as ``app.wsgi_app`` middleware (the way Flask documents
for wrapping its WSGI app). A request it takes is one whose method and canonical path name one
of those two routes exactly; for it, the dispatch pushes only the app context (no request
context, no URL matching, no session, no signals) and calls the same functions the Flask path
calls, in the same order: the gate (tokens, faults), the route's own work (``accept_message``,
``require_run``), the error answers, the journal and the sweep. Every other request goes to
Flask, and so does every request while a feature is on that only the Flask path has (request
logging). ``tests/mock/test_prepared_dispatch.py`` holds the two paths to the same answers.

``answered_at_once`` tells waitress' loop thread which of these requests it may answer itself
(``waitress_json``): those whose path cannot wait on anything, i.e. with the memory store and
no fault to inject (a latency fault sleeps).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from flask import Flask, Request, Response
from werkzeug.exceptions import HTTPException

from letta_contract_kit.mockserver.errors import ApiError
from letta_contract_kit.mockserver.faults import FAULT_HEADER
from letta_contract_kit.mockserver.hooks import Hooks
from letta_contract_kit.mockserver.json_text import JSON_TYPE, json_text
from letta_contract_kit.mockserver.routes.agents import accept_message
from letta_contract_kit.mockserver.routes.common import require_run
from letta_contract_kit.mockserver.service import MockService
from letta_contract_kit.mockserver.store.base import StoreFailed

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# The routes' paths without a trailing slash (the canonical form: with one, Flask redirects).
SEND = re.compile(r"/v1/agents/([^/]+)/messages/async")
RUN = re.compile(r"/v1/runs/([^/]+)")


# The fault header as waitress' parser names it.
FAULT_KEY = FAULT_HEADER.upper().replace("-", "_")


class PreparedDispatch:
    """``app.wsgi_app`` for the mock: the hot routes here, the rest through ``flask_app``."""

    def __init__(self, app: Flask, flask_app: WSGIApp, svc: MockService, hooks: Hooks) -> None:
        self.app = app
        self.flask_app = flask_app
        self.svc = svc
        self.hooks = hooks

    def never_waits(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        """Whether the request is one of the two routes here and nothing on its way can wait:
        the memory store (no file, no server), no fault chosen at random or asked for."""
        cfg = self.svc.config
        if cfg.store != "memory" or cfg.fault_rate > 0 or FAULT_KEY in headers:
            return False
        if method == "POST":
            return SEND.fullmatch(path) is not None
        return method == "GET" and RUN.fullmatch(path) is not None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method != "POST" and method != "GET":
            return self.flask_app(environ, start_response)
        req: Request = self.app.request_class(environ)
        path = req.path
        if method == "POST":
            found = SEND.fullmatch(path)
            name = "agent_id"
        else:
            found = RUN.fullmatch(path)
            name = "run_id"
        if found is None:
            return self.flask_app(environ, start_response)
        value = found.group(1)
        with self.app.app_context():  # where Flask's request finds its body limit
            answer = self._answer(req, method, name, value)
        if isinstance(answer, bytes):  # the headers Flask's JSON answer has, in its order
            start_response(
                "200 OK", [("Content-Type", JSON_TYPE), ("Content-Length", str(len(answer)))]
            )
            return (answer,)
        return answer(environ, start_response)

    def _answer(self, req: Request, method: str, name: str, value: str) -> Response | bytes:
        """The route's answer: its JSON text when it succeeds (no Response object is built
        for it), else the Response of the gate or of the error."""
        hooks = self.hooks
        response: Response | bytes
        try:
            gated = hooks.gate(req)
            if gated is not None:
                response = gated
            else:
                if method == "POST":
                    answer = accept_message(self.svc, req, value)
                else:
                    answer = require_run(self.svc, value, polled=True).run
                text = json_text(answer)
                # Else the app's JSON provider answers, with the app's own Response class.
                response = cast(Response, self.app.json.response(answer)) if text is None else text
        except ApiError as error:
            response = hooks.api_error(error, {name: value})
        except StoreFailed as error:
            response = hooks.store_failed(error)
        except HTTPException as error:
            response = hooks.http_error(error, req.path)
        except Exception as error:
            response = hooks.unexpected(error, req)
        try:
            hooks.record(req, 200 if isinstance(response, bytes) else response.status_code)
        except Exception as error:
            return hooks.unexpected(error, req)
        return response


def answered_at_once(app: Flask) -> Callable[[str, str, Mapping[str, str]], bool] | None:
    """What the app's server may answer in its loop thread: the prepared dispatch's requests
    that never wait, or nothing when the app answers through Flask alone."""
    prepared = app.wsgi_app
    return prepared.never_waits if isinstance(prepared, PreparedDispatch) else None


__all__ = ["PreparedDispatch", "answered_at_once"]
