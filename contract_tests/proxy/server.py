"""The forwarding server: a WSGI app that sends every request on to the upstream and gives
back its answer unchanged, judging the contract's exchanges on the way.

The upstream's origin is fixed when the proxy starts. As the mock's callback guard does for
callback URLs, the URL of each forwarded request is read back by the HTTP client's own parser
(urllib3's) and must name that origin, so no request target can make the proxy connect
elsewhere (an open proxy); only origin-form targets (``/path?query``) are forwarded.
"""

from __future__ import annotations

import contextlib
import http
import http.client
import json
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

import certifi
from urllib3 import BaseHTTPResponse, HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.exceptions import ConnectTimeoutError, HTTPError, LocationParseError, ProtocolError
from urllib3.exceptions import TimeoutError as UpstreamTimeout
from urllib3.util import SKIP_HEADER, Url, parse_url
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.trigger import trigger

from letta_contract_kit.contract_tests.client import connection_reason
from letta_contract_kit.contract_tests.events import Event, Listener, SuiteResult
from letta_contract_kit.contract_tests.proxy import cassette
from letta_contract_kit.contract_tests.proxy.background import Job, JudgingQueue
from letta_contract_kit.contract_tests.proxy.cassette import Cassette
from letta_contract_kit.contract_tests.proxy.headers import (
    NOT_FORWARDED,
    Headers,
    SecretBook,
    end_to_end,
    shown,
)
from letta_contract_kit.contract_tests.proxy.judge import Traffic, TrafficJudge
from letta_contract_kit.contract_tests.proxy.log import ProxyLog
from letta_contract_kit.contract_tests.proxy.observed import route_of

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8299
VIOLATION_HEADER = "X-Letta-Contract-Violation"
# Threads that carry exchanges: each holds one for as long as the upstream takes to answer,
# so they are the exchanges in flight at once (a real server takes 0.1-0.2 s over the async
# POST); further requests wait for a free one.
DEFAULT_THREADS = 64
TIMEOUT = (10.0, 300.0)  # connect, read (seconds) for each upstream request
MAX_JUDGED_BYTES = 4 * 1024 * 1024  # a longer answer is passed through, not judged
CHUNK = 65_536
# A pooled upstream connection idle for longer is not reused: servers close idle ones (uvicorn,
# Letta's, after 5 s; the mock after 10 s), and one closed while a request is on its way fails.
IDLE_REUSE_SECONDS = 2.0
# Sent once more, on a new connection, when the upstream closed the connection without
# answering (a connection it had just closed as idle); never a POST or PATCH.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
CLOSED_UNANSWERED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
SCHEMES = {"http": 80, "https": 443}
Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class ProxyConfig:
    upstream: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    report: str | None = None
    junit_xml: str | None = None
    fail_on_violation: bool = False
    record: str | None = None
    judge_inline: bool = False  # judge before answering (always so with fail_on_violation)
    fail_on_client: bool = False  # exit 1 also for requests the contract rejects
    threads: int = DEFAULT_THREADS  # exchanges in flight at once (and upstream connections)

    @property
    def inline(self) -> bool:
        """Whether each answer waits for its judgement."""
        return self.judge_inline or self.fail_on_violation


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


def _fresh(conn: BaseHTTPConnection) -> BaseHTTPConnection:
    """``conn``, closed first (so that it connects again) if it was idle too long."""
    idle_since = getattr(conn, "letta_idle_since", None)
    if idle_since is not None and time.monotonic() - idle_since > IDLE_REUSE_SECONDS:
        conn.close()
    return conn


def _stamped(conn: BaseHTTPConnection | None) -> BaseHTTPConnection | None:
    if conn is not None:
        setattr(conn, "letta_idle_since", time.monotonic())  # noqa: B010 - not an attribute of its type
    return conn


class _Pool(HTTPConnectionPool):
    """A pool that does not reuse a connection idle over ``IDLE_REUSE_SECONDS``."""

    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        return _fresh(super()._get_conn(timeout))

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        super()._put_conn(_stamped(conn))


class _TlsPool(_Pool, HTTPSConnectionPool):
    """The same, over TLS (HTTPSConnectionPool's connections, _Pool's reuse)."""


def _closed_unanswered(exc: ProtocolError) -> bool:
    return any(isinstance(arg, CLOSED_UNANSWERED) for arg in exc.args)


