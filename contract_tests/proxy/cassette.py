"""Recording: each exchange the proxy forwarded as one JSON line (schema ``cassette-line``).

Secrets never reach the file: headers whose names say they carry a credential are left out
(their names are kept, in ``redacted_headers``), and every secret value the proxy has seen is
replaced wherever else it appears. Bodies are kept as text when they are UTF-8 (base64
otherwise), whole up to ``MAX_BODY_BYTES``.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from letta_contract_kit.contract_tests.proxy.headers import Headers, SecretBook, recorded
from letta_contract_kit.schemas.cassette import KIND, MAX_BODY_BYTES, VERSION

__all__ = ["KIND", "MAX_BODY_BYTES", "VERSION", "Cassette", "line"]


def _body(data: bytes | None, complete: bool = True) -> dict[str, Any] | None:
    if not data:
        return None
    shown = data[:MAX_BODY_BYTES]
    try:
        body: dict[str, Any] = {"text": shown.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"base64": base64.b64encode(shown).decode("ascii")}
    if len(data) > MAX_BODY_BYTES or not complete:
        body["truncated"] = True
    return body


def line(
    *,
    seq: int,
    at: datetime,
    method: str,
    path: str,
    query: str,
    request_headers: Headers,
    request_body: bytes,
    status: int,
    response_headers: Headers,
    response_body: bytes | None,
    elapsed: float,
    run_id: str | None,
    answered_by: str = "upstream",
    complete: bool = True,
) -> dict[str, Any]:
    """One exchange as a cassette line (secrets left out of the headers only)."""
    sent, left_out = recorded(request_headers)
    got, got_left_out = recorded(response_headers)
    return {
        "cassette": KIND,
        "version": VERSION,
        "seq": seq,
        "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "method": method,
        "path": path,
        "query": query,
        "request": {"headers": sent, "body": _body(request_body)},
        "response": {
            "status": status,
            "headers": got,
            "body": _body(response_body, complete),
            "answered_by": answered_by,
        },
        "redacted_headers": sorted({*left_out, *got_left_out}, key=str.lower),
        "elapsed_ms": round(elapsed * 1000, 3),
        "run_id": run_id,
    }


class Cassette:
    """Appends lines to a file, one write per line, each flushed (a crash loses none)."""

    def __init__(self, path: str | Path, secrets: SecretBook) -> None:
        self.path = Path(path)
        self.secrets = secrets
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.lines = 0

    def write(self, entry: dict[str, Any]) -> None:
        text = self.secrets.scrub_text(json.dumps(entry, ensure_ascii=False))
        with self._lock:
            if self._file.closed:
                return
            self._file.write(text + "\n")
            self._file.flush()
            self.lines += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()
