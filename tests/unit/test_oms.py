from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omsims import (
    Allocation,
    FulfilmentStatus,
    GeoPoint,
    Location,
    ManualClock,
    MemoryStore,
    Money,
    Oms,
    OrderStatus,
    RecordingNotifier,
    ShipmentStatus,
)
from omsims.errors import (
    AlreadyExists,
    IdempotencyConflict,
    IllegalTransition,
    InsufficientStock,
    InvalidIdentifier,
    InvalidOrder,
    InvalidQuantity,
    InvalidTime,
    UnknownFulfilmentOrder,
    UnknownLocation,
    UnknownOrder,
    UnknownSku,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def notifier():
    return RecordingNotifier()


@pytest.fixture
def oms(clock, notifier):
    oms = Oms(clock=clock, notifier=notifier)
    oms.add_location(Location("a", priority=1, coordinates=GeoPoint(52.5, 13.4)))
    oms.add_location(Location("b", priority=2))
    oms.add_location(Location("c", priority=3))
    oms.receive("X", "a", 2)
    oms.receive("X", "b", 4)
    oms.receive("Y", "c", 5)
    return oms


def snapshot(oms):
    """Everything a command could write, to prove a refused command wrote nothing."""
    return (
        oms.entries(),
        [(o.id, o.lines, o.status) for o in oms.orders()],
        [(fo.id, fo.status, fo.lines) for o in oms.orders() for fo in oms.fulfilment_orders(o.id)],
        [oms.stock(s, loc) for s in ("X", "Y") for loc in ("a", "b", "c")],
        len(oms.published_events),
    )


def test_place_order_splits_by_priority_and_commits_stock(oms):
    order = oms.place_order("o1", [("X", 5)])
    assert order.status is OrderStatus.ALLOCATED
    fos = oms.fulfilment_orders("o1")
    assert [(fo.location, fo.lines[0].quantity) for fo in fos] == [("a", 2), ("b", 3)]
    assert oms.stock("X", "a").committed == 2
    assert oms.stock("X", "b").available == 1
    assert oms.available("X") == 1
    oms.check_invariants()


def test_two_lines_sharing_a_sku_never_oversell(oms):
    order = oms.place_order("o1", [("X", 4), ("X", 4)])
    assert [ln.committed for ln in order.lines] == [4, 2]
    assert order.lines[1].unallocated == 2
    assert order.status is OrderStatus.PARTIALLY_ALLOCATED
    assert oms.available("X") == 0
    oms.check_invariants()


def test_unfillable_units_stay_unallocated_until_reallocated(oms):
    oms.place_order("o1", [("X", 8)])
    assert oms.order("o1").lines[0].unallocated == 2
    oms.receive("X", "c", 5)
    order = oms.reallocate("o1")
    assert order.status is OrderStatus.ALLOCATED
    assert [fo.location for fo in oms.fulfilment_orders("o1")] == ["a", "b", "c"]
    oms.check_invariants()


def test_all_or_nothing_order_is_refused_and_writes_nothing(oms):
    before = snapshot(oms)
    with pytest.raises(InsufficientStock, match="line 1: 2 units"):
        oms.place_order("o1", [("X", 8)], allow_partial=False)
    assert snapshot(oms) == before
    with pytest.raises(UnknownOrder):
        oms.order("o1")


def test_backorders_are_placed_where_allowed_and_filled_fifo(oms):
    oms.configure_position("X", "b", allow_backorders=True, backorder_limit=10)
    first = oms.place_order("o1", [("X", 8)])
    second = oms.place_order("o2", [("X", 3)])
    assert first.status is OrderStatus.BACKORDERED
    assert first.lines[0].backordered == 2
    assert second.lines[0].backordered == 3
    assert oms.stock("X", "b").backordered == 5
    clock_time = oms.clock.now()
    oms.receive("X", "b", 3, at=clock_time)
    assert oms.order("o1").lines[0].backordered == 0
    assert oms.order("o1").status is OrderStatus.ALLOCATED
    assert oms.order("o2").lines[0].backordered == 2
    assert oms.order("o2").lines[0].committed == 1
    oms.check_invariants()


def test_backorder_limit_is_respected(oms):
    oms.configure_position("X", "b", allow_backorders=True, backorder_limit=1)
    order = oms.place_order("o1", [("X", 9)])
    assert order.lines[0].backordered == 1
    assert order.lines[0].unallocated == 2


def test_reject_sources_again_without_that_location(oms):
    oms.place_order("o1", [("X", 2)])
    fo = oms.fulfilment_orders("o1")[0]
    assert fo.location == "a"
    order = oms.reject(fo.id, reason="shelf empty")
    assert order.status is OrderStatus.ALLOCATED
    fos = oms.fulfilment_orders("o1")
    assert [(f.location, f.status) for f in fos] == [
        ("a", FulfilmentStatus.REJECTED),
        ("b", FulfilmentStatus.OPEN),
    ]
    assert oms.stock("X", "a").committed == 0
    assert oms.stock("X", "b").committed == 2
    # The rejecting location is never used again for this order.
    oms.reject(fos[1].id, reason="no staff")
    assert oms.order("o1").status is OrderStatus.PLACED
    assert oms.order("o1").excluded_locations == {"a", "b"}
    oms.check_invariants()


def test_ship_and_deliver_in_several_parcels(oms, notifier):
    oms.place_order("o1", [("X", 2), ("Y", 3)])
    fo_a, fo_c = oms.fulfilment_orders("o1")
    with pytest.raises(IllegalTransition, match="it is open"):
        oms.ship(fo_a.id)
    oms.accept(fo_c.id)
    first = oms.ship(fo_c.id, {2: 1}, carrier="dhl", tracking="T1")
    assert oms.fulfilment_order(fo_c.id).status is FulfilmentStatus.PARTIALLY_SHIPPED
    assert oms.order("o1").status is OrderStatus.PARTIALLY_SHIPPED
    second = oms.ship(fo_c.id, tracking="T2")
    assert second.lines == ((2, "Y", 2),)
    assert oms.fulfilment_order(fo_c.id).status is FulfilmentStatus.SHIPPED
    assert oms.stock("Y", "c").on_hand == 2
    assert oms.stock("Y", "c").committed == 0
    oms.deliver(first.id)
    assert oms.fulfilment_order(fo_c.id).status is FulfilmentStatus.SHIPPED
    delivered = oms.deliver(second.id)
    assert delivered.status is ShipmentStatus.DELIVERED
    assert oms.fulfilment_order(fo_c.id).status is FulfilmentStatus.DELIVERED
    with pytest.raises(IllegalTransition):
        oms.deliver(second.id)
    oms.accept(fo_a.id)
    oms.deliver(oms.ship(fo_a.id).id)
    assert oms.order("o1").status is OrderStatus.DELIVERED
    assert "ShipmentShipped" in notifier.names()
    oms.check_invariants()


def test_cannot_ship_more_than_ready(oms):
    oms.place_order("o1", [("X", 2)])
    fo = oms.fulfilment_orders("o1")[0]
    oms.accept(fo.id)
    before = snapshot(oms)
    with pytest.raises(IllegalTransition, match="2 units ready"):
        oms.ship(fo.id, {1: 3})
    with pytest.raises(IllegalTransition, match="0 units ready"):
        oms.ship(fo.id, {9: 1})
    assert snapshot(oms) == before


def test_hold_and_release_return_to_previous_status(oms):
    oms.place_order("o1", [("X", 1)])
    fo = oms.fulfilment_orders("o1")[0]
    oms.accept(fo.id)
    held = oms.hold_fulfilment(fo.id, reason="fraud check")
    assert held.status is FulfilmentStatus.ON_HOLD
    with pytest.raises(IllegalTransition):
        oms.ship(fo.id)
    assert oms.release_fulfilment(fo.id).status is FulfilmentStatus.ACCEPTED
    with pytest.raises(IllegalTransition):
        oms.release_fulfilment(fo.id)


def test_cancel_part_of_a_line_takes_unallocated_then_backordered_then_committed(oms):
    oms.configure_position("X", "b", allow_backorders=True, backorder_limit=1)
    oms.place_order("o1", [("X", 9)])  # 2 at a, 4 at b, 1 backordered at b, 2 unallocated
    order = oms.cancel_lines("o1", {1: 4})
    line = order.lines[0]
    assert (line.cancelled, line.backordered, line.committed, line.unallocated) == (4, 0, 5, 0)
    assert oms.stock("X", "b").backordered == 0
    assert oms.stock("X", "b").committed == 3
    oms.check_invariants()


def test_cancel_order_restores_every_balance(oms):
    before = [oms.stock(s, loc) for s in ("X", "Y") for loc in ("a", "b", "c")]
    oms.place_order("o1", [("X", 5), ("Y", 2)])
    order = oms.cancel_order("o1")
    assert order.status is OrderStatus.CANCELLED
    assert [oms.stock(s, loc) for s in ("X", "Y") for loc in ("a", "b", "c")] == before
    assert {fo.status for fo in oms.fulfilment_orders("o1")} == {FulfilmentStatus.CANCELLED}
    with pytest.raises(IllegalTransition, match="nothing left"):
        oms.cancel_order("o1")
    oms.check_invariants()


def test_shipped_units_cannot_be_cancelled(oms):
    oms.place_order("o1", [("X", 2)])
    fo = oms.fulfilment_orders("o1")[0]
    oms.accept(fo.id)
    oms.ship(fo.id)
    with pytest.raises(IllegalTransition, match="0 cancellable"):
        oms.cancel_lines("o1", {1: 1})


def test_returns_to_stock_or_to_unavailable(oms):
    oms.place_order("o1", [("X", 2)])
    fo = oms.fulfilment_orders("o1")[0]
    oms.accept(fo.id)
    with pytest.raises(IllegalTransition):
        oms.return_units("o1", 1, 1, location="a")
    oms.deliver(oms.ship(fo.id).id)
    oms.return_units("o1", 1, 1, location="a")
    order = oms.return_units("o1", 1, 1, location="b", restock=False, reason="torn")
    assert order.status is OrderStatus.RETURNED
    assert oms.stock("X", "a").available == 1
    assert oms.stock("X", "b").unavailable == 1
    oms.check_invariants()


def test_placing_the_same_order_twice_is_idempotent(oms, notifier):
    first = oms.place_order("o1", [("X", 2)])
    events = len(notifier.events)
    entries = len(oms.entries())
    again = oms.place_order("o1", [("X", 2)])
    assert again == first
    assert len(oms.entries()) == entries
    assert len(notifier.events) == events
    with pytest.raises(IdempotencyConflict, match="other contents"):
        oms.place_order("o1", [("X", 3)])


def test_idempotency_keys_on_commands(oms):
    first = oms.receive("X", "a", 5, idempotency_key="grn-1")
    before = snapshot(oms)
    second = oms.receive("X", "a", 5, idempotency_key="grn-1")
    assert second == first  # the stored result of the first call (a copy)
    assert snapshot(oms) == before  # and the retry wrote nothing, published nothing
    assert oms.stock("X", "a").on_hand == 7
    with pytest.raises(IdempotencyConflict):
        oms.receive("X", "a", 6, idempotency_key="grn-1")
    with pytest.raises(IdempotencyConflict):
        oms.adjust("X", "a", 1, reason="count", idempotency_key="grn-1")
    oms.place_order("o1", [("X", 1)])
    fo = oms.fulfilment_orders("o1")[0]
    oms.accept(fo.id)
    s1 = oms.ship(fo.id, idempotency_key="ship-1")
    before = snapshot(oms)
    s2 = oms.ship(fo.id, idempotency_key="ship-1")
    assert s2 == s1
    assert snapshot(oms) == before
    assert len(oms.shipments("o1")) == 1


def test_business_time_in_the_future_or_naive_is_refused(oms, clock):
    with pytest.raises(InvalidTime, match="future"):
        oms.receive("X", "a", 1, at=clock.now() + timedelta(seconds=1))
    with pytest.raises(InvalidTime, match="timezone-aware"):
        oms.receive("X", "a", 1, at=datetime(2026, 3, 1))  # noqa: DTZ001


def test_stock_as_of_a_past_time(oms, clock):
    clock.advance(hours=1)
    oms.receive("X", "a", 10)
    assert oms.stock("X", "a", as_of=T0).on_hand == 2
    assert oms.stock("X", "a").on_hand == 12
    assert oms.stock("X", as_of=T0).on_hand == 6


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda o: o.place_order("o1", []), InvalidOrder),
        (lambda o: o.place_order("o1", [("X", 0)]), InvalidQuantity),
        (lambda o: o.place_order("o1", [("X", 1.0)]), InvalidQuantity),
        (lambda o: o.place_order("o1", [("X", True)]), InvalidQuantity),
        (lambda o: o.place_order("o1", [("X", Decimal("1.5"))]), InvalidQuantity),
        (lambda o: o.place_order("o1", [("X", 10**9 + 1)]), InvalidQuantity),
        (lambda o: o.place_order("o1", [("NOPE", 1)]), UnknownSku),
        (lambda o: o.place_order("bad id", [("X", 1)]), InvalidIdentifier),
        (lambda o: o.place_order("o1", [("X", 1)] * 1001), InvalidOrder),
        (lambda o: o.place_order("o1", [("X", 1, 2.5)]), InvalidOrder),
        (
            lambda o: o.place_order(
                "o1", [("X", 1, Money("1", "EUR")), ("Y", 1, Money("1", "USD"))]
            ),
            InvalidOrder,
        ),
        (lambda o: o.receive("X", "nowhere", 1), UnknownLocation),
        (lambda o: o.receive("X", "a", -1), InvalidQuantity),
        (lambda o: o.receive("bad sku", "a", 1), InvalidIdentifier),
        (lambda o: o.adjust("X", "a", -3, reason="count"), InsufficientStock),
        (lambda o: o.reserve("X", "a", 3), InsufficientStock),
        (lambda o: o.accept("o9-F1"), UnknownFulfilmentOrder),
        (lambda o: o.cancel_order("o9"), UnknownOrder),
        (lambda o: o.add_location(Location("a")), AlreadyExists),
        (lambda o: o.update_location(Location("zz")), UnknownLocation),
    ],
)
def test_bad_input_raises_a_typed_error_and_writes_nothing(oms, call, error):
    before = snapshot(oms)
    with pytest.raises(error):
        call(oms)
    assert snapshot(oms) == before


