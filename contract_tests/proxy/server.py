"""The forwarding server: an asyncio server (aiohttp's) that sends every request on to the
upstream and gives back its answer unchanged, judging the contract's exchanges on the way.

One event loop, in a thread of its own, carries every exchange: HTTP is parsed on both sides
by aiohttp's C parser (llhttp), and no exchange waits for a thread to be free. Judging runs
in one background thread (:mod:`.background`), or in the loop before the answer goes out
(``--judge-inline``, ``--fail-on-violation``). What is forwarded and what is not:
:mod:`.headers`, :mod:`.forwarder`; which targets: :mod:`.upstream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import signal
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import FrameType, TracebackType
from typing import TextIO
from urllib.parse import parse_qsl, unquote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from letta_contract_kit.contract_tests.events import Event, Listener, SuiteResult
from letta_contract_kit.contract_tests.proxy import cassette
from letta_contract_kit.contract_tests.proxy.background import Job, JudgingQueue
from letta_contract_kit.contract_tests.proxy.cassette import Cassette
from letta_contract_kit.contract_tests.proxy.forwarder import (
    TIMEOUT,
    Forwarder,
    NoAnswer,
    Unreachable,
)
from letta_contract_kit.contract_tests.proxy.headers import (
    NOT_FORWARDED,
    Headers,
    SecretBook,
    end_to_end,
    shown,
)
from letta_contract_kit.contract_tests.proxy.http_layer import (
    CLIENT_IDLE_SECONDS,
    MAX_HEAD_LINE_BYTES,
    JsonErrorServer,
    Refused,
    StreamedBody,
    own_answer,
    own_response,
    read_body,
)
from letta_contract_kit.contract_tests.proxy.judge import Traffic, TrafficJudge
from letta_contract_kit.contract_tests.proxy.log import ProxyLog
from letta_contract_kit.contract_tests.proxy.observed import route_of
from letta_contract_kit.contract_tests.proxy.upstream import Upstream

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8299
VIOLATION_HEADER = "X-Letta-Contract-Violation"
VIA = ("Via", "1.1 letta-contract-proxy")  # on every answer forwarded (RFC 9110 §7.6.3)
# Exchanges in flight at once: each holds a connection to the upstream for as long as the
# upstream takes to answer (a real server takes 0.1-0.2 s over the async POST); further
# requests wait for a free one.
DEFAULT_CONNECTIONS = 100
MAX_JUDGED_BYTES = 4 * 1024 * 1024  # a longer answer is passed through, not judged
STOP_SECONDS = 5.0  # on stop, exchanges in flight get this long to end
# What reading the upstream's answer, or writing to the client, raises when a connection
# breaks (a read timeout is a TimeoutError, an OSError).
BROKE_OFF = (aiohttp.ClientError, OSError)


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
    connections: int = DEFAULT_CONNECTIONS  # exchanges in flight at once (to the upstream)

    @property
    def inline(self) -> bool:
        """Whether each answer waits for its judgement."""
        return self.judge_inline or self.fail_on_violation


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


async def _read_at_most(raw: aiohttp.ClientResponse, limit: int) -> bytes:
    """Up to ``limit`` bytes of the answer as sent, as they come (an answer that ends sooner
    is read whole)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await raw.content.readany()
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _reason(status: int, reason: str | None) -> str:
    if reason:
        return reason
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def _answer_headers(returned: Headers, *, length_kept: bool) -> CIMultiDict[str]:
    """The upstream's headers as the client gets them: with ``Via``, and without the
    upstream's ``Content-Length`` where the proxy's server sets it from the body it sends."""
    kept = (
        returned if length_kept else [(k, v) for k, v in returned if k.lower() != "content-length"]
    )
    return CIMultiDict([*kept, VIA])


@dataclass(frozen=True)
class Forwarded:
    """One exchange as it arrived: what the cassette records and, for the contract's routes,
    what is judged."""

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


@dataclass(frozen=True)
class Outgoing:
    """What goes upstream for one exchange: the target as read on the upstream, the decoded
    path and whether the proxy judges its route, the headers, and the body (whole, or
    streamed as it arrives)."""

    target: str
    path: str
    judged: bool
    headers: Headers
    body: bytes | AsyncIterator[bytes]
    streamed: StreamedBody | None = None


