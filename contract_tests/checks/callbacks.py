"""Callbacks: a POST to callback_url when the run completes, recorded on the run.

The documentation states that the POST is made when the run completes and what the
callback_* fields of the run mean; the body, the single attempt and the callbacks for failed
and cancelled runs are the real server's (divergences when a target differs).
"""

from __future__ import annotations

from collections.abc import Iterator

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.observations import RunTrace
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import RUN_STATUS, TERMINAL_STATUSES

RECEIVER_STATUS = 200  # what the suite's receiver answers every callback with


@check(
    "callback_delivered",
    "A run with callback_url that completes POSTs to it, and callback_status_code records "
    "the receiver's answer (the body and the single attempt are the real server's).",
    kind="run",
    phases=("lifecycle",),
)
def callback_delivered(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    if trace.callback_url is None or not trace.finished or trace.gave_up or trace.last is None:
        return
    if "callback-awaited" not in trace.roles:
        return  # the suite did not wait for this run's callback (no receiver)
    run = trace.last
    status = run.get("status")
    if status not in TERMINAL_STATUSES:
        return
    last_exchange = trace.observations[-1].exchange
    if not trace.callbacks:
        rule = R.CALLBACK_SENT if status == RUN_STATUS.completed else R.CALLBACK_OTHER_ENDS
        yield Failure(
            rule,
            f"run {trace.run_id} ended {status!r} but no callback reached {trace.callback_url} "
            f"(receiver looked at after the run deadline)",
            f"no callback for a {status} run",
            last_exchange,
            {"id": trace.run_id, "status": status, "callback_url": trace.callback_url},
        )
        return
    if len(trace.callbacks) > 1:
        yield Failure(
            R.CALLBACK_ONCE,
            f"{len(trace.callbacks)} callbacks for run {trace.run_id}",
            "more than one callback",
            last_exchange,
        )
    body = trace.callbacks[0].body
    if all(validator("callback-payload", r).problems(body) for r in ("documented", "server")):
        yield Failure(
            R.CALLBACK_BODY,
            f"the callback body is not the real server's payload: {body!r:.200}",
            "callback body differs",
            last_exchange,
            body,
        )
    elif isinstance(body, dict) and (
        body.get("run_id") != trace.run_id or body.get("status") != status
    ):
        yield Failure(
            R.CALLBACK_BODY,
            f"the callback names run {body.get('run_id')!r} {body.get('status')!r}; the run is "
            f"{trace.run_id} {status!r}",
            "callback body names another run or end",
            last_exchange,
            body,
        )
    code = run.get("callback_status_code")
    if code is not None and code != RECEIVER_STATUS:
        yield Failure(
            R.CALLBACK_CODE,
            f"callback_status_code is {code!r}; the receiver answered {RECEIVER_STATUS}",
            "callback_status_code not the receiver's answer",
            last_exchange,
            {"id": trace.run_id, "callback_status_code": code},
        )
    if run.get("callback_sent_at") is None or code is None:
        yield Failure(
            R.CALLBACK_RECORDED,
            f"after the callback, the run shows callback_sent_at={run.get('callback_sent_at')!r} "
            f"callback_status_code={code!r}",
            "callback not recorded on the run",
            last_exchange,
            {
                "id": trace.run_id,
                "callback_sent_at": run.get("callback_sent_at"),
                "callback_status_code": code,
            },
        )
