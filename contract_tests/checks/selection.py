"""Every check of the suite, in the order they are reported, and choosing among them by name.

Importing this module registers the suite's checks (each module registers its own when
imported); checks a user registers elsewhere are picked up too.
"""

from __future__ import annotations

from collections.abc import Iterable

from letta_contract_kit.contract_tests.checks import (  # noqa: F401 (each module registers its checks)
    callbacks,
    cancel,
    enums,
    lifecycle,
    listing,
    shape,
    status,
)
from letta_contract_kit.contract_tests.checks.registry import REGISTRY, Check

_ORDER = ("status", "shape", "enums", "lifecycle", "listing", "cancel", "callbacks")


def all_checks() -> dict[str, Check]:
    """Every registered check, by name, in registration order."""

    def rank(item: tuple[int, Check]) -> tuple[int, int]:
        module = item[1].func.__module__.rsplit(".", 1)[-1]
        return (_ORDER.index(module) if module in _ORDER else len(_ORDER), item[0])

    return {c.name: c for _, c in sorted(enumerate(REGISTRY.values()), key=rank)}


class UnknownCheck(ValueError):
    pass


def select(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[Check]:
    """The checks to run: ``only`` (all when empty) minus ``skip``; unknown names raise."""
    known = all_checks()
    only, skip = list(only), list(skip)
    unknown = [n for n in (*only, *skip) if n not in known]
    if unknown:
        raise UnknownCheck(
            f"unknown check(s) {', '.join(unknown)}: choose from {', '.join(known)} "
            "(`letta-contract list-checks` says what each verifies)"
        )
    chosen = only or list(known)
    return [known[n] for n in chosen if n not in skip]