def test_a_failing_notifier_never_undoes_a_command_and_events_are_retried(oms, notifier):
    notifier.failing = True
    oms.place_order("o1", [("X", 1)])
    assert oms.order("o1").status is OrderStatus.ALLOCATED
    waiting = oms.pending_notifications
    assert [e.name for e in waiting][:2] == ["OrderPlaced", "FulfilmentOrderCreated"]
    notifier.failing = False
    assert oms.retry_notifications() == len(waiting)
    assert oms.pending_notifications == []
    assert notifier.events[-len(waiting) :] == waiting


def test_a_notifier_failing_part_way_keeps_the_rest_waiting_in_order(oms, notifier):
    notifier.failing = True
    oms.place_order("o1", [("X", 1)])
    oms.place_order("o2", [("Y", 1)])
    waiting = oms.pending_notifications
    assert len(waiting) > 3
    taken: list[object] = []

    def publish_three(event: object) -> None:  # the notifier goes down after three events
        if len(taken) == 3:
            raise ConnectionError("down")
        taken.append(event)

    notifier.publish = publish_three  # type: ignore[method-assign]
    assert oms.retry_notifications() == 3
    assert taken == waiting[:3]
    assert oms.pending_notifications == waiting[3:]  # nothing lost, nothing repeated
    assert list(oms.published_events)[-3:] == waiting[:3]
    del notifier.publish  # the recording notifier again, up
    notifier.failing = False
    assert oms.retry_notifications() == len(waiting) - 3
    assert notifier.events[-(len(waiting) - 3) :] == waiting[3:]
    assert oms.pending_notifications == []


