"""The SQLite store: files, processes, crashes, retries, errors and host transactions."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime

import pytest

import races
from omsims import Location, Oms, events
from omsims.adapters.clock import ManualClock
from omsims.adapters.notifiers import RecordingNotifier
from omsims.adapters.sqlite import SCHEMA_VERSION, SqliteStore, migrate
from omsims.errors import (
    ConflictError,
    InsufficientStock,
    PersistenceError,
    ValidationError,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def open_oms(path, **kw):
    return Oms(SqliteStore(path, **kw), clock=ManualClock(T0))


def test_the_file_is_in_wal_mode_with_the_durability_asked_for(tmp_path):
    full = SqliteStore(tmp_path / "a.db")
    normal = SqliteStore(tmp_path / "b.db", synchronous="NORMAL")
    assert full.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert full.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert normal.connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert full.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with pytest.raises(ValidationError, match="synchronous"):
        SqliteStore(tmp_path / "c.db", synchronous="SOMETIMES")


def test_ledger_entries_cannot_be_updated_or_deleted_in_the_file(tmp_path):
    oms = open_oms(tmp_path / "shop.db")
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 3)
    raw = sqlite3.connect(tmp_path / "shop.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE entries SET quantity = 99")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM entries")


def test_a_newer_schema_is_refused(tmp_path):
    SqliteStore(tmp_path / "shop.db").close()
    raw = sqlite3.connect(tmp_path / "shop.db")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(PersistenceError, match="newer than this omsims"):
        SqliteStore(tmp_path / "shop.db")


def test_migrate_reports_the_version_it_found_and_is_idempotent(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert migrate(conn) == 0
    assert migrate(conn) == SCHEMA_VERSION


# -- driver errors become omsims errors (one test per mapping) --------------------------


def test_a_writer_that_waits_past_the_busy_timeout_gets_a_persistence_error(tmp_path):
    oms = open_oms(tmp_path / "shop.db", busy_timeout=0.05)
    oms.add_location(Location("a"))
    blocker = sqlite3.connect(tmp_path / "shop.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(PersistenceError, match="locked"):
            oms.receive("MUG", "a", 1)
    finally:
        blocker.execute("ROLLBACK")
    oms.receive("MUG", "a", 1)  # and works once the lock is gone
    assert oms.available("MUG", "a") == 1


def test_a_write_the_database_refuses_is_a_conflict_and_leaves_no_trace(tmp_path):
    path = tmp_path / "shop.db"
    oms = open_oms(path)
    oms.add_location(Location("a"))
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON entries "
        "BEGIN SELECT RAISE(ABORT, 'refused by a test'); END"
    )
    with pytest.raises(ConflictError, match="refused by a test"):
        oms.receive("MUG", "a", 5)
    raw.execute("DROP TRIGGER refuse")
    assert oms.positions() == []
    assert open_oms(path).entries() == []


def test_any_other_driver_failure_is_a_persistence_error(tmp_path):
    path = tmp_path / "shop.db"
    oms = open_oms(path)
    oms.add_location(Location("a"))
    sqlite3.connect(path, isolation_level=None).execute("DROP TABLE orders")
    oms.receive("MUG", "a", 2)
    with pytest.raises(PersistenceError, match="SQLite failed: OperationalError"):
        oms.place_order("o1", [("MUG", 1)])
    assert oms.available("MUG", "a") == 2  # the cache was rolled back too


# -- several processes -------------------------------------------------------------------


def test_eight_processes_racing_for_scarce_stock_never_oversell(tmp_path):
    races.last_unit_race(("sqlite", tmp_path / "shop.db"))


def test_a_worker_killed_mid_run_loses_nothing_committed_and_leaves_nothing_half_written(
    tmp_path,
):
    races.killed_mid_run(("sqlite", tmp_path / "shop.db"))


def test_a_command_retried_after_a_lost_reply_has_the_effect_of_one(tmp_path, monkeypatch):
    path = tmp_path / "shop.db"
    oms = open_oms(path)
    oms.add_location(Location("a"))
    store = oms._uow
    real_end = store.end

    def end_then_drop(*, commit):
        real_end(commit=commit)
        if commit:
            raise sqlite3.OperationalError("connection dropped after commit")

    monkeypatch.setattr(store, "end", end_then_drop)
    with pytest.raises(PersistenceError):
        oms.receive("MUG", "a", 5, idempotency_key="delivery-1")
    monkeypatch.undo()
    oms.receive("MUG", "a", 5, idempotency_key="delivery-1")  # retried in this process
    assert oms.stock("MUG", "a").on_hand == 5
    retry = open_oms(path)  # or after reconnecting, from another process
    retry.receive("MUG", "a", 5, idempotency_key="delivery-1")
    assert retry.stock("MUG", "a").on_hand == 5
    assert len(retry.entries()) == 1
    retry.check_invariants()


def test_another_process_s_writes_are_seen_before_each_command(tmp_path):
    path = tmp_path / "shop.db"
    one, two = open_oms(path), open_oms(path)
    one.add_location(Location("a"))
    one.receive("MUG", "a", 1)
    two.place_order("o1", [("MUG", 1)])
    with pytest.raises(InsufficientStock):
        one.place_order("o2", [("MUG", 1)], allow_partial=False)
    assert one.order("o1").id == "o1"


# -- the composition root ------------------------------------------------------------------


def test_oms_sqlite_and_the_environment_choose_the_store(tmp_path, monkeypatch):
    path = tmp_path / "shop.db"
    Oms.sqlite(path).add_location(Location("a"))
    monkeypatch.setenv("OMSIMS_DATABASE_URL", f"sqlite:///{path}")
    assert [loc.id for loc in Oms.from_environment().locations()] == ["a"]
    monkeypatch.setenv("OMSIMS_DATABASE_URL", "")
    assert Oms.from_environment().locations() == []
    monkeypatch.setenv("OMSIMS_DATABASE_URL", "mysql://x")
    with pytest.raises(ValidationError, match="no storage for 'mysql'"):
        Oms.from_environment()
    explicit = SqliteStore(tmp_path / "other.db")
    assert Oms.from_environment(explicit).locations() == []  # the argument wins
    assert Oms().locations() == []  # and Oms() never reads the environment


def test_queries_read_a_snapshot_without_waiting_for_another_process_s_write(tmp_path):
    path = tmp_path / "shop.db"
    oms = open_oms(path)
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 4)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is in the middle of a write
    try:
        assert oms.available("MUG", "a") == 4  # reads go on
        assert [loc.id for loc in oms.locations()] == ["a"]
    finally:
        writer.execute("ROLLBACK")


# -- from the review: concurrency of relay, host commits, interrupted commits ----------


def test_relaying_while_commands_run_never_deadlocks(tmp_path):
    oms = open_oms(tmp_path / "shop.db")
    oms.add_location(Location("a"))
    done = []

    def commands():
        for _ in range(150):
            oms.receive("MUG", "a", 1)
        done.append("commands")

    def relays():
        for _ in range(150):
            oms.relay()
        done.append("relays")

    threads = [threading.Thread(target=commands), threading.Thread(target=relays)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(done) == ["commands", "relays"]


def test_a_relay_during_a_delivery_delivers_every_event_once(tmp_path):
    path = tmp_path / "shop.db"
    notifier = RecordingNotifier()
    notifier.failing = True
    left = Oms(SqliteStore(path), notifier=notifier, clock=ManualClock(T0))
    left.add_location(Location("a"))  # no events
    left.receive("MUG", "a", 1)  # evt-1, evt-2 (in stock): left behind by this process
    left.close()
    notifier.failing = False
    gate, entered = threading.Event(), threading.Event()

    class Slow(RecordingNotifier):
        def publish(self, event):
            if event.id == "evt-3":
                entered.set()
                gate.wait(timeout=10)
            super().publish(event)

    slow = Slow()
    oms = Oms(SqliteStore(path), notifier=slow, clock=ManualClock(T0))
    worker = threading.Thread(target=oms.receive, args=("MUG", "a", 1))  # evt-3
    worker.start()
    assert entered.wait(timeout=10)
    relayer = threading.Thread(target=oms.relay)  # merges evt-1, 2 in while evt-3 is out
    relayer.start()
    time.sleep(0.2)
    gate.set()
    worker.join(timeout=10)
    relayer.join(timeout=10)
    oms.relay()
    assert sorted(e.id for e in slow.events) == ["evt-1", "evt-2", "evt-3"]
    assert oms.pending_notifications == []


def test_an_interrupt_between_the_file_s_commit_and_the_cache_s_heals(tmp_path, monkeypatch):
    from omsims.adapters.memory import MemoryUnitOfWork

    oms = open_oms(tmp_path / "shop.db")
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 6)
    real = MemoryUnitOfWork.commit
    calls = []

    def interrupted(self):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(MemoryUnitOfWork, "commit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        oms.receive("MUG", "a", 1)  # written to the file, not yet to the cache
    monkeypatch.undo()
    assert oms.available("MUG", "a") == 7  # the file is the truth
    oms.receive("MUG", "a", 1)
    assert oms.available("MUG", "a") == 8
    oms.check_invariants()


def test_a_stored_result_cannot_be_changed_through_the_copy_a_caller_got(tmp_path):
    path = tmp_path / "shop.db"
    oms = open_oms(path)
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 3)
    oms.place_order("o1", [("MUG", 2)])
    result = oms.cancel_lines("o1", {1: 1}, idempotency_key="c-1")
    result.lines.clear()  # the caller's copy
    replay = oms.cancel_lines("o1", {1: 1}, idempotency_key="c-1")
    assert [ln.cancelled for ln in replay.lines] == [1]
    other_process = open_oms(path).cancel_lines("o1", {1: 1}, idempotency_key="c-1")
    assert other_process == replay


def test_pruning_the_outbox_keeps_the_latest_and_every_undelivered_event(tmp_path):
    notifier = RecordingNotifier()
    oms = Oms(SqliteStore(tmp_path / "shop.db"), notifier=notifier, clock=ManualClock(T0))
    oms.add_location(Location("a"))
    for _ in range(5):
        oms.receive("MUG", "a", 1)  # evt-1 .. evt-6 (the first is also BackInStock), delivered
    notifier.failing = True
    oms.receive("MUG", "a", 1)  # evt-7, waiting
    outbox = oms._uow.outbox
    assert outbox.prune(keep=2) == 5  # the latest 2 (evt-6, evt-7) stay
    rows = oms._uow.connection.execute("SELECT id, delivered FROM outbox ORDER BY id").fetchall()
    assert rows == [(6, 1), (7, 0)]
    assert outbox.prune(keep=0) == 1  # never an undelivered one
    notifier.failing = False
    assert oms.retry_notifications() == 1


def test_a_rollback_keeps_what_another_process_wrote_and_was_read_meanwhile(tmp_path):
    """A command reads another process's fulfilment order (read lazily), then fails."""
    from omsims.domain.fulfilment import FulfilmentOrder

    def fo(fo_id):
        return FulfilmentOrder(fo_id, "X", "a", [], T0)

    path = tmp_path / "shop.db"
    one, two = SqliteStore(path), SqliteStore(path)
    with one() as uow:
        uow.fulfilment_orders.add(fo("X-F1"))
        uow.commit()
    with two.read() as uow:
        assert [f.id for f in uow.fulfilment_orders.for_order("X")] == ["X-F1"]
    with one() as uow:  # another process adds X-F2: "two" notes it, unread
        uow.fulfilment_orders.add(fo("X-F2"))
        uow.commit()

    def failing_command():
        with two() as uow:
            uow.fulfilment_orders.add(fo("X-F3"))
            assert {f.id for f in uow.fulfilment_orders.for_order("X")} == {
                "X-F1",
                "X-F2",
                "X-F3",
            }
            raise InsufficientStock("the command fails after reading X-F2")

    with pytest.raises(InsufficientStock):
        failing_command()
    with two.read() as uow:
        assert [f.id for f in uow.fulfilment_orders.for_order("X")] == ["X-F1", "X-F2"]


