"""Quirks: the places where a real server departs from the documented contract, by name.

Each quirk is one such departure, a boolean field of ``Quirks`` with a one-line summary and
where it was observed (a section of the real-server findings, or a case of the differential
report against Letta 0.16.8). A profile is a set of quirks:
``strict`` (the default: the documented contract) and ``letta-0.16.8`` (every quirk that
version shows). ``--quirk NAME`` and ``--no-quirk NAME`` add or remove single quirks on top
of the profile. The code that a quirk changes reads its field where that behaviour lives,
e.g. ``quirks.no_running_status`` in the lifecycle.

Three quirks are on in ``strict`` too, because the documentation says nothing against them:
``lax-coercion``, ``callback-result-metadata`` and ``background-validation`` (the
documentation accepts an empty ``messages`` list and empty content, so refusing them would
depart from it; the run fails instead, as on the real server).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Final

DEFAULT_PROFILE: Final = "strict"
COMPAT_PROFILE: Final = "letta-0.16.8"


def _quirk(summary: str, finding: str, *, strict: bool = False, name: str = "") -> Any:
    """A quirk field; its name is the field's with ``-`` for ``_`` unless ``name`` says."""
    details = {"summary": summary, "finding": finding, "strict": strict, "name": name}
    return field(default=False, metadata=details)


@dataclass(frozen=True)
class Quirk:
    """One quirk as the registry lists it."""

    name: str
    summary: str
    finding: str
    in_strict: bool


@dataclass(frozen=True)
class Quirks:
    """The quirks in force. Build it with ``resolve``; read it by attribute."""

    no_running_status: bool = _quirk(
        "a run goes straight from `created` to its end; `running` is never shown", "§2"
    )
    naive_completed_at: bool = _quirk(
        "`completed_at` and `callback_sent_at` (run and callback body) have no UTC offset",
        "§2, §3",
    )
    ttft_null: bool = _quirk("`ttft_ns` stays null", "§2")
    duration_listing_only: bool = _quirk(
        "`total_duration_ns` is null on the run; only `GET /v1/runs/` items carry it", "§2"
    )
    string_422_detail: bool = _quirk(
        '422 bodies are `{"trace_id": "", "detail": "<repr of the error list>"}`', "§5"
    )
    path_id_422_examples: bool = _quirk(
        "a 422 for a malformed path id uses pydantic's pattern message and adds `examples`",
        "§5",
    )
    background_validation: bool = _quirk(
        "`messages: []` and empty content are accepted (200); the run then fails "
        "(`failed`/`error`, `metadata.error`)",
        "§1, §2",
        strict=True,
    )
    union_tag_required: bool = _quirk(
        "a text part or URL image source without its `type` (which the documentation marks "
        "optional) is refused with 422 `union_tag_not_found`",
        "§5",
    )
    unknown_override_model_fails_run: bool = _quirk(
        "an `override_model` no agent of the mock uses is accepted (200); the run then fails "
        "with `NOT_FOUND: Handle ... not found`",
        "§1, §2",
    )
    image_url_fetched_in_background: bool = _quirk(
        "an image URL the mock may not fetch is accepted (200); the run then fails with "
        "`INVALID_ARGUMENT: Failed to fetch image from ...`",
        "§1, §7",
    )
    approval_needs_pending_request: bool = _quirk(
        "an approval or tool return sent while no tool call awaits approval is accepted (200); "
        "the run then fails with `Cannot process approval response: ...`",
        "differential report, `valid/approval-*`",
    )
    zero_steps_run: bool = _quirk(
        "`max_steps` 0 or less runs no step: `completed`/`end_turn` with no messages, no steps "
        "and zero usage, whatever the scenario",
        "§2",
    )
    cancel_overwritten_by_completion: bool = _quirk(
        "a cancelled single-step run shows `cancelled`, then ends as planned when its step "
        "would have (`completed_at` and the one callback stay the cancel's)",
        "§4",
    )
    cancel_skips_agent_check: bool = _quirk(
        "the cancel route does not check that the agent exists (no 404: 409 or per-run results)",
        "differential report, `unknown/agent`",
    )
    run_id_trailing_newline: bool = _quirk(
        "a run id followed by one newline passes the format check (404, not 400)",
        "differential report, `run-id/trailing-newline`",
    )
    bare_redirect: bool = _quirk(
        "the 307 to the other trailing-slash form has an empty body and no Content-Type",
        "§5",
    )
    allow_patch_on_405: bool = _quirk(
        "a wrong method on `/v1/agents/{id}/messages/{x}` answers 405 with `Allow: PATCH`",
        "differential report, `routing/wrong-method`",
        name="405-allow-patch",
    )
    cancel_answers_after_callback: bool = _quirk(
        "a cancel answers only once the cancelled run's callback has been sent",
        "§4",
    )
    callback_sent_at_on_failure: bool = _quirk(
        'a callback that cannot be sent (e.g. `callback_url: "not a url"`) still records '
        "`callback_sent_at`",
        "§3",
    )
    delete_run_500: bool = _quirk(
        "`DELETE /v1/runs/{run_id}` answers 500 `An unknown error occurred` and deletes nothing",
        "§5",
    )
    httpx_callback_client: bool = _quirk(
        "callbacks are sent with the headers of `python-httpx/0.28.1` (`User-Agent`, `Accept`, "
        "`Accept-Encoding`) instead of the mock's HTTP client's",
        "differential report, `callback/*`",
    )
    lax_coercion: bool = _quirk(
        'lax integers and booleans (`"2"`, `"yes"`) are accepted and stored as plain values',
        "§5",
        strict=True,
    )
    callback_result_metadata: bool = _quirk(
        "the callback body's `metadata` carries `result` (messages, stop_reason, usage, ...)",
        "§3",
        strict=True,
    )

    def names(self) -> frozenset[str]:
        """The names of the quirks in force."""
        return frozenset(
            name for name, attribute in _ATTRIBUTES.items() if getattr(self, attribute)
        )


