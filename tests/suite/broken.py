"""Deliberately broken servers: the mock's app behind a WSGI middleware that breaks one rule.

Each middleware changes one thing the way a real server might get it wrong; the suite must
catch it with the check named in ``BROKEN``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from werkzeug.serving import WSGIRequestHandler, make_server

from letta_contract_kit.mockserver import MockConfig, create_app
from letta_contract_kit.schemas import Verdict, classify
from letta_contract_kit.schemas.contract import AGENT_ID, TERMINAL_STATUSES

Environ = dict[str, Any]
WSGIApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]
RUN_ROUTE = re.compile(r"^/v1/runs/([^/]+)$")
ASYNC_ROUTE = re.compile(r"^/v1/agents/([^/]+)/messages/async$")


@dataclass
class Answer:
    """A response the middleware may change before it goes out."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        self.headers.append(("Content-Length", str(len(self.body))))


Rewrite = Callable[[Environ, Answer], None]


def _read_body(environ: Environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(length) if length else b""
    import io

    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return data


def request_json(environ: Environ) -> Any:
    data = _read_body(environ)
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def set_request_json(environ: Environ, value: Any) -> None:
    import io

    data = json.dumps(value).encode()
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))


class Middleware:
    """Calls ``before(environ)`` then the app, then ``after(environ, answer)``."""

    def __init__(
        self, app: WSGIApp, before: Callable[[Environ], Answer | None] | None, after: Rewrite | None
    ) -> None:
        self.app, self.before, self.after = app, before, after

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        early = self.before(environ) if self.before else None
        if early is None:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return lambda data: None

            chunks = self.app(environ, capture)
            try:
                body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()
            answer = Answer(int(captured["status"].split()[0]), list(captured["headers"]), body)
            if self.after:
                self.after(environ, answer)
        else:
            answer = early
        reason = {200: "OK", 201: "Created"}.get(answer.status, "Status")
        start_response(f"{answer.status} {reason}", answer.headers)
        return [answer.body]


def rewrite_runs(change: Callable[[Environ, dict[str, Any]], None]) -> Rewrite:
    """A rewrite applying ``change`` to every Run in a 200 answer."""

    def apply(environ: Environ, answer: Answer) -> None:
        body = answer.json()
        if answer.status != 200 or body is None:
            return
        for run in body if isinstance(body, list) else [body]:
            if isinstance(run, dict) and isinstance(run.get("id"), str) and "status" in run:
                change(environ, run)
        answer.set_json(body)

    return apply


def is_get_run(environ: Environ) -> bool:
    return environ["REQUEST_METHOD"] == "GET" and bool(RUN_ROUTE.match(environ["PATH_INFO"]))


def is_async_post(environ: Environ) -> bool:
    return environ["REQUEST_METHOD"] == "POST" and bool(ASYNC_ROUTE.match(environ["PATH_INFO"]))


def json_answer(status: int, value: Any, kind: str = "application/json") -> Answer:
    body = json.dumps(value).encode()
    return Answer(status, [("Content-Type", kind), ("Content-Length", str(len(body)))], body)


# ---- the breaks ------------------------------------------------------------------------------


def drop_field(app: WSGIApp) -> WSGIApp:
    """Runs come back without `background`."""
    return Middleware(app, None, rewrite_runs(lambda env, run: run.pop("background", None)))


def naive_timestamps(app: WSGIApp) -> WSGIApp:
    """created_at loses its timezone designator."""

    def change(env: Environ, run: dict[str, Any]) -> None:
        if isinstance(run.get("created_at"), str):
            run["created_at"] = run["created_at"].replace("Z", "").replace("+00:00", "")

    return Middleware(app, None, rewrite_runs(change))


def _real_agent_path(environ: Environ, agent_id: str) -> None:
    match = ASYNC_ROUTE.match(environ["PATH_INFO"])
    if match:
        environ["PATH_INFO"] = f"/v1/agents/{agent_id}/messages/async"


def accepts_malformed_agent_id(agent_id: str) -> Callable[[WSGIApp], WSGIApp]:
    """A malformed agent id is served as if it were the real agent (200)."""

    def wrap(app: WSGIApp) -> WSGIApp:
        def before(environ: Environ) -> Answer | None:
            match = ASYNC_ROUTE.match(environ["PATH_INFO"])
            if match and not AGENT_ID.fullmatch(match.group(1)):
                _real_agent_path(environ, agent_id)
            return None

        return Middleware(app, before, None)

    return wrap