def test_an_interrupted_delivery_leaves_the_rest_waiting_and_the_next_call_delivers_it(
    oms, notifier
):
    notifier.failing = True
    oms.place_order("o1", [("X", 1)])
    waiting = oms.pending_notifications
    taken: list[object] = []

    def interrupted(event: object) -> None:  # Ctrl-C while the second event goes out
        if len(taken) == 1:
            raise KeyboardInterrupt
        taken.append(event)

    notifier.publish = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        oms.retry_notifications()
    assert oms.pending_notifications == waiting[1:]  # the first went, the rest waits
    del notifier.publish
    notifier.failing = False
    assert oms.retry_notifications() == len(waiting) - 1  # not stuck "delivering"
    assert oms.pending_notifications == []


def test_low_stock_is_published_when_available_crosses_the_threshold(oms, notifier):
    oms.configure_position("X", "b", low_stock_threshold=2)
    oms.place_order("o1", [("X", 4)])  # a: 2 -> 0, b: 4 -> 2
    low = [e for e in notifier.events if e.name == "LowStock"]
    assert [(e.location, e.available, e.threshold) for e in low] == [("b", 2, 2)]
    oms.place_order("o2", [("X", 1)])  # already below: not published again
    assert len([e for e in notifier.events if e.name == "LowStock"]) == 1


