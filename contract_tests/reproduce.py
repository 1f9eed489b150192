"""A run's whole story as a shell script that plays it again.

A lifecycle violation is about a sequence (create, poll, cancel, poll), so its last request
alone reproduces nothing. The script sends every request the suite sent about the run, in
order, with the pauses seen between them, capturing the new run's id from the first answer
(``$RUN_ID``), and the token from ``$LETTA_API_KEY``. Repeated identical polls are sent once,
with how many there were in a comment.
"""

from __future__ import annotations

from letta_contract_kit.contract_tests.client import REDACTED, Exchange, SentRequest
from letta_contract_kit.contract_tests.observations import RunTrace

CAPTURE_ID = "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"id\"])'"
MIN_PAUSE = 0.05  # seconds: shorter gaps are not written as a sleep


def _quote(text: str, run_id: str) -> str:
    """``text`` single-quoted for the shell, with the run id as ``$RUN_ID``."""
    quoted = "'" + text.replace("'", "'\"'\"'") + "'"
    return quoted.replace(run_id, "'\"$RUN_ID\"'") if run_id else quoted


def _curl(request: SentRequest, run_id: str) -> str:
    parts = ["curl -sS -X", request.method, _quote(request.url, run_id)]
    for name, value in request.headers.items():
        if name.lower() == "authorization" and REDACTED in value:
            parts += ["-H", '"Authorization: Bearer $LETTA_API_KEY"']
        else:
            parts += ["-H", _quote(f"{name}: {value}", run_id)]
    body = request.body_text()
    if body is not None:
        parts += ["--data-raw", _quote(body, run_id)]
    return " ".join(parts)


def _steps(trace: RunTrace) -> list[tuple[float, Exchange]]:
    steps = [(o.at, o.exchange) for o in trace.observations[1:]]
    steps += [(c.at, c.exchange) for c in trace.cancels]
    seen: set[int] = set()
    unique = []
    for at, exchange in sorted(steps, key=lambda s: s[0]):
        if id(exchange) not in seen:  # one listing may show the run more than once
            seen.add(id(exchange))
            unique.append((at, exchange))
    return unique


def script(trace: RunTrace) -> str | None:
    """The script, or None when the suite did not create the run itself."""
    if trace.created is None:
        return None
    created = trace.created.request
    lines = [
        "#!/bin/sh",
        f"# Replays what the suite sent about run {trace.run_id}, in order.",
        "set -eu",
        f"RUN_ID=$({_curl(created, '')} | {CAPTURE_ID})",
        'echo "created $RUN_ID"',
    ]
    # Consecutive identical requests (polls) form one group, sent as a loop.
    groups: list[tuple[str, list[float], list[Exchange]]] = []
    for at, exchange in _steps(trace):
        line = _curl(exchange.request, trace.run_id)
        if groups and groups[-1][0] == line:
            groups[-1][1].append(at)
            groups[-1][2].append(exchange)
        else:
            groups.append((line, [at], [exchange]))
    previous_at = trace.observations[0].at if trace.observations else trace.started
    for line, times, exchanges in groups:
        pause = times[0] - previous_at
        if pause >= MIN_PAUSE:
            lines.append(f"sleep {pause:.2f}")
        answered = sorted({_status(e) for e in exchanges})
        if len(times) == 1:
            lines.append(f"{line}; echo  # the target answered {answered[0]}")
        else:
            gap = (times[-1] - times[0]) / (len(times) - 1)
            wait = f" sleep {gap:.2f};" if gap >= MIN_PAUSE else ""
            lines.append(
                f"for _ in $(seq {len(times)}); do {line}; echo;{wait} done"
                f"  # sent {len(times)} times; the target answered {', '.join(answered)}"
            )
        previous_at = times[-1]
    return "\n".join(lines) + "\n"


def _status(exchange: Exchange) -> str:
    return str(exchange.response.status) if exchange.response is not None else "nothing"
