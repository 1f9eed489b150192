"""Taking secrets out of what the suite shows, and only there.

The checks judge what the target answered, unchanged. What leaves the engine (events for
the reporters, the result a caller gets back) passes through one :class:`Redactor`, which
replaces whole secrets with ``[REDACTED]``. A secret shorter than ``MIN_SECRET_CHARS`` is
not searched for: replacing every ``e`` of a report for a token ``e`` would make the report
lie about what the target said. Such a token is still never shown as a header the suite
sent (the client masks its own ``Authorization``), and the suite says it could not do more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 8

T = TypeVar("T")


class Redactor:
    def __init__(self, secrets: Iterable[str | None]) -> None:
        given = {s for s in secrets if s}
        self.secrets = sorted((s for s in given if len(s) >= MIN_SECRET_CHARS), key=len)[::-1]
        self.too_short = sorted(s for s in given if len(s) < MIN_SECRET_CHARS)

    def warning(self) -> str | None:
        """What to tell the user when a secret is too short to be searched for."""
        if not self.too_short:
            return None
        return (
            f"the token is shorter than {MIN_SECRET_CHARS} characters, so it is not searched "
            "for in what the target answered: a server that echoes it shows it in the "
            "reports (the suite's own Authorization header is masked all the same)"
        )

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return value

    def scrub(self, value: T) -> T:
        """``value`` with every secret replaced in every string inside it (dataclasses,
        dicts, lists and tuples are copied; nothing is changed in place)."""
        if not self.secrets:
            return value
        return self._scrub(value)  # type: ignore[no-any-return]

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._scrub(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._scrub(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {
                f.name: self._scrub(getattr(value, f.name))
                for f in dataclasses.fields(value)
                if f.init
            }
            return dataclasses.replace(value, **changes)
        return value
