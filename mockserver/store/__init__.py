"""Stores of runs, agents and shared settings: one interface, four implementations.

``LmdbStore`` needs the ``lmdb`` package (the ``[lmdb]`` extra) and ``RedisStore`` the
``redis`` package (the ``[redis]`` extra); each is imported only when asked for.
"""

from typing import Any

from letta_contract_kit.mockserver.store.base import (
    CannotOpen,
    Store,
    StoreFailed,
    StoreFull,
    StoreUnreachable,
)
from letta_contract_kit.mockserver.store.memory import MemoryStore
from letta_contract_kit.mockserver.store.sqlite import SqliteStore

__all__ = [
    "CannotOpen",
    "LmdbStore",
    "MemoryStore",
    "RedisStore",
    "SqliteStore",
    "Store",
    "StoreFailed",
    "StoreFull",
    "StoreUnreachable",
]


def __getattr__(name: str) -> Any:
    if name == "LmdbStore":
        from letta_contract_kit.mockserver.store.lmdb import LmdbStore

        return LmdbStore
    if name == "RedisStore":
        from letta_contract_kit.mockserver.store.redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
