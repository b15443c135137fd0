"""Embedding: omsims inside a host application's own SQLAlchemy transaction on SQLite."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, event, text

from omsims import Location, Oms
from omsims.adapters.sqlite import SqliteStore, migrate
from omsims.errors import PersistenceError


@pytest.fixture
def engine(tmp_path):
    path = tmp_path / "shop.db"
    migrate(sqlite3.connect(path, isolation_level=None))  # once, at deploy time
    engine = create_engine(f"sqlite:///{path}")

    # SQLAlchemy's documented recipe for real transactions (and savepoints) on pysqlite.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE shop_audit (note TEXT)"))
    return engine


def test_omsims_commits_with_the_host_and_only_with_the_host(engine):
    with engine.begin() as conn:  # the host's transaction
        conn.execute(text("INSERT INTO shop_audit VALUES ('stock arrived')"))
        oms = Oms(SqliteStore(connection=conn.connection.driver_connection))
        oms.add_location(Location("a"))
        oms.receive("MUG", "a", 5)
        assert conn.connection.driver_connection.in_transaction  # omsims did not commit
    with engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM shop_audit")).scalar() == 1
        store = SqliteStore(connection=conn.connection.driver_connection)
        assert Oms(store).available("MUG", "a") == 5


def test_a_host_rollback_takes_omsims_writes_with_it(engine):
    with engine.begin() as conn:
        oms = Oms(SqliteStore(connection=conn.connection.driver_connection))
        oms.add_location(Location("a"))
    conn = engine.connect()
    raw = conn.connection.driver_connection
    store = SqliteStore(connection=raw)
    oms = Oms(store)
    tx = conn.begin()
    oms.receive("MUG", "a", 5)
    assert oms.available("MUG", "a") == 5  # visible inside the host's transaction
    tx.rollback()
    tx = conn.begin()
    assert "MUG" not in oms.skus()  # the cache saw the rollback and reloaded
    oms.receive("MUG", "a", 2)
    tx.commit()
    conn.close()
    with engine.begin() as again:  # reads, too, run in a host transaction
        fresh = Oms(SqliteStore(connection=again.connection.driver_connection))
        assert fresh.available("MUG", "a") == 2
        fresh.check_invariants()


def test_without_a_host_transaction_omsims_refuses_rather_than_commit(engine):
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        oms = Oms(SqliteStore(connection=raw))
        with pytest.raises(PersistenceError, match="no open transaction"):
            oms.add_location(Location("a"))


def test_events_wait_for_the_host_s_commit_and_a_host_rollback_publishes_nothing(engine):
    from omsims.adapters.notifiers import RecordingNotifier

    notifier = RecordingNotifier()
    conn = engine.connect()
    oms = Oms(SqliteStore(connection=conn.connection.driver_connection), notifier=notifier)
    tx = conn.begin()
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 5)
    assert notifier.events == []  # not final until the host commits
    tx.rollback()
    tx = conn.begin()
    oms.add_location(Location("a"))
    oms.receive("CAP", "a", 7)
    tx.commit()
    assert oms.relay() == 2  # the host relays after its commit
    assert [(e.name, e.sku) for e in notifier.events] == [
        ("StockChanged", "CAP"),
        ("BackInStock", "CAP"),
    ]
    assert oms.relay() == 0
    conn.close()


def test_reads_outside_a_host_transaction_leave_none_open(engine):
    with engine.begin() as conn:
        oms = Oms(SqliteStore(connection=conn.connection.driver_connection))
        oms.add_location(Location("a"))
        oms.receive("MUG", "a", 2)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        oms = Oms(SqliteStore(connection=raw))
        assert oms.available("MUG", "a") == 2
        assert not raw.in_transaction