def accepts_unknown_agent(agent_id: str) -> Callable[[WSGIApp], WSGIApp]:
    """A well-formed but unknown agent id is served as the real agent (200 and a run)."""

    def wrap(app: WSGIApp) -> WSGIApp:
        def before(environ: Environ) -> Answer | None:
            match = ASYNC_ROUTE.match(environ["PATH_INFO"])
            if match and AGENT_ID.fullmatch(match.group(1)) and match.group(1) != agent_id:
                _real_agent_path(environ, agent_id)
            return None

        return Middleware(app, before, None)

    return wrap


def server_error_on_reasoning_part(app: WSGIApp) -> WSGIApp:
    """A `reasoning` content part crashes the server (500)."""

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ) and '"type": "reasoning"' in json.dumps(request_json(environ)):
            return json_answer(500, {"detail": "An unknown error occurred"})
        return None

    return Middleware(app, before, None)


def created_201(app: WSGIApp) -> WSGIApp:
    """A new run is answered 201 instead of 200."""

    def after(environ: Environ, answer: Answer) -> None:
        if is_async_post(environ) and answer.status == 200:
            answer.status = 201

    return Middleware(app, None, after)


def status_goes_back(app: WSGIApp) -> WSGIApp:
    """Once a run was shown terminal, the next poll shows it `running` again."""
    shown: dict[str, int] = {}

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if not is_get_run(environ) or run.get("status") not in TERMINAL_STATUSES:
            return
        count = shown[run["id"]] = shown.get(run["id"], 0) + 1
        if count == 2:
            run.update(status="running", completed_at=None, stop_reason=None)

    return Middleware(app, None, rewrite_runs(change))


def completed_at_while_created(app: WSGIApp) -> WSGIApp:
    """A run not yet ended already carries completed_at."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("status") not in TERMINAL_STATUSES:
            run["completed_at"] = run.get("created_at")

    return Middleware(app, None, rewrite_runs(change))


def unknown_stop_reason(app: WSGIApp) -> WSGIApp:
    """Runs end with a stop_reason no documentation lists."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("stop_reason") == "end_turn":
            run["stop_reason"] = "finished"

    return Middleware(app, None, rewrite_runs(change))


def never_finishes(app: WSGIApp) -> WSGIApp:
    """Runs stay `running` for ever."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("status") in TERMINAL_STATUSES:
            run.update(status="running", completed_at=None, stop_reason=None)

    return Middleware(app, None, rewrite_runs(change))


def _v1(run_id: str) -> str:
    head, rest = run_id.split("-", 1)
    groups = rest.split("-")
    groups[2] = "1" + groups[2][1:]
    return "-".join([head, *groups])


def run_ids_not_uuid4(app: WSGIApp) -> WSGIApp:
    """Run ids are version-1 UUIDs (the server maps them back on its routes)."""
    back: dict[str, str] = {}

    def before(environ: Environ) -> Answer | None:
        match = RUN_ROUTE.match(environ["PATH_INFO"])
        if match and match.group(1) in back:
            environ["PATH_INFO"] = f"/v1/runs/{back[match.group(1)]}"
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        environ["QUERY_STRING"] = urlencode([(k, back.get(v, v)) for k, v in pairs])
        if environ["PATH_INFO"].endswith("/messages/cancel"):
            body = request_json(environ)
            if isinstance(body, dict) and isinstance(body.get("run_ids"), list):
                body["run_ids"] = [back.get(r, r) for r in body["run_ids"]]
                set_request_json(environ, body)
        return None

    def change(environ: Environ, run: dict[str, Any]) -> None:
        fake = _v1(run["id"])
        back[fake] = run["id"]
        run["id"] = fake

    def after(environ: Environ, answer: Answer) -> None:
        rewrite_runs(change)(environ, answer)
        body = answer.json()
        if environ["PATH_INFO"].endswith("/messages/cancel") and isinstance(body, dict):
            answer.set_json({_v1(k) if k.startswith("run-") else k: v for k, v in body.items()})

    return Middleware(app, before, after)


def cancel_does_not_stick(app: WSGIApp) -> WSGIApp:
    """A cancelled run is later shown `completed` (the work finished anyway)."""
    polls: dict[str, int] = {}

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if is_get_run(environ) and run.get("status") == "cancelled":
            polls[run["id"]] = polls.get(run["id"], 0) + 1
            if polls[run["id"]] > 1:
                run.update(status="completed", stop_reason="end_turn")

    return Middleware(app, None, rewrite_runs(change))


def refuses_image_content(app: WSGIApp) -> WSGIApp:
    """A valid ImageContent part is refused with 422."""

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ) and '"type": "image"' in json.dumps(request_json(environ)):
            return json_answer(
                422,
                {
                    "detail": [
                        {"loc": ["body"], "msg": "images are not supported", "type": "value_error"}
                    ]
                },
            )
        return None

    return Middleware(app, before, None)


def listing_disagrees(app: WSGIApp) -> WSGIApp:
    """GET /v1/runs/ reports `background: false` where retrieve says true."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if environ["PATH_INFO"].rstrip("/") == "/v1/runs":
            run["background"] = False

    return Middleware(app, None, rewrite_runs(change))


