"""The upstream: the one origin (and path prefix) the proxy forwards to, fixed at start.

As the mock's callback guard does for callback URLs, the URL of each forwarded request is
read back by an HTTP client's parser (urllib3's, the one ``requests`` uses) and must name that
origin, so no request target can make the proxy connect elsewhere (an open proxy); only
origin-form targets (``/path?query``) are forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

SCHEMES = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Upstream:
    """Where requests go: a scheme, host and port both URL parsers agree on, and a prefix."""

    base: str
    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Upstream:
        """The upstream of ``url``; ValueError saying why it cannot be one."""
        if any(c.isspace() or c == "\\" or not c.isprintable() for c in url):
            raise ValueError(f"the upstream URL {url!r} has whitespace, a backslash or a control")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES or not parts.hostname:
            raise ValueError(f"the upstream URL {url!r} is not http(s)://host[:port][/prefix]")
        if parts.username is not None or parts.query or parts.fragment:
            raise ValueError(
                f"the upstream URL {url!r} may not carry credentials, a query or a fragment"
            )
        port = parts.port or SCHEMES[scheme]
        reading = _reading(url)
        if reading != (scheme, parts.hostname.lower(), port):
            raise ValueError(f"the upstream URL {url!r} reads differently to the HTTP client")
        prefix = parts.path.rstrip("/")
        return cls(
            f"{scheme}://{parts.netloc}{prefix}", scheme, parts.hostname.lower(), port, prefix
        )

    @property
    def origin(self) -> str:
        return self.base[: len(self.base) - len(self.prefix)]

    def target_for(self, target: str) -> str | None:
        """What the request line sends upstream for the origin-form ``target``: the URL
        ``base + target`` as urllib3's parser reads it back, or None when that reading leaves
        the upstream's origin or its prefix (``..`` segments are resolved by the reading)."""
        parts = _parsed(self.base + target)
        if parts is None or _reading_of(parts) != (self.scheme, self.host, self.port):
            return None
        path = parts.path or "/"
        if self.prefix and path != self.prefix and not path.startswith(self.prefix + "/"):
            return None
        return str(parts.request_uri)


def _parsed(url: str) -> Url | None:
    try:
        return parse_url(url)
    except (LocationParseError, ValueError):
        return None


def _reading_of(parts: Url) -> tuple[str, str, int]:
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower().strip("[]"), parts.port or SCHEMES.get(scheme, -1)


def _reading(url: str) -> tuple[str, str, int] | None:
    parts = _parsed(url)
    return None if parts is None else _reading_of(parts)
