"""Bad requests for the mock, each with the answers that are right for it.

Every case is raw bytes on the wire, so nothing is normalised on the way: the request line,
every header and the body are exactly what is listed here. Wrong-type cases are generated
from the schema's fields and kept only when both readings of the schema reject them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from letta_contract_kit.mockserver.bodies import without_lone_surrogates
from letta_contract_kit.schemas.contract import fields
from letta_contract_kit.schemas.tags import with_documented_tags
from letta_contract_kit.schemas.validation import validator

AGENT = "agent-3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
UNKNOWN_AGENT = "agent-0e0e0e0e-0e0e-4e0e-8e0e-0e0e0e0e0e0e"
UNKNOWN_RUN = "run-0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"
ASYNC = f"/v1/agents/{AGENT}/messages/async"
VALID_BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "hello"}]}
MAX_BODY_BYTES = 1_048_576  # the mock's documented default for max_body_bytes

BODY_ERROR = frozenset({422})
TOO_LARGE = frozenset({413})
NOT_ALLOWED = frozenset({405})
BAD_PATH = frozenset({400, 404, 405, 422})


@dataclass(frozen=True)
class HostileRequest:
    """One request as bytes, and the statuses that would be right answers to it."""

    name: str
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    expected: frozenset[int] = BODY_ERROR
    content_length: bool = True
    extra_lines: tuple[bytes, ...] = field(default=())

    def to_bytes(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1".encode("latin-1"), b"Host: 127.0.0.1"]
        lines += [f"{k}: {v}".encode("latin-1") for k, v in self.headers]
        lines += list(self.extra_lines)
        if self.content_length:
            lines.append(f"Content-Length: {len(self.body)}".encode("latin-1"))
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


def _post(name: str, body: bytes, **kwargs: Any) -> HostileRequest:
    return HostileRequest(name, "POST", kwargs.pop("path", ASYNC), body, **kwargs)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def malformed_json() -> Iterator[HostileRequest]:
    text = json.dumps(
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "max_steps": 3,
        }
    )
    for cut in range(1, len(text), max(1, len(text) // 20)):
        prefix = text[:cut]
        try:
            json.loads(prefix)
        except ValueError:
            yield _post(f"truncated-at-{cut}", prefix.encode())
    broken = {
        "empty": b"",
        "whitespace": b"  \r\n\t ",
        "single-quotes": b"{'messages': [{'role': 'user', 'content': 'hi'}]}",
        "unquoted-keys": b'{messages: [{role: "user", content: "hi"}]}',
        "trailing-comma": b'{"messages": [{"role": "user", "content": "hi"},]}',
        "trailing-garbage": _json(VALID_BODY) + b"xyz",
        "two-documents": _json(VALID_BODY) + _json(VALID_BODY),
        "comment": b'{"messages": /* hi */ [{"role": "user", "content": "hi"}]}',
        "nan": b'{"messages": [{"role": "user", "content": "hi"}], "max_steps": NaN}',
        "infinity": b'{"messages": [{"role": "user", "content": "hi"}], "max_steps": Infinity}',
        "raw-control-char": b'{"messages": [{"role": "user", "content": "a\x01b"}]}',
        "bad-escape": b'{"messages": [{"role": "user", "content": "\\x41"}]}',
        "short-unicode-escape": b'{"messages": [{"role": "user", "content": "\\u12"}]}',
        "utf8-bom": b"\xef\xbb\xbf" + _json(VALID_BODY),
        "nul-bytes": b"\x00" * 64,
        "only-brace": b"{",
        "only-close": b"}",
        "colon-soup": b"{:::}",
        "python-literal": b"{'messages': None}",
        "xml": b"<messages><message role='user'>hi</message></messages>",
        "number-overflow-key": b'{"messages": [{"role": "user", "content": "hi"}], 1: 2}',
    }
    for name, body in broken.items():
        yield _post(f"malformed-{name}", body)
    # Valid JSON that is not an object, or is the wrong object.
    not_requests: dict[str, Any] = {
        "null": None,
        "array": [VALID_BODY],
        "string": "hello",
        "number": 42,
        "true": True,
        "empty-object": {},
        "both-input-and-messages": {**VALID_BODY, "input": "hi"},
    }
    for name, value in not_requests.items():
        yield _post(f"json-{name}", _json(value))


def invalid_utf8() -> Iterator[HostileRequest]:
    prefix, suffix = b'{"messages": [{"role": "user", "content": "', b'"}]}'
    for name, raw in {
        "lone-continuation": b"\x80",
        "ff-fe": b"\xff\xfe",
        "overlong-slash": b"\xc0\xaf",
        "truncated-euro": b"\xe2\x82",
        "encoded-surrogate": b"\xed\xa0\x80",
        "beyond-unicode": b"\xf4\x90\x80\x80",
        "latin1-e-acute": b"caf\xe9",
    }.items():
        yield _post(f"utf8-{name}", prefix + raw + suffix)
    yield _post("utf16-body", json.dumps(VALID_BODY).encode("utf-16"))
    yield _post(
        "latin1-declared-charset",
        prefix + b"caf\xe9" + suffix,
        headers=(("Content-Type", "application/json; charset=latin-1"),),
    )


def oversized() -> Iterator[HostileRequest]:
    ten_mb = 10 * 1024 * 1024
    big = _json({"messages": [{"role": "user", "content": "x" * ten_mb}]})
    yield _post("body-10mb-valid-shape", big, expected=TOO_LARGE)
    yield _post("body-10mb-garbage", b"x" * ten_mb, expected=TOO_LARGE)
    just_over = _json({"messages": [{"role": "user", "content": "y" * MAX_BODY_BYTES}]})
    yield _post("body-just-over-limit", just_over, expected=TOO_LARGE)
    chunks = b"".join(b"%x\r\n%s\r\n" % (65536, b"z" * 65536) for _ in range(160)) + b"0\r\n\r\n"
    yield _post(
        "body-10mb-chunked",
        chunks,
        headers=(("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")),
        content_length=False,
        expected=TOO_LARGE,
    )


def deep_nesting() -> Iterator[HostileRequest]:
    for depth in (1_000, 10_000, 100_000):
        yield _post(f"deep-array-top-{depth}", b"[" * depth + b"]" * depth)
        yield _post(f"deep-object-top-{depth}", b'{"a":' * depth + b"1" + b"}" * depth)
        yield _post(
            f"deep-array-in-messages-{depth}",
            b'{"messages":' + b"[" * depth + b"]" * depth + b"}",
        )
        yield _post(
            f"deep-array-in-content-{depth}",
            b'{"messages":[{"role":"user","content":' + b"[" * depth + b"]" * depth + b"}]}",
        )
    depth = 200
    yield _post(
        f"deep-object-as-max-steps-{depth}",
        b'{"messages":[{"role":"user","content":"hi"}],"max_steps":'
        + b'{"a":' * depth
        + b"1"
        + b"}" * depth
        + b"}",
    )


def huge_values() -> Iterator[HostileRequest]:
    yield _post("array-2k-ints-as-messages", _json({"messages": [1] * 2_000}))
    yield _post("array-2k-empty-messages", _json({"messages": [{}] * 2_000}))
    yield _post(
        "array-2k-bad-roles",
        _json({"messages": [{"role": "tool", "content": "hi"}] * 2_000}),
    )
    yield _post(
        "array-5k-bogus-return-types",
        _json({**VALID_BODY, "include_return_message_types": ["bogus"] * 5_000}),
    )
    yield _post("string-900k-as-max-steps", _json({**VALID_BODY, "max_steps": "9" * 900_000}))
    yield _post(
        "string-900k-as-role", _json({"messages": [{"role": "u" * 900_000, "content": "hi"}]})
    )
    yield _post(
        "integer-huge-max-steps",
        b'{"messages":[{"role":"user","content":"hi"}],"max_steps":' + b"9" * 5000 + b"}",
    )
    yield _post(
        "object-50k-keys-as-message", _json({"messages": [{f"k{i}": i for i in range(50_000)}]})
    )
    long_agent = "agent-" + "a" * 10_000
    yield _post(
        "path-agent-id-10k", _json(VALID_BODY), path=f"/v1/agents/{long_agent}/messages/async"
    )
    yield HostileRequest(
        "path-run-id-10k",
        "GET",
        "/v1/runs/run-" + "b" * 10_000,
        headers=(),
        expected=frozenset({400}),
    )


def _wrong_values() -> list[Any]:
    return [123, -1, 1.5, True, False, "x", "", "2", [], [1], ["x"], {}, {"a": 1}, None]


def wrong_types() -> Iterator[HostileRequest]:
    """Every field of the request, a message and a text part, given each value of the wrong type."""
    documented = validator("letta-async-request", "documented")
    server = validator("letta-async-request", "server")
    base = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    places: list[tuple[str, tuple[str | int, ...], tuple[str, ...]]] = [
        ("request", (), fields("letta-async-request")),
        ("message", ("messages", 0), fields("message-create")),
        ("text-part", ("messages", 0, "content", 0), fields("text-content")),
    ]
    for label, location, names in places:
        for name in names:
            for value in _wrong_values():
                body = copy.deepcopy(base)
                target: Any = body
                for step in location:
                    target = target[step]
                target[name] = value
                if label == "request" and name == "input":
                    del body["messages"]
                if documented.is_valid(body) or server.is_valid(body):
                    continue
                yield _post(f"wrong-type-{label}.{name}={json.dumps(value)}", _json(body))


# Values that break servers in valid JSON: containers where a string or a tag belongs,
# numbers past every limit, NaN, text that is not Unicode.
LOCATION_VALUES: dict[str, Any] = {
    "list": [],
    "object": {},
    "list-tag": {"type": ["text"]},
    "object-tag": {"type": {"type": "text"}},
    "int-400-digits": 10**400,
    "float-inf": float("inf"),
    "nan": float("nan"),
    "lone-surrogate": "\ud800",
    "nul": "\u0000",
}


def every_location() -> Iterator[HostileRequest]:
    """Each value of LOCATION_VALUES at every location of the documented request schema,
    kept when the mock must refuse it (neither reading accepts it as the mock reads it)."""
    # Imported here: the suite's strategies load Hypothesis' character tables, which the
    # conftest (that imports this module) must not do during pytest's start-up.
    from letta_contract_kit.contract_tests.boundaries import locations

    documented = validator("letta-async-request", "documented")
    server = validator("letta-async-request", "server")
    for where in locations():
        for label, value in LOCATION_VALUES.items():
            body = where.body(value)
            read = with_documented_tags(without_lone_surrogates(body))
            if documented.is_valid(read) or server.is_valid(read):
                continue
            raw = json.dumps(body, allow_nan=True).encode()
            yield _post(f"location-{where.label}={label}", raw)


def content_types() -> Iterator[HostileRequest]:
    body = _json(VALID_BODY)
    for media in (
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/octet-stream",
        "image/png",
        "application/jsonx",
        "json",
        "*/*",
        "application/json-patch",
    ):
        yield _post(f"content-type-{media.split(';')[0]}", body, headers=(("Content-Type", media),))
    yield _post(
        "form-encoded-body",
        b"messages=hello&role=user",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
    )
    yield _post(
        "multipart-body",
        b'--xyz\r\nContent-Disposition: form-data; name="messages"\r\n\r\nhi\r\n--xyz--\r\n',
        headers=(("Content-Type", "multipart/form-data; boundary=xyz"),),
    )


def odd_methods() -> Iterator[HostileRequest]:
    for method in ("GET", "PUT", "PATCH", "DELETE", "TRACE", "BREW", "PROPFIND"):
        yield HostileRequest(
            f"method-{method}-async", method, ASYNC, _json(VALID_BODY), expected=NOT_ALLOWED
        )
    for method in ("POST", "PUT", "PATCH"):
        yield HostileRequest(
            f"method-{method}-run",
            method,
            f"/v1/runs/{UNKNOWN_RUN}",
            _json(VALID_BODY),
            expected=NOT_ALLOWED,
        )
    yield HostileRequest("method-POST-health", "POST", "/v1/health/", b"{}", expected=NOT_ALLOWED)


def traversal() -> Iterator[HostileRequest]:
    body = _json(VALID_BODY)
    for name, agent in {
        "dotdot": "../../../../etc/passwd",
        "dotdot-encoded": "..%2f..%2f..%2fetc%2fpasswd",
        "dotdot-double-encoded": "..%252f..%252fetc%252fpasswd",
        "nul": f"{AGENT}%00",
        "agent-then-dotdot": f"{AGENT}/../{UNKNOWN_AGENT}",
        "backslashes": "..\\..\\windows\\win.ini",
        "encoded-dots": "%2e%2e%2f%2e%2e%2f",
        "unicode-dots": "%c0%ae%c0%ae%c0%af",
        "space": "agent-%20",
        "newline-encoded": f"{AGENT}%0d%0aX-Injected:%201",
    }.items():
        yield _post(
            f"traversal-agent-{name}",
            body,
            path=f"/v1/agents/{agent}/messages/async",
            expected=BAD_PATH,
        )
    for name, run in {
        "dotdot": "../../../../etc/passwd",
        "dotdot-encoded": "..%2f..%2fetc%2fpasswd",
        "nul": f"{UNKNOWN_RUN}%00",
        "run-then-dotdot": f"{UNKNOWN_RUN}/../../agents",
        "upper-case": UNKNOWN_RUN.upper(),
        "job-prefix": UNKNOWN_RUN.replace("run-", "job-"),
        "query-in-id": f"{UNKNOWN_RUN}%3Fx%3D1",
        "unknown": UNKNOWN_RUN,
    }.items():
        yield HostileRequest(
            f"traversal-run-{name}", "GET", f"/v1/runs/{run}", headers=(), expected=BAD_PATH
        )
    yield _post(
        "agent-unknown",
        body,
        path=f"/v1/agents/{UNKNOWN_AGENT}/messages/async",
        expected=frozenset({404}),
    )
    yield _post(
        "agent-upper-case",
        body,
        path=f"/v1/agents/{AGENT.upper()}/messages/async",
        expected=frozenset({422}),
    )


def header_floods() -> Iterator[HostileRequest]:
    bad_body = b"{"
    many = tuple((f"X-Flood-{i}", "v" * 40) for i in range(1_000))
    yield _post("headers-1000", bad_body, headers=(("Content-Type", "application/json"), *many))
    yield _post(
        "header-value-60kb",
        bad_body,
        headers=(("Content-Type", "application/json"), ("X-Big", "w" * 60_000)),
    )
    repeated = tuple(("Content-Type", "application/json") for _ in range(200))
    yield _post("content-type-repeated-200", bad_body, headers=repeated)
    cookies = (("Cookie", "; ".join(f"c{i}=v" for i in range(5_000))),)
    yield _post("cookie-5000", bad_body, headers=(("Content-Type", "application/json"), *cookies))


def query_oddities() -> Iterator[HostileRequest]:
    for name, query in {
        "limit-negative": "limit=-1",
        "limit-zero": "limit=0",
        "limit-word": "limit=ten",
        "limit-huge": "limit=" + "9" * 40,
        "order-sideways": "order=sideways",
        "status-bogus": "statuses=bogus",
        "active-maybe": "active=maybe",
        "stop-reason-bogus": "stop_reason=bogus",
        "before-unknown": f"before={UNKNOWN_RUN}",
    }.items():
        yield HostileRequest(
            f"query-{name}", "GET", f"/v1/runs/?{query}", headers=(), expected=frozenset({400, 422})
        )


def corpus() -> list[HostileRequest]:
    """Every case, with unique names."""
    cases = [
        *malformed_json(),
        *invalid_utf8(),
        *oversized(),
        *deep_nesting(),
        *huge_values(),
        *wrong_types(),
        *every_location(),
        *content_types(),
        *odd_methods(),
        *traversal(),
        *header_floods(),
        *query_oddities(),
    ]
    names = [case.name for case in cases]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate case names: {sorted(duplicates)}")
    return cases


# Requests that break HTTP itself, answered by the HTTP server before the application sees them.
def broken_http() -> list[HostileRequest]:
    body = _json(VALID_BODY)
    return [
        HostileRequest(
            "header-block-over-limit",
            "POST",
            ASYNC,
            body,
            headers=(
                ("Content-Type", "application/json"),
                *((f"X-H{i}", "h" * 100) for i in range(3_000)),
            ),
            expected=frozenset({400, 413, 431}),
        ),
        HostileRequest(
            "content-length-not-a-number",
            "POST",
            ASYNC,
            body,
            content_length=False,
            extra_lines=(b"Content-Length: ten",),
            expected=frozenset({400}),
        ),
        HostileRequest(
            "content-length-conflicting",
            "POST",
            ASYNC,
            body,
            content_length=False,
            extra_lines=(f"Content-Length: {len(body)}".encode(), b"Content-Length: 3"),
            expected=frozenset({400}),
        ),
        HostileRequest(
            "chunk-size-not-hex",
            "POST",
            ASYNC,
            b"zz\r\n{}\r\n0\r\n\r\n",
            headers=(("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")),
            content_length=False,
            expected=frozenset({400}),
        ),
    ]
