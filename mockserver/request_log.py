"""One line per request on stderr, as text or JSON (``--log-requests``, ``--log-format``).

Installed on the app only when asked for, so that a mock that does not log pays nothing.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

# Where the request's start is noted (in the WSGI environ, as the app's fault is).
STARTED_KEY = "letta_mock.started"
CREATE_SUFFIX = "/messages/async"


def log_requests(app: Flask, log_format: str) -> None:
    """Log each request ``app`` answers. Call it before the app's own hooks are registered,
    so that the time spent in them (an injected latency, say) is counted."""

    @app.before_request
    def note_start() -> None:
        request.environ[STARTED_KEY] = time.perf_counter()

    @app.after_request
    def write_line(response: Response) -> Response:
        started = request.environ.get(STARTED_KEY)
        milliseconds = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "ms": round(milliseconds, 2),
            "run_id": _run_id(response),
        }
        sys.stderr.write(_formatted(entry, log_format) + "\n")
        sys.stderr.flush()
        return response


def _run_id(response: Response) -> str | None:
    """The run the request names in its path, or the one it created."""
    named = (request.view_args or {}).get("run_id")
    if isinstance(named, str):
        return named
    if request.method == "POST" and request.path.endswith(CREATE_SUFFIX):
        if response.is_streamed or response.status_code != 200:
            return None  # a dropped connection's body cannot be read without sending it
        body: Any = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            return str(body["id"])
    return None


def _formatted(entry: dict[str, Any], log_format: str) -> str:
    if log_format == "json":
        return json.dumps(entry, ensure_ascii=False)
    run = f" {entry['run_id']}" if entry["run_id"] else ""
    return (
        f"{entry['at']} {entry['method']} {entry['path']} {entry['status']} "
        f"{entry['ms']:.1f} ms{run}"
    )