def html_errors(app: WSGIApp) -> WSGIApp:
    """422 answers come back as text/html."""

    def after(environ: Environ, answer: Answer) -> None:
        if answer.status == 422:
            answer.body = b"<html><body>Unprocessable</body></html>"
            answer.headers = [
                ("Content-Type", "text/html"),
                ("Content-Length", str(len(answer.body))),
            ]

    return Middleware(app, None, after)


def malformed_run_id_404(app: WSGIApp) -> WSGIApp:
    """A malformed run id is answered 404 instead of 400."""

    def after(environ: Environ, answer: Answer) -> None:
        if is_get_run(environ) and answer.status == 400:
            answer.status = 404

    return Middleware(app, None, after)


def invalid_body_400(app: WSGIApp) -> WSGIApp:
    """An invalid body is answered 400 instead of 422."""

    def after(environ: Environ, answer: Answer) -> None:
        match = ASYNC_ROUTE.match(environ["PATH_INFO"])
        if match and AGENT_ID.fullmatch(match.group(1)) and answer.status == 422:
            answer.status = 400

    return Middleware(app, None, after)


def error_body_unshaped(app: WSGIApp) -> WSGIApp:
    """404 answers carry `{"error": ...}` instead of `{"detail": ...}`."""

    def after(environ: Environ, answer: Answer) -> None:
        if answer.status == 404:
            answer.set_json({"error": "not found"})

    return Middleware(app, None, after)


def negative_duration(app: WSGIApp) -> WSGIApp:
    """Ended runs report a negative total_duration_ns."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("status") in TERMINAL_STATUSES:
            run["total_duration_ns"] = -1500

    return Middleware(app, None, rewrite_runs(change))


def completed_before_created(app: WSGIApp) -> WSGIApp:
    """completed_at is an hour before created_at."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if isinstance(run.get("completed_at"), str):
            run["completed_at"] = "2000-01-01T00:00:00Z"

    return Middleware(app, None, rewrite_runs(change))


def wrong_agent_echo(app: WSGIApp) -> WSGIApp:
    """The run names another agent than the one in the path."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        run["agent_id"] = "agent-00000000-0000-4000-8000-000000000000"

    return Middleware(app, None, rewrite_runs(change))


def callback_not_recorded(app: WSGIApp) -> WSGIApp:
    """The callback is sent, but the run never shows callback_sent_at/status_code."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        run.update(callback_sent_at=None, callback_status_code=None)

    return Middleware(app, None, rewrite_runs(change))


