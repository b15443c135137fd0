"""The storage contract, run on every store omsims ships."""

from omsims.adapters.memory import MemoryStore
from omsims.adapters.sqlite import SqliteStore
from omsims.testing.contract import StoreContract


class TestMemoryStore(StoreContract):
    durable = False

    def open_store(self, place):
        return MemoryStore()


class TestSqliteStore(StoreContract):
    durable = True

    def open_store(self, place):
        return SqliteStore(place / "shop.db")


class TestSqliteStoreNormalSync(StoreContract):
    durable = True

    def open_store(self, place):
        return SqliteStore(place / "shop.db", synchronous="NORMAL")
