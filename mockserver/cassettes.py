"""Reading a cassette (what ``letta-contract proxy --record`` wrote) into recorded exchanges.

Each line must be a line of ``schemas/cassette-line.json`` of a version this reader knows;
the first that is not stops the reading with its number and why (``CassetteError``, a
ValueError, so that the mock refuses to start with one line). What cannot be replayed is set
aside, with the reason: exchanges the proxy answered itself, those whose request or answer
was kept cut (``truncated``), and requests of the mock's own ``/_mock`` routes.

The exchanges are put in the order the proxy numbered them (``seq``), not in the order of the
lines (a line is written when its answer ends). A file the proxy appended to in several runs
numbers each run from 1 again: a ``seq`` already seen starts the next run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from letta_contract_kit.mockserver.paths import is_admin_route
from letta_contract_kit.schemas.cassette import KIND, LINE_SCHEMA, VERSION
from letta_contract_kit.schemas.contract import AGENT_ID
from letta_contract_kit.schemas.validation import validator

# Why an exchange is not replayed, as the start-up note says it.
ANSWERED_BY_PROXY = "answered by the proxy itself"
TRUNCATED = "with a body kept cut (truncated)"
ADMIN_ROUTE = "of the mock's own /_mock routes"
# Line numbers a note names for one reason, at most.
NOTED_LINES = 5
# Characters of a wrong value an error message quotes, at most.
SHOWN_CHARS = 80
# Readings kept, by file content: the config's check and the app read the same file.
CACHED = 4


class CassetteError(ValueError):
    """A cassette that cannot be replayed: the file, the line and why, on one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split("\n")))


@dataclass(frozen=True)
class Exchange:
    """One recorded request and the answer it got."""

    line: int
    method: str
    path: str  # percent-decoded, as the mock's routes see it
    query: str  # as sent, without the "?"
    body: bytes  # the request's
    status: int
    headers: tuple[tuple[str, str], ...]  # the answer's, as recorded
    answer: bytes
    run_id: str | None


@dataclass(frozen=True)
class SetAside:
    """A recorded exchange that is not replayed, and why."""

    line: int
    why: str


@dataclass(frozen=True)
class Recording:
    """A cassette read: its replayable exchanges in recorded order, and what was set aside."""

    name: str
    exchanges: tuple[Exchange, ...]
    set_aside: tuple[SetAside, ...]
    agents: tuple[str, ...]  # the agent ids the recorded requests name, in first-seen order

    def summary(self) -> str:
        """The note the mock prints at start."""
        count = len(self.exchanges)
        text = f"replaying {self.name}: {count} exchange{'' if count == 1 else 's'}"
        if not self.set_aside:
            return text
        reasons: dict[str, list[int]] = {}
        for item in self.set_aside:
            reasons.setdefault(item.why, []).append(item.line)
        parts = []
        for why, lines in reasons.items():
            shown = ", ".join(str(n) for n in lines[:NOTED_LINES])
            more = ", …" if len(lines) > NOTED_LINES else ""
            label = "line" if len(lines) == 1 else "lines"
            parts.append(f"{len(lines)} {why} ({label} {shown}{more})")
        return f"{text}; not replayed: {'; '.join(parts)}"