def request_config_not_echoed(app: WSGIApp) -> WSGIApp:
    """request_config always shows the defaults, whatever was sent."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        config = run.get("request_config")
        if isinstance(config, dict):
            config["include_return_message_types"] = None

    return Middleware(app, None, rewrite_runs(change))


def drop_agent_id(app: WSGIApp) -> WSGIApp:
    """Runs come back without `agent_id`, which every version documents as always there."""
    return Middleware(app, None, rewrite_runs(lambda env, run: run.pop("agent_id", None)))


def _without_query(environ: Environ, name: str) -> None:
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    environ["QUERY_STRING"] = urlencode([(k, v) for k, v in pairs if k != name])


def _query(environ: Environ, name: str) -> str | None:
    for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        if key == name:
            return value
    return None


def _is_listing(environ: Environ) -> bool:
    return environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] in ("/v1/runs/", "/v1/runs")


def listing_ignores(name: str) -> Callable[[WSGIApp], WSGIApp]:
    """GET /v1/runs/ drops the query parameter ``name`` before answering."""

    def wrap(app: WSGIApp) -> WSGIApp:
        def before(environ: Environ) -> Answer | None:
            if _is_listing(environ):
                _without_query(environ, name)
            return None

        return Middleware(app, before, None)

    return wrap


def listing_asc_is_desc(app: WSGIApp) -> WSGIApp:
    """`order=asc` lists newest first, like `desc`."""

    def before(environ: Environ) -> Answer | None:
        if _is_listing(environ) and _query(environ, "order") == "asc":
            _without_query(environ, "order")
        return None

    return Middleware(app, before, None)


def listing_limit_off_by_one(app: WSGIApp) -> WSGIApp:
    """`limit=N` lists N + 1 runs."""

    def before(environ: Environ) -> Answer | None:
        limit = _query(environ, "limit") if _is_listing(environ) else None
        if limit is not None and limit.isdigit():
            _without_query(environ, "limit")
            environ["QUERY_STRING"] += f"&limit={int(limit) + 1}"
        return None

    return Middleware(app, before, None)


def cancel_answers_a_list(app: WSGIApp) -> WSGIApp:
    """The cancel answers a JSON list of the ids instead of an object."""

    def after(environ: Environ, answer: Answer) -> None:
        body = answer.json()
        if environ["PATH_INFO"].endswith("/messages/cancel") and isinstance(body, dict):
            answer.set_json(list(body))

    return Middleware(app, None, after)


def bare_cancel_reaches_every_agent(app: WSGIApp) -> WSGIApp:
    """A cancel without run_ids cancels the active runs of every agent, not only its own."""
    created: list[str] = []

    def before(environ: Environ) -> Answer | None:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith(
            "/messages/cancel"
        ):
            body = request_json(environ)
            if not isinstance(body, dict) or not body.get("run_ids"):
                set_request_json(environ, {"run_ids": list(created)})
        return None

    def after(environ: Environ, answer: Answer) -> None:
        body = answer.json()
        if is_async_post(environ) and answer.status == 200 and isinstance(body, dict):
            created.append(str(body["id"]))

    return Middleware(app, before, after)


def cancel_reopens_an_ended_run(app: WSGIApp) -> WSGIApp:
    """A cancel of a run that already completed turns it `cancelled`."""
    ended: set[str] = set()
    reopened: set[str] = set()

    def before(environ: Environ) -> Answer | None:
        if environ["PATH_INFO"].endswith("/messages/cancel"):
            body = request_json(environ)
            ids = body.get("run_ids") if isinstance(body, dict) else None
            reopened.update(r for r in ids or [] if r in ended)
        return None

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("status") == "completed":
            ended.add(run["id"])
        if run["id"] in reopened:
            run.update(status="cancelled", stop_reason="cancelled")

    return Middleware(app, before, rewrite_runs(change))


def _posted_text(environ: Environ) -> str:
    return _read_body(environ).decode("utf-8", "replace")


def server_error_on_nul(app: WSGIApp) -> WSGIApp:
    """A NUL character anywhere in a body crashes the server (500)."""

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ) and "\\u0000" in _posted_text(environ):
            return json_answer(500, {"detail": "An unknown error occurred"})
        return None

    return Middleware(app, before, None)


def refuses_empty_strings(app: WSGIApp) -> WSGIApp:
    """An empty string in any field of a valid body is refused with 422."""

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ) and '""' in _posted_text(environ):
            problem = {"loc": ["body"], "msg": "empty strings are not allowed", "type": "too_short"}
            return json_answer(422, {"detail": [problem]})
        return None

    return Middleware(app, before, None)


def accepts_malformed_json(app: WSGIApp) -> WSGIApp:
    """A body that is not JSON is read as a plain text message (200 and a run)."""

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ):
            text = _posted_text(environ)
            try:
                json.loads(text)
            except ValueError:
                set_request_json(environ, {"input": text or "(empty)", "max_steps": 1})
        return None

    return Middleware(app, before, None)


def refuses_a_charset(app: WSGIApp) -> WSGIApp:
    """`Content-Type: application/json; charset=utf-8` is refused with 415."""

    def before(environ: Environ) -> Answer | None:
        if is_async_post(environ) and "charset" in environ.get("CONTENT_TYPE", "").lower():
            return json_answer(415, {"detail": "Unsupported Media Type"})
        return None

    return Middleware(app, before, None)


def unshaped_422_body(app: WSGIApp) -> WSGIApp:
    """422 answers carry `{"error": ...}` instead of the documented `detail` list."""

    def after(environ: Environ, answer: Answer) -> None:
        if answer.status == 422:
            answer.set_json({"error": "validation failed"})

    return Middleware(app, None, after)


def callback_status_code_wrong(app: WSGIApp) -> WSGIApp:
    """callback_status_code says 500 where the receiver answered 200."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        if run.get("callback_status_code") is not None:
            run["callback_status_code"] = 500

    return Middleware(app, None, rewrite_runs(change))