class ForwardingApp:
    """The request handler: forward, answer, and judge and record (before answering, or in
    the background judge's thread). :meth:`open` and :meth:`aclose` run in the loop."""

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
        self.forwarder: Forwarder | None = None
        self.queue = None if config.inline else JudgingQueue(self._judging_failed)
        self._unreachable_said = False

    async def open(self) -> None:
        self.forwarder = Forwarder(self.upstream, self.config.connections)

    async def aclose(self) -> None:
        if self.forwarder is not None:
            await self.forwarder.close()

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.monotonic()
        when = datetime.now(UTC)
        method = request.method
        target = request.raw_path
        raw_path, _, query = target.partition("?")
        headers: Headers = list(request.headers.items())
        self.secrets.learn(headers)
        forward = end_to_end(headers, dropped=NOT_FORWARDED)
        seq = self.judge.next_seq()
        origin_form = target.startswith("/") and "#" not in target
        sent = self.upstream.target_for(target) if origin_form else None
        url = self.upstream.origin + (sent or "")
        seen = Forwarded(seq, when, started, method, raw_path, query, url, forward, b"")
        if not origin_form:
            return self._own(
                seen, 400, f"the proxy forwards origin-form targets (/path?query) only: {target!r}"
            )
        if sent is None:
            return self._own(seen, 400, f"the target {target!r} does not stay on the upstream")
        path = unquote(raw_path)
        judged = route_of(method, path) is not None
        if judged or not request.body_exists:
            try:
                seen = replace(seen, body=await read_body(request))
            except Refused as refused:
                return self._refused(seen, refused)
            outgoing = Outgoing(sent, path, judged, forward, seen.body)
            return await self._forwarded(request, seen, outgoing)
        # Outside the contract: the body goes on as it arrives, with the length announced.
        streamed = StreamedBody(request, keep=cassette.MAX_BODY_BYTES + 1)
        length = request.content_length
        announced = forward if length is None else [*forward, ("Content-Length", str(length))]
        outgoing = Outgoing(sent, path, judged, announced, streamed.chunks(), streamed)
        return await self._forwarded(request, seen, outgoing)

    async def _forwarded(
        self, request: web.BaseRequest, seen: Forwarded, outgoing: Outgoing
    ) -> web.StreamResponse:
        """Send the request on and give back the answer (or the proxy's own)."""
        assert self.forwarder is not None, "open() runs before the first request"
        streamed = outgoing.streamed
        try:
            raw = await self.forwarder.send(
                seen.method, outgoing.target, outgoing.headers, outgoing.body
            )
        except Unreachable as exc:
            if streamed is not None and streamed.refused is not None:  # the client's doing
                return self._refused(replace(seen, body=bytes(streamed.kept)), streamed.refused)
            if not self._unreachable_said:
                self._unreachable_said = True
                self.log.line(f"error: cannot reach upstream {self.upstream.base}: {exc}")
            return self._own(seen, 502, f"cannot reach upstream {self.upstream.base}: {exc}")
        except NoAnswer:
            return self._own(
                seen, 504, f"upstream {self.upstream.base} did not answer within {TIMEOUT[1]:g} s"
            )
        except ValueError as exc:  # aiohttp refuses to send it (a header value, ...)
            return self._own(seen, 400, f"the proxy cannot forward this request: {exc}")
        if streamed is not None:
            seen = replace(seen, body=bytes(streamed.kept))
        try:
            return await self._answered(request, raw, seen, outgoing)
        finally:
            raw.release()  # a no-op once read whole or closed

    async def _answered(
        self,
        request: web.BaseRequest,
        raw: aiohttp.ClientResponse,
        seen: Forwarded,
        outgoing: Outgoing,
    ) -> web.StreamResponse:
        returned = end_to_end(list(raw.headers.items()))
        status = raw.status
        path = outgoing.path
        if not outgoing.judged:
            return await self._streamed(request, raw, seen, returned)
        try:
            data = await _read_at_most(raw, MAX_JUDGED_BYTES + 1)
        except BROKE_OFF as exc:  # it broke off
            raw.close()
            return self._own(seen, 502, self._broke_off(exc))
        elapsed = time.monotonic() - seen.started
        if len(data) > MAX_JUDGED_BYTES:
            self.log.line(
                f"info: #{seen.seq} {seen.method} {seen.raw_path}: answer over 4 MiB, not judged"
            )
            return await self._streamed(request, raw, seen, returned, first=data)
        answer = _answer_headers(returned, length_kept=False)
        if self.queue is None:
            rule_ids = self._judge(seen, path, status, returned, data, elapsed)
            if self.config.fail_on_violation and rule_ids:
                answer.add(VIOLATION_HEADER, ", ".join(rule_ids))
        else:
            self._later(
                lambda: self._judge(seen, path, status, returned, data, elapsed), seen.size(data)
            )
        return web.Response(
            status=status, reason=_reason(status, raw.reason), body=data, headers=answer
        )

    def _refused(self, seen: Forwarded, refused: Refused) -> web.Response:
        """The proxy's answer to a body it does not take; the rest of the body is not read."""
        response = self._own(seen, refused.status, refused.detail)
        response.force_close()
        return response

    def _own(self, seen: Forwarded, status: int, detail: str) -> web.Response:
        """An answer of the proxy's own, recorded as such."""
        data, answer = own_answer(detail)
        elapsed = time.monotonic() - seen.started
        self._later(
            lambda: self._record(seen, status, answer, data, elapsed, None, "proxy"),
            seen.size(data),
        )
        return own_response(status, detail)

    def _broke_off(self, exc: BaseException) -> str:
        what = str(exc) or type(exc).__name__
        return f"upstream {self.upstream.base} broke off its answer: {what}"

    def _later(self, job: Job, size: int) -> None:
        """Run ``job`` (a judgement, a recording) in the background judge's thread, after
        everything queued before it, so the cassette keeps the order answers ended; judging
        inline, here."""
        if self.queue is None:
            job()
        else:
            self.queue.submit(job, size)

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

    async def _streamed(
        self,
        request: web.BaseRequest,
        raw: aiohttp.ClientResponse,
        seen: Forwarded,
        returned: Headers,
        first: bytes = b"",
    ) -> web.StreamResponse:
        """The answer as it comes (not judged), recorded up to the cassette's limit. An
        upstream that breaks off before the first byte of its body is answered 502 by the
        proxy (nothing has gone out yet); after it, the connection to the client is closed
        mid-answer, as the upstream's was."""
        try:
            chunk = first or await raw.content.readany()
        except BROKE_OFF as exc:
            raw.close()
            return self._own(seen, 502, self._broke_off(exc))
        status = raw.status
        response = web.StreamResponse(
            status=status,
            reason=_reason(status, raw.reason),
            headers=_answer_headers(returned, length_kept=True),
        )
        kept = bytearray()
        complete = False
        try:
            await response.prepare(request)
            while chunk:
                if len(kept) <= cassette.MAX_BODY_BYTES:
                    kept.extend(chunk[: cassette.MAX_BODY_BYTES + 1 - len(kept)])
                await response.write(chunk)
                chunk = await raw.content.readany()
            await response.write_eof()
            complete = True
        except BROKE_OFF:
            # The upstream broke off mid-answer, or the client went away: either way the
            # client's connection ends here, its answer cut short.
            raw.close()
            if request.transport is not None:
                request.transport.close()
        finally:
            elapsed = time.monotonic() - seen.started
            shown_body = bytes(kept)
            self._later(
                lambda: self._record(
                    seen, status, returned, shown_body, elapsed, None, complete=complete
                ),
                seen.size(shown_body),
            )
        return response

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