def test_reservations_expire_and_free_their_units(oms, clock):
    r = oms.reserve("X", "a", 2, expires_at=T0 + timedelta(minutes=15))
    assert oms.available("X", "a") == 0
    assert oms.expire_reservations() == []
    clock.advance(minutes=15)
    expired = oms.expire_reservations()
    assert [x.id for x in expired] == [r.id]
    assert oms.available("X", "a") == 2


def test_transfer_counts_units_in_transit_once(oms, clock):
    t = oms.transfer("X", "b", "c", 3, eta=T0 + timedelta(days=2))
    network = oms.stock("X")
    assert (network.on_hand, network.incoming) == (3, 3)
    assert oms.stock("X", "c").incoming == 3
    assert [r.source for r in oms.incoming("X")] == [t.id]
    clock.advance(days=2)
    oms.receive_transfer(t.id)
    network = oms.stock("X")
    assert (network.on_hand, network.incoming) == (6, 0)


def test_the_quickstart_reads_as_promised():
    oms = Oms()
    oms.add_location(Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40), priority=1))
    oms.receive("TSHIRT-M", "berlin-dc", 10)
    order = oms.place_order("web-1001", lines=[("TSHIRT-M", 2)], ship_to=GeoPoint(48.14, 11.58))
    level = oms.stock("TSHIRT-M", "berlin-dc")
    assert (level.on_hand, level.committed, level.available) == (10, 2, 8)
    assert order.status is OrderStatus.ALLOCATED


