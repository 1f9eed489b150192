"""The run lifecycle, judged over everything seen of one run."""

from __future__ import annotations

from collections.abc import Iterator

from contract_tests.cases import SERVER_NAME, doc_reference
from contract_tests.checks.registry import CheckContext, Failure, check
from contract_tests.observations import RunTrace, parse_time
from schemas import validator
from schemas.contract import RUN_FIELDS, RUN_STATUS, STATUS_RANK, TERMINAL_STATUSES

LIFECYCLE = ("lifecycle",)
STATUS_SOURCE = doc_reference("run-status")


@check(
    "run_reaches_terminal",
    "Every run the suite creates reaches completed, failed or cancelled within the deadline.",
    kind="run",
    phases=LIFECYCLE,
)
def run_reaches_terminal(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    if trace.gave_up:
        last = trace.observations[-1] if trace.observations else None
        yield Failure(
            f"run {trace.run_id} was still {trace.statuses[-1] if trace.statuses else '?'} "
            f"after {ctx.config.run_deadline:g} s ({len(trace.observations)} observations)",
            "no terminal status within the deadline",
            f"a run ends {', '.join(sorted(TERMINAL_STATUSES))} within the deadline",
            STATUS_SOURCE,
            last.exchange if last else None,
        )


@check(
    "status_moves_forward",
    "A run's status never moves back (created < running < terminal) and a terminal status "
    "never changes.",
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
            if previous in TERMINAL_STATUSES:
                yield Failure(
                    f"run {trace.run_id} went from terminal {previous!r} to {status!r}",
                    f"terminal {previous} -> {status}",
                    "a terminal status never changes",
                    STATUS_SOURCE,
                    seen.exchange,
                )
            elif STATUS_RANK[status] < STATUS_RANK[previous]:
                yield Failure(
                    f"run {trace.run_id} went back from {previous!r} to {status!r}",
                    f"{previous} -> {status}",
                    "a run's status never moves to a lower rank",
                    STATUS_SOURCE,
                    seen.exchange,
                )
        previous = status


@check(
    "terminal_fields_consistent",
    "completed_at and stop_reason are null before the end and set at the end; a cancelled "
    "run stops with `cancelled`.",
    kind="run",
    phases=LIFECYCLE,
)
def terminal_fields_consistent(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    for seen in trace.observations:
        run = seen.run
        status = run.get("status")
        if status not in RUN_STATUS:
            continue
        terminal = status in TERMINAL_STATUSES
        for name in ("completed_at", "stop_reason"):
            value = run.get(name)
            if terminal and value is None:
                yield Failure(
                    f"run {trace.run_id} is {status} but {name} is null",
                    f"{name} null while {status}",
                    f"{name} is set when a run ends",
                    doc_reference("run", name),
                    seen.exchange,
                )
            if not terminal and value is not None:
                yield Failure(
                    f"run {trace.run_id} is {status} but {name} is already {value!r}",
                    f"{name} set while {status}",
                    f"{name} stays null until the run ends",
                    doc_reference("run", name),
                    seen.exchange,
                )
        if status == RUN_STATUS.cancelled and run.get("stop_reason") not in (None, "cancelled"):
            yield Failure(
                f"run {trace.run_id} is cancelled with stop_reason {run.get('stop_reason')!r}",
                "cancelled without stop_reason cancelled",
                "a cancelled run has stop_reason `cancelled`",
                f"{SERVER_NAME}: a cancel sets status and stop_reason to cancelled",
                seen.exchange,
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
        if created is not None:
            if first_created is not None and created != first_created:
                yield Failure(
                    f"created_at changed from {first_created.isoformat()} to {created.isoformat()}",
                    "created_at changed",
                    "created_at never changes",
                    doc_reference("run", "created_at"),
                    seen.exchange,
                )
            first_created = first_created or created
        if created is not None and completed is not None and completed < created:
            yield Failure(
                f"completed_at {run.get('completed_at')} is before created_at {run.get('created_at')}",
                "completed_at before created_at",
                "a run completes after it is created",
                doc_reference("run", "completed_at"),
                seen.exchange,
            )
        if created is not None and sent is not None and sent < created:
            yield Failure(
                f"callback_sent_at {run.get('callback_sent_at')} is before created_at",
                "callback_sent_at before created_at",
                "a callback is sent after the run is created",
                doc_reference("run", "callback_sent_at"),
                seen.exchange,
            )
        if completed is not None:
            if first_completed is not None and completed != first_completed:
                yield Failure(
                    f"completed_at changed from {first_completed.isoformat()} to "
                    f"{completed.isoformat()}",
                    "completed_at changed",
                    "completed_at is set once, when the run first ends",
                    doc_reference("run", "completed_at"),
                    seen.exchange,
                )
            first_completed = first_completed or completed


SLACK_SECONDS = 1.0


@check(
    "durations_consistent",
    "ttft_ns and total_duration_ns are non-negative integers, only set once a run ended, "
    "ttft_ns <= total_duration_ns <= completed_at - created_at.",
    kind="run",
    phases=LIFECYCLE,
)
def durations_consistent(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    for seen in trace.observations:
        run = seen.run
        ttft, total = run.get("ttft_ns"), run.get("total_duration_ns")
        for name, value in (("ttft_ns", ttft), ("total_duration_ns", total)):
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                yield Failure(
                    f"{name} is {value!r}",
                    f"{name} not a non-negative integer",
                    f"{name} is a non-negative integer number of nanoseconds",
                    doc_reference("run", name),
                    seen.exchange,
                )
            elif run.get("status") not in TERMINAL_STATUSES and name == "total_duration_ns":
                yield Failure(
                    f"total_duration_ns is {value} while the run is {run.get('status')}",
                    "total_duration_ns set before the end",
                    "a run's duration is known only when it ends",
                    doc_reference("run", name),
                    seen.exchange,
                )
        if isinstance(ttft, int) and isinstance(total, int) and 0 <= total < ttft:
            yield Failure(
                f"ttft_ns {ttft} is larger than total_duration_ns {total}",
                "ttft_ns > total_duration_ns",
                "the first token comes before the end of the run",
                doc_reference("run", "ttft_ns"),
                seen.exchange,
            )
        created, completed = parse_time(run.get("created_at")), parse_time(run.get("completed_at"))
        if isinstance(total, int) and total >= 0 and created and completed:
            wall = (completed - created).total_seconds()
            if total / 1e9 > wall * 1.1 + SLACK_SECONDS:
                yield Failure(
                    f"total_duration_ns {total} ({total / 1e9:.3f} s) exceeds "
                    f"completed_at - created_at ({wall:.3f} s)",
                    "total_duration_ns longer than the run",
                    "a run's duration fits between created_at and completed_at",
                    doc_reference("run", "total_duration_ns"),
                    seen.exchange,
                )


@check(
    "retrieve_matches_listing",
    "A run is the same on GET /v1/runs/{id} and in the GET /v1/runs/ listing.",
    kind="run",
    phases=LIFECYCLE,
)
def retrieve_matches_listing(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    for probe in trace.listings:
        if probe.before != probe.after:
            continue  # the run changed meanwhile: nothing to compare
        if probe.listed is None:
            if probe.listing_size < probe.limit:
                yield Failure(
                    f"run {trace.run_id} is missing from GET /v1/runs/?agent_id=… "
                    f"({probe.listing_size} runs listed)",
                    "run missing from the listing",
                    "every run of an agent is listed by GET /v1/runs/?agent_id=",
                    doc_reference("run"),
                    probe.listing,
                )
            continue
        for name in RUN_FIELDS:
            if probe.listed.get(name) != probe.before.get(name):
                yield Failure(
                    f"{name} is {probe.before.get(name)!r} on GET /v1/runs/{trace.run_id} but "
                    f"{probe.listed.get(name)!r} in the listing",
                    f"{name} differs between retrieve and list",
                    "a run reads the same wherever it is returned",
                    doc_reference("run", name),
                    probe.listing,
                )


@check(
    "cancel_sticks",
    "A cancel (POST /v1/agents/{agent_id}/messages/cancel) answered `cancelled` leaves the run "
    "cancelled, for good.",
    kind="run",
    phases=LIFECYCLE,
)
def cancel_sticks(ctx: CheckContext, trace: RunTrace) -> Iterator[Failure]:
    if trace.cancel_sent_at is None or trace.cancel_exchange is None:
        return
    response = trace.cancel_exchange.response
    body = response.json() if response is not None else None
    source = f"{SERVER_NAME}: POST /v1/agents/{{agent_id}}/messages/cancel with run_ids"
    if response is None or response.status != 200:
        yield Failure(
            f"cancel answered {response.status if response else 'nothing'}",
            "cancel not answered 200",
            "cancelling an active run is answered 200",
            source,
            trace.cancel_exchange,
        )
        return
    problems = validator("cancel-response", "documented").problems(body)
    if problems or not isinstance(body, dict) or trace.run_id not in body:
        yield Failure(
            f"the cancel answer does not report run {trace.run_id}: {body!r:.200}",
            "cancel answer lacks the run",
            "the cancel answer maps each run id to `cancelled` or `failed`",
            doc_reference("cancel-response"),
            trace.cancel_exchange,
        )
        return
    if body[trace.run_id] != "cancelled" or trace.status_before_cancel in TERMINAL_STATUSES:
        return
    after = [o for o in trace.observations if o.at > trace.cancel_sent_at]
    if not after:
        return
    if after[0].run.get("status") != RUN_STATUS.cancelled:
        yield Failure(
            f"the cancel answered 'cancelled' but the run is {after[0].run.get('status')!r}",
            "cancel did not take effect",
            "a run the cancel reports `cancelled` is cancelled",
            source,
            after[0].exchange,
        )
        return
    for seen in after[1:]:
        if seen.run.get("status") != RUN_STATUS.cancelled:
            yield Failure(
                f"run {trace.run_id} was cancelled, then became {seen.run.get('status')!r}",
                f"cancelled -> {seen.run.get('status')}",
                "a cancelled run stays cancelled",
                source,
                seen.exchange,
            )
            return