# -- unit costs: stored, read back, and a version-1 file migrated ----------------------------


def test_unit_costs_are_stored_as_exact_decimal_text_and_currency(tmp_path):
    # Reading them back, and the idempotency payload: the store contract suite.
    from omsims import Money

    path = tmp_path / "shop.db"
    oms = open_oms(path)
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 5, unit_cost=Money("2.10", "EUR"))
    oms.receive_many([("TEE", "a", 2, Money("0.125", "KWD")), ("CUP", "a", 1)])
    oms.close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT unit_cost, unit_cost_currency FROM entries").fetchall() == [
        ("2.10", "EUR"),
        ("0.125", "KWD"),
        (None, None),
    ]


def test_a_file_written_at_schema_version_1_is_migrated_and_still_reads(tmp_path):
    from schema_history import (
        check_version_1_history,
        without_unit_costs,
        write_version_1_history,
    )

    path = tmp_path / "shop.db"
    writer = open_oms(path)
    supply_id = write_version_1_history(writer)
    writer.close()
    # Take back what version 2 added: the file is then the one version 1 wrote.
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("ALTER TABLE entries DROP COLUMN unit_cost")
    raw.execute("ALTER TABLE entries DROP COLUMN unit_cost_currency")
    for table, column, key in (
        ("ledger_rows", "body", "tbl, key"),
        ("idempotency", "result", "key"),
    ):
        rows = raw.execute(f"SELECT {key}, {column} FROM {table}").fetchall()  # noqa: S608
        where = " AND ".join(f"{k.strip()} = ?" for k in key.split(","))
        for *keys, body in rows:
            raw.execute(
                f"UPDATE {table} SET {column} = ? WHERE {where}",  # noqa: S608
                (without_unit_costs(body), *keys),
            )
    raw.execute("PRAGMA user_version = 1")
    assert "unit_cost" not in {r[1] for r in raw.execute("PRAGMA table_info(entries)")}
    assert "unit_cost" not in " ".join(b for (b,) in raw.execute("SELECT body FROM ledger_rows"))
    raw.close()

    migrated = open_oms(path)
    assert migrated._uow.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check_version_1_history(migrated, supply_id)
    written = migrated.entries()
    migrated.close()
    assert open_oms(path).entries() == written  # old rows and new, read from the file


