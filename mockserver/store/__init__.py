"""Stores of runs, agents and shared settings: one interface, two implementations."""

from mockserver.store.base import Store, StoreFull
from mockserver.store.memory import MemoryStore
from mockserver.store.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "Store", "StoreFull"]