# ---- servers that differ from the real one where the documentation lets them -------------


def runs_without_nulls(app: WSGIApp) -> WSGIApp:
    """Runs leave out every field that is null (the documentation marks them optional)."""

    def change(environ: Environ, run: dict[str, Any]) -> None:
        for key in [k for k, v in run.items() if v is None]:
            del run[key]

    return Middleware(app, None, rewrite_runs(change))


def text_404(app: WSGIApp) -> WSGIApp:
    """404 answers are `text/plain` "Not Found" (the documentation describes no 404 body)."""

    def after(environ: Environ, answer: Answer) -> None:
        if answer.status == 404:
            answer.body = b"Not Found"
            answer.headers = [("Content-Type", "text/plain"), ("Content-Length", "9")]

    return Middleware(app, None, after)


def listing_oldest_first_by_default(app: WSGIApp) -> WSGIApp:
    """Without `order`, the listing is oldest first (the documentation gives no default)."""

    def before(environ: Environ) -> Answer | None:
        if _is_listing(environ) and _query(environ, "order") is None:
            environ["QUERY_STRING"] += "&order=asc"
        return None

    return Middleware(app, before, None)


def no_listing_no_cancel(app: WSGIApp) -> WSGIApp:
    """A gateway that exposes only the async POST and GET /v1/runs/{run_id}."""

    def before(environ: Environ) -> Answer | None:
        path = environ["PATH_INFO"]
        if _is_listing(environ) or path.endswith("/messages/cancel"):
            return json_answer(404, {"detail": "Not Found"})
        return None

    return Middleware(app, before, None)


def documentation_literal(app: WSGIApp) -> WSGIApp:
    """Accepts what the documentation accepts and the real server refuses (`{}`, both input
    and messages, untyped items, nulls): such a body is run as a plain message."""

    def before(environ: Environ) -> Answer | None:
        if not is_async_post(environ):
            return None
        body = request_json(environ)
        if body is None:
            return None
        verdict = classify("letta-async-request", body).verdict
        if verdict is Verdict.DOCUMENTED_ONLY:
            set_request_json(environ, {"input": "(a body only the documentation accepts)"})
        return None

    return Middleware(app, before, None)


@dataclass(frozen=True)
class Broken:
    name: str
    make: Callable[[str], Callable[[WSGIApp], WSGIApp]]
    check: str
    options: dict[str, Any] = field(default_factory=dict)


def _plain(wrap: Callable[[WSGIApp], WSGIApp]) -> Callable[[str], Callable[[WSGIApp], WSGIApp]]:
    return lambda agent_id: wrap


