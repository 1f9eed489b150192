"""The connections to the upstream: one aiohttp client session, bound to its origin.

Nothing of the environment is used (no proxy variable, no ``.netrc``; certificates are
checked against certifi's bundle, not one named by the environment), no cookie is kept, no
redirect followed, nothing retried but a request the upstream hung up on unanswered (below),
and nothing is added to what the client sent but ``Host`` and ``Content-Length`` (not
aiohttp's ``User-Agent``, ``Accept``, ``Accept-Encoding`` or ``Content-Type``). The target
goes out as the upstream reading gave it, not re-quoted.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import AsyncIterator

import aiohttp
import certifi
from multidict import CIMultiDict
from yarl import URL

from letta_contract_kit.contract_tests.client import connection_reason
from letta_contract_kit.contract_tests.proxy.headers import Headers
from letta_contract_kit.contract_tests.proxy.upstream import Upstream

TIMEOUT = (10.0, 300.0)  # connect, read (seconds: each read of the answer) per upstream request
# A pooled upstream connection idle for longer is not reused: servers close idle ones (uvicorn,
# Letta's, after 5 s; the mock after 10 s), and one closed while a request is on its way fails.
IDLE_REUSE_SECONDS = 2.0
# Sent once more, on a new connection, when the upstream closed the connection without
# answering (a connection it had just closed as idle); never a POST or PATCH.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
NOT_ADDED = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
MAX_ANSWER_LINE_BYTES = 65_536  # a status line, or one header, of the upstream's answer


class Unreachable(Exception):
    """No connection to the upstream, or it hung up without answering (a 502)."""


class NoAnswer(Exception):
    """Connected, but the upstream sent nothing within the read timeout (a 504)."""


class Forwarder:
    """Sends requests on; made and closed inside the proxy's event loop."""

    def __init__(self, upstream: Upstream, connections: int) -> None:
        tls = ssl.create_default_context(cafile=certifi.where())
        self.upstream = upstream
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=connections,
                keepalive_timeout=IDLE_REUSE_SECONDS,
                ssl=tls if upstream.scheme == "https" else False,
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=TIMEOUT[0], sock_read=TIMEOUT[1]
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=NOT_ADDED,
            max_line_size=MAX_ANSWER_LINE_BYTES,
            max_field_size=MAX_ANSWER_LINE_BYTES,
        )

    async def send(
        self, method: str, target: str, headers: Headers, body: bytes | AsyncIterator[bytes]
    ) -> aiohttp.ClientResponse:
        """Send one request; the answer is returned with its body unread. A body that is
        streamed (an iterator) is sent as it comes, with the ``Content-Length`` in
        ``headers`` if there is one (else chunked), and never sent twice.

        Raises Unreachable, NoAnswer, or ValueError (a header aiohttp will not send)."""
        url = URL(self.upstream.origin + target, encoded=True)
        again = isinstance(body, bytes) and method.upper() in IDEMPOTENT
        for attempt in (1, 2):
            try:
                return await self.session.request(
                    method,
                    url,
                    headers=CIMultiDict(headers),
                    data=body or None,
                    allow_redirects=False,
                )
            except aiohttp.SocketTimeoutError as exc:
                raise NoAnswer(str(exc)) from exc
            except (aiohttp.ClientError, OSError) as exc:
                if attempt == 2 or not again or not closed_unanswered(exc):
                    raise Unreachable(reason(exc)) from exc
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.session.close()


def closed_unanswered(exc: BaseException) -> bool:
    """Whether the upstream hung up on a request it had not answered (as on one it had just
    closed as idle), rather than refused or broke a connection."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return True
    return (
        isinstance(exc, aiohttp.ClientOSError)
        and not isinstance(exc, aiohttp.ClientConnectorError)
        and exc.errno in (errno.ECONNRESET, errno.EPIPE)
    )


def reason(exc: BaseException) -> str:
    """Why the upstream could not be reached, in a few words."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the upstream closed the connection without answering"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"no connection within {TIMEOUT[0]:g} s"
    os_error = getattr(exc, "os_error", None)  # aiohttp's ClientConnectorError wraps it
    return connection_reason(os_error if isinstance(os_error, OSError) else exc)