class Forwarder:
    """The connections to the upstream: one urllib3 pool, bound to its scheme, host and port.

    Nothing of the environment is used (no proxy variable, no ``.netrc``; certificates are
    checked against certifi's bundle, not one named by the environment), no cookie is kept,
    no redirect followed, nothing retried, and nothing is added to what the client sent but
    ``Host`` and ``Content-Length`` (not urllib3's ``User-Agent``, not http.client's
    ``Accept-Encoding: identity``)."""

    def __init__(self, upstream: Upstream, size: int) -> None:
        timeout = Timeout(connect=TIMEOUT[0], read=TIMEOUT[1])
        where = (upstream.host, upstream.port)
        shared: dict[str, Any] = {
            "maxsize": size,
            "block": False,
            "retries": False,
            "timeout": timeout,
        }
        self.pool: HTTPConnectionPool
        if upstream.scheme == "https":
            self.pool = _TlsPool(
                *where, **shared, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where()
            )
        else:
            self.pool = _Pool(*where, **shared)

    def send(self, method: str, target: str, headers: Headers, body: bytes) -> BaseHTTPResponse:
        """Send one request; the answer is returned unread. urllib3's errors are raised."""
        sent: dict[str, str] = dict(headers)
        names = {name.lower() for name in sent}
        for added in ("User-Agent", "Accept-Encoding"):
            if added.lower() not in names:
                sent[added] = SKIP_HEADER
        for attempt in (1, 2):
            try:
                return self.pool.urlopen(
                    method,
                    target,
                    body=body or None,
                    headers=sent,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,
                )
            except ProtocolError as exc:
                if attempt == 2 or method.upper() not in IDEMPOTENT or not _closed_unanswered(exc):
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.pool.close()


def _request_headers(environ: Environ) -> Headers:
    headers: Headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").title(), value))
        elif key == "CONTENT_TYPE" and value:
            headers.append(("Content-Type", value))
    return headers


def _decoded(data: bytes, headers: Headers) -> str | None:
    """The body as text for judging (gzip and deflate undone); None if it cannot be read."""
    encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "").lower()
    try:
        if encoding == "gzip":
            data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            data = zlib.decompress(data)
        elif encoding not in ("", "identity"):
            return None
    except zlib.error:
        return None
    return data.decode("utf-8", errors="replace")


def _read_at_most(raw: BaseHTTPResponse, limit: int) -> bytes:
    """Up to ``limit`` bytes of the answer as sent: at once when its length is announced and
    within the limit, else a chunk at a time (one read of ``limit`` bytes would allocate them
    all, for every answer)."""
    announced = raw.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) < limit and "Transfer-Encoding" not in raw.headers:
        return raw.read(decode_content=False)
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = raw.read(min(CHUNK, limit - size), decode_content=False)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _own_answer(detail: str) -> tuple[bytes, Headers]:
    """The body and headers of an answer of the proxy's own (400, 502, 504)."""
    data = json.dumps({"detail": detail}).encode()
    return data, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]


def _status_line(status: int, reason: str | None) -> str:
    if not reason:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
    return f"{status} {reason}"


@dataclass(frozen=True)
class Forwarded:
    """One exchange as the request thread saw it: what the cassette records and, for the
    contract's routes, what is judged."""

    seq: int
    when: datetime
    started: float
    method: str
    raw_path: str
    query: str
    url: str
    headers: Headers
    body: bytes

    def size(self, answer: bytes) -> int:
        return len(self.body) + len(answer)