_ATTRIBUTES: dict[str, str] = {
    str(f.metadata["name"]) or f.name.replace("_", "-"): f.name for f in fields(Quirks)
}
QUIRKS: tuple[Quirk, ...] = tuple(
    Quirk(name, str(f.metadata["summary"]), str(f.metadata["finding"]), bool(f.metadata["strict"]))
    for name, f in zip(_ATTRIBUTES, fields(Quirks), strict=True)
)
QUIRK_NAMES: frozenset[str] = frozenset(q.name for q in QUIRKS)
PROFILE_QUIRKS: dict[str, frozenset[str]] = {
    DEFAULT_PROFILE: frozenset(q.name for q in QUIRKS if q.in_strict),
    COMPAT_PROFILE: QUIRK_NAMES,
}


def unknown_quirks(names: Iterable[str]) -> list[str]:
    return sorted(set(names) - QUIRK_NAMES)


def resolve(profile: str, on: Iterable[str] = (), off: Iterable[str] = ()) -> Quirks:
    """The quirks of ``profile``, plus ``on``, minus ``off`` (``off`` wins over ``on``)."""
    if profile not in PROFILE_QUIRKS:
        raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILE_QUIRKS)}")
    on, off = list(on), list(off)
    unknown = unknown_quirks([*on, *off])
    if unknown:
        raise ValueError(
            f"unknown quirks {', '.join(unknown)}: the quirks are {', '.join(sorted(QUIRK_NAMES))}"
        )
    chosen = (PROFILE_QUIRKS[profile] | set(on)) - set(off)
    return Quirks(**{_ATTRIBUTES[name]: True for name in chosen})


def quirk_table() -> str:
    """The quirks as lines of text, for ``letta-mock --list-quirks``."""
    width = max(len(q.name) for q in QUIRKS)
    profiles = {
        q.name: ", ".join(p for p, names in PROFILE_QUIRKS.items() if q.name in names)
        for q in QUIRKS
    }
    column = max(len(text) for text in profiles.values())
    return "\n".join(
        f"{q.name:<{width}}  {profiles[q.name]:<{column}}  {q.summary}" for q in QUIRKS
    )


__all__ = [
    "COMPAT_PROFILE",
    "DEFAULT_PROFILE",
    "PROFILE_QUIRKS",
    "QUIRKS",
    "QUIRK_NAMES",
    "Quirk",
    "Quirks",
    "quirk_table",
    "resolve",
    "unknown_quirks",
]