BROKEN: tuple[Broken, ...] = (
    Broken("drops agent_id", _plain(drop_agent_id), "run_shape_conformance"),
    Broken("naive timestamps", _plain(naive_timestamps), "run_shape_conformance"),
    Broken("200 for a malformed agent id", accepts_malformed_agent_id, "status_code_conformance"),
    Broken("500 on a reasoning part", _plain(server_error_on_reasoning_part), "not_a_server_error"),
    Broken("201 instead of 200", _plain(created_201), "status_code_conformance"),
    Broken("status goes backwards", _plain(status_goes_back), "status_moves_forward"),
    Broken(
        "completed_at while created",
        _plain(completed_at_while_created),
        "terminal_fields_consistent",
    ),
    Broken("unknown stop_reason", _plain(unknown_stop_reason), "response_enum_values"),
    Broken(
        "runs never finish",
        _plain(never_finishes),
        "run_reaches_terminal",
        {"run_deadline": 1.5, "poll_interval": 0.05},
    ),
    Broken("cancel does not stick", _plain(cancel_does_not_stick), "cancel_sticks"),
    Broken("422 for a valid ImageContent", _plain(refuses_image_content), "union_members_accepted"),
    Broken(
        "listing disagrees with retrieve", _plain(listing_disagrees), "retrieve_matches_listing"
    ),
    Broken("HTML error bodies", _plain(html_errors), "content_type_conformance"),
    Broken("400 for an invalid body", _plain(invalid_body_400), "status_code_conformance"),
    Broken("unshaped 422 body", _plain(unshaped_422_body), "error_shape_conformance"),
    Broken("negative duration", _plain(negative_duration), "durations_consistent"),
    Broken("completed before created", _plain(completed_before_created), "timestamps_ordered"),
    Broken("agent_id not echoed", _plain(wrong_agent_echo), "run_shape_conformance"),
    Broken(
        "callback_status_code wrong",
        _plain(callback_status_code_wrong),
        "callback_delivered",
        {"run_deadline": 2.0},
    ),
    Broken("request_config not echoed", _plain(request_config_not_echoed), "run_shape_conformance"),
    # the kinds of check the coverage, listing and cancel phases brought
    Broken("listing ignores agent_id", _plain(listing_ignores("agent_id")), "listing_conformance"),
    Broken("listing ignores statuses", _plain(listing_ignores("statuses")), "listing_conformance"),
    Broken(
        "listing ignores stop_reason", _plain(listing_ignores("stop_reason")), "listing_conformance"
    ),
    Broken(
        "listing ignores conversation_id",
        _plain(listing_ignores("conversation_id")),
        "listing_conformance",
    ),
    Broken("listing ignores after", _plain(listing_ignores("after")), "listing_conformance"),
    Broken("listing ignores active", _plain(listing_ignores("active")), "listing_conformance"),
    Broken("order=asc lists newest first", _plain(listing_asc_is_desc), "listing_conformance"),
    Broken("limit off by one", _plain(listing_limit_off_by_one), "listing_conformance"),
    Broken("cancel answers a list", _plain(cancel_answers_a_list), "cancel_conformance"),
    Broken(
        "a bare cancel reaches other agents",
        _plain(bare_cancel_reaches_every_agent),
        "cancel_sticks",
    ),
    Broken("cancel reopens an ended run", _plain(cancel_reopens_an_ended_run), "cancel_sticks"),
    Broken("500 on a NUL character", _plain(server_error_on_nul), "not_a_server_error"),
    Broken("422 for an empty string", _plain(refuses_empty_strings), "status_code_conformance"),
    Broken("malformed JSON accepted", _plain(accepts_malformed_json), "status_code_conformance"),
    Broken("415 for a charset", _plain(refuses_a_charset), "status_code_conformance"),
)


@dataclass(frozen=True)
class Legit:
    """A server that differs from the real one only where the documentation lets it: the
    suite must report no violation against it (divergences and skips are fine)."""

    name: str
    make: Callable[[str], Callable[[WSGIApp], WSGIApp]] | None
    config: dict[str, Any] = field(default_factory=dict)


# Quirks of letta-0.16.8 that break a documentation fact (they are real departures, reported
# as violations against the real server too); the rest of that profile must pass.
DOCUMENTED_DEPARTURES = (
    "naive-completed-at",
    "string-422-detail",
    "union-tag-required",
    "cancel-overwritten-by-completion",
)

LEGIT: tuple[Legit, ...] = (
    Legit("the mock's default profile", None),
    Legit(
        "letta-0.16.8 without its documented departures",
        None,
        {"profile": "letta-0.16.8", "no_quirks": list(DOCUMENTED_DEPARTURES)},
    ),
    Legit("minimal routes", None, {"routes": "minimal"}),
    Legit("404 for a malformed run id", _plain(malformed_run_id_404)),
    Legit("agents created on first use (200 for an unknown agent)", None, {"auto_agents": True}),
    Legit("run ids that are not uuid4", _plain(run_ids_not_uuid4)),
    Legit("unshaped 404 bodies", _plain(error_body_unshaped)),
    Legit("text/plain 404 bodies", _plain(text_404)),
    Legit("callbacks not recorded on the run", _plain(callback_not_recorded)),
    Legit("runs without their null fields", _plain(runs_without_nulls)),
    Legit("listing oldest first by default", _plain(listing_oldest_first_by_default)),
    Legit("no listing and no cancel route", _plain(no_listing_no_cancel)),
    Legit("documentation-literal bodies accepted", _plain(documentation_literal)),
)


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@contextmanager
def serve(wrap: Callable[[WSGIApp], WSGIApp] | None, agent_id: str, **config: Any) -> Iterator[str]:
    """The mock's app (per-poll clock), wrapped, on a free loopback port; yields its URL."""
    app: WSGIApp = create_app(MockConfig(clock="per-poll", agents=[agent_id], **config))
    with serve_wsgi(wrap(app) if wrap else app) as url:
        yield url


@contextmanager
def serve_wsgi(app: WSGIApp) -> Iterator[str]:
    """``app`` on a free loopback port, a thread for each request; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
