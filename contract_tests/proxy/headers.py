"""Which headers cross the proxy, and which are secrets that it never shows or records.

Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded, in
either direction; nor are the headers a ``Connection`` header names. Everything else is
forwarded as the client sent it and returned as the upstream answered it, credentials
included: the proxy masks them only in what it shows (findings, reports) and leaves them out
of what it records (the cassette). Every secret value it forwards is also searched for, and
replaced, in what it shows and records (an upstream that echoes a token in a body).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable

from letta_contract_kit.contract_tests.client import REDACTED
from letta_contract_kit.contract_tests.redaction import Redactor

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Set again by the HTTP client for the upstream, or handled by the proxy's own server.
NOT_FORWARDED = frozenset({"host", "content-length", "expect"})
# A header whose name holds one of these words carries a credential (as the suite reads
# ``--header`` names).
SECRET_WORDS = ("auth", "token", "key", "secret", "cookie", "password", "session")

Headers = list[tuple[str, str]]


@functools.lru_cache(maxsize=1024)  # asked of every header of every exchange
def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _connection_named(headers: Headers) -> set[str]:
    named: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(",") if token.strip())
    return named


def end_to_end(headers: Headers, *, dropped: Iterable[str] = ()) -> Headers:
    """``headers`` without the hop-by-hop ones (and without ``dropped``)."""
    skip = HOP_BY_HOP | _connection_named(headers) | {d.lower() for d in dropped}
    return [(name, value) for name, value in headers if name.lower() not in skip]


def masked(value: str) -> str:
    """A secret as it is shown: its scheme (``Bearer``) kept, the credential replaced."""
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {REDACTED}" if rest and scheme.isalpha() else REDACTED


def shown(headers: Headers) -> dict[str, str]:
    """Headers as findings and reports show them: secrets masked."""
    return {name: masked(value) if is_secret(name) else value for name, value in headers}


def recorded(headers: Headers) -> tuple[dict[str, str], list[str]]:
    """Headers as the cassette keeps them: secrets left out; and the names left out."""
    kept: dict[str, str] = {}
    left_out: list[str] = []
    for name, value in headers:
        if is_secret(name):
            left_out.append(name)
        elif name in kept:
            kept[name] = f"{kept[name]}, {value}"
        else:
            kept[name] = value
    return kept, left_out


class SecretBook:
    """Every secret value seen in a request, searched for in what is shown or recorded."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self.redactor = Redactor(())

    def learn(self, headers: Headers) -> None:
        found = set()
        for name, value in headers:
            if is_secret(name) and value:
                found.add(value)
                scheme, _, rest = value.partition(" ")
                if rest and scheme.isalpha():
                    found.add(rest.strip())
        if found - self._values:
            with self._lock:
                self._values |= found
                self.redactor = Redactor(sorted(self._values))

    def scrub_text(self, text: str) -> str:
        return self.redactor.text(text)
