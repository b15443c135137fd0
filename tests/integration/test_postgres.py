"""The PostgreSQL store: schema, row locks and retries, processes, crashes, errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors as pg_errors

import races
from omsims import Location, Oms, OrderStatus, PriorityStrategy
from omsims.adapters.clock import ManualClock
from omsims.adapters.postgres import (
    SCHEMA_VERSION,
    PostgresStore,
    PostgresUnitOfWork,
    _translate,
    migrate,
    schema_version,
)
from omsims.errors import (
    ConflictError,
    InsufficientStock,
    PersistenceError,
    StaleRead,
    ValidationError,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def open_oms(url, **kw):
    strategy = kw.pop("strategy", None)
    return Oms(PostgresStore(url, **kw), clock=ManualClock(T0), strategy=strategy)


# -- schema and migrations ----------------------------------------------------------------


def test_migrate_creates_the_schema_once_and_reports_the_version_it_found(pg_database):
    with psycopg.connect(pg_database, autocommit=True) as conn:
        assert schema_version(conn) == 0
        assert migrate(conn) == 0
        assert migrate(conn) == SCHEMA_VERSION
        assert schema_version(conn) == SCHEMA_VERSION
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'omsims'"
            )
        }
    assert {"positions", "entries", "orders", "outbox", "changes", "idempotency"} <= tables


def test_a_newer_schema_is_refused(pg_database):
    with psycopg.connect(pg_database, autocommit=True) as conn:
        migrate(conn)
        conn.execute("UPDATE omsims.schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(PersistenceError, match="newer than this omsims"):
        PostgresStore(pg_database)


def test_ledger_entries_cannot_be_updated_deleted_or_truncated(pg_database):
    oms = open_oms(pg_database)
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 5)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        for sql in (
            "UPDATE omsims.entries SET quantity = 50",
            "DELETE FROM omsims.entries",
            "TRUNCATE omsims.entries",
        ):
            with pytest.raises(pg_errors.RaiseException, match="append-only"):
                conn.execute(sql)
    assert open_oms(pg_database).stock("MUG", "a").on_hand == 5


def test_settings_are_checked(pg_database):
    with pytest.raises(ValidationError, match="not both"):
        PostgresStore()
    with pytest.raises(ValidationError, match="attempts"):
        PostgresStore(pg_database, attempts=0)


# -- optimistic commits under row locks -----------------------------------------------------


class Interfering(PriorityStrategy):
    """Plans as usual, but first lets another process commit ``times`` times (a race)."""

    def __init__(self, other: Oms, times: int) -> None:
        super().__init__()
        self.other, self.times, self.calls, self.placed = other, times, 0, 0

    def plan(self, request, view):
        self.calls += 1
        if self.calls <= self.times:
            self.placed += 1
            self.other.place_order(f"other-{self.placed}", [("MUG", 1)])
        return super().plan(request, view)


def test_a_commit_whose_stock_another_process_took_meanwhile_runs_again(pg_database):
    other = open_oms(pg_database)
    other.add_location(Location("a"))
    other.receive("MUG", "a", 3)
    strategy = Interfering(other, times=1)
    oms = open_oms(pg_database, strategy=strategy)
    oms.place_order("mine", [("MUG", 1)], allow_partial=False)
    assert strategy.calls == 2  # refused once as stale, then run on fresh state
    assert oms.stock("MUG", "a").committed == 2
    # Now the other process takes the last unit while this one plans: nothing left.
    strategy.calls, strategy.times = 0, 1
    before = oms.entries()
    with pytest.raises(InsufficientStock):
        oms.place_order("late", [("MUG", 1)], allow_partial=False)
    assert strategy.calls == 2
    assert len(oms.entries()) == len(before) + 1  # only the other process's commit
    assert {o.id for o in oms.orders()} == {"other-1", "mine", "other-2"}
    oms.check_invariants()


def test_a_command_that_stays_stale_past_its_attempts_raises_and_writes_nothing(pg_database):
    other = open_oms(pg_database)
    other.add_location(Location("a"))
    other.receive("MUG", "a", 10)
    strategy = Interfering(other, times=5)
    oms = open_oms(pg_database, strategy=strategy, attempts=3)
    with pytest.raises(StaleRead, match=r"positions \('MUG', 'a'\)"):
        oms.place_order("mine", [("MUG", 1)])
    assert strategy.calls == 3
    fresh = open_oms(pg_database)
    assert {o.id for o in fresh.orders()} == {"other-1", "other-2", "other-3"}
    assert fresh.stock("MUG", "a").committed == 3
    fresh.check_invariants()


def test_two_processes_creating_the_same_order_at_once_keep_one(pg_database):
    one = open_oms(pg_database)
    one.add_location(Location("a"))
    one.receive("MUG", "a", 10)
    two = open_oms(pg_database)
    # "two" places web-1 while "one" is planning web-1 (the same external order id).

    class Same(PriorityStrategy):
        calls = 0

        def plan(self, request, view):
            Same.calls += 1
            if Same.calls == 1:
                two.place_order("web-1", [("MUG", 3)])
            return super().plan(request, view)

    one.strategy = Same()
    order = one.place_order("web-1", [("MUG", 3)])
    assert order.id == "web-1"
    fresh = open_oms(pg_database)
    assert fresh.stock("MUG", "a").committed == 3  # placed once
    assert len(fresh.orders()) == 1
    fresh.check_invariants()


def test_two_processes_creating_reservations_at_once_get_distinct_ids(pg_database, monkeypatch):
    one, two = open_oms(pg_database), open_oms(pg_database)
    one.add_location(Location("a"))
    one.receive("MUG", "a", 10)
    expiry = T0 + timedelta(hours=1)
    raced = []
    real_refresh = PostgresStore.refresh

    def refresh_then_race(self):
        real_refresh(self)
        if self is one._uow and not raced:  # "two" reserves between one's read and commit
            raced.append(two.reserve("MUG", "a", 1, expires_at=expiry))

    monkeypatch.setattr(PostgresStore, "refresh", refresh_then_race)
    mine = one.reserve("MUG", "a", 2, expires_at=expiry)
    monkeypatch.setattr(PostgresStore, "refresh", real_refresh)
    assert mine.id != raced[0].id  # the id counter row conflicted; one ran again
    fresh = open_oms(pg_database)
    assert {r.id for r in fresh.reservations()} == {mine.id, raced[0].id}
    assert fresh.stock("MUG", "a").reserved == 3
    fresh.check_invariants()


def test_another_process_s_orders_are_read_only_when_asked_for(pg_database):
    one, two = open_oms(pg_database), open_oms(pg_database)
    one.add_location(Location("a"))
    one.receive("MUG", "a", 10)
    one.place_order("web-1", [("MUG", 2)])
    one.place_order("web-2", [("MUG", 1)])
    assert two.available("MUG", "a") == 7  # the ledger is read at once
    cache = two._uow
    assert "web-1" not in cache.orders  # the order only noted, not read
    assert "web-1" in cache.unloaded["orders"]
    [fo] = two.fulfilment_orders("web-1")  # read when asked for
    [other] = cache.fulfilment_by_order["web-2"]  # noted under its order ...
    assert other in cache.unloaded["fulfilment_orders"]  # ... and still unread
    two.accept(fo.id)
    two.ship(fo.id)
    assert "web-1" not in cache.unloaded["orders"]
    assert one.order("web-1").status is OrderStatus.SHIPPED  # and "one" reads it back
    assert one.stock("MUG", "a").on_hand == 8
    assert [f.id for f in two.fulfilment_orders("web-2")] == [other]
    one.check_invariants()
    two.check_invariants()


def test_entry_numbers_are_unique_and_grow_per_position_across_processes(pg_database):
    one, two = open_oms(pg_database), open_oms(pg_database)
    one.add_location(Location("a"))
    one.add_location(Location("b"))
    for i in range(5):
        (one if i % 2 else two).receive("MUG", "a", 1)
        (two if i % 2 else one).receive("MUG", "b", 1)
    entries = open_oms(pg_database).entries()
    numbers = [e.sequence for e in entries]
    assert len(set(numbers)) == len(numbers) == 10
    for loc in ("a", "b"):
        mine = [e.sequence for e in entries if e.location == loc]
        assert mine == sorted(mine)
    one.check_invariants()
    two.check_invariants()


def test_threads_and_processes_share_one_database(pg_database):
    """Two stores (as two processes would), each used by two threads, on 12 units."""
    stores = [open_oms(pg_database), open_oms(pg_database)]
    stores[0].add_location(Location("a"))
    stores[0].receive("MUG", "a", 12)
    outcomes: list[str] = []

    def buy(oms: Oms, n: int) -> None:
        for i in range(10):
            try:
                oms.place_order(f"t{n}-{i}", [("MUG", 1)], allow_partial=False)
                outcomes.append("ok")
            except InsufficientStock:
                outcomes.append("sold out")

    threads = [threading.Thread(target=buy, args=(stores[n % 2], n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 12
    assert len(outcomes) == 40
    fresh = open_oms(pg_database)
    assert fresh.stock("MUG", "a").committed == 12
    fresh.check_invariants()


# -- processes and crashes --------------------------------------------------------------------


def test_eight_processes_racing_for_scarce_stock_never_oversell(pg_database):
    races.last_unit_race(("postgres", pg_database))


def test_a_worker_killed_mid_run_loses_nothing_committed_and_leaves_nothing_half_written(
    pg_database,
):
    races.killed_mid_run(("postgres", pg_database))


def test_a_command_retried_after_a_dropped_connection_has_the_effect_of_one(
    pg_database, monkeypatch
):
    oms = open_oms(pg_database)
    oms.add_location(Location("a"))
    store = oms._uow
    real_write = PostgresUnitOfWork._write

    def write_then_drop(self, *args):
        written = real_write(self, *args)  # committed
        with psycopg.connect(pg_database, autocommit=True) as admin:  # then the line goes
            admin.execute("SELECT pg_terminate_backend(%s)", (store.connection.info.backend_pid,))
        store.connection.execute("SELECT 1")  # and the reply never comes
        return written

    monkeypatch.setattr(PostgresUnitOfWork, "_write", write_then_drop)
    with pytest.raises(PersistenceError, match="connection"):
        oms.receive("MUG", "a", 5, idempotency_key="delivery-1")
    monkeypatch.setattr(PostgresUnitOfWork, "_write", real_write)
    oms.receive("MUG", "a", 5, idempotency_key="delivery-1")  # reconnects, sees it done
    assert oms.stock("MUG", "a").on_hand == 5
    retry = open_oms(pg_database)  # or from another process
    retry.receive("MUG", "a", 5, idempotency_key="delivery-1")
    assert retry.stock("MUG", "a").on_hand == 5
    assert len(retry.entries()) == 1
    retry.check_invariants()


# -- errors -----------------------------------------------------------------------------------


def test_a_row_locked_past_the_lock_timeout_is_a_persistence_error(pg_database):
    oms = open_oms(pg_database, lock_timeout=0.2)
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 5)
    with psycopg.connect(pg_database) as holder:
        holder.execute("SELECT * FROM omsims.positions FOR UPDATE")
        with pytest.raises(PersistenceError, match="stayed locked"):
            oms.receive("MUG", "a", 1)
        holder.rollback()
    assert oms.stock("MUG", "a").on_hand == 5
    oms.receive("MUG", "a", 1)
    assert open_oms(pg_database).stock("MUG", "a").on_hand == 6


@pytest.mark.parametrize(
    ("driver_error", "ours", "words"),
    [
        (pg_errors.SerializationFailure, StaleRead, "wrote the same rows first"),
        (pg_errors.DeadlockDetected, StaleRead, "wrote the same rows first"),
        (pg_errors.UniqueViolation, StaleRead, "wrote the same rows first"),
        (pg_errors.LockNotAvailable, PersistenceError, "stayed locked"),
        (pg_errors.CheckViolation, ConflictError, "refused a write"),
        (pg_errors.RaiseException, ConflictError, "refused a write"),
        (psycopg.OperationalError, PersistenceError, "lost the connection"),
        (pg_errors.UndefinedTable, PersistenceError, "PostgreSQL failed: UndefinedTable"),
    ],
)
def test_each_driver_error_becomes_an_omsims_error(driver_error, ours, words):
    translated = _translate(driver_error("the driver's words"))
    assert type(translated) is ours
    assert words in str(translated)
    assert "the driver's words" in str(translated)


def test_a_write_the_database_refuses_is_a_conflict_and_leaves_no_trace(pg_database):
    oms = open_oms(pg_database)
    oms.add_location(Location("a"))
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE omsims.positions ADD CHECK (on_hand < 100)")
    oms.receive("MUG", "a", 5)
    with pytest.raises(ConflictError, match="refused a write"):
        oms.receive("MUG", "a", 500)
    assert oms.stock("MUG", "a").on_hand == 5
    oms.receive("MUG", "a", 5)
    fresh = open_oms(pg_database)
    assert fresh.stock("MUG", "a").on_hand == 10
    assert len(fresh.entries()) == 2
    fresh.check_invariants()


def test_oms_postgres_and_the_environment_choose_the_store(pg_database, monkeypatch):
    Oms.postgres(pg_database).add_location(Location("a"))
    url = pg_database if "://" in pg_database else None
    if url is None:  # a key=value conninfo: the environment needs a URL
        parts = psycopg.conninfo.conninfo_to_dict(pg_database)
        url = f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"
    monkeypatch.setenv("OMSIMS_DATABASE_URL", url)
    oms = Oms.from_environment()
    assert isinstance(oms._uow, PostgresStore)
    assert [loc.id for loc in oms.locations()] == ["a"]


# -- the outbox ------------------------------------------------------------------------------


def test_events_left_by_a_crashed_process_are_relayed_once_with_their_ids(pg_database):
    from omsims.adapters.notifiers import RecordingNotifier

    down = RecordingNotifier()
    down.failing = True
    crashed = Oms(PostgresStore(pg_database), notifier=down)
    crashed.add_location(Location("a"))
    crashed.receive("MUG", "a", 3)
    waiting = [e.id for e in crashed.pending_notifications]
    up = RecordingNotifier()
    relay = Oms(PostgresStore(pg_database), notifier=up)
    assert relay.relay() == len(waiting)
    assert [e.id for e in up.events] == waiting
    assert Oms(PostgresStore(pg_database), notifier=up).relay() == 0


def test_pruning_the_outbox_keeps_the_latest_and_every_undelivered_event(pg_database):
    from omsims.adapters.notifiers import RecordingNotifier

    notifier = RecordingNotifier()
    oms = Oms(PostgresStore(pg_database), notifier=notifier)
    oms.add_location(Location("a"))
    for _ in range(5):
        oms.receive("MUG", "a", 1)
    notifier.failing = True
    oms.receive("MUG", "a", 1)
    store = oms._uow
    delivered = len(notifier.events)
    assert store.outbox.prune(keep=2) == delivered - 1  # the newest delivered one stays
    assert [e.name for e in store.outbox.pending()] == ["StockChanged"]
    with pytest.raises(ValidationError):
        store.outbox.prune(keep=-1)


# -- unit costs: stored, read back, and a version-1 database migrated ------------------------


def test_unit_costs_are_stored_as_numerics_and_reach_a_live_process(pg_database):
    # Reading them back whole, and the idempotency payload: the store contract suite.
    from omsims import Money

    oms = open_oms(pg_database)
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 5, unit_cost=Money("2.10", "EUR"))
    oms.receive_many([("TEE", "a", 2, Money("0.125", "KWD")), ("CUP", "a", 1)])
    again = open_oms(pg_database)  # another process, running meanwhile
    oms.receive("CUP", "a", 1, unit_cost=Money("0.99", "EUR"))
    assert again.entries()[-1].unit_cost == Money("0.99", "EUR")  # caught up, not reloaded
    with psycopg.connect(pg_database, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT unit_cost::text, unit_cost_currency FROM omsims.entries ORDER BY sequence"
        ).fetchall()
    assert stored == [("2.10", "EUR"), ("0.125", "KWD"), (None, None), ("0.99", "EUR")]


def test_a_database_written_at_schema_version_1_is_migrated_and_still_reads(pg_database):
    from schema_history import (
        check_version_1_history,
        without_unit_costs,
        write_version_1_history,
    )

    supply_id = write_version_1_history(open_oms(pg_database))
    # Take back what version 2 added: the database is then the one version 1 wrote.
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE omsims.entries DROP COLUMN unit_cost, DROP COLUMN unit_cost_currency"
        )
        for tbl, key, body in conn.execute("SELECT tbl, key, body FROM omsims.ledger_rows"):
            conn.execute(
                "UPDATE omsims.ledger_rows SET body = %s WHERE tbl = %s AND key = %s",
                (without_unit_costs(body), tbl, key),
            )
        for key, result in conn.execute("SELECT key, result FROM omsims.idempotency"):
            conn.execute(
                "UPDATE omsims.idempotency SET result = %s WHERE key = %s",
                (without_unit_costs(result), key),
            )
        conn.execute("UPDATE omsims.schema_version SET version = 1")
        assert schema_version(conn) == 1
    migrated = open_oms(pg_database)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        assert schema_version(conn) == SCHEMA_VERSION
    check_version_1_history(migrated, supply_id)
    assert open_oms(pg_database).entries() == migrated.entries()


def test_valuation_on_postgresql_gives_the_numbers_it_gives_in_memory(pg_database):
    from omsims.replenishment.valuation import CostMethod
    from valuation_scenario import clock, run_shop

    memory, stored = Oms(clock=clock()), Oms(PostgresStore(pg_database), clock=clock())
    run_shop(memory)
    run_shop(stored)
    other = Oms(PostgresStore(pg_database), clock=clock())  # another process
    for method in CostMethod:
        expected = memory.valuation(method=method)
        # Entries are numbered from a shared sequence here, so their numbers differ from
        # memory's; within each position their order is the same, which is what counts.
        assert stored.valuation(method=method) == expected
        assert other.valuation(method=method) == expected
        assert other.shipped_cost("web-1", method=method) == memory.shipped_cost(
            "web-1", method=method
        )
