"""The one POST a run sends to its ``callback_url`` when it ends, off the request path."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from letta_contract_kit.mockserver.callback_url import Refused, judge
from letta_contract_kit.mockserver.clock import rfc3339
from letta_contract_kit.mockserver.compat import DEFAULT_PROFILE, Quirks, resolve
from letta_contract_kit.mockserver.conversation import RunOutput, shaped, visible
from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.schemas.contract import tag_of

Stamp = Callable[[float], str]
Output = Callable[[RunRecord], RunOutput]
RESULT_MESSAGE_LIMIT = 100
# What Letta 0.16.8's callback client (httpx 0.28.1) sends besides Host, Connection, the length
# and the JSON content type (which the mock's client sends too).
HTTPX_HEADERS = {
    "User-Agent": "python-httpx/0.28.1",
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate, br, zstd",
}


@dataclass(frozen=True)
class CallbackOutcome:
    sent_at: str | None
    status_code: int | None
    error: str | None


def callback_result(record: RunRecord, output: RunOutput) -> dict[str, Any]:
    """What the run left behind, as the callback's ``metadata.result`` (callback-payload.json)."""
    run = record.run
    include = (run.get("request_config") or {}).get("include_return_message_types")
    usage = output.usage
    stop_tag = tag_of("letta-stop-reason", "message_type")
    usage_tag = tag_of("letta-usage-statistics", "message_type")
    return shaped(
        "callback-result",
        {
            "messages": visible(output.messages, include)[:RESULT_MESSAGE_LIMIT],
            "stop_reason": shaped(
                "letta-stop-reason", {"message_type": stop_tag, "stop_reason": run["stop_reason"]}
            ),
            "usage": shaped(
                "letta-usage-statistics",
                {
                    "message_type": usage_tag,
                    "completion_tokens": usage.get("completion_tokens", 0),
                    "prompt_tokens": usage.get("prompt_tokens", 0),
                    "total_tokens": usage.get("total_tokens", 0),
                    "step_count": len(output.steps),
                },
            ),
        },
    )


def callback_payload(
    record: RunRecord,
    output: RunOutput,
    sent_at: float,
    stamp: Stamp = rfc3339,
    quirks: Quirks | None = None,
) -> dict[str, Any]:
    """The body POSTed to the run's ``callback_url``; ``completed_at`` is the sending time."""
    in_force = quirks if quirks is not None else resolve(DEFAULT_PROFILE)
    metadata = dict(record.run.get("metadata") or {})
    if in_force.callback_result_metadata:
        metadata["result"] = callback_result(record, output)
    return shaped(
        "callback-payload",
        {
            "run_id": record.id,
            "status": record.run["status"],
            "completed_at": stamp(sent_at),
            "metadata": metadata,
        },
    )


class CallbackDispatcher:
    """Sends callbacks from a small thread pool; never blocks the caller."""

    def __init__(
        self,
        timeout: float,
        allowed_hosts: Iterable[str],
        output: Output,
        workers: int = 4,
        stamp: Stamp = rfc3339,
        quirks: Quirks | None = None,
    ) -> None:
        self.timeout = timeout
        self.allowed_hosts = list(allowed_hosts)
        self.output = output
        self.stamp = stamp
        self.quirks = quirks
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="letta-mock-cb")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def dispatch(
        self,
        record: RunRecord,
        now: Callable[[], float],
        record_outcome: Callable[[str, CallbackOutcome], None],
    ) -> Future[None]:
        url = str(record.run.get("callback_url") or "")
        # Submitted and counted as pending in one step: otherwise the callback could arrive,
        # and a drain() prompted by its arrival return, before it was counted.
        with self._lock:
            future = self._pool.submit(self._deliver, record, url, now, record_outcome)
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver(
        self,
        record: RunRecord,
        url: str,
        now: Callable[[], float],
        record_outcome: Callable[[str, CallbackOutcome], None],
    ) -> None:
        sent_at = now()
        prefix = f"Failed to dispatch callback for run {record.id} to {url}: "
        try:
            outcome = self._attempt(record, url, sent_at, prefix)
        except Exception as exc:  # every failure is recorded; none vanishes
            outcome = CallbackOutcome(self.stamp(sent_at), None, prefix + f"not sent: {exc!r}")
        record_outcome(record.id, outcome)

    def _refused(self, sent_at: float, error: str) -> CallbackOutcome:
        attempted = self.quirks is not None and self.quirks.callback_sent_at_on_failure
        return CallbackOutcome(self.stamp(sent_at) if attempted else None, None, error)

    def _attempt(self, record: RunRecord, url: str, sent_at: float, prefix: str) -> CallbackOutcome:
        import requests  # imported on first use: keeps the server's start fast

        try:
            target = judge(url, self.allowed_hosts)
        except Refused as refusal:
            return self._refused(sent_at, prefix + f"not sent: {refusal}")
        payload = callback_payload(record, self.output(record), sent_at, self.stamp, self.quirks)
        with requests.Session() as session:
            # Never the environment's proxies (HTTP_PROXY and the like), .netrc or CA bundle:
            # a callback goes straight to the host the guard judged.
            session.trust_env = False
            prepared = session.prepare_request(
                requests.Request("POST", target.url, json=payload, headers=self._headers())
            )
            if not target.still_names(str(prepared.url)):
                return self._refused(
                    sent_at,
                    prefix + f"not sent: the HTTP client would connect elsewhere "
                    f"({prepared.url!r})",
                )
            try:
                answer = session.send(prepared, timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                return CallbackOutcome(self.stamp(sent_at), None, prefix + repr(exc))
        return CallbackOutcome(self.stamp(sent_at), answer.status_code, None)

    def _headers(self) -> dict[str, str] | None:
        """The headers that differ from the HTTP client's own (``httpx-callback-client``)."""
        if self.quirks is not None and self.quirks.httpx_callback_client:
            return dict(HTTPX_HEADERS)
        return None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every callback sent so far has been delivered or has failed."""
        with self._lock:
            pending = set(self._pending)
        if not pending:
            return True
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
