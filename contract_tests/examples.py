"""The project's labelled example bodies (the ``fixtures`` package), when it is installed."""

from __future__ import annotations

from typing import Any

from letta_contract_kit.contract_tests.config import SuiteConfig


def labelled(config: SuiteConfig, kind: str) -> list[Any]:
    """``fixtures.invalid_requests()`` or ``fixtures.divergent_requests()`` (``kind``:
    ``invalid`` or ``divergent``); empty when turned off or when the package is missing."""
    if not config.use_fixtures:
        return []
    try:
        from letta_contract_kit import fixtures
    except ImportError:
        return []
    found: list[Any] = getattr(fixtures, f"{kind}_requests")()
    return found