def test_reject_withdraws_backorders_and_gives_them_to_no_one(oms, notifier):
    oms.configure_position("X", "b", allow_backorders=True)
    oms.place_order("o1", [("X", 9)])  # a: 2, b: 4 + 3 backordered
    fo_b = oms.fulfilment_orders("o1")[1]
    assert (fo_b.lines[0].quantity, fo_b.lines[0].backordered) == (7, 3)
    order = oms.reject(fo_b.id, reason="closing down")
    assert (order.lines[0].committed, order.lines[0].backordered) == (2, 0)
    assert order.lines[0].unallocated == 7
    assert oms.stock("X", "b").backordered == 0
    assert oms.stock("X", "b").committed == 0
    assert "BackorderFilled" not in notifier.names()
    oms.check_invariants()


class BackorderEverything:
    """A (poor) user strategy that backorders everything at the first location."""

    name = "backorder-everything"

    def plan(self, request, inventory):
        from omsims import Allocation, Explanation, SourcingPlan

        loc = inventory.locations()[0].id
        allocations = tuple(
            Allocation(rl.line, rl.sku, loc, rl.quantity, backorder=True) for rl in request.lines
        )
        return SourcingPlan(allocations, (), Explanation(self.name))


def test_a_backorder_placed_where_stock_is_free_is_filled_at_once():
    oms = Oms(strategy=BackorderEverything())
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    oms.configure_position("X", "a", allow_backorders=True)
    order = oms.place_order("o1", [("X", 3)])
    assert (order.lines[0].committed, order.lines[0].backordered) == (3, 0)
    assert oms.stock("X", "a").committed == 3
    oms.check_invariants()


class Overpromise:
    name = "overpromise"

    def plan(self, request, inventory):
        from omsims import Allocation, Explanation, SourcingPlan

        allocations = tuple(
            Allocation(rl.line, rl.sku, "a", rl.quantity + 1) for rl in request.lines
        )
        return SourcingPlan(allocations, (), Explanation(self.name))


def test_a_strategy_that_allocates_more_than_asked_is_refused_and_nothing_written():
    from omsims.errors import InvalidPlan

    oms = Oms(strategy=Overpromise())
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    before = oms.entries()
    with pytest.raises(InvalidPlan, match="only 1 to source"):
        oms.place_order("o1", [("X", 1)])
    assert oms.entries() == before
    assert oms.orders() == []