def test_valuation_on_sqlite_gives_the_numbers_it_gives_in_memory(tmp_path):
    from omsims.replenishment.valuation import CostMethod
    from valuation_scenario import clock, run_shop

    memory, on_file = Oms(clock=clock()), Oms(SqliteStore(tmp_path / "shop.db"), clock=clock())
    run_shop(memory)
    run_shop(on_file)
    reopened = Oms(SqliteStore(tmp_path / "shop.db"), clock=clock())  # another process
    for method in CostMethod:
        expected = memory.valuation(method=method)
        assert on_file.valuation(method=method) == expected
        assert reopened.valuation(method=method) == expected
        assert reopened.shipped_cost("web-1", method=method) == memory.shipped_cost(
            "web-1", method=method
        )
    assert memory.valuation().shipped_between() == reopened.valuation().shipped_between()


def test_a_relay_passes_over_what_its_notifier_does_not_subscribe_to(tmp_path):
    """Events another process recorded for a wider notifier are marked done, not told."""
    path = tmp_path / "wide.db"
    down = RecordingNotifier()
    down.failing = True
    oms = Oms(SqliteStore(path), notifier=down)
    oms.add_location(Location("w1"))
    oms.receive("A", "w1", 5)
    oms.place_order("o1", [("A", 2)])
    oms.close()
    narrow = RecordingNotifier(topics=[events.OrderPlaced])
    store = SqliteStore(path)
    relay = Oms(store, notifier=narrow)
    recorded = [e.name for e in store.outbox.pending()]
    assert recorded == [
        "StockChanged",
        "BackInStock",
        "OrderPlaced",
        "FulfilmentOrderCreated",
        "StockChanged",
    ]
    assert relay.relay() == 1
    assert narrow.names() == ["OrderPlaced"]
    assert store.outbox.pending() == []  # the rest is done with, not left waiting
    relay.close()
