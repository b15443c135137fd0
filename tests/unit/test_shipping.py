"""Carriers and parcels: labels bought through the carrier port, tracking, lost parcels."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omsims import (
    FakeGateway,
    FulfilmentStatus,
    GeoPoint,
    Location,
    ManualClock,
    Money,
    Oms,
    OrderStatus,
    PaymentKind,
    RecordingNotifier,
    ShipmentStatus,
)
from omsims.adapters.carriers import FakeCarrier, TableRateCarrier
from omsims.domain.shipping import Parcel
from omsims.errors import (
    BackdatedPostingRejected,
    CarrierUnavailable,
    ConflictError,
    IllegalTransition,
    InvalidIdentifier,
    UnknownShipment,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
BERLIN = GeoPoint(52.52, 13.40)
MUNICH = GeoPoint(48.14, 11.58)


def table() -> TableRateCarrier:
    return TableRateCarrier(
        "dhl",
        currency="EUR",
        distance_bands_km=(100, 800),
        weight_bands_kg=(Decimal(2), Decimal(20)),
        rates=(("4.99", "7.99"), ("5.99", "9.99")),
        transit_days=(1, 2),
    )


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def carrier():
    return FakeCarrier("post", cost=Money("4.90", "EUR"), transit_days=2)


@pytest.fixture
def notifier():
    return RecordingNotifier()


@pytest.fixture
def oms(clock, carrier, notifier):
    oms = Oms(clock=clock, carriers=[carrier, table()], notifier=notifier)
    oms.add_location(Location("a", coordinates=BERLIN))
    oms.receive("X", "a", 10)
    return oms


def accepted(oms, order_id="o1", units=2, **kw):
    oms.place_order(order_id, [("X", units)], **kw)
    return oms.accept(oms.fulfilment_orders(order_id)[0].id)


def nothing_shipped(oms):
    return (oms.entries(), oms.shipments("o1"), oms.fulfilment_orders("o1"), oms.order("o1"))


# -- the bundled carriers --------------------------------------------------------------------


def parcel(destination=None, weight=None, shipment_id="o1-F1-S1"):
    from omsims import ShipTo

    to = None if destination is None else ShipTo(point=destination)
    return Parcel(shipment_id, "o1", Location("a", coordinates=BERLIN), to, (("X", 1),), weight, T0)


def test_a_table_rate_label_is_priced_by_the_table_and_issued_once_per_key():
    dhl = table()
    label = dhl.create_shipment(parcel(MUNICH, Decimal("3.5")), key="k1")
    assert (str(label.cost), label.eta, label.service) == (
        "9.99 EUR",
        T0 + timedelta(days=2),
        "standard",
    )
    assert dhl.create_shipment(parcel(MUNICH, Decimal("3.5")), key="k1") == label
    other = dhl.create_shipment(parcel(MUNICH), key="k2")  # no weight: the lightest band
    assert (other.tracking, str(other.cost)) == ("DHL0000000002", "5.99 EUR")
    with pytest.raises(CarrierUnavailable, match="outside its table"):
        dhl.create_shipment(parcel(GeoPoint(40.4, -3.7)), key="k3")
    dhl.cancel_label(label, key="c1")
    assert dhl.cancelled == {label.reference}


def test_a_carrier_that_is_down_issues_nothing(carrier):
    carrier.down = True
    with pytest.raises(CarrierUnavailable, match="not answering"):
        carrier.create_shipment(parcel(), key="k")
    assert carrier.labels == {}


# -- buying labels when shipping -------------------------------------------------------------


def test_shipping_with_a_known_carrier_buys_the_label(oms, carrier, notifier):
    fo = accepted(oms, ship_to=MUNICH)
    shipment = oms.ship(fo.id, carrier="post")
    (label,) = carrier.labels.values()
    assert (shipment.tracking, shipment.label, shipment.cost, shipment.eta) == (
        label.tracking,
        label.reference,
        Money("4.90", "EUR"),
        T0 + timedelta(days=2),
    )
    assert notifier.events[-1].name == "StockChanged"
    shipped = next(e for e in notifier.events if e.name == "ShipmentShipped")
    assert (shipped.carrier, shipped.tracking) == ("post", label.tracking)


def test_the_table_rate_carrier_prices_by_distance_and_weight(oms):
    fo = accepted(oms, ship_to=MUNICH)
    shipment = oms.ship(fo.id, carrier="dhl", weight_kg="3.5")
    assert (str(shipment.cost), shipment.eta) == ("9.99 EUR", T0 + timedelta(days=2))
    assert oms.shipments("o1")[0].weight_kg == Decimal("3.5")


def test_a_label_bought_elsewhere_is_recorded_as_given(oms, carrier):
    fo = accepted(oms)
    shipment = oms.ship(fo.id, carrier="post", tracking="OWN-1", service="express")
    assert (shipment.tracking, shipment.service, shipment.label) == ("OWN-1", "express", None)
    assert carrier.labels == {}


def test_no_label_no_shipment(oms, carrier):
    fo = accepted(oms)
    before = nothing_shipped(oms)
    carrier.down = True
    with pytest.raises(CarrierUnavailable):
        oms.ship(fo.id, carrier="post")
    assert nothing_shipped(oms) == before


def test_a_refused_shipment_buys_no_label(oms, carrier):
    oms.place_order("o1", [("X", 2)])
    fo = oms.fulfilment_orders("o1")[0]  # not accepted yet
    with pytest.raises(IllegalTransition, match="cannot ship"):
        oms.ship(fo.id, carrier="post")
    assert carrier.labels == {}


def test_a_repeated_shipment_buys_one_label(oms, carrier):
    fo = accepted(oms)
    first = oms.ship(fo.id, {1: 1}, carrier="post", idempotency_key="ship-1")
    again = oms.ship(fo.id, {1: 1}, carrier="post", idempotency_key="ship-1")
    assert first.id == again.id
    assert len(carrier.labels) == 1


def test_a_label_for_a_parcel_someone_else_shipped_first_is_cancelled(oms, clock):
    class Racing(FakeCarrier):
        """Ships the same fulfilment order by hand while issuing the label."""

        def create_shipment(self, parcel, *, key):
            label = super().create_shipment(parcel, key=key)
            oms.ship(parcel.shipment_id.rsplit("-S", 1)[0], {1: 1}, tracking="BY-HAND")
            return label

    racing = Racing("racing")
    oms.carriers["racing"] = racing
    fo = accepted(oms)
    with pytest.raises(ConflictError, match="shipped another parcel meanwhile"):
        oms.ship(fo.id, {1: 1}, carrier="racing")
    (label,) = racing.labels.values()
    assert racing.cancelled == {label.reference}
    assert [s.tracking for s in oms.shipments("o1")] == ["BY-HAND"]


def test_carriers_must_implement_the_port_and_have_distinct_names(carrier):
    with pytest.raises(InvalidIdentifier, match="ShippingCarrier"):
        Oms(carriers=[object()])
    with pytest.raises(InvalidIdentifier, match="two carriers are named 'post'"):
        Oms(carriers=[carrier, FakeCarrier("post")])


# -- tracking --------------------------------------------------------------------------------


def test_tracking_moves_a_parcel_forward_only(oms, clock, notifier):
    shipment = oms.ship(accepted(oms).id, carrier="post")
    clock.advance(hours=1)
    oms.track(shipment.id, "in_transit", detail="left the hub")
    clock.advance(hours=1)
    oms.track(shipment.id, ShipmentStatus.OUT_FOR_DELIVERY)
    late = oms.track(shipment.id, "in_transit", detail="late scan")
    assert late.status is ShipmentStatus.OUT_FOR_DELIVERY
    assert [u.detail for u in late.history] == ["left the hub", None, "late scan"]
    repeated = oms.track(shipment.id, "out_for_delivery")
    assert repeated.status is ShipmentStatus.OUT_FOR_DELIVERY
    tracked = [e.status for e in notifier.events if e.name == "ShipmentTracked"]
    assert tracked == ["in_transit", "out_for_delivery"]  # no event for late or repeated


def test_an_exception_and_then_delivery(oms, clock):
    shipment = oms.ship(accepted(oms).id, carrier="post")
    clock.advance(hours=1)
    assert oms.track(shipment.id, "exception", detail="address unclear").status.value == (
        "exception"
    )
    clock.advance(hours=1)
    oms.track(shipment.id, "delivered")
    assert oms.order("o1").status is OrderStatus.DELIVERED
    assert oms.fulfilment_orders("o1")[0].status is FulfilmentStatus.DELIVERED
    assert oms.track(shipment.id, "delivered").delivered_at == T0 + timedelta(hours=2)
    with pytest.raises(IllegalTransition, match="is delivered: cannot mark it lost"):
        oms.track(shipment.id, "lost")
    with pytest.raises(IllegalTransition, match="it is delivered"):
        oms.deliver(shipment.id)


def test_bad_tracking_updates_are_refused_and_change_nothing(oms, clock):
    clock.advance(hours=2)
    shipment = oms.ship(accepted(oms).id)
    with pytest.raises(InvalidIdentifier, match="unknown tracking status 'arrived'; one of"):
        oms.track(shipment.id, "arrived")
    with pytest.raises(InvalidIdentifier, match="tracking detail"):
        oms.track(shipment.id, "in_transit", detail=42)
    with pytest.raises(BackdatedPostingRejected, match="before shipment"):
        oms.track(shipment.id, "in_transit", at=T0)
    with pytest.raises(UnknownShipment):
        oms.track("nope", "in_transit")
    assert oms.shipments("o1")[0] == shipment


# -- lost parcels ----------------------------------------------------------------------------


def paid_order(clock):
    """An Oms with a gateway, and order o1 for two X at 10.00 EUR, accepted at "a"."""
    gateway = FakeGateway()
    oms = Oms(clock=clock, payments=gateway)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 10)
    oms.place_order("o1", [("X", 2, Money("10.00", "EUR"))])
    return oms, gateway, oms.accept(oms.fulfilment_orders("o1")[0].id)


def test_a_lost_parcel_is_reshipped_free(clock):
    oms, _gateway, fo = paid_order(clock)
    shipment = oms.ship(fo.id)
    lost = oms.track(shipment.id, "lost", detail="never scanned again")
    assert lost.status is ShipmentStatus.LOST
    line = oms.order("o1").lines[0]
    assert (line.shipped, line.lost, line.in_transit) == (2, 2, 0)
    order = oms.resolve_lost(shipment.id, "reship")
    replacement = order.lines[1]
    assert (replacement.sku, replacement.quantity, replacement.unit_price) == ("X", 2, None)
    assert replacement.replaces == 1
    assert order.status is OrderStatus.PARTIALLY_SHIPPED  # the first two left, and were lost
    assert oms.stock("X", "a").committed == 2
    again = oms.accept(oms.fulfilment_orders("o1")[-1].id)
    oms.deliver(oms.ship(again.id).id)
    order = oms.order("o1")
    assert order.status is OrderStatus.DELIVERED
    captured = [op.amount for op in order.payment.operations if op.kind is PaymentKind.CAPTURE]
    assert captured == [Decimal("20.00")]  # the replacement is free
    with pytest.raises(IllegalTransition, match=r"resolved \(reship\): nothing to resolve"):
        oms.resolve_lost(shipment.id, "refund")
    oms.check_invariants()


def test_a_lost_parcel_is_refunded(clock):
    oms, gateway, fo = paid_order(clock)
    shipment = oms.ship(fo.id, {1: 1})
    oms.track(shipment.id, "lost")
    order = oms.resolve_lost(shipment.id, "refund")
    assert order.payment.refunded == Decimal("10.00")
    assert gateway.account(order.payment.authorisation).refunded == Decimal("10.00")
    oms.check_invariants()


def test_only_a_lost_parcel_is_resolved(oms):
    shipment = oms.ship(accepted(oms).id)
    with pytest.raises(IllegalTransition, match="is shipped: nothing to resolve"):
        oms.resolve_lost(shipment.id, "reship")
    with pytest.raises(InvalidIdentifier, match="reshipped or refunded, not 'ignore'"):
        oms.resolve_lost(shipment.id, "ignore")


def test_a_retry_after_a_failed_shipment_buys_a_fresh_label(oms, carrier):
    fo = accepted(oms)
    with pytest.raises(InvalidIdentifier, match="idempotency key"):
        oms.ship(fo.id, carrier="post", idempotency_key="")
    assert carrier.labels == {}  # refused before paying for a label
    first = carrier.create_shipment  # make the first attempt fail after buying its label

    def failing_once(parcel, *, key):
        label = first(parcel, key=key)
        carrier.create_shipment = first
        raise_after.append(label)
        return label

    raise_after: list = []
    carrier.create_shipment = failing_once
    original_run = oms._run

    def run_failing(name, payload, key, body):
        if raise_after and name == "ship":
            oms._run = original_run
            raise CarrierUnavailable("the database went away")  # any failure after the label
        return original_run(name, payload, key, body)

    oms._run = run_failing
    with pytest.raises(CarrierUnavailable):
        oms.ship(fo.id, carrier="post")
    shipment = oms.ship(fo.id, carrier="post")
    assert carrier.cancelled == {raise_after[0].reference}
    assert shipment.label not in carrier.cancelled


def test_lost_and_unresolved_is_not_delivered(oms):
    fo = accepted(oms)
    shipment = oms.ship(fo.id)
    oms.track(shipment.id, "lost")
    assert oms.order("o1").status is OrderStatus.SHIPPED
    assert oms.fulfilment_order(fo.id).status is FulfilmentStatus.SHIPPED
    order = oms.resolve_lost(shipment.id, "refund")
    assert order.status is OrderStatus.CANCELLED  # nothing will reach the customer
    assert oms.fulfilment_order(fo.id).status is FulfilmentStatus.DELIVERED


def test_a_repeated_report_is_not_kept_twice_and_shipped_is_not_a_report(oms):
    shipment = oms.ship(accepted(oms).id)
    for _ in range(3):
        oms.track(shipment.id, "in_transit")
    assert len(oms.shipments("o1")[0].history) == 1
    with pytest.raises(InvalidIdentifier, match="unknown tracking status 'shipped'"):
        oms.track(shipment.id, "shipped")