def test_sourcing_sees_location_changes_at_once(oms):
    assert oms.plan([("X", 1)]).allocations[0].location == "a"
    oms.update_location(Location("a", priority=1, active=False))
    plan = oms.plan([("X", 1)])
    assert plan.allocations[0].location == "b"
    assert "dropped a: inactive" in str(plan.explanation)
    oms.update_location(Location("a", priority=9))
    assert oms.plan([("X", 3)]).allocations[0].location == "b"


def test_a_rolled_back_location_change_is_forgotten_by_sourcing():
    store = MemoryStore()
    oms = Oms(store)
    oms.add_location(Location("a", priority=1))
    oms.add_location(Location("b", priority=2))
    oms.receive("X", "a", 1)
    oms.receive("X", "b", 1)
    assert oms.plan([("X", 1)]).allocations[0].location == "a"
    with store() as uow:
        uow.locations.put(Location("a", priority=1, can_ship=False))
        # leaving without commit rolls the change back
    assert oms.plan([("X", 1)]).allocations[0].location == "a"


def test_published_events_keep_only_the_latest():
    oms = Oms(keep_events=3)
    oms.add_location(Location("a"))
    for _ in range(5):
        oms.receive("X", "a", 1)
    assert len(oms.published_events) == 3
    with pytest.raises(InvalidQuantity):
        Oms(keep_events=-1)


def test_the_idempotency_key_of_a_stock_command_is_on_its_ledger_entry(oms):
    posting = oms.receive("X", "a", 5, idempotency_key="grn-77")
    assert posting.entries[0].key == "grn-77"
    assert oms.entries(reference=None, sku="X", location="a")[-1].key == "grn-77"


@pytest.mark.parametrize(
    "call",
    [
        lambda o: o.order(["o1"]),
        lambda o: o.order(None),
        lambda o: o.fulfilment_order(["x"]),
        lambda o: o.fulfilment_orders(["x"]),
        lambda o: o.accept(["x"]),
        lambda o: o.deliver(["x"]),
        lambda o: o.shipments(["x"]),
        lambda o: o.location(["x"]),
        lambda o: o.reallocate(["x"]),
        lambda o: o.cancel_order(["x"]),
        lambda o: o.hold_fulfilment(["x"], reason="r"),
        lambda o: o.backorder_queue(["X"], "a"),
        lambda o: o.configure_position(["X"], "a", safety_stock=1),
        lambda o: o.return_units("o1", 1, 1, location=["a"]),
        lambda o: o.ship("o1-F1", [(1, 1)]),
        lambda o: o.ship("o1-F1", {1: 1, "a": 1}),
        lambda o: o.cancel_lines("o1", {1: 1, "a": 1}),
        lambda o: o.entries(since="x"),
        lambda o: o.entries(kind="received"),
        lambda o: o.place_order("o2", [("X", Decimal("1e2000000"))]),
        lambda o: o.place_order("o2", [("X", 1, Money("-5", "EUR"))]),
        lambda o: o.place_order("o2", [("X", 1)], ship_to=(1, 2)),
    ],
)
def test_malformed_arguments_get_typed_errors_not_builtin_ones(oms, call):
    from omsims.errors import ValidationError

    oms.place_order("o1", [("X", 1)])
    before = snapshot(oms)
    with pytest.raises(ValidationError):
        call(oms)
    assert snapshot(oms) == before


def test_shipments_of_an_unknown_order_is_an_error(oms):
    with pytest.raises(UnknownOrder):
        oms.shipments("nope")


class Lying:
    """A strategy returning whatever it was built with."""

    name = "lying"

    def __init__(self, make):
        self.make = make

    def plan(self, request, inventory):
        return self.make(request)


def _plan_of(allocations, unfilled=()):
    from omsims import Explanation, SourcingPlan

    return SourcingPlan(tuple(allocations), tuple(unfilled), Explanation("lying"))


@pytest.mark.parametrize(
    "make",
    [
        lambda r: None,  # noqa: ARG005
        lambda r: _plan_of([Allocation("1", "X", "a", 1)]),  # noqa: ARG005
        lambda r: _plan_of([Allocation(1, "X", "nowhere", 1)]),  # noqa: ARG005
        lambda r: _plan_of([Allocation(1, "Y", "a", 1)]),  # noqa: ARG005
        lambda r: _plan_of([Allocation(1, "X", "a", 0)]),  # noqa: ARG005
    ],
)
def test_malformed_plans_are_invalid_plans_and_write_nothing(make):
    from omsims.errors import InvalidPlan

    oms = Oms(strategy=Lying(make))
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    before = oms.entries()
    with pytest.raises(InvalidPlan):
        oms.place_order("o1", [("X", 1)])
    assert oms.entries() == before
    assert oms.orders() == []


