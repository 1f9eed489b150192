"""``letta-mock --replay``: answering requests as a cassette recorded them.

A request is matched by its method, its path (percent-decoded, as the routes see it), its
query (its pairs, in any order) and its body (JSON compared as values: key order and spacing
do not matter; other bodies byte for byte); never by its headers. The recorded exchanges of
one such key are answered in recorded order: a GET (or HEAD, OPTIONS) answers the next
recorded answer each time and, once they are used up, the last one again, so a client that
polls a run more often than the recording did still ends on its last status; any other
method answers each recorded exchange once, and is then a miss.

A miss is answered by the mock itself (``--replay-miss mock``), or with a JSON 404 saying
what was not found and how requests are matched (``--replay-miss 404``; ``/v1/health/``,
the readiness probe, is then still the mock's). The replay runs as a hook after the mock's
own checks (the token, the trailing-slash redirects, ``--routes minimal``, faults), so those
apply to replayed answers as to the others, and replayed exchanges are journaled and logged
like the others. Where it is in the cassette is kept in this process, under a lock;
``/_mock/reset`` (``MockServer.reset``) starts the cassette again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response

from letta_contract_kit.mockserver.bodies import body_bytes, declared_length
from letta_contract_kit.mockserver.cassettes import Exchange, Recording, read
from letta_contract_kit.mockserver.json_text import JSON_TYPE
from letta_contract_kit.mockserver.paths import is_admin_route
from letta_contract_kit.mockserver.routes.common import current_request
from letta_contract_kit.mockserver.service import MockService

# Methods whose recorded answers repeat the last once used up (they change nothing).
REPEATING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Recorded answer headers not sent again: the length is the body's, the date the server's.
NOT_REPLAYED_HEADERS = frozenset({"content-length", "date"})
# Answered by the mock when the cassette has no answer, whatever --replay-miss says.
READINESS_PATHS = frozenset({"/v1/health/", "/v1/health"})
EXTENSION = "letta_mock_replay"
MATCHING = (
    "requests are matched by method, path, query (its pairs in any order) and body (JSON "
    "compared as values, other bodies byte for byte), not by headers; each recorded POST "
    "answers once, a GET repeats its last answer (docs/mock.md, Replaying a cassette)"
)

Query = tuple[tuple[str, str], ...]
Body = tuple[str, str | bytes]  # ("json", canonical text) or ("bytes", the bytes)
Key = tuple[Query, Body]


def query_key(query: str) -> Query:
    """A query string as the multiset of its pairs."""
    return tuple(sorted(parse_qsl(query, keep_blank_values=True)))


def _normalised(value: Any) -> Any:
    """``value`` with integral floats as integers (``1.0`` and ``1`` are one JSON number)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    return value


def body_key(data: bytes) -> Body:
    """A body as it is compared: JSON by value, anything else by its bytes."""
    try:
        value = json.loads(data.decode("utf-8"))
        return ("json", json.dumps(_normalised(value), sort_keys=True, separators=(",", ":")))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep, too long a number
        return ("bytes", data)


@dataclass
class _Answers:
    """The recorded exchanges of one key, and how many have been given."""

    exchanges: list[Exchange]
    repeats: bool
    given: int = 0

    def next(self) -> Exchange | None:
        if self.given < len(self.exchanges):
            self.given += 1
            return self.exchanges[self.given - 1]
        return self.exchanges[-1] if self.repeats else None


@dataclass(frozen=True)
class Taken:
    """What a request got from the cassette: an exchange, or None and how many the
    cassette holds for it (0: none; more: they are used up)."""

    exchange: Exchange | None
    recorded: int


class Replay:
    """The recorded exchanges by method and path, then by query and body, each key with its
    place in the recording. Safe to use from several threads."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self._routes: dict[tuple[str, str], dict[Key, _Answers]] = {}
        for exchange in recording.exchanges:
            keys = self._routes.setdefault((exchange.method, exchange.path), {})
            key = (query_key(exchange.query), body_key(exchange.body))
            answers = keys.get(key)
            if answers is None:
                answers = keys[key] = _Answers([], exchange.method in REPEATING_METHODS)
            answers.exchanges.append(exchange)
        self._lock = threading.Lock()

    def take(self, method: str, path: str, query: str, body: Callable[[], bytes]) -> Taken:
        """The next recorded answer to this request (``body`` is read only when the cassette
        has the method and path at all)."""
        keys = self._routes.get((method, path))
        if keys is None:
            return Taken(None, 0)
        answers = keys.get((query_key(query), body_key(body())))
        if answers is None:
            return Taken(None, 0)
        with self._lock:
            return Taken(answers.next(), len(answers.exchanges))

    def rewind(self) -> None:
        """Start the cassette again: every key answers its first recorded exchange next."""
        with self._lock:
            for keys in self._routes.values():
                for answers in keys.values():
                    answers.given = 0


def recorded_answer(exchange: Exchange) -> Response:
    """The recorded answer: its status, its bytes and its headers (but length and date)."""
    response = Response(exchange.answer, status=exchange.status)
    del response.headers["Content-Type"]  # Flask's default: only the recorded one is sent
    for name, value in exchange.headers:
        if name.lower() not in NOT_REPLAYED_HEADERS:
            response.headers.add(name, value)
    return response


def _not_in_cassette(method: str, path: str, query: str, taken: Taken, name: str) -> Response:
    target = f"{method} {path}{'?' + query if query else ''}"
    if taken.recorded:
        plural = "s are" if taken.recorded > 1 else " is"
        text = f"{target} is in the cassette {name}, but its {taken.recorded} recorded answer{plural} used up"
    else:
        text = f"{target} is not in the cassette {name}"
    body = json.dumps({"detail": f"{text} (letta-mock --replay-miss 404): {MATCHING}"})
    return Response(body, status=404, mimetype=JSON_TYPE)


def install_replay(app: Flask, service: MockService) -> Replay:
    """Answer ``app``'s requests from the cassette of ``service.config.replay`` first.

    Call it once the app's own hooks are registered: this one runs after them (the gate).
    The agents the cassette names are seeded like ``--agent`` ones (a reset keeps them), so
    that a new POST to a recorded agent creates a run.
    """
    config = service.config
    if not config.replay:
        raise ValueError("install_replay needs a config with replay set")
    recording = read(config.replay)
    replay = Replay(recording)
    agents = [agent for agent in recording.agents if agent not in config.agents]
    if agents:
        service.config = replace(config, agents=[*config.agents, *agents])
        service.seed_agents()
    app.extensions[EXTENSION] = replay
    service.on_reset(replay.rewind)  # /_mock/reset starts the cassette again
    # The hook is one of Flask's (as the request log is): create_app installs no prepared
    # dispatch of the hot routes when replay is on, since that path calls no such hook.
    answers_404 = config.replay_miss == "404"
    max_bytes = config.max_body_bytes

    @app.before_request
    def replayed() -> Response | None:
        req = current_request()
        path = req.path
        if is_admin_route(path):
            return None
        if (declared_length(req) or 0) > max_bytes:
            return None  # the mock's own 413
        query = req.query_string.decode("latin-1")
        taken = replay.take(req.method, path, query, lambda: body_bytes(req))
        if taken.exchange is not None:
            return recorded_answer(taken.exchange)
        if not answers_404 or path in READINESS_PATHS:
            return None
        return _not_in_cassette(req.method, path, query, taken, recording.name)

    return replay
