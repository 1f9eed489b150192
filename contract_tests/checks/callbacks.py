"""Callbacks: one POST to callback_url when the run ends, recorded on the run."""

from __future__ import annotations

from collections.abc import Iterator

from contract_tests.cases import SERVER_NAME, doc_reference
from contract_tests.checks.registry import CheckContext, Failure, check
from contract_tests.observations import RunTrace
from schemas import names, validator
from schemas.contract import TERMINAL_STATUSES
from schemas.loader import READINGS

SOURCE = doc_reference("run", "callback_url")
PAYLOAD = "callback-payload"


@check(
    "callback_delivered",
    "A run with callback_url POSTs once, with its id and final status, and records "
    "callback_sent_at and callback_status_code.",
    kind="run",
    phases=("lifecycle",),
)
def callback_delivered(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    if trace.callback_url is None or not trace.finished or trace.gave_up or trace.last is None:
        return
    run = trace.last
    status = run.get("status")
    last_exchange = trace.observations[-1].exchange
    if not trace.callbacks:
        yield Failure(
            f"run {trace.run_id} ended {status!r} but no callback reached {trace.callback_url}",
            "no callback",
            "the server POSTs to callback_url when the run ends",
            SOURCE,
            last_exchange,
        )
        return
    if len(trace.callbacks) > 1:
        yield Failure(
            f"{len(trace.callbacks)} callbacks for run {trace.run_id}",
            "more than one callback",
            "the callback is sent once per run",
            f"{SERVER_NAME}: one attempt, no retry",
            last_exchange,
        )
    body = trace.callbacks[0].body
    if PAYLOAD in names():
        verdicts = [validator(PAYLOAD, r).problems(body) for r in READINGS]
        if all(verdicts):
            first = verdicts[0][0]
            yield Failure(
                f"the callback body fits neither reading of {PAYLOAD}: {first}",
                f"callback body: {first.rule} at {'/'.join(map(str, first.location))}",
                "the callback body is a CallbackPayload",
                doc_reference(PAYLOAD),
                last_exchange,
            )
    if not isinstance(body, dict) or body.get("run_id") != trace.run_id:
        yield Failure(
            f"the callback body does not name the run: {body!r:.200}",
            "callback without run_id",
            "the callback body carries the run's id as run_id",
            f"{SERVER_NAME}: payload {{run_id, status, completed_at, metadata}}",
            last_exchange,
        )
    elif body.get("status") not in TERMINAL_STATUSES or (
        status in TERMINAL_STATUSES and body.get("status") != status
    ):
        yield Failure(
            f"the callback says status {body.get('status')!r}, the run is {status!r}",
            "callback status differs from the run",
            "the callback carries the run's terminal status",
            f"{SERVER_NAME}: payload {{run_id, status, completed_at, metadata}}",
            last_exchange,
        )
    if run.get("callback_sent_at") is None or run.get("callback_status_code") != 200:
        yield Failure(
            f"after the callback, the run shows callback_sent_at={run.get('callback_sent_at')!r} "
            f"callback_status_code={run.get('callback_status_code')!r} (the receiver answered 200)",
            "callback not recorded on the run",
            "callback_sent_at and callback_status_code record the delivery",
            doc_reference("run", "callback_status_code"),
            last_exchange,
        )
