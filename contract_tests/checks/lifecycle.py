"""The run lifecycle, judged over everything seen of one run."""

from __future__ import annotations

from collections.abc import Iterator

from letta_contract_kit.contract_tests import rules as R
from letta_contract_kit.contract_tests.checks.registry import CheckContext, Failure, check
from letta_contract_kit.contract_tests.observations import RunTrace, parse_time
from letta_contract_kit.schemas.contract import RUN_STATUS, STATUS_RANK, TERMINAL_STATUSES

LIFECYCLE = ("lifecycle",)
SLACK_SECONDS = 1.0


@check(
    "run_reaches_terminal",
    "Every run the suite creates is seen completed, failed or cancelled within the deadline "
    "(judged on at least 5 polls in a row, the last made after it).",
    kind="run",
    phases=LIFECYCLE,
)
def run_reaches_terminal(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    if not trace.gave_up or not trace.observations:
        return
    last = trace.observations[-1]
    yield Failure(
        R.ENDS,
        f"run {trace.run_id} was still {last.run.get('status')!r} when polled "
        f"{last.at - trace.started:.1f} s after it was created, past the run deadline of "
        f"{ctx.config.run_deadline:g} s ({len(trace.observations)} observations)",
        "no terminal status within the deadline",
        last.exchange,
        excerpt={"id": trace.run_id, "status": last.run.get("status")},
    )


@check(
    "status_moves_forward",
    "A run's status never moves back (created < running < terminal) and a terminal status "
    "never changes, cancels included.",
    kind="run",
    phases=LIFECYCLE,
)
def status_moves_forward(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    previous: str | None = None
    for seen in trace.observations:
        status = seen.run.get("status")
        if not isinstance(status, str) or status not in STATUS_RANK:
            continue
        if previous is not None and status != previous:
            excerpt = {"id": trace.run_id, "before": previous, "after": status}
            if previous in TERMINAL_STATUSES:
                yield Failure(
                    R.TERMINAL_FINAL,
                    f"run {trace.run_id} went from terminal {previous!r} to {status!r}",
                    f"terminal {previous} -> {status}",
                    seen.exchange,
                    excerpt,
                )
            elif STATUS_RANK[status] < STATUS_RANK[previous]:
                yield Failure(
                    R.FORWARD_ONLY,
                    f"run {trace.run_id} went back from {previous!r} to {status!r}",
                    f"{previous} -> {status}",
                    seen.exchange,
                    excerpt,
                )
        previous = status


@check(
    "terminal_fields_consistent",
    "completed_at and stop_reason are null before the end (and, on the real server, set at "
    "the end; a cancelled run stops with `cancelled`).",
    kind="run",
    phases=LIFECYCLE,
)
def terminal_fields_consistent(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    for seen in trace.observations:
        run = seen.run
        status = run.get("status")
        if status not in RUN_STATUS:
            continue
        ended = status in TERMINAL_STATUSES
        for name, early, missing in (
            ("completed_at", R.COMPLETED_AT_LATE, R.COMPLETED_AT_SET),
            ("stop_reason", R.STOP_REASON_LATE, R.STOP_REASON_SET),
        ):
            value = run.get(name)
            excerpt = {"id": trace.run_id, "status": status, name: value}
            if ended and value is None:
                yield Failure(
                    missing,
                    f"run {trace.run_id} is {status} but {name} is null",
                    f"{name} null while {status}",
                    seen.exchange,
                    excerpt,
                )
            if not ended and value is not None:
                yield Failure(
                    early,
                    f"run {trace.run_id} is {status} but {name} is already {value!r}",
                    f"{name} set while {status}",
                    seen.exchange,
                    excerpt,
                )
        if status == RUN_STATUS.cancelled and run.get("stop_reason") not in (None, "cancelled"):
            yield Failure(
                R.CANCELLED_REASON,
                f"run {trace.run_id} is cancelled with stop_reason {run.get('stop_reason')!r}",
                "cancelled without stop_reason cancelled",
                seen.exchange,
                {"id": trace.run_id, "stop_reason": run.get("stop_reason")},
            )


@check(
    "timestamps_ordered",
    "created_at never changes; completed_at is not before created_at and never changes once "
    "set; callback_sent_at is not before created_at.",
    kind="run",
    phases=LIFECYCLE,
)
def timestamps_ordered(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    first_created = None
    first_completed = None
    for seen in trace.observations:
        run = seen.run
        created, completed = parse_time(run.get("created_at")), parse_time(run.get("completed_at"))
        sent = parse_time(run.get("callback_sent_at"))
        excerpt = {
            "id": trace.run_id,
            "created_at": run.get("created_at"),
            "completed_at": run.get("completed_at"),
            "callback_sent_at": run.get("callback_sent_at"),
        }
        if created is not None:
            if first_created is not None and created != first_created:
                yield Failure(
                    R.CREATED_FIXED,
                    f"created_at changed from {first_created.isoformat()} to {created.isoformat()}",
                    "created_at changed",
                    seen.exchange,
                    excerpt,
                )
            first_created = first_created or created
        if created is not None and completed is not None and completed < created:
            yield Failure(
                R.COMPLETED_AFTER_CREATED,
                f"completed_at {run.get('completed_at')} is before created_at {run.get('created_at')}",
                "completed_at before created_at",
                seen.exchange,
                excerpt,
            )
        if created is not None and sent is not None and sent < created:
            yield Failure(
                R.CALLBACK_AFTER_CREATED,
                f"callback_sent_at {run.get('callback_sent_at')} is before created_at",
                "callback_sent_at before created_at",
                seen.exchange,
                excerpt,
            )
        if completed is not None:
            if first_completed is not None and completed != first_completed:
                yield Failure(
                    R.COMPLETED_FIXED,
                    f"completed_at changed from {first_completed.isoformat()} to "
                    f"{completed.isoformat()}",
                    "completed_at changed",
                    seen.exchange,
                    excerpt,
                )
            first_completed = first_completed or completed


@check(
    "durations_consistent",
    "ttft_ns and total_duration_ns are non-negative integers, "
    "ttft_ns <= total_duration_ns <= completed_at - created_at.",
    kind="run",
    phases=LIFECYCLE,
)
def durations_consistent(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    for seen in trace.observations:
        run = seen.run
        ttft, total = run.get("ttft_ns"), run.get("total_duration_ns")
        excerpt = {"id": trace.run_id, "ttft_ns": ttft, "total_duration_ns": total}
        for name, value in (("ttft_ns", ttft), ("total_duration_ns", total)):
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                yield Failure(
                    R.DURATION_NON_NEGATIVE,
                    f"{name} is {value!r}",
                    f"{name} not a non-negative integer",
                    seen.exchange,
                    excerpt,
                )
            elif run.get("status") not in TERMINAL_STATUSES and name == "total_duration_ns":
                yield Failure(
                    R.DURATION_AT_END,
                    f"total_duration_ns is {value} while the run is {run.get('status')}",
                    "total_duration_ns set before the end",
                    seen.exchange,
                    excerpt,
                )
        if isinstance(ttft, int) and isinstance(total, int) and 0 <= total < ttft:
            yield Failure(
                R.TTFT_BEFORE_TOTAL,
                f"ttft_ns {ttft} is larger than total_duration_ns {total}",
                "ttft_ns > total_duration_ns",
                seen.exchange,
                excerpt,
            )
        created, completed = parse_time(run.get("created_at")), parse_time(run.get("completed_at"))
        if isinstance(total, int) and total >= 0 and created and completed:
            wall = (completed - created).total_seconds()
            if total / 1e9 > wall * 1.1 + SLACK_SECONDS:
                yield Failure(
                    R.TOTAL_WITHIN_RUN,
                    f"total_duration_ns {total} ({total / 1e9:.3f} s) exceeds "
                    f"completed_at - created_at ({wall:.3f} s)",
                    "total_duration_ns longer than the run",
                    seen.exchange,
                    excerpt,
                )