def test_all_or_nothing_counts_what_the_plan_allocates_not_what_it_claims():
    oms = Oms(strategy=Lying(lambda _r: _plan_of([], unfilled=())))  # claims nothing unfilled
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    with pytest.raises(InsufficientStock, match="line 1: 1 units"):
        oms.place_order("o1", [("X", 1)], allow_partial=False)
    assert oms.orders() == []


def test_cancelling_an_order_never_fills_its_own_backorders_first(notifier):
    oms = Oms(notifier=notifier)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 2)
    oms.configure_position("X", "a", allow_backorders=True)
    oms.place_order("o1", [("X", 2), ("X", 3)])  # line 2 is all backordered
    oms.cancel_order("o1")
    names = notifier.names()
    assert "BackorderFilled" not in names
    assert oms.stock("X", "a").available == 2
    assert oms.stock("X", "a").backordered == 0
    oms.check_invariants()


def test_a_new_safety_stock_publishes_the_new_available_and_low_stock(oms, notifier):
    oms.configure_position("X", "b", low_stock_threshold=2)
    notifier.events.clear()
    oms.configure_position("X", "b", safety_stock=3)
    assert [(e.name, e.available) for e in notifier.events] == [
        ("StockChanged", 1),
        ("LowStock", 1),
    ]


def test_every_state_changing_command_takes_an_idempotency_key(oms):
    import inspect

    queries = {
        "stock",
        "available",
        "incoming",
        "entries",
        "order",
        "order_status",
        "orders",
        "fulfilment_orders",
        "fulfilment_order",
        "shipments",
        "location",
        "locations",
        "reservation",
        "skus",
        "positions",
        "reservations",
        "supply_line",
        "transfer_by_id",
        "backorder_queue",
        "plan",
        "check_invariants",
        "retry_notifications",
        "relay",
        "close",
        "place_order",
        "payment_operation",
        "timeline",
        "settle_payments",  # each operation goes under its own key already
        "return_request",
        "channel_availability",
        "expire_pickups",  # repeating it finds nothing left to expire
        "returns",
        "archive",  # keyed by the order id: archiving again returns the record
        "archive_many",  # archiving again skips what is archived already
        "archived_order",
        "demand_history",
        "plan_replenishment",  # proposes only: approve_proposal is the command
        "available_to_promise",
        "stock_report",
        "valuation",
        "shipped_cost",
    }
    commands = [
        name
        for name, member in inspect.getmembers(type(oms), inspect.isfunction)
        if not name.startswith("_") and name not in queries
    ]
    assert len(commands) > 20
    for name in commands:
        assert "idempotency_key" in inspect.signature(getattr(oms, name)).parameters, name
    oms.place_order("o1", [("X", 1)])
    fo = oms.fulfilment_orders("o1")[0].id
    oms.hold_fulfilment(fo, reason="check", idempotency_key="h1")
    oms.hold_fulfilment(fo, reason="check", idempotency_key="h1")  # a retry, not an error
    with pytest.raises(IllegalTransition):
        oms.hold_fulfilment(fo, reason="check")


def test_commands_dated_before_what_they_act_on_are_refused(oms, clock):
    from omsims.errors import BackdatedPostingRejected

    clock.advance(hours=5)
    oms.place_order("o1", [("X", 2)])
    fo = oms.fulfilment_orders("o1")[0]
    early = T0 + timedelta(hours=1)
    with pytest.raises(BackdatedPostingRejected):
        oms.accept(fo.id, at=early)
    with pytest.raises(BackdatedPostingRejected):
        oms.cancel_order("o1", at=early)
    oms.accept(fo.id)
    clock.advance(hours=5)
    shipment = oms.ship(fo.id)
    with pytest.raises(BackdatedPostingRejected):
        oms.deliver(shipment.id, at=T0 + timedelta(hours=6))
    clock.advance(hours=5)
    oms.deliver(shipment.id)
    before = snapshot(oms)
    with pytest.raises(BackdatedPostingRejected):
        oms.return_units("o1", 1, 1, location="a", at=T0 + timedelta(hours=11))
    assert snapshot(oms) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda o: o.receive("X", "a", 1, reference=object()),
        lambda o: o.receive("X", "a", 1, reference=""),
        lambda o: o.reserve("X", "a", 1, reference=["r"]),
        lambda o: o.write_off("X", "a", 1, reason="lost", from_unavailable="yes"),
        lambda o: o.return_units("o1", 1, 1, location="a", restock="yes"),
    ],
)
def test_references_and_flags_are_checked(oms, call):
    from omsims.errors import ValidationError

    oms.place_order("o1", [("X", 1)])
    before = snapshot(oms)
    with pytest.raises(ValidationError):
        call(oms)
    assert snapshot(oms) == before


