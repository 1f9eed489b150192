"""The mock's waitress server: its own error answers are JSON, broken framing is answered at
once, and slow or idle clients cannot hold it.

* Errors of the HTTP layer (bad framing, oversized headers or bodies, crashes) are answered
  ``{"detail": ...}`` (JSON), never plain text.
* A request head is checked as it arrives, so that framing waitress would wait on forever is
  refused with 400 at once: bare LF or bare CR line endings (waitress looks for CRLF CRLF
  only), control characters, bytes that do not start with an HTTP method (TLS, HTTP/2, noise),
  a request line without an HTTP/1.x version (HTTP/0.9, HTTP/2.0). An unsupported
  Transfer-Encoding is 400 (waitress says 501; the mock never answers its clients' mistakes
  with a 5xx).
* A body announced larger than ``max_body_bytes`` (by Content-Length, or by a chunk size) is
  refused with 413 on the announcement, before any of it is read.
* ``idle_timeout``: a connection that sends nothing for that long is closed; a request not
  received whole that long after its first byte is answered 408 and closed. Connections are
  limited to ``max_connections`` (and to what the open-file limit allows), far more than a
  test opens, so slow clients cannot lock the server out.
* ``at_once``: requests it names (the mock's two hot routes, when nothing on their path can
  wait) are answered by the loop thread as soon as they are read, without the hand-off to a
  worker thread and back (a condition variable, a wake-up of the loop through its trigger,
  two switches of the interpreter's lock): on one core that hand-off costs about a fifth of
  a GET. Everything else, and any request once its connection has answers it has not read
  piling up, goes to the worker threads as before, so a client that does not read, or a slow
  request, holds up a worker thread and never the loop.
* Every connection waiting to be accepted is accepted in one turn of the loop (waitress
  accepts one a turn; with the loop answering requests itself, the last of a burst of new
  connections would wait a turn per connection before it).
* waitress warns "Task queue depth is N" for every request that has to wait for a thread,
  which under load is a line on stderr per request; the mock lets one through every
  ``QUEUE_WARNING_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import re
import resource
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import (
    BadRequest,
    Error,
    RequestEntityTooLarge,
    ServerNotImplemented,
)

from letta_contract_kit.mockserver.config import MockConfig
from letta_contract_kit.mockserver.json_text import JSON_TYPE

IDENT = "letta-mock"
# Descriptors kept free of client connections: the store, logs, callbacks, the trigger.
RESERVED_FDS = 64
# Bytes of chunk framing (size lines, extensions, trailers) allowed beyond the body limit.
CHUNK_FRAMING_SLACK = 65_536
# How often idle connections and late requests are looked for (waitress's own default is
# every 30 s, with a 120 s timeout).
CLEANUP_INTERVAL = 1
# A method longer than this is no method: the bytes are not HTTP.
LONGEST_METHOD = 32

# Answers a connection may have waiting to be sent and still be served at once by the loop
# thread (waitress makes a thread wait, in write_soon, only beyond its 16 MiB watermark).
AT_ONCE_OUTBUF_LIMIT = 65_536
# Connections accepted at most each time the listening socket is ready (waitress accepts
# one): a turn of the loop lasts as long as the requests it answers itself take, so a burst
# of N new connections accepted one a turn would wait up to N turns for its first answer.
ACCEPT_BATCH = 128

# What a request's method, path and headers (waitress' parsed form: "X_LETTA_MOCK_FAULT")
# must be for the loop thread to answer it itself.
AtOnce = Callable[[str, str, Mapping[str, str]], bool]

# At most one "Task queue depth" warning in this many seconds.
QUEUE_WARNING_SECONDS = 10.0
# The longest the server waits for its worker threads to be ready (waiting for work) before
# it is handed out: a request that found none ready yet would be queued and warned about
# ("Task queue depth is 1"), which on a busy machine happened to the first request.
THREADS_READY_SECONDS = 5.0

_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r[^\n]")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb" HTTP/([0-9])\.([0-9])")
# Every byte a request head may hold: all but the control bytes of _CONTROL.
_HEAD_BYTES = bytes(b for b in range(256) if b in (9, 10, 13) or (b >= 0x20 and b != 0x7F))
_LEADING_BLANK = b" \t\r\n"
_CRLF = b"\r\n"
_END_OF_HEAD = b"\r\n\r\n"


class OnceInAWhile(logging.Filter):
    """Lets one record through every ``seconds`` (the first at once), saying so."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: float | None = None
        self.hidden = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.seconds:
            self.hidden += 1
            return False
        self._last = now
        record.msg = f"{record.msg} (such warnings: at most one every {self.seconds:g} s)"
        return True


