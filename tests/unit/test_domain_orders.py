"""The order and fulfilment aggregates on their own, without the service."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims import FulfilmentLine, FulfilmentOrder, FulfilmentStatus, Order, OrderStatus
from omsims.errors import IllegalTransition

T = datetime(2026, 3, 1, tzinfo=UTC)


def order(*lines):
    return Order.new("o1", list(lines), placed_at=T)


def test_status_follows_the_counters_in_precedence_order():
    o = order(("A", 2), ("B", 1))
    assert o.status is OrderStatus.PLACED
    o.allocate(1, committed=2)
    assert o.status is OrderStatus.PARTIALLY_ALLOCATED
    o.allocate(2, backordered=1)
    assert o.status is OrderStatus.BACKORDERED
    o.fill_backorder(2, 1)
    assert o.status is OrderStatus.ALLOCATED
    o.ship(1, 1)
    assert o.status is OrderStatus.PARTIALLY_SHIPPED
    o.ship(1, 1)
    o.ship(2, 1)
    assert o.status is OrderStatus.SHIPPED
    o.deliver(1, 2)
    o.deliver(2, 1)
    assert o.status is OrderStatus.DELIVERED
    o.record_return(1, 1)
    assert o.status is OrderStatus.PARTIALLY_RETURNED
    o.record_return(1, 1)
    o.record_return(2, 1)
    assert o.status is OrderStatus.RETURNED
    o.check_invariants()


def test_cancelled_units_leave_the_status_to_the_rest():
    o = order(("A", 2))
    o.allocate(1, committed=1)
    o.cancel(1, unallocated=1, backordered=0, committed=0)
    assert o.status is OrderStatus.ALLOCATED
    o.cancel(1, unallocated=0, backordered=0, committed=1)
    assert o.status is OrderStatus.CANCELLED


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o.allocate(1, committed=3),
        lambda o: o.allocate(1, committed=-1),
        lambda o: o.ship(1, 1),
        lambda o: o.deliver(1, 1),
        lambda o: o.record_return(1, 1),
        lambda o: o.fill_backorder(1, 1),
        lambda o: o.cancel(1, unallocated=3, backordered=0, committed=0),
        lambda o: o.cancel(1, unallocated=0, backordered=0, committed=0),
    ],
)
def test_impossible_counter_changes_raise_and_change_nothing(change):
    o = order(("A", 2))
    before = o.copy()
    with pytest.raises(IllegalTransition):
        change(o)
    assert o == before


def fulfilment():
    return FulfilmentOrder("o1-F1", "o1", "a", [FulfilmentLine(1, "A", 3, backordered=1)], T)


def test_fulfilment_orders_record_their_events():
    fo = fulfilment()
    fo.accept(T)
    fo.hold("fraud check", T)
    fo.release(T)
    assert [e.name for e in fo.events] == [
        "FulfilmentOrderAccepted",
        "FulfilmentOrderHeld",
        "FulfilmentOrderReleased",
    ]
    assert fo.status is FulfilmentStatus.ACCEPTED


def test_fulfilment_transitions_refuse_from_the_wrong_status():
    fo = fulfilment()
    with pytest.raises(IllegalTransition):
        fo.ship({1: 1})  # not accepted yet
    fo.accept(T)
    with pytest.raises(IllegalTransition, match="2 units ready"):
        fo.ship({1: 3})  # one unit is still backordered
    fo.ship({1: 2})
    assert fo.status is FulfilmentStatus.PARTIALLY_SHIPPED
    with pytest.raises(IllegalTransition):
        fo.reject("too late", T)  # part of it left already
    fo.cancel_units(1, backordered=1, ready=0, at=T)
    assert fo.status is FulfilmentStatus.SHIPPED
    assert [e.name for e in fo.events] == ["FulfilmentOrderAccepted"]


def test_a_fully_cancelled_fulfilment_order_records_it():
    fo = fulfilment()
    fo.cancel_units(1, backordered=1, ready=2, at=T)
    assert fo.status is FulfilmentStatus.CANCELLED
    assert fo.events[-1].name == "FulfilmentOrderCancelled"


_COUNTERS = ("committed", "backordered", "shipped", "delivered", "cancelled", "returned")
_LOSSES = ("lost", "lost_resolved", "unclaimed")


def _summed(o: Order) -> dict[str, int]:
    """Every counter summed over the lines, generically (not as the order does it)."""
    names = (*_COUNTERS, *_LOSSES, "quantity", "unallocated")
    return {n: sum(getattr(ln, n) for ln in o.lines) for n in names}


def _status_from_sums(o: Order) -> OrderStatus:  # noqa: PLR0911 (as status reads)
    """The precedence of ``Order.status``'s docstring, over counters summed here."""
    t = _summed(o)
    open_units = t["quantity"] - t["cancelled"]
    due = open_units - t["lost_resolved"] - t["unclaimed"]
    if due == 0:
        return OrderStatus.CANCELLED
    if t["returned"]:
        return OrderStatus.RETURNED if t["returned"] == due else OrderStatus.PARTIALLY_RETURNED
    if t["delivered"] == due:
        return OrderStatus.DELIVERED
    if o.ready_at is not None:
        return OrderStatus.READY_FOR_PICKUP
    if t["shipped"] == open_units:
        return OrderStatus.SHIPPED
    if t["shipped"]:
        return OrderStatus.PARTIALLY_SHIPPED
    if t["unallocated"] == open_units:
        return OrderStatus.PLACED
    if t["unallocated"]:
        return OrderStatus.PARTIALLY_ALLOCATED
    if t["backordered"]:
        return OrderStatus.BACKORDERED
    return OrderStatus.ALLOCATED


@given(
    lines=st.lists(
        st.tuples(
            st.integers(1, 6),
            st.lists(st.integers(0, 6), min_size=len(_COUNTERS), max_size=len(_COUNTERS)),
            st.lists(st.integers(0, 2), min_size=len(_LOSSES), max_size=len(_LOSSES)),
        ),
        min_size=1,
        max_size=4,
    ),
    ready=st.booleans(),
)
def test_status_is_the_documented_precedence_over_the_summed_counters(lines, ready):
    # Counters drawn freely (not only reachable ones): status is a function of the sums.
    placed = Order.new("A-1", [(f"S{n}", q) for n, (q, _c, _l) in enumerate(lines)], placed_at=T)
    for ln, (_q, counters, losses) in zip(placed.lines, lines, strict=True):
        for name, value in zip((*_COUNTERS, *_LOSSES), (*counters, *losses), strict=True):
            setattr(ln, name, value)
    placed.ready_at = T if ready else None
    assert placed.status is _status_from_sums(placed)
    assert placed.totals() == _summed(placed)
