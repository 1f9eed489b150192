"""HTTP to the target: rate limited, time limited, size limited, with a budget on runs.

Every request comes back as an :class:`Exchange` that can be shown to a person and replayed
with ``curl``. Exchanges hold what the target answered, unchanged: secrets are taken out
where results are shown (:mod:`contract_tests.redaction`), never before the checks see them.
Each request has a limit in total (the per-request timeout, or the suite's deadline if that
comes first) that cuts it in flight, and an answer longer than ``max_response_bytes`` is
read no further.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from letta_contract_kit.contract_tests.transport import limit, watched_session

REDACTED = "[REDACTED]"
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
REPORT_BODY_CHARS = 65_536  # a longer answer goes into reports as an excerpt
EXCERPT_CHARS = 2000
CHUNK_BYTES = 65_536
_NO_BODY = object()


class TargetUnreachable(Exception):
    """The target did not answer at all (refused, DNS, TLS)."""


class RequestTimedOut(Exception):
    """The target did not answer in full within the per-request timeout."""

    def __init__(self, exchange: Exchange, seconds: float) -> None:
        super().__init__(
            f"no complete answer within {seconds:g} s: "
            f"{exchange.request.method} {exchange.request.url}"
        )
        self.exchange = exchange
        self.seconds = seconds


class BudgetExhausted(Exception):
    """Sending this request could create a run, and the budget on runs is spent."""


class DeadlineReached(Exception):
    """The overall deadline of the suite has passed (also in the middle of a request)."""


@dataclass(frozen=True)
class SentRequest:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    body: Any = None
    raw_body: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None

    def body_text(self) -> str | None:
        if self.raw_body is not None:
            return self.raw_body
        if self.body is None:
            return None
        return json.dumps(self.body, ensure_ascii=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body if self.raw_body is None else self.raw_body,
        }


@dataclass(frozen=True)
class ReceivedResponse:
    """What came back. ``truncated``: the answer was longer than the client reads, and
    ``text`` is its first ``max_response_bytes`` only (no check judges such an answer)."""

    status: int
    headers: dict[str, str]
    text: str
    elapsed: float
    truncated: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        if self.truncated:
            return None
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        body: Any = self.json() if len(self.text) <= REPORT_BODY_CHARS else None
        shown: dict[str, Any] = {
            "status": self.status,
            "headers": self.headers,
            "body": body if body is not None else self.text[:EXCERPT_CHARS],
            "elapsed": round(self.elapsed, 4),
        }
        if body is None and len(self.text) > EXCERPT_CHARS:
            shown["body_excerpt_of"] = len(self.text)
        if self.truncated:
            shown["truncated"] = True
        return shown


@dataclass(frozen=True)
class Exchange:
    """One request and what came back (``response`` is None when nothing did)."""

    request: SentRequest
    response: ReceivedResponse | None

    def curl(self) -> str:
        return render_curl(self.request)


def render_curl(request: SentRequest) -> str:
    parts = ["curl", "-sS", "-X", request.method, shlex.quote(request.url)]
    for name, value in request.headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    text = request.body_text()
    if text is not None:
        parts += ["--data-raw", shlex.quote(text)]
    return " ".join(parts)


class RateLimiter:
    """At most ``per_second`` requests a second (None or 0: no limit); thread-safe."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, urgent: bool = False) -> None:
        """Wait for the next slot. An ``urgent`` request goes at once and takes the next
        slot from the requests after it, so the average rate still holds."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = now if urgent else max(now, self._next)
            self._next = max(self._next, now) + self.interval
        if start > now:
            time.sleep(start - now)


@dataclass
class RunBudget:
    """How many more runs the suite may create, and which it did create."""

    limit: int
    spent: int = 0
    created: dict[str, str] = field(default_factory=dict)  # run id -> agent id

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.spent)

    def spend(self) -> None:
        if self.spent >= self.limit:
            raise BudgetExhausted(f"the budget of {self.limit} runs is spent")
        self.spent += 1

    def refund(self) -> None:
        self.spent = max(0, self.spent - 1)

    def record(self, run_id: str, agent_id: str) -> None:
        self.created.setdefault(run_id, agent_id)


class Client:
    """Sends requests to the target on behalf of the suite."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        rate_limit: float | None = None,
        retries_on_429: int = 3,
        deadline: float | None = None,
        extra_headers: dict[str, str] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.limiter = RateLimiter(rate_limit)
        self.retries_on_429 = retries_on_429
        self.deadline = deadline
        self.extra_headers = dict(extra_headers or {})
        self.max_response_bytes = max_response_bytes
        self.session = watched_session()
        self.requests_sent = 0
        self.throttled = 0
        self.log: list[SentRequest] = []  # every request, in order (the coverage table's input)

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _headers(self, content_type: str | None, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.extra_headers}
        if has_body and content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _NO_BODY,
        raw_body: str | None = None,
        params: dict[str, Any] | tuple[tuple[str, str], ...] | None = None,
        content_type: str | None = "application/json",
        urgent: bool = False,
    ) -> Exchange:
        """Send one request. ``urgent``: do not wait for the rate limit's next slot (for a
        request whose meaning depends on following the previous one at once)."""
        left = self.seconds_left()
        if left is not None and left <= 0:
            raise DeadlineReached("the overall deadline of the suite has passed")
        pairs = tuple(_pairs(params))
        query = f"?{urlencode(pairs)}" if pairs else ""
        url = f"{self.base_url}{path}{query}"
        has_body = json_body is not _NO_BODY or raw_body is not None
        data = (
            raw_body
            if raw_body is not None
            else (json.dumps(json_body) if json_body is not _NO_BODY else None)
        )
        headers = self._headers(content_type, has_body)
        shown = {k: (REDACTED if k == "Authorization" else v) for k, v in headers.items()}
        if "Authorization" in shown:
            shown["Authorization"] = f"Bearer {REDACTED}"
        sent = SentRequest(
            method=method,
            url=url,
            path=path,
            headers=shown,
            body=None if json_body is _NO_BODY else json_body,
            raw_body=raw_body,
            query=pairs,
            content_type=content_type if has_body else None,
        )
        self.log.append(sent)
        for attempt in range(self.retries_on_429 + 1):
            self.limiter.wait(urgent=urgent and attempt == 0)
            received = self._exchange(method, url, data, headers, sent)
            self.requests_sent += 1
            if received.status == 429 and attempt < self.retries_on_429:
                self.throttled += 1
                time.sleep(self._retry_after(received.headers.get("retry-after")))
                continue
            return Exchange(sent, received)
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(
        self,
        method: str,
        url: str,
        data: str | None,
        headers: dict[str, str],
        sent: SentRequest,
    ) -> ReceivedResponse:
        """One request, cut at its limit in total; the answer read up to the size cap."""
        left = self.seconds_left()
        if left is not None and left <= 0:
            raise DeadlineReached("the overall deadline of the suite has passed")
        by_deadline = left is not None and left < self.timeout
        seconds = max(0.1, min(self.timeout, left)) if left is not None else self.timeout
        started = time.monotonic()
        with limit(seconds) as watch:
            try:
                answer = self.session.request(
                    method,
                    url,
                    data=data.encode() if data is not None else None,
                    headers=headers,
                    timeout=seconds,
                    allow_redirects=False,
                    stream=True,
                )
                try:
                    body, truncated = self._read(answer)
                finally:
                    answer.close()
            except requests.Timeout:
                raise self._cut(sent, seconds, by_deadline) from None
            except requests.RequestException as exc:
                if watch.cut:
                    raise self._cut(sent, seconds, by_deadline) from None
                if isinstance(exc, requests.ConnectionError):
                    raise TargetUnreachable(f"{method} {url}: {connection_reason(exc)}") from None
                raise TargetUnreachable(f"{method} {url}: {exc}") from None
        return ReceivedResponse(
            status=answer.status_code,
            headers={k.lower(): v for k, v in answer.headers.items()},
            text=body.decode(answer.encoding or "utf-8", errors="replace"),
            elapsed=time.monotonic() - started,
            truncated=truncated,
        )

    def _read(self, answer: requests.Response) -> tuple[bytes, bool]:
        """The body, up to ``max_response_bytes``; and whether there was more."""
        cap = self.max_response_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in answer.iter_content(CHUNK_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(chunks)[:cap], True
        return b"".join(chunks), False

    @staticmethod
    def _cut(sent: SentRequest, seconds: float, by_deadline: bool) -> Exception:
        if by_deadline:
            return DeadlineReached(
                f"the overall deadline of the suite passed during {sent.method} {sent.url}"
            )
        return RequestTimedOut(Exchange(sent, None), seconds)

    def _retry_after(self, value: str | None) -> float:
        try:
            wait = float(value) if value is not None else 1.0
        except ValueError:
            wait = 1.0
        left = self.seconds_left()
        wait = max(0.0, min(wait, 60.0))
        return wait if left is None else max(0.0, min(wait, left))

    def close(self) -> None:
        self.session.close()


def _pairs(params: dict[str, Any] | tuple[tuple[str, str], ...] | None) -> list[tuple[str, str]]:
    if not params:
        return []
    if isinstance(params, tuple):
        return [(str(k), str(v)) for k, v in params]
    found: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            found.append((str(key), str(item)))
    return found


def connection_reason(exc: BaseException) -> str:
    """The cause of a connection error in a few words, not urllib3's nested repr."""
    cause: BaseException | None = exc
    for _ in range(8):  # the chain is short: requests -> urllib3 -> OSError
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.strerror:
            return str(cause.strerror).lower()
        reason = getattr(cause, "reason", None)
        cause = reason if isinstance(reason, BaseException) else cause.__context__
    return str(exc)


def is_loopback(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