logging.getLogger("waitress.queue").addFilter(OnceInAWhile(QUEUE_WARNING_SECONDS))


class RequestTimeout(BadRequest):
    code = 408
    reason = "Request Timeout"


def _uneven(head: bytes, end: bytes, since: int) -> bool:
    """Whether ``head`` from ``since`` may have an ``end`` (CR or LF) that is not part of a
    CRLF: True whenever it has one (and when a CRLF straddles ``since``)."""
    return head.count(end, since) != head.count(_CRLF, since)


def _line_of(head: bytes, position: int) -> int:
    return head.count(b"\n", 0, position) + 1


def _shown(data: bytes) -> str:
    return repr(data[:40])[1:]


class CheckedRequestParser(HTTPRequestParser):
    """waitress's parser, refusing broken framing as soon as it can be seen."""

    def __init__(self, adj: Any) -> None:
        super().__init__(adj)
        self.started = time.monotonic()
        self.body_limit: int = adj.mock_max_body_bytes
        self._checked = 0  # bytes of the head already looked at
        self._head_start = -1  # where the request starts, after blank lines
        self._line_checked = False

    # -- the head ---------------------------------------------------------------------

    def _head_problem(self, data: bytes) -> str | None:
        """What is wrong with the head received so far (``data``), if anything is yet."""
        end = data.find(_END_OF_HEAD)
        head = data if end < 0 else data[: end + 2]
        if self._head_start < 0:
            stripped = head.lstrip(_LEADING_BLANK)
            if not stripped:
                return None
            self._head_start = len(head) - len(stripped)
            self._checked = self._head_start
        start, since = self._head_start, self._checked
        self._checked = len(head)
        # Each kind of problem is first counted in C (a bare LF or CR makes the counts of LF
        # or CR and of CRLF differ; a control byte survives deleting every allowed byte), and
        # only a head that has one is searched for where.
        new, cr_from = max(since, start), max(since - 1, start)  # a CR may end the last check
        found = _BARE_LF.search(head, new) if _uneven(head, b"\n", new) else None
        if found:
            return (
                f"bare LF line ending at line {_line_of(head[start:], found.start() - start)} "
                "of the request head; HTTP/1.1 lines end with CRLF (\\r\\n)"
            )
        found = _BARE_CR.search(head, cr_from) if _uneven(head, b"\r", cr_from) else None
        if found:
            return (
                f"bare CR at line {_line_of(head[start:], found.start() - start)} of the "
                "request head; HTTP/1.1 lines end with CRLF (\\r\\n)"
            )
        found = _CONTROL.search(head, new) if head[new:].translate(None, _HEAD_BYTES) else None
        if found:
            return (
                f"control character {found.group()!r} at line "
                f"{_line_of(head[start:], found.start() - start)} of the request head"
            )
        if self._line_checked:
            return None
        line_end = head.find(_CRLF, start)
        line = head[start:] if line_end < 0 else head[start:line_end]
        method = line[:LONGEST_METHOD].partition(b" ")[0]
        if (method and not _TOKEN.fullmatch(method)) or (
            b" " not in line[: LONGEST_METHOD + 1] and len(line) > LONGEST_METHOD
        ):
            return f"the request does not start with an HTTP method: {_shown(line)}"
        if line_end < 0:
            return None
        self._line_checked = True
        line = line.rstrip(b" \t")  # as waitress reads it
        version = _VERSION.search(line, max(0, len(line) - 9))
        if version is None or version.end() != len(line):
            return (
                "the request line has no HTTP version (HTTP/0.9 is not served): send "
                f"'METHOD /path HTTP/1.1', not {_shown(line)}"
            )
        if version.group(1) != b"1" or version.group(2) not in (b"0", b"1"):
            shown = (version.group(1) + b"." + version.group(2)).decode()
            return f"HTTP/{shown} is not served here: send HTTP/1.1 (or HTTP/1.0)"
        return None

    def _refuse(self, error: Error) -> None:
        if not self.headers_finished:
            self.parse_header(b"GET / HTTP/1.0\r\n")  # what the error answer needs
        self.error = error
        self.completed = True
        self.connection_close = True

    # -- everything -------------------------------------------------------------------

    def received(self, data: bytes) -> int:
        if self.completed:
            return 0
        if self.body_rcv is None and not self.headers_finished:
            problem = self._head_problem(self.header_plus + data)
            if problem is not None:
                self._refuse(BadRequest(problem))
                return len(data)
        consumed = int(super().received(data))
        error = self.error
        if isinstance(error, ServerNotImplemented):
            self.error = BadRequest(
                "a Transfer-Encoding other than chunked is not supported: send the body "
                "chunked, or with a Content-Length"
            )
        elif self.headers_finished and (error is None or isinstance(error, RequestEntityTooLarge)):
            too_large = self._announced_too_large()
            if too_large is not None:  # also in place of waitress's own words for it
                self._refuse(too_large)
        return consumed

    def _announced_too_large(self) -> Error | None:
        limit = self.body_limit
        if self.chunked:
            receiver: Any = self.body_rcv
            announced = len(receiver) + max(0, int(receiver.chunk_remainder))
            if announced > limit:
                return RequestEntityTooLarge(
                    f"the chunks announce {announced} bytes; this server accepts at most {limit}"
                )
        elif self.content_length > limit:
            return RequestEntityTooLarge(
                f"the body is {self.content_length} bytes (Content-Length); this server "
                f"accepts at most {limit}"
            )
        return None


