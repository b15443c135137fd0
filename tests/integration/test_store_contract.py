"""The storage contract, run on every store omsims ships."""

import pytest

from omsims.adapters.memory import MemoryStore
from omsims.adapters.postgres import PostgresStore
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


class TestPostgresStore(StoreContract):
    durable = True

    @pytest.fixture
    def place(self, tmp_path, pg_database):
        self.url = pg_database  # a fresh database per test
        return tmp_path

    def open_store(self, place):
        return PostgresStore(self.url)
