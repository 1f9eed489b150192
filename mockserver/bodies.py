"""Reading a JSON request body the way the real server does, with actionable errors."""

from __future__ import annotations

import json
from typing import Any

from flask import Request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import get_content_length

from letta_contract_kit.mockserver.errors import detail, invalid_at

JSON_TYPES = "application/json (any charset) or application/*+json"
MAX_DEPTH = 64
REPLACEMENT = "\ufffd"
# Where the body, once read, is kept for its other readers (in the WSGI environ).
BODY_KEY = "letta_mock.body"


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _as_text(value: str) -> str:
    """``value`` with each lone surrogate (an escape such as ``\\ud800`` that is no
    character) replaced by U+FFFD, as a UTF-8 decoder replaces a byte it cannot read."""
    if _is_text(value):
        return value
    return "".join(REPLACEMENT if "\ud800" <= c <= "\udfff" else c for c in value)


def without_lone_surrogates(value: Any) -> Any:
    """``value`` with lone surrogates replaced in every key and string (no recursion)."""
    if isinstance(value, str):
        return _as_text(value)
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        node, parent, slot = stack.pop()
        if isinstance(node, str):
            parent[slot] = _as_text(node)
        elif isinstance(node, dict):
            copied: dict[str, Any] = {}
            parent[slot] = copied
            for key, child in node.items():
                name = _as_text(key)
                copied[name] = None
                stack.append((child, copied, name))
        elif isinstance(node, list):
            items: list[Any] = [None] * len(node)
            parent[slot] = items
            stack.extend((child, items, i) for i, child in enumerate(node))
        else:
            parent[slot] = node
    return root[0]


def depth_of(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def declared_length(request: Request) -> int | None:
    """The body's length as its Content-Length declares it (None: chunked, or not declared),
    read from the WSGI environ as werkzeug reads ``request.content_length``, without building
    the request's view of its headers."""
    return get_content_length(request.environ)


def _read_exactly(stream: Any, length: int) -> bytes:
    """``length`` bytes of ``stream`` (a read may return fewer: it is read again)."""
    data = stream.read(length) if length > 0 else b""
    while len(data) < length:
        more = stream.read(length - len(data))
        if not more:
            raise ClientDisconnected()
        data += more
    return data


def body_bytes(request: Request) -> bytes:
    """The request's body, read once and kept: every reader of it in the mock asks here.

    A body of declared length is read from the WSGI input as PEP 3333 has it, that many bytes
    and no more (the callers refuse a length over their limit before asking); a chunked one
    through werkzeug's guarded stream, which stops at Flask's body limit (413). A body that
    ends before its declared length is a client gone (400), as werkzeug has it.
    """
    environ = request.environ
    kept: bytes | None = environ.get(BODY_KEY)
    if kept is None:
        declared = declared_length(request)
        if declared is None:
            kept = request.get_data(cache=True)
        else:
            kept = _read_exactly(environ["wsgi.input"], declared)
        environ[BODY_KEY] = kept
    return kept


def acceptable_content_type(value: str | None) -> bool:
    """No content type, application/json (with parameters) and application/*+json pass."""
    if not value:
        return True
    media = value.split(";", 1)[0].strip().lower()
    if media == "application/json":
        return True
    kind, _, subtype = media.partition("/")
    return kind == "application" and subtype.endswith("+json")


def read_json(request: Request, max_bytes: int, required: bool = True) -> Any:
    """The decoded body; raises ApiError (413 or 422) saying what to send instead.

    With ``required=False`` an empty body reads as None.
    """
    declared = declared_length(request)
    if declared is not None and declared > max_bytes:
        raise detail(413, f"The body is {declared} bytes; this server accepts at most {max_bytes}.")
    raw = body_bytes(request)
    if len(raw) > max_bytes:
        raise detail(413, f"The body is over {max_bytes} bytes, the most this server accepts.")
    if not raw.strip():
        if not required:
            return None
        raise invalid_at(["body"], "missing", "Field required: send a JSON object as the body")
    content_type = request.environ.get("CONTENT_TYPE")  # the Content-Type header, in WSGI
    if not acceptable_content_type(content_type):
        raise invalid_at(
            ["body"],
            "model_attributes_type",
            f"Content-Type {content_type!r} is not JSON: send {JSON_TYPES}",
        )
    try:
        text = raw.decode("utf-8")
        decoded = json.loads(text)
    except RecursionError:
        decoded = None
        too_deep = True
    except UnicodeDecodeError as exc:
        raise invalid_at(["body", exc.start], "json_invalid", "The body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise invalid_at(
            ["body", exc.pos], "json_invalid", f"JSON decode error: {exc.msg}"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise invalid_at(["body"], "json_invalid", f"JSON decode error: {exc}") from None
    else:
        # Nesting needs an opening bracket per level: most bodies have too few to be too deep.
        brackets = raw.count(b"[") + raw.count(b"{")
        too_deep = brackets > MAX_DEPTH and depth_of(decoded) > MAX_DEPTH
    if too_deep:
        raise invalid_at(
            ["body"], "json_too_deep", f"The JSON nests deeper than {MAX_DEPTH} levels"
        )
    # A lone surrogate can only arrive as an escape; most bodies have no "\\ud" at all.
    if b"\\ud" in raw or b"\\uD" in raw:
        return without_lone_surrogates(decoded)
    return decoded


def read_object(request: Request, max_bytes: int, required: bool = True) -> dict[str, Any] | None:
    """The body as a JSON object; with ``required=False`` an empty body reads as None."""
    body = read_json(request, max_bytes, required)
    if body is None and not required:
        return None
    if not isinstance(body, dict):
        raise invalid_at(
            ["body"],
            "model_attributes_type",
            f"Input should be a valid dictionary or object, not {type(body).__name__}",
        )
    return body


def read_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body, which must be a JSON object."""
    body = read_object(request, max_bytes, required=True)
    return body if body is not None else {}