class JsonErrorTask(ErrorTask):
    """Answers waitress's own errors as ``{"detail": ...}`` instead of plain text."""

    def execute(self) -> None:
        request: Any = self.request  # the stubs do not know ``error``
        error = request.error
        body = json.dumps({"detail": f"{error.reason}: {error.body}"}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        headers: Any = self.response_headers
        headers.append(("Content-Type", JSON_TYPE))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask
    parser_class = CheckedRequestParser
    due_at_once = False  # set by the server's add_task while this channel's input is read

    def handle_read(self) -> None:
        """Read as waitress does, then answer the requests the server kept for the loop
        thread, in order (one request's end may make the next, already read, due)."""
        server: Any = self.server
        server.reading = (threading.get_ident(), self)
        try:
            super().handle_read()
            while self.due_at_once:
                self.due_at_once = False
                self.service()
        finally:
            server.reading = None

    def time_out(self, timeout: float) -> None:
        """Answer the request being received 408 (runs in the server's loop thread)."""
        me: Any = self  # the stubs do not know the channel's locks and lists
        with me.requests_lock:
            request: Any = me.request
            if request is None or me.requests or me.will_close or me.close_when_flushed:
                return
            request._refuse(
                RequestTimeout(
                    f"the request was not received whole within {timeout:g} s of its "
                    "first byte, or its client went quiet for that long"
                )
            )
            me.request = None
            me.requests.append(request)
        me.server.add_task(me)


class JsonErrorServer(TcpWSGIServer):
    channel_class = JsonErrorChannel
    at_once: AtOnce | None = None
    # (thread, channel) while the loop thread handles that channel's input.
    reading: tuple[int, Any] | None = None

    def _in_loop_reading(self) -> Any:
        """The channel whose input the calling thread is handling, if it is the loop's."""
        reading = self.reading
        if reading is None or reading[0] != threading.get_ident():
            return None
        return reading[1]

    def add_task(self, task: Any) -> None:
        """Keep a request ``at_once`` names for the loop thread, which is reading it; hand
        every other to the worker threads."""
        at_once = self.at_once
        if (
            at_once is not None
            and self._in_loop_reading() is task
            and task.total_outbufs_len < AT_ONCE_OUTBUF_LIMIT
        ):
            request = task.requests[0]
            if request.error is None and at_once(request.command, request.path, request.headers):
                task.due_at_once = True
                return
        super().add_task(task)

    def handle_accept(self) -> None:
        """Accept every connection waiting, up to ``ACCEPT_BATCH`` and the connection limit,
        not one per turn of the loop."""
        me: Any = self  # the stubs do not know the server's map of channels
        adj: Any = self.adj
        channels = me._map
        for _ in range(ACCEPT_BATCH):
            before = len(channels)
            if before >= adj.connection_limit:
                return
            super().handle_accept()
            if len(channels) == before:  # nothing was waiting (or accept failed: logged)
                return

    def pull_trigger(self) -> None:
        """Wake the loop, unless the loop itself is asking: it looks at every channel's
        output again before it next waits."""
        if self._in_loop_reading() is None:
            super().pull_trigger()

    def maintenance(self, now: float) -> None:
        """Close connections idle for ``idle_timeout``; answer 408 to a request not received
        whole ``idle_timeout`` after its first byte. (waitress's own version only closes
        idle ones, at 120 s by default.)"""
        adj: Any = self.adj
        timeout: float = adj.mock_idle_timeout
        quiet_since = now - timeout
        begun_before = time.monotonic() - timeout
        channels: Any = self.active_channels
        for channel in list(channels.values()):
            if channel.requests:  # the app is answering: its own time
                continue
            request = channel.request
            if request is None:
                if channel.last_activity < quiet_since:
                    channel.will_close = True
            elif channel.last_activity < quiet_since or request.started < begun_before:
                channel.time_out(timeout)


def await_ready_threads(dispatcher: Any, timeout: float) -> None:
    """Wait until each of ``dispatcher``'s threads waits for work, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    with dispatcher.lock:  # the threads mark themselves idle under it
        while dispatcher.active_count > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # Lets go of the lock for a millisecond (a condition nobody signals while they
            # start; no sleep, which callers' tests may have replaced).
            dispatcher.thread_exit_cv.wait(min(remaining, 0.001))


def connection_limit(wanted: int) -> int:
    """``wanted``, or fewer if the open-file limit would be reached first."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_FDS))


def create_json_server(
    app: Any, config: MockConfig, at_once: AtOnce | None = None, **adjustments: Any
) -> JsonErrorServer:
    """A started (listening) server for ``app`` on ``config.host``:``config.port``;
    ``at_once``: the requests its loop thread answers itself (None: none)."""
    adj = Adjustments(
        host=config.host,
        port=config.port,
        threads=config.threads_for("waitress"),
        ident=IDENT,
        # The mock reads no proxy header (no X-Forwarded-*, no Forwarded), so there is
        # nothing to clear: without it, waitress wraps the app in a middleware that looks
        # through every request's environ for them.
        clear_untrusted_proxy_headers=False,
        connection_limit=connection_limit(config.max_connections),
        cleanup_interval=CLEANUP_INTERVAL,
        channel_timeout=max(1, round(config.idle_timeout)),
        # The exact limits are the parser's; this one bounds the chunk framing too.
        max_request_body_size=config.max_body_bytes + CHUNK_FRAMING_SLACK,
        asyncore_use_poll=True,  # select() cannot watch descriptors numbered 1024 and up
        **adjustments,
    )
    adj_any: Any = adj
    adj_any.mock_idle_timeout = config.idle_timeout
    adj_any.mock_max_body_bytes = config.max_body_bytes
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    await_ready_threads(dispatcher, THREADS_READY_SECONDS)
    sockinfo: Any = adj.listen[0]
    server = JsonErrorServer(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo)
    server.at_once = at_once
    return server


def bound_port(server: Any) -> int:
    """The port the server listens on (the stubs do not know ``effective_port``)."""
    return int(server.effective_port)
