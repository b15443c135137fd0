"""Oms.receive_many: a delivery of many lines received as one command, all or nothing."""

from datetime import UTC, datetime

import pytest

from omsims import Location, ManualClock, Oms, OrderStatus
from omsims.errors import (
    IdempotencyConflict,
    InvalidQuantity,
    UnknownLocation,
    ValidationError,
)
from omsims.service._stock import MAX_RECEIPT_LINES

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def oms():
    oms = Oms(clock=ManualClock(T0))
    oms.add_location(Location("a", priority=1))
    oms.add_location(Location("b", priority=2))
    return oms


def test_every_line_is_received_in_order(oms):
    postings = oms.receive_many([("X", "a", 3), ("Y", "b", 2), ("X", "b", 1)], reference="asn-7")
    assert [(p.entries[0].sku, p.entries[0].location) for p in postings] == [
        ("X", "a"),
        ("Y", "b"),
        ("X", "b"),
    ]
    assert oms.available("X") == 4
    assert oms.available("Y", "b") == 2
    assert {e.reference for e in oms.entries()} == {"asn-7"}
    oms.check_invariants()


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (("X", "nowhere", 1), UnknownLocation, "line 2: location 'nowhere'"),
        (("X", "a", -1), InvalidQuantity, "line 2: "),
        (("X", "a", 1.5), InvalidQuantity, "line 2: "),
        (("X", "a"), ValidationError, r"line 2 must be \(sku, location, qty\)"),
    ],
)
def test_a_bad_line_refuses_the_whole_delivery(oms, bad, error, message):
    with pytest.raises(error, match=message):
        oms.receive_many([("X", "a", 5), bad, ("Y", "b", 1)])
    assert oms.entries() == []  # line 1 was not received either
    assert oms.skus() == []
    oms.check_invariants()


def test_lines_must_be_a_list_of_bounded_size(oms):
    with pytest.raises(ValidationError, match="must be a list"):
        oms.receive_many("X,a,1")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuantity, match=f"at most {MAX_RECEIPT_LINES} lines"):
        oms.receive_many([("X", "a", 1)] * (MAX_RECEIPT_LINES + 1))
    assert oms.entries() == []


def test_a_key_makes_a_repeat_harmless_and_other_lines_a_conflict(oms):
    lines = [("X", "a", 3), ("Y", "b", 2)]
    first = oms.receive_many(lines, idempotency_key="asn-1")
    again = oms.receive_many(lines, idempotency_key="asn-1")
    assert again == first
    assert len(oms.entries()) == 2
    assert {e.key for e in oms.entries()} == {"asn-1#1", "asn-1#2"}  # traced per line
    with pytest.raises(IdempotencyConflict):
        oms.receive_many([("X", "a", 4)], idempotency_key="asn-1")
    assert oms.available("X") == 3


def test_waiting_backorders_are_filled_first(oms):
    oms.add_sku("X")
    oms.configure_position("X", "a", allow_backorders=True, backorder_limit=10)
    order = oms.place_order("o1", [("X", 2)])
    assert order.status is OrderStatus.BACKORDERED
    oms.receive_many([("Y", "b", 1), ("X", "a", 5)])
    assert oms.order("o1").status is OrderStatus.ALLOCATED
    assert oms.available("X", "a") == 3
    oms.check_invariants()