class ForwardingApp:
    """The WSGI app: forward, answer, and judge and record (before answering, or in the
    background judge's thread)."""

    def __init__(
        self,
        config: ProxyConfig,
        judge: TrafficJudge,
        log: ProxyLog,
        secrets: SecretBook,
        recorder: Cassette | None = None,
    ) -> None:
        self.config = config
        self.upstream = Upstream.parse(config.upstream)
        self.judge = judge
        self.log = log
        self.secrets = secrets
        self.recorder = recorder
        self.forwarder = Forwarder(self.upstream, config.threads)
        self.queue = None if config.inline else JudgingQueue(self._judging_failed)
        self._unreachable_said = False

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        when = datetime.now(UTC)
        method = environ["REQUEST_METHOD"]
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        raw_path, _, query = target.partition("?")
        headers = _request_headers(environ)
        self.secrets.learn(headers)
        forward = end_to_end(headers, dropped=NOT_FORWARDED)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        seq = self.judge.next_seq()
        origin_form = target.startswith("/") and "#" not in target
        sent = self.upstream.target_for(target) if origin_form else None
        url = self.upstream.origin + (sent or "")
        seen = Forwarded(seq, when, started, method, raw_path, query, url, forward, body)

        def own(status: int, detail: str) -> Iterable[bytes]:
            data, answer = _own_answer(detail)
            elapsed = time.monotonic() - started
            self._later(
                lambda: self._record(seen, status, answer, data, elapsed, None, "proxy"),
                seen.size(data),
            )
            start_response(_status_line(status, None), answer)
            return [data]

        if not origin_form:
            return own(
                400, f"the proxy forwards origin-form targets (/path?query) only: {target!r}"
            )
        if sent is None:
            return own(400, f"the target {target!r} does not stay on the upstream")
        try:
            raw = self.forwarder.send(method, sent, forward, body)
        except ConnectTimeoutError as exc:  # no connection (refused, or not within 10 s)
            return self._unreachable(own, exc)
        except UpstreamTimeout:  # connected, but no answer within the read timeout
            return own(504, f"upstream {self.upstream.base} did not answer within {TIMEOUT[1]:g} s")
        except (HTTPError, OSError) as exc:
            return self._unreachable(own, exc)
        except ValueError as exc:  # http.client refuses to send it (a header value, ...)
            return own(400, f"the proxy cannot forward this request: {exc}")
        returned = end_to_end(list(raw.headers.items()))
        status = raw.status
        status_line = _status_line(status, raw.reason)
        path = unquote(raw_path)

        def passed_through(first: bytes = b"") -> Iterator[bytes]:
            start_response(status_line, returned)
            return self._streamed(raw, seen, status, returned, start_response, first=first)

        if route_of(method, path) is None:
            return passed_through()
        try:
            data = _read_at_most(raw, MAX_JUDGED_BYTES + 1)
        except Exception as exc:  # the upstream broke off
            raw.close()
            raw.release_conn()
            reason = connection_reason(exc)
            return own(502, f"upstream {self.upstream.base} broke off its answer: {reason}")
        elapsed = time.monotonic() - started
        if len(data) > MAX_JUDGED_BYTES:
            self.log.line(f"info: #{seq} {method} {raw_path}: answer over 4 MiB, not judged")
            return passed_through(first=data)
        raw.release_conn()
        if self.queue is None:
            rule_ids = self._judge(seen, path, status, returned, data, elapsed)
            if self.config.fail_on_violation and rule_ids:
                answer = [*returned, (VIOLATION_HEADER, ", ".join(rule_ids))]
                start_response(status_line, answer)
                return [data]
        else:
            self._later(
                lambda: self._judge(seen, path, status, returned, data, elapsed), seen.size(data)
            )
        start_response(status_line, returned)
        return [data]

    def _later(self, job: Job, size: int) -> None:
        """Run ``job`` (a judgement, a recording) in the background judge's thread, after
        everything queued before it, so the cassette keeps the order answers ended; judging
        inline, here."""
        if self.queue is None:
            job()
        else:
            self.queue.submit(job, size)

    def _unreachable(
        self, own: Callable[[int, str], Iterable[bytes]], exc: BaseException
    ) -> Iterable[bytes]:
        reason = connection_reason(exc)
        if not self._unreachable_said:
            self._unreachable_said = True
            self.log.line(f"error: cannot reach upstream {self.upstream.base}: {reason}")
        return own(502, f"cannot reach upstream {self.upstream.base}: {reason}")

    def _judge(
        self,
        seen: Forwarded,
        path: str,
        status: int,
        returned: Headers,
        data: bytes,
        elapsed: float,
    ) -> list[str]:
        """Judge one exchange of the contract's routes, log it and record it; the ids of the
        rules it violates. A judgement that raises is a notice, and the exchange is recorded
        all the same."""
        text = _decoded(data, returned)
        rule_ids: list[str] = []
        run_id = None
        if text is not None:
            try:
                run_id, rule_ids = self._judged(seen, path, status, returned, text, elapsed)
            except Exception as exc:  # a broken judgement must not break the answer
                self._judging_failed(exc, seen)
        self._record(seen, status, returned, data, elapsed, run_id)
        return rule_ids

    def _judged(
        self,
        seen: Forwarded,
        path: str,
        status: int,
        returned: Headers,
        text: str,
        elapsed: float,
    ) -> tuple[str | None, list[str]]:
        traffic = Traffic(
            seq=seen.seq,
            method=seen.method,
            path=path,
            url=seen.url,
            query=tuple(parse_qsl(seen.query, keep_blank_values=True)),
            headers=shown(seen.headers),
            body=seen.body,
            status=status,
            response_headers=dict(returned),
            response_text=text,
            started=seen.started,
            elapsed=elapsed,
        )
        judgement = self.judge.judge(traffic)
        self.log.judged(judgement, f"{seen.method} {seen.raw_path}", status)
        return judgement.run_id, judgement.rule_ids

    def _judging_failed(self, exc: BaseException, seen: Forwarded | None = None) -> None:
        which = f"exchange #{seen.seq} ({seen.method} {seen.raw_path})" if seen else "an exchange"
        self.judge.notice(f"judging or recording {which} failed: {exc!r}", "warning")

    def _streamed(
        self,
        raw: BaseHTTPResponse,
        seen: Forwarded,
        status: int,
        returned: Headers,
        start_response: StartResponse,
        first: bytes = b"",
    ) -> Iterator[bytes]:
        """The answer as it comes (not judged), recorded up to the cassette's limit. An
        upstream that breaks off before the first byte of its body is answered 502 by the
        proxy (nothing has gone out yet: not the server's 500); after it, the connection to
        the client is closed mid-answer, as the upstream's was."""
        kept = bytearray(first[: cassette.MAX_BODY_BYTES])
        complete = True
        sent = False  # a byte was handed to the server: the status line is out
        broke: Exception | None = None
        try:
            if first:
                sent = True
                yield first
            for chunk in raw.stream(CHUNK, decode_content=False):
                if len(kept) <= cassette.MAX_BODY_BYTES:
                    kept.extend(chunk[: cassette.MAX_BODY_BYTES + 1 - len(kept)])
                sent = sent or bool(chunk)
                yield chunk
        except Exception as exc:
            complete = False
            if sent:
                raise
            broke = exc
        except BaseException:  # the client went away (GeneratorExit)
            complete = False
            raise
        finally:
            if not complete:
                raw.close()  # the connection is in the middle of an answer: not reused
            raw.release_conn()
            elapsed = time.monotonic() - seen.started
            if broke is None:
                shown = bytes(kept)
                self._later(
                    lambda: self._record(
                        seen, status, returned, shown, elapsed, None, complete=complete
                    ),
                    seen.size(shown),
                )
        if broke is not None:
            data, answer = _own_answer(
                f"upstream {self.upstream.base} broke off its answer: {connection_reason(broke)}"
            )
            self._later(
                lambda: self._record(seen, 502, answer, data, elapsed, None, "proxy"),
                seen.size(data),
            )
            start_response(
                _status_line(502, None), answer, (type(broke), broke, broke.__traceback__)
            )
            yield data

    def _record(
        self,
        seen: Forwarded,
        status: int,
        returned: Headers,
        data: bytes | None,
        elapsed: float,
        run_id: str | None,
        answered_by: str = "upstream",
        complete: bool = True,
    ) -> None:
        if self.recorder is None:
            return
        self.recorder.write(
            cassette.line(
                seq=seen.seq,
                at=seen.when,
                method=seen.method,
                path=seen.raw_path,
                query=seen.query,
                request_headers=seen.headers,
                request_body=seen.body,
                status=status,
                response_headers=returned,
                response_body=data,
                elapsed=elapsed,
                run_id=run_id,
                answered_by=answered_by,
                complete=complete,
            )
        )

    def drain(self) -> None:
        """Judge what waits to be judged (once no request comes any more)."""
        if self.queue is not None:
            self.queue.close()
            if self.queue.waited:
                self.log.line(
                    f"info: {self.queue.waited} answer(s) waited for the judge "
                    f"(more than {self.queue.max_jobs} exchanges, or "
                    f"{self.queue.max_bytes // 2**20} MiB, were waiting to be judged)"
                )

    def close(self) -> None:
        self.drain()
        self.forwarder.close()


