"""Request profiles: the checks the mock adds to the schema's server reading, and when.

Some requests the documentation accepts cannot be run: an empty ``messages`` list, empty
content. Quirks decide what happens to them; by default (``background-validation``, on in
every profile since the documentation accepts such bodies) the request is answered 200 and
its run fails, as on Letta 0.16.8, with ``stop_reason: error`` and the server's own
``metadata.error`` text; ``--no-quirk background-validation`` refuses them with 422 instead.
Three more quirks move checks into the background the same way:

* ``background-validation``: empty ``messages`` and empty content;
* ``unknown-override-model-fails-run``: an ``override_model`` handle the mock does not know
  (it knows the models of its agents);
* ``image-url-fetched-in-background``: an image URL the mock may not "fetch". The mock never
  downloads anything: a ``data:`` URL always works, an ``http``/``https`` URL works when its
  host is one of ``image_hosts`` (``--image-host``), any other URL fails the run;
* ``approval-needs-pending-request``: an approval or tool return while the agent's last run
  did not end waiting for approval (``requires_approval``).

With ``zero-steps-run``, a request with ``max_steps`` 0 or less takes no step at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from letta_contract_kit.mockserver.compat import Quirks
from letta_contract_kit.mockserver.conversation import input_messages, item_kind
from letta_contract_kit.schemas.contract import tag_of
from letta_contract_kit.schemas.validation import Problem

RequestCheck = Callable[[dict[str, Any]], list[Problem]]

EMPTY_CONTENT = (
    "Content is empty: give some text or parts (the real server accepts this and then fails "
    "the run with 'Message content is empty or invalid')"
)
# What Letta 0.16.8 writes to metadata.error for each problem it finds in the background.
EMPTY_MESSAGES_ERROR = "list index out of range"
EMPTY_CONTENT_ERROR = "Message content is empty or invalid"
NO_PENDING_APPROVAL_ERROR = (
    "Cannot process approval response: No tool call is currently awaiting approval. "
    "Please send a regular message to interact with the agent."
)
FETCHABLE_SCHEMES = ("http", "https", "data")


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


def lenient(body: dict[str, Any]) -> list[Problem]:
    """No checks beyond the schema: what the real server takes, it answers 200."""
    return []


def request_check(quirks: Quirks) -> RequestCheck:
    """The checks a request gets before its run is created."""
    return lenient if quirks.background_validation else strict


# -- what the run finds once it runs ------------------------------------------------------


def _empty_input_error(body: dict[str, Any]) -> str | None:
    if body.get("messages") == []:
        return EMPTY_MESSAGES_ERROR
    if any(_empty(m.get("content")) for m in input_messages(body) if isinstance(m, dict)):
        return EMPTY_CONTENT_ERROR
    return None


def _model_error(body: dict[str, Any], known_models: Collection[str]) -> str | None:
    handle = body.get("override_model")
    if handle is None or handle in known_models:
        return None
    # The server's text lists its handles; Letta 0.16.8 lists none ("[]") even for known ones.
    return f"NOT_FOUND: Handle {handle} not found, must be one of []"


def _image_urls(body: dict[str, Any]) -> Iterator[str]:
    image, url = tag_of("image-content"), tag_of("url-image")
    for message in input_messages(body):
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict) or part.get("type") != image:
                continue
            source = part.get("source")
            found = source.get("url") if isinstance(source, dict) else None
            if isinstance(source, dict) and source.get("type") == url and isinstance(found, str):
                yield found


def image_fetch_error(url: str, image_hosts: Iterable[str]) -> str | None:
    """Why the mock will not "fetch" ``url``, in the server's words; None when it will."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "data":
        return None
    if scheme not in FETCHABLE_SCHEMES:
        return (
            f"INVALID_ARGUMENT: Unsupported image URL scheme '{scheme}'. Only 'http', "
            "'https', and 'data' image URLs are supported."
        )
    host = (parts.hostname or "").lower()
    allowed = {h.lower() for h in image_hosts}
    if host and ("*" in allowed or host in allowed):
        return None
    return (
        f"INVALID_ARGUMENT: Failed to fetch image from {url}: Unexpected error: letta-mock "
        f"fetches no images from {host or 'this URL'!r} (allow the host with --image-host)"
    )


def _approval_error(body: dict[str, Any], awaits_approval: Callable[[], bool]) -> str | None:
    answers = {tag_of("approval-create"), tag_of("tool-return-create")}
    sent = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if not any(item_kind(m) in answers for m in sent) or awaits_approval():
        return None
    return NO_PENDING_APPROVAL_ERROR


def takes_no_step(body: dict[str, Any], quirks: Quirks) -> bool:
    """Whether the run ends without any step (``max_steps`` 0 or less, ``zero-steps-run``)."""
    steps = body.get("max_steps")
    return quirks.zero_steps_run and isinstance(steps, int) and steps <= 0


def background_error(
    body: dict[str, Any],
    quirks: Quirks,
    known_models: Collection[str],
    image_hosts: Iterable[str],
    awaits_approval: Callable[[], bool] = lambda: False,
) -> str | None:
    """The ``metadata.error`` the run will fail with, or None when it runs normally.

    Only the quirks in force are looked for, in the order the server meets the problems.
    """
    if quirks.unknown_override_model_fails_run:
        found = _model_error(body, known_models)
        if found:
            return found
    if quirks.approval_needs_pending_request:
        found = _approval_error(body, awaits_approval)
        if found:
            return found
    if quirks.background_validation:
        found = _empty_input_error(body)
        if found:
            return found
    if quirks.image_url_fetched_in_background:
        for url in _image_urls(body):
            found = image_fetch_error(url, image_hosts)
            if found:
                return found
    return None