@pytest.fixture
def backordered(clock):
    """Two orders waiting at b (which allows backorders); a and c hold nothing."""
    oms = Oms(clock=clock)
    for i, name in enumerate("abc", start=1):
        oms.add_location(Location(name, priority=i))
    oms.add_sku("X")
    oms.configure_position("X", "b", allow_backorders=True)
    oms.place_order("old", [("X", 2)])
    clock.advance(minutes=1)
    oms.place_order("new", [("X", 1)])
    assert oms.stock("X", "b").backordered == 3
    return oms


def test_supply_elsewhere_takes_over_the_oldest_backorders_first(backordered):
    oms = backordered
    oms.receive("X", "c", 2)
    old = oms.order("old")
    assert (old.lines[0].committed, old.lines[0].backordered) == (2, 0)
    assert [fo.location for fo in oms.fulfilment_orders("old")] == ["b", "c"]
    assert oms.order("new").lines[0].backordered == 1
    assert oms.backorder_queue("X", "b") == [("new-F1#1", 1)]
    oms.check_invariants()


def test_part_of_a_backorder_moves_and_the_rest_keeps_its_place(backordered):
    oms = backordered
    oms.receive("X", "a", 1)
    assert oms.order("old").lines[0].committed == 1
    assert oms.backorder_queue("X", "b") == [("old-F1#1", 1), ("new-F1#1", 1)]
    oms.check_invariants()


def test_supply_at_the_backordered_position_fills_it_in_place(backordered):
    oms = backordered
    oms.receive("X", "b", 2)
    assert [fo.location for fo in oms.fulfilment_orders("old")] == ["b"]
    assert oms.order("old").status is OrderStatus.ALLOCATED
    assert oms.backorder_queue("X", "b") == [("new-F1#1", 1)]
    oms.check_invariants()


def test_order_status_is_the_status_of_the_order_at_every_step(oms):
    oms.place_order("o1", [("X", 3), ("Y", 1)])
    seen = [oms.order_status("o1")]
    for fo in oms.fulfilment_orders("o1"):
        oms.accept(fo.id)
        parcel = oms.ship(fo.id)
        assert oms.order_status("o1") is oms.order("o1").status
        seen.append(oms.order_status("o1"))
        oms.deliver(parcel.id)
        seen.append(oms.order_status("o1"))
    assert seen[0] is OrderStatus.ALLOCATED
    assert seen[-1] is OrderStatus.DELIVERED is oms.order("o1").status
    assert OrderStatus.PARTIALLY_SHIPPED in seen
    with pytest.raises(UnknownOrder):
        oms.order_status("nope")
    with pytest.raises(InvalidIdentifier):
        oms.order_status(42)


def test_a_command_refused_as_stale_runs_again_up_to_the_stores_attempts_read_each_time():
    from omsims.adapters.memory import MemoryUnitOfWork
    from omsims.errors import StaleRead

    class Flaky(MemoryUnitOfWork):
        def commit(self):
            if self.store.refusals:
                self.store.refusals -= 1
                raise StaleRead("another process moved it")
            super().commit()

    class Store(MemoryStore):
        refusals = 0

        def __call__(self):
            return Flaky(self)

    store = Store()
    oms = Oms(store, clock=ManualClock(T0))
    oms.add_location(Location("dc"))
    assert store.attempts == 1
    store.refusals = 1
    with pytest.raises(StaleRead):
        oms.receive("MUG", "dc", 5)
    assert oms.entries() == []  # refused: nothing written
    store.attempts = 3  # changed while in use: the next command goes by it
    store.refusals = 2
    oms.receive("MUG", "dc", 5)
    assert [e.quantity for e in oms.entries()] == [5]  # ran three times, took effect once
