"""Stores of runs, agents and shared settings: one interface, three implementations."""

from letta_contract_kit.mockserver.store.base import Store, StoreFull
from letta_contract_kit.mockserver.store.lmdb import LmdbStore
from letta_contract_kit.mockserver.store.memory import MemoryStore
from letta_contract_kit.mockserver.store.sqlite import SqliteStore

__all__ = ["LmdbStore", "MemoryStore", "SqliteStore", "Store", "StoreFull"]
