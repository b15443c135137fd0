"""omsims inside a host's PostgreSQL transaction: SQLAlchemy and plain psycopg connections."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine, text

from omsims import Location, Oms
from omsims.adapters.notifiers import RecordingNotifier
from omsims.adapters.postgres import PostgresStore, migrate
from omsims.errors import PersistenceError


@pytest.fixture
def url(pg_database):
    with psycopg.connect(pg_database, autocommit=True) as conn:
        migrate(conn)  # at deploy time: a store on a host's connection never migrates
    return pg_database


def outsider(url):
    return Oms.postgres(url)


def test_a_sqlalchemy_transaction_commits_omsims_work_with_its_own(url):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    notifier = RecordingNotifier()
    with engine.begin() as conn:  # the host's transaction
        conn.execute(text("CREATE TABLE invoices (id text)"))
        conn.execute(text("INSERT INTO invoices VALUES ('INV-1')"))
        shop = Oms(PostgresStore(connection=conn.connection.driver_connection), notifier=notifier)
        shop.add_location(Location("a"))
        shop.receive("MUG", "a", 5)
        shop.place_order("web-1", [("MUG", 2)])
        assert outsider(url).locations() == []  # nothing is visible before the host commits
        assert notifier.events == []  # nor announced
    seen = outsider(url)
    assert seen.stock("MUG", "a").committed == 2
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM invoices")).scalars().all() == ["INV-1"]
    assert shop.relay() == 5  # after the host's commit: StockChanged, BackInStock, ...
    assert notifier.names()[:3] == ["StockChanged", "BackInStock", "OrderPlaced"]
    seen.check_invariants()
    engine.dispose()


def test_a_sqlalchemy_rollback_takes_omsims_work_with_it(url):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))

    def host_request() -> None:
        with engine.begin() as conn:
            shop = Oms(PostgresStore(connection=conn.connection.driver_connection))
            shop.add_location(Location("a"))
            shop.receive("MUG", "a", 5)
            raise RuntimeError("the host failed after omsims's work")

    with pytest.raises(RuntimeError, match="the host failed"):
        host_request()
    fresh = outsider(url)
    assert fresh.locations() == []
    assert fresh.entries() == []
    engine.dispose()


def test_a_rollback_to_a_savepoint_of_the_host_s_around_omsims_work_is_noticed(url):
    conn = psycopg.connect(url)
    shop = Oms(PostgresStore(connection=conn))
    shop.add_location(Location("a"))
    shop.receive("MUG", "a", 5)

    def undone_part() -> None:
        with conn.transaction():  # the host's savepoint
            shop.receive("MUG", "a", 3)
            raise RuntimeError("the host undoes just this part")

    with pytest.raises(RuntimeError):
        undone_part()
    conn.commit()  # the host's transaction commits, without the 3
    assert shop.stock("MUG", "a").on_hand == 5
    shop.receive("MUG", "a", 1)
    conn.commit()
    assert outsider(url).stock("MUG", "a").on_hand == 6
    shop.check_invariants()
    conn.close()


def test_a_store_reused_across_host_transactions_follows_commits_and_rollbacks(url):
    conn = psycopg.connect(url)  # not autocommit: the first statement begins a transaction
    notifier = RecordingNotifier()
    shop = Oms(PostgresStore(connection=conn), notifier=notifier)
    shop.add_location(Location("a"))
    shop.receive("MUG", "a", 5)
    conn.commit()
    shop.receive("MUG", "a", 3)
    assert conn.info.transaction_status == TransactionStatus.INTRANS  # omsims left it open
    conn.rollback()
    assert shop.stock("MUG", "a").on_hand == 5  # the store saw the rollback and reloaded
    shop.receive("MUG", "a", 1)
    conn.commit()
    assert outsider(url).stock("MUG", "a").on_hand == 6
    # The committed receives (the first also brings the position in stock); the
    # rolled-back one never goes out.
    assert shop.relay() == 3
    assert [e.on_hand for e in notifier.events if e.name == "StockChanged"] == [5, 6]
    shop.check_invariants()
    conn.close()


def test_an_autocommit_connection_outside_a_transaction_is_refused(url):
    with psycopg.connect(url, autocommit=True) as conn:
        shop = Oms(PostgresStore(connection=conn))
        with pytest.raises(PersistenceError, match="autocommit"):
            shop.add_location(Location("a"))
        with conn.transaction():  # inside one it works, and the host's block commits
            shop.add_location(Location("a"))
    assert [loc.id for loc in outsider(url).locations()] == ["a"]
