"""Archiving finished orders: out of the live store, readable in the archive, still recognised."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from omsims import (
    ArchivedOrder,
    FakeGateway,
    Inspection,
    JsonLinesArchive,
    Location,
    ManualClock,
    MemoryArchive,
    MemoryStore,
    Money,
    Oms,
    OrderStatus,
)
from omsims.errors import (
    IdempotencyConflict,
    IllegalTransition,
    InvalidIdentifier,
    InvalidQuantity,
    UnknownOrder,
    ValidationError,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
EUR = Money("9.50", "EUR")


def shop(archive: object | None = None, **options: object) -> tuple[Oms, MemoryStore]:
    store = MemoryStore()
    oms = Oms(
        store,
        clock=ManualClock(T0),
        archive=archive if archive is not None else MemoryArchive(),
        **options,
    )  # type: ignore[arg-type]
    oms.add_location(Location("berlin-dc"))
    oms.receive("MUG", "berlin-dc", 10)
    return oms, store


def deliver(oms: Oms, order_id: str, lines: list[tuple[str, int, Money]] | None = None) -> None:
    oms.place_order(order_id, lines or [("MUG", 2, EUR)])
    fo = oms.accept(oms.fulfilment_orders(order_id)[0].id)
    oms.deliver(oms.ship(fo.id).id)


def test_a_delivered_order_leaves_the_store_and_is_read_from_the_archive():
    archive = MemoryArchive()
    oms, store = shop(archive)
    deliver(oms, "o-1")
    order, fos, parcels = oms.order("o-1"), oms.fulfilment_orders("o-1"), oms.shipments("o-1")
    entries = oms.entries()

    record = oms.archive("o-1")

    assert record == ArchivedOrder(order, tuple(fos), tuple(parcels), record.placement, T0)
    assert oms.archived_order("o-1") == record
    assert len(archive) == 1
    # Nothing of it is left in the live store...
    assert not store.orders
    assert not store.fulfilment_orders
    assert not store.fulfilment_by_order
    assert not store.shipments
    assert not store.shipments_by_order
    assert not [k for k in store.idempotency if k.startswith("order:")]
    # ...the ledger keeps every entry, and every number still adds up.
    assert oms.entries() == entries
    assert oms.available("MUG") == 8
    oms.check_invariants()
    with pytest.raises(UnknownOrder, match="'o-1' is archived"):
        oms.order("o-1")
    with pytest.raises(UnknownOrder, match="is archived"):
        oms.request_return("o-1", {1: 1}, reason="changed_mind")


def test_the_record_returned_is_the_caller_s_to_change():
    class ByReference:  # keeps what it is given, as a user's archive may
        def __init__(self) -> None:
            self.records: dict[str, ArchivedOrder] = {}

        def put(self, record: ArchivedOrder, /) -> None:
            self.records[record.id] = record

        def get(self, order_id: str, /) -> ArchivedOrder | None:
            return self.records.get(order_id)

    archive = ByReference()
    oms, _ = shop(archive)
    deliver(oms, "o-1")
    record = oms.archive("o-1")
    record.order.lines[0].returned = 2
    record.fulfilment_orders[0].lines.clear()
    assert archive.records["o-1"].order.lines[0].returned == 0
    assert archive.records["o-1"].fulfilment_orders[0].lines


def test_an_order_with_units_still_to_move_is_not_archived_and_nothing_moves():
    oms, store = shop()
    oms.place_order("o-1", [("MUG", 2)])
    with pytest.raises(IllegalTransition, match="cannot archive order o-1: order o-1 is allocated"):
        oms.archive("o-1")
    fo = oms.accept(oms.fulfilment_orders("o-1")[0].id)
    oms.ship(fo.id)
    with pytest.raises(IllegalTransition, match="o-1 is shipped"):
        oms.archive("o-1")
    assert set(store.orders) == {"o-1"}
    assert oms.order("o-1").status is OrderStatus.SHIPPED
    with pytest.raises(UnknownOrder, match="not archived"):
        oms.archived_order("o-1")


def test_an_open_return_keeps_the_order_until_it_is_closed():
    oms, _ = shop()
    deliver(oms, "o-1")
    request = oms.request_return("o-1", {1: 1}, reason="changed_mind")
    with pytest.raises(IllegalTransition, match=f"return request {request.id} is open"):
        oms.archive("o-1")
    oms.approve_return(request.id)
    oms.receive_return(request.id, [Inspection(1, "restock")])
    assert oms.archive("o-1").order.status is OrderStatus.PARTIALLY_RETURNED


def test_money_still_due_at_the_gateway_keeps_the_order():
    gateway = FakeGateway()
    oms, _ = shop(payments=gateway)
    oms.place_order("o-1", [("MUG", 2, EUR)])
    fo = oms.accept(oms.fulfilment_orders("o-1")[0].id)
    gateway.fail_next(kind="capture")
    oms.deliver(oms.ship(fo.id).id)
    with pytest.raises(IllegalTransition, match="payment operation is still due"):
        oms.archive("o-1")
    oms.settle_payments()
    assert oms.archive("o-1").order.payment is not None


def test_placing_an_archived_order_again_is_still_recognised():
    oms, _ = shop()
    deliver(oms, "o-1")
    record = oms.archive("o-1")
    entries = oms.entries()
    again = oms.place_order("o-1", [("MUG", 2, EUR)])  # a client's retry
    assert again == record.order
    assert oms.entries() == entries  # nothing written
    with pytest.raises(IdempotencyConflict, match="archived"):
        oms.place_order("o-1", [("MUG", 3, EUR)])
    assert oms.archive("o-1") == record  # archiving again: the same record, no effect


def test_an_archive_that_refuses_leaves_the_order_in_the_store():
    class Refusing(MemoryArchive):
        def put(self, record: ArchivedOrder, /) -> None:
            raise OSError("disk full")

    oms, store = shop(Refusing())
    deliver(oms, "o-1")
    with pytest.raises(OSError, match="disk full"):
        oms.archive("o-1")
    assert set(store.orders) == {"o-1"}
    assert len(oms.fulfilment_orders("o-1")) == 1
    assert "order:o-1" in store.idempotency
    oms.check_invariants()


def test_archiving_needs_an_archive_and_the_in_memory_store(tmp_path: Path):
    oms = Oms()
    with pytest.raises(ValidationError, match="no archive"):
        oms.archive("o-1")
    pytest.importorskip("orjson")
    from omsims.adapters.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "shop.db")
    try:
        with pytest.raises(ValidationError, match="SqliteStore does not archive orders"):
            Oms(store, archive=MemoryArchive())
    finally:
        store.close()


def test_a_json_lines_archive_reads_back_what_it_was_given_after_reopening(tmp_path: Path):
    pytest.importorskip("orjson")
    path = tmp_path / "archive" / "orders.jsonl"
    archive = JsonLinesArchive(path)
    oms, _ = shop(archive, payments=FakeGateway())
    for n in range(3):
        deliver(oms, f"o-{n}")
    request = oms.request_return("o-1", {1: 1}, reason="changed_mind")
    oms.approve_return(request.id)
    oms.receive_return(request.id, [Inspection(1, "restock")])
    records = [oms.archive(f"o-{n}") for n in range(3)]
    archive.put(records[0])  # the same order again: kept once
    archive.close()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3

    with path.open("ab") as torn:  # a crash in the middle of a write
        torn.write(b'{"id": "o-9", "rec')
    reopened = JsonLinesArchive(path)
    try:
        assert len(reopened) == 3
        assert [reopened.get(f"o-{n}") for n in range(3)] == records
        assert records[1].order.returns  # every shape came back: returns, payment, parcels
        assert reopened.get("o-9") is None
    finally:
        reopened.close()


def test_archive_many_moves_every_finished_order_in_one_command():
    archive = MemoryArchive()
    oms, store = shop(archive)
    for n in (1, 2, 3):
        deliver(oms, f"o-{n}", [("MUG", 1, EUR)])
    expected = {f"o-{n}": oms.order(f"o-{n}") for n in (1, 2, 3)}
    published = len(oms.published_events)
    assert oms.archive_many(["o-2", "o-1", "o-2"]) == ["o-2", "o-1"]  # repeats once
    assert set(store.orders) == {"o-3"}
    assert not store.fulfilment_orders.keys() - {oms.fulfilment_orders("o-3")[0].id}
    assert {oid: archive.get(oid).order for oid in ("o-1", "o-2")} == {
        oid: expected[oid] for oid in ("o-1", "o-2")
    }
    assert oms.archived_order("o-1") == archive.get("o-1")
    # Again, with one more: what is archived already is skipped.
    assert oms.archive_many(["o-1", "o-2", "o-3"]) == ["o-3"]
    assert oms.archive_many(["o-1"]) == []
    assert oms.archive_many([]) == []
    assert not store.orders
    assert len(oms.published_events) == published  # archiving announces nothing
    oms.check_invariants()


def test_archive_many_moves_nothing_if_one_order_cannot_go():
    archive = MemoryArchive()
    oms, store = shop(archive)
    deliver(oms, "o-1", [("MUG", 1, EUR)])
    oms.place_order("o-2", [("MUG", 1)])  # allocated, not delivered
    with pytest.raises(IllegalTransition, match="cannot archive order o-2"):
        oms.archive_many(["o-1", "o-2"])
    with pytest.raises(UnknownOrder, match="nope"):
        oms.archive_many(["o-1", "nope"])
    assert set(store.orders) == {"o-1", "o-2"}
    assert len(archive) == 0  # checked before anything was handed over
    assert "order:o-1" in store.idempotency


def test_archive_many_whose_archive_refuses_part_way_leaves_every_order_in_the_store():
    class RefusingTheSecond(MemoryArchive):
        def put(self, record: ArchivedOrder, /) -> None:
            if len(self):
                raise OSError("disk full")
            super().put(record)

    archive = RefusingTheSecond()
    oms, store = shop(archive)
    deliver(oms, "o-1", [("MUG", 1, EUR)])
    deliver(oms, "o-2", [("MUG", 1, EUR)])
    before = {o: (oms.order(o), oms.fulfilment_orders(o), oms.shipments(o)) for o in store.orders}
    with pytest.raises(OSError, match="disk full"):
        oms.archive_many(["o-1", "o-2"])
    assert set(store.orders) == {"o-1", "o-2"}  # the port may hold o-1: it takes it again
    # Every row and index entry is back as it was, the first order's too.
    assert {o: (oms.order(o), oms.fulfilment_orders(o), oms.shipments(o)) for o in before} == before
    assert len(oms.fulfilment_orders("o-1")) == len(oms.shipments("o-1")) == 1
    assert {"order:o-1", "order:o-2"} <= set(store.idempotency)
    oms.check_invariants()


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        ("o-1", InvalidIdentifier, "not one id"),
        ([None], InvalidIdentifier, "order id"),
        ([f"o-{n}" for n in range(100_001)], InvalidQuantity, "at most 100000"),
    ],
)
def test_archive_many_refuses_bad_ids_before_anything_moves(ids, error, match):
    oms, store = shop()
    deliver(oms, "o-1", [("MUG", 1, EUR)])
    with pytest.raises(error, match=match):
        oms.archive_many(ids)
    assert set(store.orders) == {"o-1"}
