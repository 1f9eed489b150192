"""Stores of runs, agents and shared settings: one interface, three implementations.

``LmdbStore`` needs the ``lmdb`` package (the ``[lmdb]`` extra) and is imported only when
asked for.
"""

from typing import Any

from letta_contract_kit.mockserver.store.base import CannotOpen, Store, StoreFailed, StoreFull
from letta_contract_kit.mockserver.store.memory import MemoryStore
from letta_contract_kit.mockserver.store.sqlite import SqliteStore

__all__ = [
    "CannotOpen",
    "LmdbStore",
    "MemoryStore",
    "SqliteStore",
    "Store",
    "StoreFailed",
    "StoreFull",
]


def __getattr__(name: str) -> Any:
    if name == "LmdbStore":
        from letta_contract_kit.mockserver.store.lmdb import LmdbStore

        return LmdbStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
