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
import http.cookiejar
import json
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType, TracebackType
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url
from waitress.channel import HTTPChannel
from waitress.server import create_server

from letta_contract_kit.contract_tests.client import connection_reason
from letta_contract_kit.contract_tests.events import Event, Listener, SuiteResult
from letta_contract_kit.contract_tests.proxy import cassette
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

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8299
VIOLATION_HEADER = "X-Letta-Contract-Violation"
THREADS = 16
TIMEOUT = (10.0, 300.0)  # connect, read (seconds) for each upstream request
MAX_JUDGED_BYTES = 4 * 1024 * 1024  # a longer answer is passed through, not judged
CHUNK = 65_536
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

    def url_for(self, target: str) -> str | None:
        """The upstream URL of an origin-form target, or None if it would leave the origin."""
        if not target.startswith("/") or "#" in target:
            return None
        url = self.base + target
        return url if self.names(url) else None

    def names(self, url: str) -> bool:
        if _reading(url) != (self.scheme, self.host, self.port):
            return False
        path = urlsplit(url).path
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")


def _reading(url: str) -> tuple[str, str, int] | None:
    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError):
        return None
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower().strip("[]"), parts.port or SCHEMES.get(scheme, -1)


def _session(threads: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy, netrc or CA bundle from the environment
    session.headers.clear()  # send what the client sent, nothing of requests' own
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=threads, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


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


def _read_at_most(raw: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of the answer as sent, read a chunk at a time (a single read of
    ``limit`` bytes would allocate them all, for every answer)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = raw.read(min(CHUNK, limit - size), decode_content=False)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _status_line(status: int, reason: str | None) -> str:
    if not reason:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
    return f"{status} {reason}"


class ForwardingApp:
    """The WSGI app: forward, judge, record, answer."""

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
        self.session = _session(THREADS)
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
        url = self.upstream.url_for(target)

        def own(status: int, detail: str) -> Iterable[bytes]:
            data = json.dumps({"detail": detail}).encode()
            answer = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            self._record(
                seq,
                when,
                method,
                raw_path,
                query,
                forward,
                body,
                status,
                answer,
                data,
                time.monotonic() - started,
                None,
                "proxy",
            )
            start_response(_status_line(status, None), answer)
            return [data]

        if url is None:
            return own(
                400, f"the proxy forwards origin-form targets (/path?query) only: {target!r}"
            )
        prepared = self.session.prepare_request(
            requests.Request(method, url, headers=dict(forward), data=body if length else None)
        )
        if prepared.url is None or not self.upstream.names(prepared.url):
            return own(400, f"the target {target!r} does not stay on the upstream")
        try:
            answer = self.session.send(
                prepared, stream=True, allow_redirects=False, timeout=TIMEOUT
            )
        except requests.Timeout:
            return own(504, f"upstream {self.upstream.base} did not answer within {TIMEOUT[1]:g} s")
        except requests.RequestException as exc:
            reason = connection_reason(exc)
            if not self._unreachable_said:
                self._unreachable_said = True
                self.log.line(f"error: cannot reach upstream {self.upstream.base}: {reason}")
            return own(502, f"cannot reach upstream {self.upstream.base}: {reason}")
        raw = answer.raw
        returned = end_to_end(list(raw.headers.items()))
        status_line = _status_line(answer.status_code, answer.reason)
        path = unquote(raw_path)

        def passed_through(first: bytes = b"") -> Iterator[bytes]:
            start_response(status_line, returned)
            return self._streamed(
                raw,
                seq,
                when,
                method,
                raw_path,
                query,
                forward,
                body,
                answer.status_code,
                returned,
                started,
                first=first,
            )

        if route_of(method, path) is None:
            return passed_through()
        try:
            data = _read_at_most(raw, MAX_JUDGED_BYTES + 1)
        except Exception as exc:  # the upstream broke off
            answer.close()
            return own(502, f"upstream {self.upstream.base} broke off its answer: {exc}")
        elapsed = time.monotonic() - started
        if len(data) > MAX_JUDGED_BYTES:
            self.log.line(f"info: #{seq} {method} {raw_path}: answer over 4 MiB, not judged")
            return passed_through(first=data)
        answer.close()
        text = _decoded(data, returned)
        upstream_headers = returned
        run_id = None
        if text is not None:
            traffic = Traffic(
                seq=seq,
                method=method,
                path=path,
                url=url,
                query=tuple(parse_qsl(query, keep_blank_values=True)),
                headers=shown(forward),
                body=body,
                status=answer.status_code,
                response_headers=dict(returned),
                response_text=text,
                started=started,
                elapsed=elapsed,
            )
            judgement = self.judge.judge(traffic)
            run_id = judgement.run_id
            self.log.judged(judgement, f"{method} {raw_path}", answer.status_code)
            if self.config.fail_on_violation and judgement.rule_ids:
                returned = [*returned, (VIOLATION_HEADER, ", ".join(judgement.rule_ids))]
        self._record(
            seq,
            when,
            method,
            raw_path,
            query,
            forward,
            body,
            answer.status_code,
            upstream_headers,
            data,
            elapsed,
            run_id,
        )
        start_response(status_line, returned)
        return [data]

    def _streamed(
        self,
        raw: Any,
        seq: int,
        when: datetime,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        status: int,
        returned: Headers,
        started: float,
        first: bytes = b"",
    ) -> Iterator[bytes]:
        """The answer as it comes (not judged), recorded up to the cassette's limit."""
        kept = bytearray(first[: cassette.MAX_BODY_BYTES])
        complete = True
        try:
            if first:
                yield first
            for chunk in raw.stream(CHUNK, decode_content=False):
                if len(kept) <= cassette.MAX_BODY_BYTES:
                    kept.extend(chunk[: cassette.MAX_BODY_BYTES + 1 - len(kept)])
                yield chunk
        except Exception:
            complete = False
            raise
        finally:
            raw.release_conn()
            self._record(
                seq,
                when,
                method,
                path,
                query,
                headers,
                body,
                status,
                returned,
                bytes(kept),
                time.monotonic() - started,
                None,
                complete=complete,
            )

    def _record(
        self,
        seq: int,
        when: datetime,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
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
                seq=seq,
                at=when,
                method=method,
                path=path,
                query=query,
                request_headers=headers,
                request_body=body,
                status=status,
                response_headers=returned,
                response_body=data,
                elapsed=elapsed,
                run_id=run_id,
                answered_by=answered_by,
                complete=complete,
            )
        )

    def close(self) -> None:
        self.session.close()


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
            threads=THREADS,
            ident="letta-contract-proxy",
            asyncore_loop_timeout=0.05,
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
            server.trigger.pull_trigger(close_connections)
            server.task_dispatcher.shutdown(timeout=5)
            with contextlib.suppress(OSError):
                server.trigger.pull_trigger(server.trigger.close)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self.app.close()
        if self.result is None:
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
    suite's: 0 no violation, 1 violations, 2 the proxy could not start."""
    try:
        proxy = ProxyServer(config, stream=stream)
        proxy.start()
    except (ValueError, OSError) as exc:
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
    return 1 if result.violations else 0
