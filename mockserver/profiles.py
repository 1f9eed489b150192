"""Request profiles: the checks the mock adds to (or removes from) the schema's server reading.

``strict`` (the default) rejects with 422 what the real server accepts only to fail the run
later: an empty ``messages`` list and empty content. A compatibility profile that lets those
through (and fails the run in the background, as the real server does) plugs in here: add a
function to PROFILES and make the lifecycle fail such runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.validation import Problem

ProfileCheck = Callable[[dict[str, Any]], list[Problem]]

EMPTY_CONTENT = (
    "Content is empty: give some text or parts (the real server accepts this and then fails "
    "the run with 'Message content is empty or invalid')"
)


def _empty(value: Any) -> bool:
    return isinstance(value, str | list) and len(value) == 0


def strict(body: dict[str, Any]) -> list[Problem]:
    found: list[Problem] = []
    messages = body.get("messages")
    if messages == []:
        found.append(
            Problem(
                ("messages",),
                "too_short",
                "messages is empty: send at least one message (the real server accepts this "
                "and then fails the run)",
            )
        )
    if _empty(body.get("input")):
        found.append(Problem(("input",), "empty_content", EMPTY_CONTENT))
    for index, item in enumerate(messages or []):
        if isinstance(item, dict) and "content" in item and _empty(item["content"]):
            found.append(Problem(("messages", index, "content"), "empty_content", EMPTY_CONTENT))
    return found


PROFILES: dict[str, ProfileCheck] = {"strict": strict}
