"""The four versions of the endpoint's documentation the contract is read from."""

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


def describe(key: str) -> str:
    for version in DOC_VERSIONS:
        if version.key == key:
            return f"documentation version {key} ({version.title})"
    raise KeyError(key)
