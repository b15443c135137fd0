"""In store: buy online pick up in store, till sales, endless aisle, reserve to try on."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omsims import (
    FakeGateway,
    FulfilmentStatus,
    GeoPoint,
    Inspection,
    Location,
    LocationKind,
    ManualClock,
    Money,
    Oms,
    OrderStatus,
    RecordingNotifier,
    ShipmentStatus,
    ShipTo,
)
from omsims.errors import (
    BackdatedPostingRejected,
    IllegalTransition,
    InsufficientStock,
    InvalidOrder,
    PickupRefused,
    UnknownReservation,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def shop(**options: object) -> tuple[Oms, ManualClock]:
    clock = ManualClock(T0)
    oms = Oms(clock=clock, **options)  # type: ignore[arg-type]
    oms.add_location(Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40), priority=1))
    oms.add_location(
        Location(
            "munich-store",
            kind=LocationKind.STORE,
            coordinates=GeoPoint(48.14, 11.57),
            can_pickup=True,
            priority=5,
        )
    )
    oms.add_location(Location("outlet", kind=LocationKind.STORE, can_ship=False))
    oms.receive("DRESS-38", "munich-store", 1)
    oms.receive("DRESS-38", "berlin-dc", 5)
    return oms, clock


# -- buy online, pick up in store --------------------------------------------------------------


def test_a_pickup_from_the_stores_own_stock_is_ready_picked_up_and_paid():
    notes = RecordingNotifier()
    oms, clock = shop(payments=FakeGateway(), notifier=notes)
    order = oms.place_order(
        "web-1", [("DRESS-38", 1, eur("89.00"))], customer="c-1", pickup_at="munich-store"
    )
    assert order.ready_by == T0 + timedelta(hours=2)
    [fo] = oms.fulfilment_orders("web-1")
    assert fo.location == "munich-store"
    oms.accept(fo.id)
    clock.advance(hours=1)
    assert oms.ready_for_pickup(fo.id).status is FulfilmentStatus.READY_FOR_PICKUP
    ready = oms.order("web-1")
    assert (ready.status, ready.pickup_deadline) == (
        OrderStatus.READY_FOR_PICKUP,
        T0 + timedelta(hours=1, days=7),
    )
    assert next(e for e in notes.events if e.name == "OrderReadyForPickup").store == "munich-store"
    assert oms.order("web-1").payment.captured == 0  # paid when collected
    clock.advance(days=1)
    done = oms.pick_up("web-1", customer="c-1", store="munich-store")
    assert done.status is OrderStatus.DELIVERED
    assert done.payment.captured == Decimal("89.00")
    assert oms.stock("DRESS-38", "munich-store").on_hand == 0
    assert oms.fulfilment_orders("web-1")[0].status is FulfilmentStatus.DELIVERED
    oms.check_invariants()


def test_what_the_store_lacks_is_sent_there_and_the_order_waits_for_it():
    oms, clock = shop()
    order = oms.place_order("web-2", [("DRESS-38", 3)], pickup_at="munich-store")
    assert order.ready_by == T0 + timedelta(days=2)
    store_fo, dc_fo = oms.fulfilment_orders("web-2")
    assert (store_fo.location, store_fo.lines[0].quantity) == ("munich-store", 1)
    assert (dc_fo.location, dc_fo.lines[0].quantity) == ("berlin-dc", 2)
    oms.accept(store_fo.id)
    oms.ready_for_pickup(store_fo.id)
    assert oms.order("web-2").status is not OrderStatus.READY_FOR_PICKUP  # two still to come
    oms.accept(dc_fo.id)
    with pytest.raises(IllegalTransition, match="mark it ready, then pick_up"):
        oms.ship(store_fo.id)
    parcel = oms.ship(dc_fo.id, carrier="dhl", tracking="JD1")
    assert parcel.to_store == "munich-store"
    clock.advance(days=1)
    assert oms.track(parcel.id, "delivered").status is ShipmentStatus.AWAITING_PICKUP
    assert oms.order("web-2").status is OrderStatus.READY_FOR_PICKUP
    done = oms.pick_up("web-2")
    assert (done.status, done.lines[0].delivered) == (OrderStatus.DELIVERED, 3)
    assert oms.shipments("web-2")[0].status is ShipmentStatus.DELIVERED
    oms.check_invariants()


def test_a_store_that_rejects_its_part_has_it_sent_from_elsewhere():
    oms, _ = shop()
    oms.place_order("web-3", [("DRESS-38", 1)], pickup_at="munich-store")
    fo = oms.fulfilment_orders("web-3")[0]
    oms.reject(fo.id, reason="cannot find it")
    again = oms.fulfilment_orders("web-3")[-1]
    assert again.location == "berlin-dc"
    assert oms.available("DRESS-38", "munich-store") == 1


@pytest.mark.parametrize(
    ("customer", "store", "error", "match"),
    [
        ("c-2", None, PickupRefused, "not customer c-2's to collect"),
        (None, None, PickupRefused, "not customer None's"),
        ("c-1", "outlet", PickupRefused, "collected at munich-store, not outlet"),
    ],
)
def test_someone_elses_order_or_another_store_is_refused_and_nothing_changes(
    customer, store, error, match
):
    oms, _ = shop()
    oms.place_order("web-4", [("DRESS-38", 1)], customer="c-1", pickup_at="munich-store")
    fo = oms.accept(oms.fulfilment_orders("web-4")[0].id)
    oms.ready_for_pickup(fo.id)
    before, entries = oms.order("web-4"), len(oms.entries())
    with pytest.raises(error, match=match):
        oms.pick_up("web-4", customer=customer, store=store)
    assert oms.order("web-4") == before
    assert len(oms.entries()) == entries


def test_an_order_not_ready_or_not_a_pickup_cannot_be_picked_up():
    oms, _ = shop()
    oms.place_order("web-5", [("DRESS-38", 1)], pickup_at="munich-store")
    with pytest.raises(IllegalTransition, match="not ready for pickup"):
        oms.pick_up("web-5")
    oms.place_order("web-6", [("DRESS-38", 1)])
    with pytest.raises(IllegalTransition, match="not picked up in a store"):
        oms.pick_up("web-6")
    fo = oms.accept(oms.fulfilment_orders("web-6")[0].id)
    with pytest.raises(IllegalTransition, match="not picked up at"):
        oms.ready_for_pickup(fo.id)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pickup_at": "outlet"}, "does not take pickups"),
        ({"pickup_at": "munich-store", "ship_to": GeoPoint(48.1, 11.5)}, "has no ship_to"),
        ({"sold_at": "berlin-dc"}, "is not an open store"),
        ({"reservation": "r-1"}, "give sold_at"),
    ],
)
def test_bad_in_store_orders_are_refused_and_nothing_is_written(kwargs, match):
    oms, _ = shop()
    with pytest.raises(InvalidOrder, match=match):
        oms.place_order("bad", [("DRESS-38", 1)], **kwargs)
    assert oms.orders() == []
    assert oms.available("DRESS-38") == 6


def test_an_uncollected_pickup_goes_back_to_stock_and_is_refunded():
    notes = RecordingNotifier()
    oms, clock = shop(payments=FakeGateway(), notifier=notes)
    oms.place_order("web-7", [("DRESS-38", 2, eur("89.00"))], pickup_at="munich-store")
    store_fo, dc_fo = oms.fulfilment_orders("web-7")
    oms.ready_for_pickup(oms.accept(store_fo.id).id)
    oms.accept(dc_fo.id)
    parcel = oms.ship(dc_fo.id)
    oms.track(parcel.id, "delivered")
    assert oms.order("web-7").payment.captured == Decimal("89.00")  # the parcel's unit
    assert oms.expire_pickups() == []  # not yet
    clock.advance(days=8)
    [expired] = oms.expire_pickups()
    assert expired.status is OrderStatus.CANCELLED
    assert (expired.lines[0].cancelled, expired.lines[0].unclaimed) == (1, 1)
    pay = expired.payment
    assert (pay.voided, pay.refunded) == (Decimal("89.00"), Decimal("89.00"))
    store = oms.stock("DRESS-38", "munich-store")
    assert (store.on_hand, store.committed, store.available) == (2, 0, 2)
    assert oms.shipments("web-7")[0].status is ShipmentStatus.UNCLAIMED
    assert [e.units for e in notes.events if e.name == "PickupExpired"] == [2]
    assert oms.expire_pickups() == []
    oms.check_invariants()


def test_collecting_again_under_the_same_key_hands_over_once():
    oms, _ = shop()
    oms.place_order("web-8", [("DRESS-38", 1)], pickup_at="munich-store")
    oms.ready_for_pickup(oms.accept(oms.fulfilment_orders("web-8")[0].id).id)
    first = oms.pick_up("web-8", idempotency_key="k1")
    assert oms.pick_up("web-8", idempotency_key="k1") == first
    assert len(oms.shipments("web-8")) == 1


def test_a_pickup_survives_in_sqlite(tmp_path):
    pytest.importorskip("cattrs")
    clock = ManualClock(T0)
    oms = Oms.sqlite(tmp_path / "oms.db", clock=clock)
    oms.add_location(Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40)))
    oms.add_location(
        Location(
            "munich-store",
            kind=LocationKind.STORE,
            coordinates=GeoPoint(48.1, 11.5),
            can_pickup=True,
        )
    )
    oms.receive("DRESS-38", "berlin-dc", 1)
    oms.place_order("web-9", [("DRESS-38", 1)], pickup_at="munich-store")
    fo = oms.accept(oms.fulfilment_orders("web-9")[0].id)
    oms.track(oms.ship(fo.id).id, "delivered")
    oms.close()
    again = Oms.sqlite(tmp_path / "oms.db", clock=clock)
    assert again.order("web-9").status is OrderStatus.READY_FOR_PICKUP
    assert again.shipments("web-9")[0].to_store == "munich-store"
    assert again.pick_up("web-9").status is OrderStatus.DELIVERED
    again.check_invariants()
    again.close()


# -- at the till -----------------------------------------------------------------------------------


def test_a_till_sale_is_handed_over_on_the_spot_and_captured():
    oms, _ = shop(payments=FakeGateway())
    sale = oms.place_order(
        "pos-1", [("DRESS-38", 1, eur("89.00"))], channel="pos", sold_at="munich-store"
    )
    assert sale.status is OrderStatus.DELIVERED
    assert sale.payment.captured == Decimal("89.00")
    [parcel] = oms.shipments("pos-1")
    assert (parcel.service, parcel.carrier, parcel.status) == (
        "handed over",
        None,
        ShipmentStatus.DELIVERED,
    )
    assert oms.stock("DRESS-38", "munich-store").on_hand == 0
    oms.check_invariants()


def test_a_till_sale_the_store_cannot_hand_over_is_refused_and_nothing_stays():
    gateway = FakeGateway()
    oms, _ = shop(payments=gateway)
    with pytest.raises(InsufficientStock, match="at munich-store"):
        oms.place_order("pos-2", [("DRESS-38", 2, eur("89.00"))], sold_at="munich-store")
    assert oms.orders() == []
    assert oms.available("DRESS-38", "munich-store") == 1
    [account] = gateway.accounts.values()
    assert account.voided == account.authorised  # the hold was released


def test_endless_aisle_sells_in_store_and_ships_home_from_elsewhere():
    oms, _ = shop()
    home = ShipTo(point=GeoPoint(48.2, 11.6))
    sale = oms.place_order("pos-3", [("DRESS-38", 3)], sold_at="munich-store", ship_to=home)
    assert sale.sold_at == "munich-store"
    assert [fo.location for fo in oms.fulfilment_orders("pos-3")] == ["berlin-dc"]


# -- reserve online, try in store ----------------------------------------------------------------


def test_a_reservation_to_try_on_is_bought_from_and_the_rest_goes_back_on_sale():
    oms, _ = shop()
    oms.receive("DRESS-40", "munich-store", 1)
    held = oms.reserve_in_store(
        "ropis-1",
        [("DRESS-38", 1), ("DRESS-40", 1)],
        store="munich-store",
        expires_at=T0 + timedelta(days=1),
    )
    assert [r.reference for r in held] == ["ropis-1", "ropis-1"]
    assert oms.available("DRESS-38", "munich-store") == 0
    sale = oms.place_order(
        "pos-4", [("DRESS-40", 1)], sold_at="munich-store", reservation="ropis-1"
    )
    assert sale.status is OrderStatus.DELIVERED
    assert oms.available("DRESS-38", "munich-store") == 1  # not bought: back on sale
    assert oms.reservations() == []
    oms.check_invariants()


def test_a_reservation_is_all_or_nothing_and_expires():
    oms, clock = shop()
    with pytest.raises(InsufficientStock):
        oms.reserve_in_store(
            "ropis-2",
            [("DRESS-38", 1), ("DRESS-38", 1)],
            store="munich-store",
            expires_at=T0 + timedelta(days=1),
        )
    assert oms.reservations() == []
    oms.reserve_in_store(
        "ropis-3", [("DRESS-38", 1)], store="munich-store", expires_at=T0 + timedelta(hours=4)
    )
    clock.advance(hours=5)
    assert len(oms.expire_reservations()) == 1
    assert oms.available("DRESS-38", "munich-store") == 1
    with pytest.raises(UnknownReservation, match="no active reservation 'ropis-3'"):
        oms.place_order("pos-5", [("DRESS-38", 1)], sold_at="munich-store", reservation="ropis-3")
    assert oms.orders() == []


# -- found in review ---------------------------------------------------------------------------


def test_a_cancellation_that_leaves_only_waiting_units_makes_the_pickup_ready():
    oms, _ = shop()
    oms.place_order("w1", [("DRESS-38", 1), ("DRESS-38", 1)], pickup_at="munich-store")
    store_fo, _dc_fo = oms.fulfilment_orders("w1")
    oms.ready_for_pickup(oms.accept(store_fo.id).id)
    assert oms.order("w1").ready_at is None
    assert oms.cancel_lines("w1", {2: 1}).status is OrderStatus.READY_FOR_PICKUP
    assert oms.pick_up("w1").status is OrderStatus.DELIVERED


def test_a_parcel_that_leaves_the_store_again_makes_the_pickup_not_ready():
    oms, clock = shop()
    oms.place_order("w2", [("DRESS-38", 2)], pickup_at="munich-store")
    store_fo, dc_fo = oms.fulfilment_orders("w2")
    oms.ready_for_pickup(oms.accept(store_fo.id).id)
    parcel = oms.ship(oms.accept(dc_fo.id).id)
    oms.track(parcel.id, "delivered")
    assert oms.order("w2").status is OrderStatus.READY_FOR_PICKUP
    oms.track(parcel.id, "exception", detail="sent back to the depot")
    assert oms.order("w2").ready_at is None
    with pytest.raises(IllegalTransition, match="not ready for pickup"):
        oms.pick_up("w2")
    clock.advance(days=30)
    assert oms.expire_pickups() == []


def test_the_timeline_shows_parcels_waiting_at_the_store_and_unclaimed_units():
    oms, clock = shop()
    oms.place_order("w3", [("DRESS-38", 2)], pickup_at="munich-store")
    store_fo, dc_fo = oms.fulfilment_orders("w3")
    oms.ready_for_pickup(oms.accept(store_fo.id).id)
    oms.track(oms.ship(oms.accept(dc_fo.id).id).id, "delivered")
    states = {(u.state, u.units) for u in oms.timeline("w3").units}
    assert states == {("ready", 1), ("awaiting pickup", 1)}
    clock.advance(days=8)
    oms.expire_pickups()
    units = oms.timeline("w3").units
    assert {(u.state, u.units, u.where) for u in units} == {
        ("cancelled", 1, None),
        ("unclaimed", 1, "munich-store"),
    }


def swap_at_the_store(oms: Oms, order_id: str) -> None:
    """The customer brings line 1 back to the Munich store for a DRESS-40."""
    r = oms.request_return(
        order_id,
        {1: 1},
        reason="too_small",
        method="store",
        store="munich-store",
        exchange={1: ("DRESS-40", 1)},
    )
    oms.receive_return(r.id, [Inspection(1, "restock")])


def test_an_exchange_after_a_pickup_is_collected_at_the_store():
    oms, _ = shop()
    oms.receive("DRESS-40", "munich-store", 1)
    oms.place_order("w4", [("DRESS-38", 1)], pickup_at="munich-store")
    oms.ready_for_pickup(oms.accept(oms.fulfilment_orders("w4")[0].id).id)
    oms.pick_up("w4")
    swap_at_the_store(oms, "w4")
    fo = oms.fulfilment_orders("w4")[-1]
    oms.ready_for_pickup(oms.accept(fo.id).id)
    assert oms.pick_up("w4").lines[1].delivered == 1


def test_an_exchange_on_a_till_sale_is_sent_to_the_store_from_elsewhere():
    oms, _ = shop()
    oms.receive("DRESS-40", "berlin-dc", 1)
    oms.place_order("pos-9", [("DRESS-38", 1)], sold_at="munich-store")
    swap_at_the_store(oms, "pos-9")
    fo = oms.fulfilment_orders("pos-9")[-1]
    assert fo.location == "berlin-dc"
    parcel = oms.ship(oms.accept(fo.id).id)
    assert parcel.to_store == "munich-store"


def test_the_promised_ready_date_follows_the_order():
    oms, _ = shop()
    short = oms.place_order("w5", [("DRESS-38", 9)], pickup_at="munich-store")
    assert short.ready_by is None  # three units have nowhere to come from
    oms.place_order("w6", [("DRESS-38", 1)], pickup_at="munich-store")
    assert oms.order("w6").ready_by is None  # the store's unit went to w5; w6 ships in
    oms2, _ = shop()
    assert oms2.place_order("w7", [("DRESS-38", 1)], pickup_at="munich-store").ready_by == (
        T0 + timedelta(hours=2)
    )
    rejected = oms2.reject(oms2.fulfilment_orders("w7")[0].id, reason="not found")
    assert rejected.ready_by == T0 + timedelta(days=2)


def test_a_pickup_waits_for_supply_at_its_store_where_its_position_allows():
    oms, _ = shop()
    oms.configure_position("DRESS-38", "munich-store", allow_backorders=True)
    oms.add_sku("SHOE-41")
    oms.configure_position("SHOE-41", "munich-store", allow_backorders=True)
    eta = T0 + timedelta(days=1)
    oms.expect("SHOE-41", "munich-store", 5, eta=eta)
    order = oms.place_order("w8", [("SHOE-41", 2)], pickup_at="munich-store")
    assert order.status is OrderStatus.BACKORDERED
    assert order.ready_by == eta + timedelta(hours=2)


def test_a_till_sale_takes_the_reserved_units_even_with_backorders_waiting():
    oms, _ = shop()
    oms.configure_position("DRESS-38", "munich-store", allow_backorders=True)
    oms.reserve_in_store(
        "ropis-9", [("DRESS-38", 1)], store="munich-store", expires_at=T0 + timedelta(days=1)
    )
    oms.place_order("w9", [("DRESS-38", 1)], pickup_at="munich-store")  # backordered there
    sale = oms.place_order(
        "pos-10", [("DRESS-38", 1)], sold_at="munich-store", reservation="ropis-9"
    )
    assert sale.status is OrderStatus.DELIVERED
    kinds = [e.kind.value for e in oms.entries(sku="DRESS-38", location="munich-store")]
    assert "reservation_committed" in kinds
    oms.check_invariants()


def test_collecting_cannot_be_backdated_and_a_late_delivered_report_is_a_repeat():
    oms, clock = shop()
    oms.place_order("w10", [("DRESS-38", 2)], pickup_at="munich-store")
    store_fo, dc_fo = oms.fulfilment_orders("w10")
    oms.ready_for_pickup(oms.accept(store_fo.id).id)
    clock.advance(days=1)
    parcel = oms.ship(oms.accept(dc_fo.id).id)
    oms.track(parcel.id, "delivered")
    with pytest.raises(BackdatedPostingRejected, match="was ready"):
        oms.pick_up("w10", at=T0 + timedelta(hours=1))
    clock.advance(days=8)
    oms.expire_pickups()
    assert oms.track(parcel.id, "delivered").status is ShipmentStatus.UNCLAIMED
