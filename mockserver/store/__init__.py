"""Stores of runs, agents and shared settings: one interface, three implementations."""

from mockserver.store.base import Store, StoreFull
from mockserver.store.lmdb import LmdbStore
from mockserver.store.memory import MemoryStore
from mockserver.store.sqlite import SqliteStore

__all__ = ["LmdbStore", "MemoryStore", "SqliteStore", "Store", "StoreFull"]