class ProxyServer:
    """The proxy on a real socket, in a thread; ``stop()`` judges the runs once more, writes
    the reports and returns the result.

    >>> with ProxyServer(ProxyConfig(upstream=mock.base_url, port=0)) as proxy:
    ...     client = Letta(base_url=proxy.base_url, api_key="...")
    >>> proxy.result.violations
    """

    def __init__(
        self,
        config: ProxyConfig,
        listeners: Sequence[Listener] = (),
        stream: TextIO | None = None,
    ) -> None:
        from letta_contract_kit.contract_tests.reporting import JsonReporter, JUnitReporter

        Upstream.parse(config.upstream)  # ValueError before anything starts
        if config.threads < 1:
            raise ValueError(f"the proxy needs at least 1 thread, not {config.threads}")
        self.config = config
        self.secrets = SecretBook()
        self.log = ProxyLog(stream, scrub=self.secrets.scrub_text)
        reporters: list[Listener] = [self.log, *listeners]
        if config.report:
            reporters.append(JsonReporter(config.report))
        if config.junit_xml:
            reporters.append(JUnitReporter(config.junit_xml))
        self._listeners = reporters
        self.judge = TrafficJudge(config.upstream, self._emit, lambda: self.secrets.redactor)
        self.judge.warm_up()
        self.recorder = Cassette(config.record, self.secrets) if config.record else None
        self.app = ForwardingApp(config, self.judge, self.log, self.secrets, self.recorder)
        self.result: SuiteResult | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _emit(self, event: Event) -> None:
        shown_event = self.secrets.redactor.scrub(event)
        for listener in self._listeners:
            listener(shown_event)

    def start(self) -> ProxyServer:
        self._server = create_server(
            self.app,
            host=self.config.host,
            port=self.config.port,
            threads=self.config.threads,
            ident="letta-contract-proxy",
            # Whole seconds: waitress reads it with int(), so a fraction is 0 and its loop
            # would never sleep (a core kept busy). stop() wakes the loop with its trigger.
            asyncore_loop_timeout=1,
            expose_tracebacks=False,
        )
        self._thread = threading.Thread(target=self._server.run, name="letta-proxy", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def stop(self) -> SuiteResult:
        server, self._server = self._server, None
        if server is not None:

            def close_connections() -> None:  # in the server's loop: no socket closes under select
                for channel in list(server._map.values()):
                    if isinstance(channel, HTTPChannel):
                        channel.handle_close()
                    elif channel is not server.trigger:
                        channel.close()  # the listening socket

            # The connections and the listener first; the wake-up trigger only once the
            # worker threads are done (they pull it to hand answers to the loop).
            try:
                server.trigger.pull_trigger(close_connections)
            except OSError:
                # The trigger's pipe is gone (its read end saw end-of-file and closed it), as
                # the mock's stop() knows: a new one, which the loop takes up at its next turn.
                server.trigger = trigger(server._map)
                server.trigger.pull_trigger(close_connections)
            server.task_dispatcher.shutdown(timeout=5)
            with contextlib.suppress(OSError):
                server.trigger.pull_trigger(server.trigger.close)
            if self._thread is not None:
                self._thread.join(timeout=5)
        if self.result is None:
            self.app.close()  # what waits to be judged is judged before the reports
            self.result = self.judge.finish()
            if self.recorder is not None:
                self.recorder.close()
        return self.result

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def run_proxy(config: ProxyConfig, stream: TextIO | None = None) -> int:
    """Serve in the foreground until SIGINT or SIGTERM; then report. The exit code is the
    suite's: 0 no violation, 1 violations (or client findings, with ``fail_on_client``), 2
    the proxy could not start."""
    proxy: ProxyServer | None = None
    try:
        proxy = ProxyServer(config, stream=stream)
        proxy.start()
    except (ValueError, OSError) as exc:
        if proxy is not None:
            proxy.app.close()  # its judge's thread
        ProxyLog(stream).line(f"error: {exc}")
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        proxy.log.line(
            f"listening on {proxy.base_url}, forwarding to {proxy.app.upstream.base} "
            f"(findings below; Ctrl-C to stop and write the reports)"
        )
        if config.host not in ("127.0.0.1", "localhost", "::1"):
            proxy.log.line(
                f"warning: listening on {config.host}: anyone who reaches it can use the "
                "upstream with their own credentials, through you"
            )
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, handler)
        result = proxy.stop()
    code = exit_code(result, config)
    if code and not result.violations:
        proxy.log.line(
            "exit 1: the application sent requests the contract rejects (--fail-on-client)"
        )
    return code


def exit_code(result: SuiteResult, config: ProxyConfig) -> int:
    """0, or 1 when the upstream broke a rule (or, with ``fail_on_client``, when the
    application sent a request the contract rejects: a client finding)."""
    if result.violations:
        return 1
    clients = any(finding.kind == "client" for finding in result.findings)
    return 1 if config.fail_on_client and clients else 0
