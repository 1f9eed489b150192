"""hypothesis-jsonschema on every Hypothesis the kit allows.

hypothesis-jsonschema 0.23.1 (the newest) draws an object's keys with Hypothesis' internal
``many`` helper through its old interface (``while elements.more(): ... elements.reject()``).
Hypothesis 6.170.10 replaced that interface with a context manager that is iterated, so on
newer Hypothesis every object schema fails with ``'many' object has no attribute 'more'``.

:func:`install` gives hypothesis-jsonschema an adapter with the old interface over the new
helper, and only when the installed Hypothesis lacks ``more``: nothing changes on older
Hypothesis, nor in Hypothesis itself. Importing :mod:`contract_tests.strategies` installs it.
"""

from __future__ import annotations

import types
from typing import Any

from hypothesis.internal.conjecture import utils as conjecture_utils


class LegacyMany:
    """``many(data, min_size=..., max_size=..., average_size=...)`` with ``more``/``reject``."""

    def __init__(self, data: Any, **sizes: Any) -> None:
        make: Any = conjecture_utils.many  # typed by whichever Hypothesis is installed
        self._many: Any = make(data, **sizes)
        self._many.__enter__()
        self._elements = iter(self._many)
        self._open = True

    def more(self) -> bool:
        if not self._open:
            return False
        try:
            next(self._elements)
        except StopIteration:
            self._open = False
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


def needed() -> bool:
    """Whether the installed Hypothesis lacks the interface hypothesis-jsonschema uses."""
    return not hasattr(conjecture_utils.many, "more")


def install() -> bool:
    """Point hypothesis-jsonschema at :class:`LegacyMany` where needed; True if it did."""
    if not needed():
        return False
    from hypothesis_jsonschema import _from_schema

    current = getattr(_from_schema, "cu", None)
    if isinstance(current, types.SimpleNamespace):  # installed already
        return True
    names = {n: getattr(conjecture_utils, n) for n in dir(conjecture_utils) if n[:2] != "__"}
    setattr(_from_schema, "cu", types.SimpleNamespace(**{**names, "many": LegacyMany}))  # noqa: B010
    return True