def _body(value: Any, where: str) -> tuple[bytes, bool]:
    """The bytes of a recorded body (already checked against cassette-body), and whether
    they were kept cut."""
    if value is None:
        return b"", False
    cut = bool(value.get("truncated"))
    if "text" in value:
        try:
            return str(value["text"]).encode("utf-8"), cut
        except UnicodeEncodeError:
            raise ValueError(f"{where}/text: holds a lone surrogate, not UTF-8 text") from None
    try:
        return base64.b64decode(str(value["base64"]), validate=True), cut
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}/base64: is not base64") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _entry(text: str) -> dict[str, Any]:
    """One line as a checked cassette line; ValueError saying what is wrong with it."""
    try:
        entry = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise ValueError("not JSON this reader can take: nested too deeply") from None
    except ValueError as exc:  # NaN, Infinity; an integer of more digits than Python reads
        raise ValueError(f"not JSON this reader can take: {exc}") from None
    if isinstance(entry, dict):
        version = entry.get("version", VERSION)
        if isinstance(version, bool) or version != VERSION:
            raise ValueError(
                f"version {_shown(version)} is not one this mock reads "
                f"(it reads version {VERSION} of the {KIND})"
            )
        if "cassette" in entry and entry["cassette"] != KIND:
            raise ValueError(
                f"not a line of a {KIND} (its cassette is {_shown(entry['cassette'])})"
            )
    problems = validator(LINE_SCHEMA).problems(entry, limit=1)
    if problems:
        raise ValueError(f"does not follow schemas/{LINE_SCHEMA}.json: {problems[0]}")
    return dict(entry)


def _agents_named(path: str, query: str) -> Iterator[str]:
    for segment in path.split("/"):
        if AGENT_ID.match(segment):
            yield segment
    for _, value in parse_qsl(query, keep_blank_values=True):
        if AGENT_ID.match(value):
            yield value


def _lines(data: bytes) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"line {number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                f"{exc.start + 1})"
            ) from None
        if text.strip():
            yield number, text


def parse(data: bytes, name: str) -> Recording:
    """The recording in ``data`` (a cassette's bytes); CassetteError naming the line."""
    ordered: list[tuple[tuple[int, int], Exchange]] = []
    set_aside: list[tuple[tuple[int, int], SetAside]] = []
    agents: dict[str, None] = {}
    run, seen = 0, set[int]()
    try:
        for number, text in _lines(data):
            try:
                entry = _entry(text)
                request, response = entry["request"], entry["response"]
                body, body_cut = _body(request["body"], "request/body")
                answer, answer_cut = _body(response["body"], "response/body")
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
            seq: int = entry["seq"]
            if seq in seen:  # the proxy was started again on the same file
                run, seen = run + 1, set()
            seen.add(seq)
            order = (run, seq)
            path, query = unquote(entry["path"]), entry["query"]
            why = None
            if response["answered_by"] == "proxy":
                why = ANSWERED_BY_PROXY
            elif body_cut or answer_cut:
                why = TRUNCATED
            elif is_admin_route(path):
                why = ADMIN_ROUTE
            if why is not None:
                set_aside.append((order, SetAside(number, why)))
                continue
            agents.update(dict.fromkeys(_agents_named(path, query)))
            exchange = Exchange(
                line=number,
                method=entry["method"],
                path=path,
                query=query,
                body=body,
                status=response["status"],
                headers=tuple(response["headers"].items()),
                answer=answer,
                run_id=entry["run_id"],
            )
            ordered.append((order, exchange))
    except ValueError as exc:
        raise CassetteError(f"{name} {exc}") from None
    ordered.sort(key=lambda pair: pair[0])
    set_aside.sort(key=lambda pair: pair[0])
    return Recording(
        name=name,
        exchanges=tuple(exchange for _, exchange in ordered),
        set_aside=tuple(item for _, item in set_aside),
        agents=tuple(agents),
    )


_cache: dict[tuple[str, bytes], Recording] = {}
_cache_lock = threading.Lock()


def read(path: str | Path) -> Recording:
    """The recording in the file at ``path``; CassetteError saying why it cannot be one."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CassetteError(
            f"cannot read the cassette {name}: {exc.strerror or exc}; "
            "record one with letta-contract proxy --record FILE"
        ) from None
    key = (name, hashlib.blake2b(data, digest_size=16).digest())
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    recording = parse(data, name)
    with _cache_lock:
        if len(_cache) >= CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = recording
    return recording


def problem(path: str | Path) -> str | None:
    """Why the cassette at ``path`` cannot be replayed, or None."""
    try:
        read(path)
    except CassetteError as exc:
        return str(exc)
    return None