class ProxyServer:
    """The proxy on a real socket, its event loop in a thread; ``stop()`` judges the runs
    once more, writes the reports and returns the result.

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
        if config.connections < 1:
            raise ValueError(
                f"the proxy needs at least 1 upstream connection, not {config.connections}"
            )
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
        self._stop_serving: Callable[[], object] | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    def _emit(self, event: Event) -> None:
        shown_event = self.secrets.redactor.scrub(event)
        for listener in self._listeners:
            listener(shown_event)

    def start(self) -> ProxyServer:
        """Listen and serve, in a thread; the errors of listening (an address in use) are
        raised here."""
        ready = threading.Event()
        failed: list[BaseException] = []

        def on_ready(exc: BaseException | None) -> None:
            if exc is not None:
                failed.append(exc)
            ready.set()

        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(on_ready),), name="letta-proxy", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failed:
            self._thread.join()
            self._thread = None
            raise failed[0]
        return self

    async def _serve(self, on_ready: Callable[[BaseException | None], None]) -> None:
        """The proxy's event loop, from listening to the end of the last exchange; what is
        left of a connection then is cancelled by ``asyncio.run``."""
        stopping = asyncio.Event()
        try:
            runner = await self._listen()
        except BaseException as exc:  # handed to start()'s caller
            await self.app.aclose()
            on_ready(exc)
            return
        loop = asyncio.get_running_loop()
        self._stop_serving = lambda: loop.call_soon_threadsafe(stopping.set)
        on_ready(None)
        try:
            await stopping.wait()
        finally:
            await runner.cleanup()  # in-flight exchanges end first (at most STOP_SECONDS)
            await self.app.aclose()

    async def _listen(self) -> web.BaseRunner:
        await self.app.open()
        server = JsonErrorServer(
            self.app,
            access_log=None,
            keepalive_timeout=CLIENT_IDLE_SECONDS,
            max_line_size=MAX_HEAD_LINE_BYTES,
            max_field_size=MAX_HEAD_LINE_BYTES,
        )
        runner = web.ServerRunner(server, shutdown_timeout=STOP_SECONDS)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        return runner

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def stop(self) -> SuiteResult:
        stop_serving, self._stop_serving = self._stop_serving, None
        if stop_serving is not None:
            stop_serving()
        if self._thread is not None:
            self._thread.join(timeout=STOP_SECONDS * 2)
            self._thread = None
        if self.result is None:
            self.app.drain()  # what waits to be judged is judged before the reports
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
            proxy.app.drain()  # stops its judge's thread
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
