"""The proxy's own HTTP layer: its answers of its own, its limits on what a client sends, and
aiohttp's server with its errors answered as JSON.

Every answer the proxy gives itself, rather than forwards, is ``{"detail": ...}`` (JSON) and
says what is wrong: a request aiohttp's parser refuses (broken framing, an oversized head),
a body the proxy judges over ``MAX_REQUEST_BYTES`` (413, on its announcement when it is
announced), a body that stops arriving for ``BODY_IDLE_SECONDS`` (408), as well as the
400/502/504 of :mod:`.server`. A client's mistake is not logged: it is answered. Bodies of
routes outside the contract are not held: they are streamed on as they arrive.
"""

from __future__ import annotations

import asyncio
import http
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDict

from letta_contract_kit.contract_tests.proxy.headers import Headers

MAX_HEAD_LINE_BYTES = 65_536  # a request line, or one header, of a client's request
CLIENT_IDLE_SECONDS = 75.0  # a client's keep-alive connection idle this long is closed
MAX_REQUEST_BYTES = 64 * 1024 * 1024  # a request body the proxy holds to judge it
BODY_IDLE_SECONDS = 120.0  # a body that sends nothing for this long is answered 408
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def own_answer(detail: str) -> tuple[bytes, Headers]:
    """The body and headers of an answer of the proxy's own."""
    data = json.dumps({"detail": detail}).encode()
    return data, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]


def own_response(status: int, detail: str) -> web.Response:
    data, headers = own_answer(detail)
    return web.Response(status=status, body=data, headers=CIMultiDict(headers[:1]))


class Refused(Exception):
    """A request body the proxy does not take: the status and the detail of its answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def read_body(request: web.BaseRequest) -> bytes:
    """The request's body, whole (a body the proxy judges); Refused (413, 408, 400) when it
    is too long, stops coming or is cut short. ``Expect: 100-continue`` is answered once the
    announced length is within the limit."""
    announced = request.content_length
    if announced is not None and announced > MAX_REQUEST_BYTES:
        raise Refused(413, f"the request body of {announced} bytes is over {_limit()}")
    await _continue(request)
    chunks: list[bytes] = []
    size = 0
    async for chunk in _arriving(request):
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise Refused(413, f"the request body is over {_limit()}")
        chunks.append(chunk)
    return b"".join(chunks)


class StreamedBody:
    """A request body sent on as it arrives, with no limit: its first ``keep`` bytes are kept
    (for the cassette), and ``refused`` says why it stopped, if it did (408, 400)."""

    def __init__(self, request: web.BaseRequest, keep: int) -> None:
        self.request = request
        self.keep = keep
        self.kept = bytearray()
        self.refused: Refused | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        await _continue(self.request)
        try:
            async for chunk in _arriving(self.request):
                if len(self.kept) < self.keep:
                    self.kept.extend(chunk[: self.keep - len(self.kept)])
                yield chunk
        except Refused as exc:
            self.refused = exc
            raise


async def _continue(request: web.BaseRequest) -> None:
    if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
        await request.writer.write(CONTINUE)


async def _arriving(request: web.BaseRequest) -> AsyncIterator[bytes]:
    """The body's chunks as they come; Refused when it stops coming or is cut short."""
    while True:
        try:
            async with asyncio.timeout(BODY_IDLE_SECONDS):
                chunk = await request.content.readany()
        except TimeoutError:
            raise Refused(
                408, f"the request body stopped arriving (nothing for {BODY_IDLE_SECONDS:g} s)"
            ) from None
        except HttpProcessingError as exc:  # broken chunked framing, found as it comes
            raise Refused(400, f"the request body's framing is broken: {_said(exc)}") from exc
        except OSError as exc:
            raise Refused(400, f"the request body was cut short: {exc}") from exc
        if not chunk:
            return
        yield chunk


def _limit() -> str:
    return f"the proxy's limit of {MAX_REQUEST_BYTES // 2**20} MiB"


def _said(exc: HttpProcessingError) -> str:
    """aiohttp's parser message on one line: what is wrong, and the bytes where."""
    lines = (line.strip() for line in str(exc.message).splitlines())
    return " ".join(line for line in lines if line and set(line) != {"^"}).rstrip(":")


class _JsonErrors(web.RequestHandler):
    """aiohttp's connection handler, its own errors answered as JSON (a 4xx not logged)."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had begun: the connection is closed instead")
        if status >= 500:  # the proxy's own defect: logged, and answered as one
            self.log_exception("the proxy failed on a request", exc_info=exc)
            detail = "the proxy failed on this request (a defect of the proxy's; please report it)"
        else:
            said = _said(exc) if isinstance(exc, HttpProcessingError) else message or ""
            detail = f"{http.HTTPStatus(status).phrase}: {said}".rstrip(": ")
        response = own_response(status, detail)
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    """aiohttp's low-level server, each connection handled by :class:`_JsonErrors`."""

    def __init__(self, handler: Any, **handler_options: Any) -> None:
        super().__init__(handler, **handler_options)
        self._handler_options = handler_options  # RequestHandler's: timeouts, limits, logs

    def __call__(self) -> web.RequestHandler:
        return _JsonErrors(self, loop=asyncio.get_running_loop(), **self._handler_options)
