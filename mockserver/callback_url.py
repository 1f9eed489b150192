"""The callback guard: whether a run's ``callback_url`` may be called, judged as the HTTP client
will connect.

A guard that parses a URL one way while the client parses it another can be walked around:
``http://0.0.0.0:9\\@127.0.0.1/`` is host ``127.0.0.1`` to :func:`urllib.parse.urlsplit` and
``0.0.0.0`` to urllib3, which ends the authority at the backslash. So the guard

* refuses outright what parsers are known to read differently: backslashes, whitespace,
  control characters, and anything outside ASCII (an IDN host must be
  sent in its ``xn--`` form);
* parses with both :func:`urllib.parse.urlsplit` and urllib3's ``parse_url`` (the parser
  requests and urllib3 pick the connection's host and port with) and refuses the URL unless
  both read the same scheme, host and port;
* judges that host against the allowed ones.

:class:`CallbackTarget` carries the host and port judged; the dispatcher connects only if the
request it prepares still names them (``still_names``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}
# Characters no parser may be allowed to read its own way.
_AMBIGUOUS = {"\\": "a backslash"}


@dataclass(frozen=True)
class CallbackTarget:
    """Where a callback goes: the URL to send, and the host and port it connects to."""

    url: str
    scheme: str
    host: str
    port: int

    def still_names(self, url: str) -> bool:
        """Whether ``url`` (as prepared by the HTTP client) connects to the same place."""
        read = _urllib3_reading(url)
        return read is not None and read == (self.scheme, self.host, self.port)


class Refused(Exception):
    """The URL is not called; the message says why."""


def _character_problem(url: str) -> str | None:
    for position, char in enumerate(url):
        if char in _AMBIGUOUS:
            what = _AMBIGUOUS[char]
        elif char.isspace():
            what = "whitespace"
        elif char.isascii() and not char.isprintable():
            what = "a control character"
        elif not char.isascii():
            what = "a character outside ASCII (send an IDN host in its xn-- form)"
        else:
            continue
        return f"the URL has {what} ({char!r}) at position {position}"
    return None


def _urlsplit_reading(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port  # raises ValueError for a port out of range or not a number
    host = (parts.hostname or "").lower()
    return scheme, host, port if port is not None else SCHEMES.get(scheme, -1)


def _urllib3_reading(url: str) -> tuple[str, str, int] | None:
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError):
        return None
    scheme = (parts.scheme or "").lower()
    host = (parts.host or "").lower().strip("[]")
    port = parts.port if parts.port is not None else SCHEMES.get(scheme, -1)
    return scheme, host, port


def _is_allowed(host: str, allowed: set[str]) -> bool:
    if "*" in allowed or host in allowed:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback and "loopback" in allowed


def judge(url: str, allowed_hosts: Iterable[str]) -> CallbackTarget:
    """The target of ``url`` if it may be called; :class:`Refused` (saying why) if not.
    ``*`` in ``allowed_hosts`` allows every host, ``loopback`` every loopback address."""
    try:
        by_urlsplit = _urlsplit_reading(url)
    except ValueError as exc:
        raise Refused(f"the URL cannot be parsed: {exc}") from None
    scheme, host, port = by_urlsplit
    if scheme not in SCHEMES:
        raise Refused("Request URL is missing an 'http://' or 'https://' protocol.")
    problem = _character_problem(url)
    if problem is not None:
        raise Refused(problem)
    if not host:
        raise Refused("Request URL has no host.")
    by_urllib3 = _urllib3_reading(url)
    if by_urllib3 is None:
        raise Refused("the URL cannot be parsed by the HTTP client")
    if by_urllib3 != by_urlsplit:
        raise Refused(
            f"the URL reads as host {by_urlsplit[1]!r} port {by_urlsplit[2]} to one parser and "
            f"as host {by_urllib3[1]!r} port {by_urllib3[2]} to another; it is not called"
        )
    allowed = {name.lower().strip("[]") for name in allowed_hosts}
    if not _is_allowed(host, allowed):
        raise Refused(
            f"host {host!r} is not an allowed callback host ({', '.join(sorted(allowed))}); "
            "allow it with --callback-host"
        )
    return CallbackTarget(url=url, scheme=scheme, host=host, port=port)


def host_allowed(url: str, allowed: Iterable[str]) -> tuple[bool, str]:
    """Whether ``url`` may be called, and why not (:func:`judge` as a pair)."""
    try:
        judge(url, allowed)
    except Refused as refusal:
        return False, str(refusal)
    return True, ""
