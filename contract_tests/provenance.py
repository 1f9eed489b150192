"""Where an expectation comes from, and therefore what breaking it means.

Every rule the suite holds a server to has a :class:`Source`:

``documentation``
    a fact a documentation version (or a companion reference page) states, cited by version
    and section. Breaking it is a **violation**.
``both readings``
    a rule the documentation's reading and the real server's reading share, such as HTTP's
    meaning of a 5xx, or that an ended run stays ended. Breaking it is a **violation**.
``real server``
    what Letta 0.16.8 does where the documentation says nothing (a 400 for a malformed run id,
    the body of a callback). A server that does otherwise shows a **divergence**: reported,
    never a violation, never in the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from letta_contract_kit.schemas.versions import describe

SERVER_NAME = "Letta 0.16.8"


class SourceKind(StrEnum):
    DOCUMENTATION = "documentation"
    SHARED = "both readings"
    SERVER = "real server"


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    citation: str

    @property
    def binding(self) -> bool:
        """Whether breaking a rule of this source is a violation (else a divergence)."""
        return self.kind is not SourceKind.SERVER

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.citation}"


def documented(key: str, section: str) -> Source:
    """A fact of documentation version (or companion page) ``key``, in ``section``."""
    return Source(SourceKind.DOCUMENTATION, f"{describe(key)} § {section}")


def shared(basis: str) -> Source:
    """A rule both readings share; ``basis`` says why (the documentation's words, an RFC)."""
    return Source(SourceKind.SHARED, basis)


def server(finding: str) -> Source:
    """A fact of the real server only; ``finding`` names where it was observed."""
    return Source(SourceKind.SERVER, f"{SERVER_NAME}, {finding}")


@dataclass(frozen=True)
class Rule:
    """One expectation of a check: what must hold, and where that comes from."""

    id: str
    check: str
    text: str
    source: Source

    @property
    def binding(self) -> bool:
        return self.source.binding
