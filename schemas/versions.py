"""The documentation the contract is read from: four versions of the endpoint's page, and the
reference pages of the routes that page sends its readers to.

The endpoint's page (``POST /v1/agents/{agent_id}/messages/async``) exists in four versions;
where they disagree the newest (001) wins, and where it is silent the older ones speak. The
page says a run "must be fetched by the run ID"; the routes that do that (retrieve, list and
cancel runs) have reference pages of their own, of the same generation as 001, and Letta's
OpenAPI document, from which the reference pages are rendered, states the status codes and the
validation-error body every route answers with. Those are documentation too, and are cited as
such (``COMPANION_PAGES``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocVersion:
    key: str
    title: str
    era: str


# Oldest first. Where versions disagree, the newest (001) wins.
DOC_VERSIONS: tuple[DocVersion, ...] = (
    DocVersion(
        "003", "Send Message Async (Fern reference page)", "oldest; states the agent_id regex"
    ),
    DocVersion(
        "000", "Send Message Async (Fern page, examples only)", "examples with untyped parts"
    ),
    DocVersion("002", "Send Message Async (Python SDK page)", "adds input; 9 message types"),
    DocVersion("001", "Create Message Async (API reference)", "newest and most complete"),
)
NEWEST = DOC_VERSIONS[-1].key


@dataclass(frozen=True)
class CompanionPage:
    """A reference page of a route the endpoint's page points its readers to."""

    key: str
    title: str
    route: str


COMPANION_PAGES: tuple[CompanionPage, ...] = (
    CompanionPage("retrieve-run", "Retrieve Run (API reference)", "GET /v1/runs/{run_id}"),
    CompanionPage("list-runs", "List Runs (API reference)", "GET /v1/runs/"),
    CompanionPage(
        "cancel-message",
        "Cancel Message (API reference)",
        "POST /v1/agents/{agent_id}/messages/cancel",
    ),
    CompanionPage("openapi", "Letta's OpenAPI document", ""),
)


def describe(key: str) -> str:
    """How a documentation version or companion page is named in reports."""
    for version in DOC_VERSIONS:
        if version.key == key:
            return f"documentation version {key} ({version.title})"
    for page in COMPANION_PAGES:
        if page.key == key:
            return f"{page.title}, {page.route}" if page.route else page.title
    raise KeyError(key)
