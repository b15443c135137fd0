"""Returns: requests, routing, inspection and dispositions, refunds, exchanges."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omsims import (
    DefaultReturnRouting,
    FakeGateway,
    GeoPoint,
    Inspection,
    Location,
    LocationKind,
    ManualClock,
    Money,
    NearestOfKind,
    Oms,
    RecordingNotifier,
    RefundPolicy,
    ReturnStatus,
    RouteByReason,
    ShipTo,
)
from omsims.adapters.carriers import FakeCarrier
from omsims.errors import (
    BackdatedPostingRejected,
    CarrierUnavailable,
    IdempotencyConflict,
    IllegalTransition,
    InvalidIdentifier,
    InvalidMoney,
    InvalidOrder,
    InvalidQuantity,
    PaymentDeclined,
    PaymentLimitExceeded,
    UnknownLocation,
    UnknownReturn,
    UnknownSku,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
MUNICH = GeoPoint(48.14, 11.58)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def network(oms: Oms) -> None:
    oms.add_location(Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40), priority=1))
    oms.add_location(
        Location(
            "leipzig-returns", kind=LocationKind.RETURNS_CENTRE, coordinates=GeoPoint(51.34, 12.37)
        )
    )
    oms.add_location(
        Location(
            "erfurt-refurb",
            kind=LocationKind.REFURBISHMENT_CENTRE,
            coordinates=GeoPoint(50.98, 11.03),
            can_ship=False,
        )
    )
    oms.add_location(
        Location("munich-store", kind=LocationKind.STORE, coordinates=GeoPoint(48.14, 11.57))
    )
    oms.receive("TSHIRT-M", "berlin-dc", 10)
    oms.receive("TSHIRT-L", "berlin-dc", 10)


def delivered_oms(
    *,
    units: int = 2,
    price: str | None = "20.00",
    shipping: str | None = None,
    **options: object,
) -> tuple[Oms, ManualClock]:
    clock = ManualClock(T0)
    oms = Oms(clock=clock, **options)  # type: ignore[arg-type]
    network(oms)
    line: tuple[object, ...] = (
        ("TSHIRT-M", units) if price is None else ("TSHIRT-M", units, eur(price))
    )
    oms.place_order(
        "web-1",
        [line],
        ship_to=ShipTo(point=MUNICH),
        shipping=None if shipping is None else eur(shipping),
    )
    fo = oms.accept(oms.fulfilment_orders("web-1")[0].id)
    clock.advance(hours=1)
    parcel = oms.ship(fo.id)
    clock.advance(days=1)
    oms.deliver(parcel.id)
    clock.advance(days=2)
    return oms, clock


# -- requests and routing ----------------------------------------------------------------------


def test_a_mail_return_goes_to_the_nearest_returns_centre_and_restocks_there():
    notes = RecordingNotifier()
    oms, _ = delivered_oms(notifier=notes)
    r = oms.request_return("web-1", {1: 1}, reason="too_small")
    assert (r.id, r.location, r.status) == ("web-1-R1", "leipzig-returns", ReturnStatus.REQUESTED)
    oms.approve_return(r.id)
    done = oms.receive_return(r.id, [Inspection(1, "restock")])
    assert done.status is ReturnStatus.REFUNDED
    assert oms.available("TSHIRT-M", "leipzig-returns") == 1
    assert oms.order("web-1").lines[0].returned == 1
    assert oms.order("web-1").status.value == "partially_returned"
    names = [e.name for e in notes.events]
    # The returns centre had none: the restocked unit brings it back in stock.
    assert names[-4:] == ["ReturnReceived", "UnitsReturned", "StockChanged", "BackInStock"]
    assert "ReturnRequested" in names
    assert "ReturnApproved" in names
    oms.check_invariants()


def test_defective_goods_go_to_the_refurbishment_centre_and_store_returns_to_the_store():
    oms, _ = delivered_oms()
    assert oms.request_return("web-1", {1: 1}, reason="defective").location == "erfurt-refurb"
    at_store = oms.request_return(
        "web-1", {1: 1}, reason="too_small", method="store", store="munich-store"
    )
    assert at_store.location == "munich-store"


def test_a_custom_routing_strategy_decides_and_an_impossible_one_is_refused():
    routing = RouteByReason({"too_small": NearestOfKind((LocationKind.STORE,))})
    oms, _ = delivered_oms(return_routing=routing)
    assert oms.request_return("web-1", {1: 1}, reason="too_small").location == "munich-store"
    nowhere = NearestOfKind((LocationKind.SUPPLIER,))
    oms2, _ = delivered_oms(return_routing=nowhere)
    with pytest.raises(UnknownLocation, match="found no location to take the return"):
        oms2.request_return("web-1", {1: 1}, reason="too_small")
    assert oms2.returns("web-1") == []


def test_nearest_of_kind_takes_the_first_kind_that_has_an_active_location_then_the_nearest():
    from omsims.domain.returns import ReturnMethod
    from omsims.sourcing.returns import ReturnRouteRequest

    def at(name, kind, lat, *, active=True):
        return Location(name, kind=kind, coordinates=GeoPoint(lat, 11.0), active=active)

    wh, rc = LocationKind.WAREHOUSE, LocationKind.RETURNS_CENTRE
    network = [
        at("near-closed-rc", rc, 48.2, active=False),  # nearest of all, but closed
        at("near-dc", wh, 48.3),
        at("far-rc", rc, 53.0),
        at("mid-dc", wh, 50.0),
    ]
    request = ReturnRouteRequest("o1", (("X", 1),), "too_small", ReturnMethod.MAIL, None, MUNICH)
    assert NearestOfKind((rc, wh)).route(request, network) == "far-rc"  # kinds in order
    assert NearestOfKind((wh, rc)).route(request, network) == "near-dc"
    assert NearestOfKind((rc,)).route(request, network[:2]) is None  # only a closed one
    assert NearestOfKind((LocationKind.STORE,)).route(request, network) is None


def test_without_returns_centres_the_default_falls_back_to_where_it_shipped_from():
    clock = ManualClock(T0)
    oms = Oms(clock=clock)
    oms.add_location(Location("shop-a", kind=LocationKind.STORE))
    oms.receive("X", "shop-a", 3)
    oms.place_order("o1", [("X", 1)])
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    oms.deliver(oms.ship(fo.id).id)
    route = DefaultReturnRouting()
    assert route.name == "default"
    assert oms.request_return("o1", {1: 1}, reason="too_small").location == "shop-a"


@pytest.mark.parametrize(
    ("lines", "kwargs", "error", "match"),
    [
        ({1: 3}, {}, IllegalTransition, "has 2 units that may be returned, not 3"),
        ({2: 1}, {}, InvalidOrder, "has no line 2"),
        ({1: 0}, {}, InvalidQuantity, "units of line 1"),
        ({1: 1}, {"method": "drone"}, InvalidIdentifier, "by 'mail' or at a 'store'"),
        ({1: 1}, {"method": "store"}, InvalidIdentifier, "names the store"),
        ({1: 1}, {"method": "store", "store": "berlin-dc"}, InvalidIdentifier, "not an open store"),
        ({1: 1}, {"method": "store", "store": "nowhere"}, UnknownLocation, "never added"),
        ({1: 1}, {"reason": ""}, InvalidIdentifier, "reason"),
        ({1: 1}, {"exchange": {2: ("TSHIRT-L", 1)}}, InvalidOrder, "has no line 2"),
    ],
)
def test_bad_return_requests_are_refused_and_write_nothing(lines, kwargs, error, match):
    oms, _ = delivered_oms()
    before = oms.order("web-1")
    kwargs.setdefault("reason", "too_small")
    with pytest.raises(error, match=match):
        oms.request_return("web-1", lines, **kwargs)
    assert oms.order("web-1") == before


def test_units_on_an_open_return_cannot_be_asked_for_twice_until_it_is_cancelled():
    oms, _ = delivered_oms()
    r = oms.request_return("web-1", {1: 2}, reason="too_small")
    with pytest.raises(IllegalTransition, match="0 units that may be returned"):
        oms.request_return("web-1", {1: 1}, reason="too_small")
    cancelled = oms.cancel_return(r.id)
    assert cancelled.status is ReturnStatus.CANCELLED
    with pytest.raises(IllegalTransition, match="cannot receive return web-1-R1: it is cancelled"):
        oms.receive_return(r.id, [Inspection(1, "restock")])
    assert oms.request_return("web-1", {1: 2}, reason="too_small").id == "web-1-R2"


def test_units_not_yet_delivered_cannot_be_returned():
    oms = Oms()
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 1)])
    with pytest.raises(IllegalTransition, match="0 units that may be returned"):
        oms.request_return("o1", {1: 1}, reason="too_small")


def test_a_rejected_return_cannot_be_received_or_approved():
    oms, _ = delivered_oms()
    r = oms.request_return("web-1", {1: 1}, reason="too_small")
    rejected = oms.reject_return(r.id, reason="past the 30-day window")
    assert (rejected.status, rejected.decided_reason) == (
        ReturnStatus.REJECTED,
        "past the 30-day window",
    )
    with pytest.raises(IllegalTransition, match="cannot approve return web-1-R1: it is rejected"):
        oms.approve_return(r.id)
    with pytest.raises(IllegalTransition, match="it is rejected"):
        oms.receive_return(r.id, [Inspection(1, "restock")])


def test_a_mail_return_must_be_approved_before_it_is_received_a_store_return_need_not():
    oms, _ = delivered_oms()
    mail = oms.request_return("web-1", {1: 1}, reason="too_small")
    with pytest.raises(IllegalTransition, match="cannot receive return web-1-R1: it is requested"):
        oms.receive_return(mail.id, [Inspection(1, "restock")])
    store = oms.request_return(
        "web-1", {1: 1}, reason="too_small", method="store", store="munich-store"
    )
    assert oms.receive_return(store.id, [Inspection(1, "restock")]).status is ReturnStatus.REFUNDED
    assert oms.available("TSHIRT-M", "munich-store") == 1


def test_unknown_and_malformed_return_ids():
    oms, _ = delivered_oms()
    with pytest.raises(UnknownReturn, match="no return 'web-1-R9'"):
        oms.return_request("web-1-R9")
    with pytest.raises(InvalidIdentifier, match="not a return id"):
        oms.approve_return("web-1")


def test_requesting_a_return_again_with_its_key_returns_the_first():
    oms, _ = delivered_oms()
    first = oms.request_return("web-1", {1: 1}, reason="too_small", idempotency_key="rma-1")
    again = oms.request_return("web-1", {1: 1}, reason="too_small", idempotency_key="rma-1")
    assert again == first
    assert len(oms.returns("web-1")) == 1
    with pytest.raises(IdempotencyConflict):
        oms.request_return("web-1", {1: 2}, reason="too_small", idempotency_key="rma-1")


# -- receiving: inspections and dispositions ---------------------------------------------------


def test_more_units_inspected_than_asked_for_is_refused_and_nothing_is_posted():
    oms, _ = delivered_oms()
    r = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="too_small").id)
    entries = len(oms.entries())
    with pytest.raises(IllegalTransition, match="asks for 1 units of line 1; 2 were inspected"):
        oms.receive_return(r.id, [Inspection(1, "restock", units=2)])
    with pytest.raises(InvalidOrder, match="an inspection per unit"):
        oms.receive_return(r.id, [])
    assert len(oms.entries()) == entries
    assert oms.return_request(r.id).status is ReturnStatus.APPROVED
    assert oms.order("web-1").lines[0].returned == 0


def test_each_disposition_is_a_ledger_posting():
    oms, clock = delivered_oms(units=4)
    r = oms.approve_return(oms.request_return("web-1", {1: 4}, reason="changed_mind").id)
    oms.receive_return(
        r.id,
        [
            Inspection(1, "restock"),
            Inspection(1, "damaged", note="torn seam"),
            Inspection(1, "refurbish", note="zip broken"),
            Inspection(1, "scrap", note="mouldy"),
        ],
    )
    here = oms.stock("TSHIRT-M", "leipzig-returns")
    # restocked + damaged stay; the refurbished unit left for Erfurt; the scrapped one is gone
    assert (here.on_hand, here.unavailable, here.available) == (2, 1, 1)
    kinds = [e.kind.value for e in oms.entries(sku="TSHIRT-M", location="leipzig-returns")]
    assert kinds == [
        "returned",
        "returned_unavailable",
        "returned_unavailable",
        "transferred_out_unavailable",
        "returned_unavailable",
        "written_off_unavailable",
    ]
    [transfer] = list(oms.incoming("TSHIRT-M", "erfurt-refurb"))
    clock.advance(days=3)
    oms.receive_transfer(transfer.source)
    refurb = oms.stock("TSHIRT-M", "erfurt-refurb")
    assert (refurb.on_hand, refurb.unavailable, refurb.available) == (1, 1, 0)
    assert (
        oms.entries(sku="TSHIRT-M", location="erfurt-refurb")[-1].reason == "refurbish: zip broken"
    )
    oms.check_invariants()


def test_a_unit_on_its_way_to_refurbishment_is_never_promised_to_a_backorder():
    oms, _ = delivered_oms()
    r = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="changed_mind").id)
    oms.receive_return(r.id, [Inspection(1, "refurbish")])
    assert [row.quantity for row in oms.incoming("TSHIRT-M", "erfurt-refurb")] == [1]
    with oms._read() as uow:
        assert uow.ledger.unpromised_supply("TSHIRT-M", "erfurt-refurb") == []


def test_refurbished_at_the_centre_itself_stays_there_unavailable():
    oms, _ = delivered_oms()
    r = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="defective").id)
    oms.receive_return(r.id, [Inspection(1, "refurbish")])
    level = oms.stock("TSHIRT-M", "erfurt-refurb")
    assert (level.on_hand, level.unavailable, level.incoming) == (1, 1, 0)


# -- refunds -------------------------------------------------------------------------------------


def test_a_partial_share_refunds_part_of_the_price():
    oms, _ = delivered_oms(payments=FakeGateway())
    r = oms.approve_return(oms.request_return("web-1", {1: 2}, reason="changed_mind").id)
    done = oms.receive_return(
        r.id, [Inspection(1, "restock"), Inspection(1, "damaged", note="worn", refund="0.25")]
    )
    assert done.withheld == Decimal("15.00")
    assert oms.order("web-1").payment.refunded == Decimal("25.00")


def test_the_return_label_fee_is_taken_unless_the_shop_is_at_fault():
    policy = RefundPolicy(return_label_fee=eur("3.95"))
    oms, _ = delivered_oms(payments=FakeGateway(), refund_policy=policy)
    r1 = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="too_small").id)
    oms.receive_return(r1.id, [Inspection(1, "restock")])
    assert oms.order("web-1").payment.refunded == Decimal("16.05")
    r2 = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="defective").id)
    oms.receive_return(r2.id, [Inspection(1, "refurbish")])
    assert oms.order("web-1").payment.refunded == Decimal("36.05")


def test_the_fee_never_takes_more_than_the_return_refunds():
    policy = RefundPolicy(return_label_fee=eur("3.95"))
    oms, _ = delivered_oms(payments=FakeGateway(), refund_policy=policy)
    r = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="too_small").id)
    done = oms.receive_return(r.id, [Inspection(1, "damaged", note="ruined", refund="0.1")])
    assert done.withheld == Decimal("20.00")
    assert oms.order("web-1").payment.refunded == 0


@pytest.mark.parametrize(
    ("rule", "after_first", "after_second"),
    [
        ("when_all_returned", "20.00", "44.95"),
        ("always", "24.95", "44.95"),
        ("never", "20.00", "40.00"),
    ],
)
def test_the_shipping_charge_comes_back_as_the_policy_says(rule, after_first, after_second):
    oms, _ = delivered_oms(
        payments=FakeGateway(), shipping="4.95", refund_policy=RefundPolicy(refund_shipping=rule)
    )
    assert oms.order("web-1").payment.captured == Decimal("44.95")  # shipping with the parcel
    for expected in (after_first, after_second):
        r = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="changed_mind").id)
        oms.receive_return(r.id, [Inspection(1, "restock")])
        assert oms.order("web-1").payment.refunded == Decimal(expected)


def test_the_shipping_charge_is_voided_with_the_last_unit_if_nothing_shipped():
    oms = Oms(payments=FakeGateway())
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 2, eur("20.00"))], shipping=eur("4.95"))
    assert oms.order("o1").payment.authorised == Decimal("44.95")
    oms.cancel_lines("o1", {1: 1})
    assert oms.order("o1").payment.voided == Decimal("20.00")
    oms.cancel_order("o1")
    assert oms.order("o1").payment.voided == Decimal("44.95")


def test_a_shipping_charge_in_another_currency_is_refused():
    oms = Oms(payments=FakeGateway())
    network(oms)
    with pytest.raises(InvalidOrder, match="mixes currencies"):
        oms.place_order("o1", [("TSHIRT-M", 1, eur("20.00"))], shipping=Money("5.00", "USD"))
    with pytest.raises(InvalidMoney):
        Inspection(1, "restock", refund="1.5")


# -- exchanges ------------------------------------------------------------------------------------


def test_an_even_exchange_sources_the_new_size_and_moves_no_money():
    gateway = FakeGateway()
    oms, clock = delivered_oms(payments=gateway)
    r = oms.approve_return(
        oms.request_return("web-1", {1: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1)}).id
    )
    done = oms.receive_return(r.id, [Inspection(1, "restock")])
    assert done.status is ReturnStatus.EXCHANGED
    assert done.exchange_lines == (2,)
    order = oms.order("web-1")
    assert (order.lines[1].sku, order.lines[1].unit_price, order.lines[1].committed) == (
        "TSHIRT-L",
        eur("20.00"),
        1,
    )
    fo = oms.accept(oms.fulfilment_orders("web-1")[-1].id)
    clock.advance(hours=1)
    oms.ship(fo.id)
    pay = oms.order("web-1").payment
    assert (pay.captured, pay.refunded) == (Decimal("40.00"), Decimal(0))
    oms.check_invariants()


def test_a_cheaper_exchange_refunds_the_difference():
    oms, _ = delivered_oms(payments=FakeGateway())
    r = oms.approve_return(
        oms.request_return(
            "web-1", {1: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1, eur("15.00"))}
        ).id
    )
    oms.receive_return(r.id, [Inspection(1, "restock")])
    assert oms.order("web-1").payment.refunded == Decimal("5.00")


# -- dearer exchanges: the customer pays the balance --------------------------------------------


def dearer_exchange(
    oms: Oms, units: int = 1, price: str = "25.00", *, approve: bool = True, **kw: object
) -> str:
    request = oms.request_return(
        "web-1",
        {1: units},
        reason="too_small",
        exchange={1: ("TSHIRT-L", units, eur(price))},
        **kw,  # type: ignore[arg-type]
    )
    return oms.approve_return(request.id).id if approve else request.id


def test_a_dearer_exchange_holds_its_balance_at_request_and_captures_it_on_arrival():
    gateway, notes = FakeGateway(), RecordingNotifier()
    oms, _ = delivered_oms(payments=gateway, notifier=notes)
    rid = dearer_exchange(oms)
    request, pay = oms.return_request(rid), oms.order("web-1").payment
    assert request.top_up == "auth-2"
    assert [(t.reference, t.amount) for t in pay.top_ups] == [("auth-2", Decimal("5.00"))]
    assert (pay.authorised, pay.authorised_total) == (Decimal("40.00"), Decimal("45.00"))
    assert gateway.account("auth-2").captured == 0  # a hold, nothing taken yet
    [held] = [e for e in notes.events if type(e).__name__ == "PaymentAuthorised"][1:]
    assert (held.authorisation, held.amount) == ("auth-2", eur("5.00"))

    done = oms.receive_return(rid, [Inspection(1, "restock")])
    assert done.status is ReturnStatus.EXCHANGED
    assert gateway.account("auth-2").captured == Decimal("5.00")
    assert gateway.account("auth-1").refunded == 0  # the returned unit paid for the rest
    [line] = [oms.order("web-1").line(n) for n in done.exchange_lines]
    assert (line.sku, line.quantity, line.unit_price) == ("TSHIRT-L", 1, eur("25.00"))
    # Shipping the exchanged unit captures nothing more: it was paid for in full.
    fo = oms.accept(oms.fulfilment_orders("web-1")[-1].id)
    oms.ship(fo.id)
    pay = oms.order("web-1").payment
    assert (pay.captured, pay.refunded) == (Decimal("45.00"), Decimal(0))
    oms.check_invariants()


def test_a_declined_balance_refuses_the_exchange_and_writes_nothing():
    gateway = FakeGateway(
        decline=lambda kind, _order, amount: (
            "card expired" if kind == "authorise" and amount == eur("5.00") else None
        )
    )
    oms, _ = delivered_oms(payments=gateway)
    before = oms.order("web-1")
    with pytest.raises(PaymentDeclined, match="card expired"):
        dearer_exchange(oms)
    after = oms.order("web-1")
    assert (after.returns, after.payment.top_ups) == ([], [])
    assert after == before


def test_a_request_that_would_be_refused_holds_no_money():
    gateway = FakeGateway()
    oms, _ = delivered_oms(payments=gateway)
    with pytest.raises(IllegalTransition):
        oms.request_return(
            "web-1", {1: 3}, reason="too_small", exchange={1: ("TSHIRT-L", 3, eur("25.00"))}
        )
    assert [kind for kind, _key, _amount in gateway.calls] == ["authorise", "capture"]


def test_rejecting_or_cancelling_a_dearer_exchange_voids_its_balance():
    gateway = FakeGateway()
    oms, _ = delivered_oms(payments=gateway)
    oms.reject_return(dearer_exchange(oms, approve=False), reason="past the return window")
    assert gateway.account("auth-2").voided == Decimal("5.00")
    oms.cancel_return(dearer_exchange(oms, price="30.00"))
    assert gateway.account("auth-3").voided == Decimal("10.00")
    pay = oms.order("web-1").payment
    assert (pay.captured, pay.voided, pay.capturable) == (Decimal("40.00"), Decimal("15.00"), 0)
    oms.check_invariants()


def test_a_short_parcel_shrinks_the_exchange_captures_its_part_and_voids_the_rest():
    gateway = FakeGateway()
    oms, _ = delivered_oms(payments=gateway)
    rid = dearer_exchange(oms, units=2)  # 2 x 25.00 for 2 x 20.00: a 10.00 balance
    done = oms.receive_return(rid, [Inspection(1, "restock")])  # one unit arrives
    [line] = [oms.order("web-1").line(n) for n in done.exchange_lines]
    assert line.quantity == 1
    account = gateway.account("auth-2")
    assert (account.captured, account.voided) == (Decimal("5.00"), Decimal("5.00"))
    oms.check_invariants()


def test_cancelling_a_dearer_exchange_line_refunds_its_balance_then_the_returned_units():
    gateway = FakeGateway()
    oms, _ = delivered_oms(payments=gateway)
    done = oms.receive_return(dearer_exchange(oms), [Inspection(1, "restock")])
    oms.cancel_lines("web-1", {done.exchange_lines[0]: 1})
    assert gateway.account("auth-2").refunded == Decimal("5.00")
    assert gateway.account("auth-1").refunded == Decimal("20.00")
    ops = oms.order("web-1").payment.operations
    assert [(op.kind.value, op.authorisation) for op in ops[-2:]] == [
        ("refund", "auth-2"),
        ("refund", None),
    ]
    oms.check_invariants()


def two_line_order(gateway: FakeGateway) -> Oms:
    oms = Oms(payments=gateway)
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 1, eur("20.00")), ("TSHIRT-L", 2, eur("20.00"))])
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    oms.deliver(oms.ship(fo.id).id)
    return oms


def test_each_exchanged_line_has_its_own_balance_when_a_parcel_comes_short():
    gateway = FakeGateway()
    oms = two_line_order(gateway)
    r = oms.request_return(
        "o1",
        {1: 1, 2: 2},
        reason="too_small",
        exchange={1: ("TSHIRT-L", 1, eur("40.00")), 2: ("TSHIRT-M", 2, eur("30.00"))},
    )
    assert oms.order("o1").payment.top_ups[0].amount == Decimal("40.00")  # 20 + 2 x 10
    oms.approve_return(r.id)
    done = oms.receive_return(r.id, [Inspection(1, "restock"), Inspection(2, "restock")])
    order = oms.order("o1")
    assert [order.line(n).quantity for n in done.exchange_lines] == [1, 1]  # one B arrived
    account = gateway.account("auth-2")
    assert (account.captured, account.voided) == (Decimal("30.00"), Decimal("10.00"))
    assert order.payment.paid_for_units == order.owed_value().amount
    oms.check_invariants()


def test_a_unit_refunded_at_no_share_pays_for_no_exchange():
    gateway = FakeGateway()
    oms, _ = delivered_oms(payments=gateway)
    done = oms.receive_return(
        dearer_exchange(oms), [Inspection(1, "damaged", note="worn", refund="0")]
    )
    assert done.exchange_lines == ()  # the worn unit is worth nothing: no exchange
    assert gateway.account("auth-2").voided == Decimal("5.00")
    pay = oms.order("web-1").payment
    assert (pay.refunded, pay.captured) == (0, Decimal("40.00"))
    oms.check_invariants()


def test_a_balance_is_netted_with_what_the_same_return_refunds():
    gateway = FakeGateway()
    oms = two_line_order(gateway)
    r = oms.request_return(
        "o1", {1: 1, 2: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1, eur("25.00"))}
    )
    oms.approve_return(r.id)
    oms.receive_return(r.id, [Inspection(1, "restock"), Inspection(2, "restock")])
    top_up, first = gateway.account("auth-2"), gateway.account("auth-1")
    assert (top_up.captured, top_up.voided, top_up.refunded) == (0, Decimal("5.00"), 0)
    assert first.refunded == Decimal("15.00")  # 20 back for line 2, less line 1's 5
    oms.check_invariants()


def test_a_declined_balance_capture_voids_the_hold():
    gateway = FakeGateway()
    oms, _ = delivered_oms(payments=gateway)
    rid = dearer_exchange(oms)
    gateway.decline = lambda kind, _order, _amount: "expired" if kind == "capture" else None
    oms.receive_return(rid, [Inspection(1, "restock")])
    account = gateway.account("auth-2")
    assert (account.captured, account.voided) == (0, Decimal("5.00"))
    assert oms.order("web-1").payment.capturable == 0
    oms.check_invariants()


def test_a_replayed_dearer_exchange_holds_its_balance_once():
    gateway = FakeGateway()
    oms, _ = delivered_oms(payments=gateway)
    first = dearer_exchange(oms, idempotency_key="k1")
    # approve_return already ran once; request_return with the same key replays.
    again = oms.request_return(
        "web-1",
        {1: 1},
        reason="too_small",
        exchange={1: ("TSHIRT-L", 1, eur("25.00"))},
        idempotency_key="k1",
    )
    assert again.id == first
    assert [kind for kind, _key, _amount in gateway.calls].count("authorise") == 2


def test_a_dearer_exchange_without_a_gateway_moves_no_money():
    oms, _ = delivered_oms()
    done = oms.receive_return(dearer_exchange(oms), [Inspection(1, "restock")])
    assert (done.top_up, oms.order("web-1").payment) == (None, None)
    assert oms.order("web-1").line(done.exchange_lines[0]).quantity == 1


def test_a_dearer_exchange_on_an_order_that_took_no_payment_is_refused():
    oms, _ = delivered_oms(price="0.00", payments=FakeGateway())
    with pytest.raises(PaymentLimitExceeded, match="took no payment"):
        dearer_exchange(oms, price="5.00")
    assert oms.returns("web-1") == []


def test_a_cancelled_exchange_line_refunds_what_the_returned_units_paid():
    oms, _ = delivered_oms(payments=FakeGateway())
    r = oms.approve_return(
        oms.request_return("web-1", {1: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1)}).id
    )
    oms.receive_return(r.id, [Inspection(1, "restock")])
    oms.cancel_lines("web-1", {2: 1})
    pay = oms.order("web-1").payment
    assert (pay.refunded, pay.voided) == (Decimal("20.00"), Decimal(0))


# -- return labels -------------------------------------------------------------------------------


def test_approving_a_mail_return_buys_its_label_and_a_failed_carrier_changes_nothing():
    carrier = FakeCarrier("post", cost=eur("4.10"))
    oms, _ = delivered_oms(carriers=[carrier])
    r = oms.request_return("web-1", {1: 1}, reason="too_small")
    carrier.down = True
    with pytest.raises(CarrierUnavailable):
        oms.approve_return(r.id, carrier="post")
    assert oms.return_request(r.id).status is ReturnStatus.REQUESTED
    carrier.down = False
    approved = oms.approve_return(r.id, carrier="post")
    assert (approved.carrier, approved.tracking, approved.label_cost) == (
        "post",
        "POST0000000001",
        eur("4.10"),
    )
    [(key, label)] = carrier.labels.items()
    assert key.startswith("web-1-R1-")
    assert label.reference == approved.label
    with pytest.raises(InvalidIdentifier, match="no carrier named 'ups'"):
        oms.approve_return(r.id, carrier="ups")


def test_the_return_survives_in_sqlite(tmp_path):
    pytest.importorskip("cattrs")
    clock = ManualClock(T0)
    path = tmp_path / "oms.db"
    oms = Oms.sqlite(path, clock=clock, payments=FakeGateway())
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 2, eur("20.00"))], ship_to=ShipTo(point=MUNICH))
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    oms.deliver(oms.ship(fo.id).id)
    r = oms.approve_return(
        oms.request_return("o1", {1: 2}, reason="too_small", exchange={1: ("TSHIRT-L", 1)}).id
    )
    oms.receive_return(r.id, [Inspection(1, "restock"), Inspection(1, "damaged", note="torn")])
    oms.close()
    again = Oms.sqlite(path, clock=clock)
    stored = again.return_request(r.id)
    assert stored.status is ReturnStatus.EXCHANGED
    assert [i.disposition.value for i in stored.inspections] == ["restock", "damaged"]
    assert again.order("o1").lines[1].exchange_for == 1
    again.check_invariants()
    again.close()


def test_a_dearer_exchange_survives_in_sqlite(tmp_path):
    pytest.importorskip("cattrs")
    clock, gateway, path = ManualClock(T0), FakeGateway(), tmp_path / "oms.db"
    oms = Oms.sqlite(path, clock=clock, payments=gateway)
    network(oms)
    oms.place_order("web-1", [("TSHIRT-M", 2, eur("20.00"))], ship_to=ShipTo(point=MUNICH))
    fo = oms.accept(oms.fulfilment_orders("web-1")[0].id)
    oms.deliver(oms.ship(fo.id).id)
    rid = dearer_exchange(oms)
    oms.close()
    again = Oms.sqlite(path, clock=clock, payments=gateway)
    assert [(t.reference, t.amount) for t in again.order("web-1").payment.top_ups] == [
        ("auth-2", Decimal("5.00"))
    ]
    again.receive_return(rid, [Inspection(1, "restock")])
    ops = again.order("web-1").payment.operations
    assert (ops[-1].kind.value, ops[-1].authorisation, ops[-1].status.value) == (
        "capture",
        "auth-2",
        "succeeded",
    )
    again.check_invariants()
    again.close()


# -- found in review ---------------------------------------------------------------------------


def test_exchanging_a_replacement_line_is_an_even_swap_at_the_original_price():
    oms = Oms(payments=FakeGateway())
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 1, eur("20.00"))])
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    lost = oms.ship(fo.id)
    oms.track(lost.id, "lost")
    oms.resolve_lost(lost.id, "reship")
    fo2 = oms.accept(oms.fulfilment_orders("o1")[-1].id)
    oms.deliver(oms.ship(fo2.id).id)
    r = oms.approve_return(
        oms.request_return("o1", {2: 1}, reason="too_small", exchange={2: ("TSHIRT-L", 1)}).id
    )
    oms.receive_return(r.id, [Inspection(2, "restock")])
    order = oms.order("o1")
    assert order.lines[2].unit_price == eur("20.00")
    assert order.payment.refunded == 0


def test_a_fee_an_exchange_cannot_pay_is_waived_not_taken_from_a_later_refund():
    policy = RefundPolicy(return_label_fee=eur("3.95"))
    oms = Oms(payments=FakeGateway(), refund_policy=policy)
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 1, eur("20.00")), ("TSHIRT-L", 1, eur("20.00"))])
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    oms.deliver(oms.ship(fo.id).id)
    swap = oms.approve_return(
        oms.request_return("o1", {1: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1)}).id
    )
    assert oms.receive_return(swap.id, [Inspection(1, "restock")]).withheld == 0
    back = oms.approve_return(oms.request_return("o1", {2: 1}, reason="defective").id)
    oms.receive_return(back.id, [Inspection(2, "refurbish")])
    assert oms.order("o1").payment.refunded == Decimal("20.00")


@pytest.mark.parametrize(
    ("price", "share", "refunded"),
    [("5", "0.5", "2.50"), ("10.000", "0.3333", "3.33"), ("2E+1", "0.25", "5.00")],
)
def test_shares_round_to_the_currencys_minor_unit(price, share, refunded):
    oms, _ = delivered_oms(units=1, price=price, payments=FakeGateway())
    r = oms.approve_return(oms.request_return("web-1", {1: 1}, reason="changed_mind").id)
    oms.receive_return(r.id, [Inspection(1, "damaged", note="worn", refund=share)])
    assert oms.order("web-1").payment.refunded == Decimal(refunded)


def test_shipping_stays_paid_while_units_are_still_to_come_and_returns_once_none_are_kept():
    oms = Oms(payments=FakeGateway())
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 2, eur("20.00"))], shipping=eur("5.00"))
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    oms.deliver(oms.ship(fo.id, {1: 1}).id)
    r = oms.approve_return(oms.request_return("o1", {1: 1}, reason="changed_mind").id)
    oms.receive_return(r.id, [Inspection(1, "restock")])
    assert oms.order("o1").payment.refunded == Decimal("20.00")  # one unit still to ship
    oms.cancel_order("o1")
    assert oms.order("o1").shipping_refunded
    assert oms.order("o1").payment.refunded == Decimal("25.00")


def test_a_cancelled_cheaper_exchange_gives_back_everything_with_the_shipping():
    oms, _ = delivered_oms(units=1, payments=FakeGateway(), shipping="5.00")
    r = oms.approve_return(
        oms.request_return(
            "web-1", {1: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1, eur("15.00"))}
        ).id
    )
    oms.receive_return(r.id, [Inspection(1, "restock")])
    oms.cancel_lines("web-1", {2: 1})
    assert oms.order("web-1").payment.refunded == Decimal("25.00")


def test_approving_with_a_carrier_again_under_its_key_buys_no_second_label():
    carrier = FakeCarrier("post", cost=eur("4.10"))
    oms, _ = delivered_oms(carriers=[carrier])
    r = oms.request_return("web-1", {1: 1}, reason="too_small")
    first = oms.approve_return(r.id, carrier="post", idempotency_key="ok-1")
    again = oms.approve_return(r.id, carrier="post", idempotency_key="ok-1")
    assert again == first
    assert len(carrier.labels) == 1


@pytest.mark.parametrize(
    ("exchange", "error", "match"),
    [
        ({1: ("TSHIRT-L", 1, Money("10.00", "USD"))}, InvalidMoney, "paid in EUR, not USD"),
        ({1: ("NO-SUCH", 1)}, UnknownSku, "'NO-SUCH', which is not known"),
    ],
)
def test_an_exchange_that_could_never_be_sent_is_refused_at_request(exchange, error, match):
    oms, _ = delivered_oms(payments=FakeGateway())
    with pytest.raises(error, match=match):
        oms.request_return("web-1", {1: 1}, reason="too_small", exchange=exchange)
    assert oms.returns("web-1") == []


def test_fewer_units_arriving_shrink_the_exchange_to_what_they_pay_for():
    oms = Oms(payments=FakeGateway())
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 2, eur("20.00")), ("TSHIRT-L", 1, eur("20.00"))])
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    oms.deliver(oms.ship(fo.id).id)
    # Line 1 was to be swapped; only line 2 arrives: no exchange, line 2 refunded.
    r1 = oms.approve_return(
        oms.request_return("o1", {1: 1, 2: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1)}).id
    )
    done = oms.receive_return(r1.id, [Inspection(2, "restock")])
    assert (done.status, done.exchange_lines) == (ReturnStatus.REFUNDED, ())
    assert oms.order("o1").payment.refunded == Decimal("20.00")
    # Two units for one dearer unit; one arrives and cannot pay for it: refunded instead.
    r2 = oms.approve_return(
        oms.request_return(
            "o1", {1: 2}, reason="too_small", exchange={1: ("TSHIRT-L", 1, eur("30.00"))}
        ).id
    )
    assert oms.receive_return(r2.id, [Inspection(1, "restock")]).exchange_lines == ()
    assert oms.order("o1").payment.refunded == Decimal("40.00")


def test_returns_cannot_be_backdated_before_delivery_or_their_last_step():
    oms, clock = delivered_oms()
    with pytest.raises(BackdatedPostingRejected, match="was delivered"):
        oms.request_return("web-1", {1: 1}, reason="too_small", at=T0 + timedelta(minutes=5))
    r = oms.request_return("web-1", {1: 1}, reason="too_small")
    clock.advance(days=1)
    approved = oms.approve_return(r.id)
    with pytest.raises(BackdatedPostingRejected, match=r"was last changed \(approved\)"):
        oms.receive_return(
            r.id, [Inspection(1, "restock")], at=approved.history[-1][0] - timedelta(hours=1)
        )


def test_return_units_leaves_units_on_an_open_request_alone():
    oms, _ = delivered_oms()
    oms.request_return("web-1", {1: 2}, reason="too_small")
    with pytest.raises(IllegalTransition, match="nor on an open return request"):
        oms.return_units("web-1", 1, 1, location="berlin-dc")


def test_odd_inputs_get_typed_errors():
    oms, _ = delivered_oms()
    with pytest.raises(InvalidOrder, match="order line: units"):
        oms.request_return("web-1", {1: 1, "2": 1}, reason="too_small")
    with pytest.raises(InvalidIdentifier, match="up to 400 characters"):
        Inspection(1, "scrap", note="x" * 401)


def test_an_exchange_line_is_not_part_of_what_the_customer_paid_at_placement():
    oms, _ = delivered_oms(payments=FakeGateway())
    r = oms.approve_return(
        oms.request_return("web-1", {1: 1}, reason="too_small", exchange={1: ("TSHIRT-L", 1)}).id
    )
    oms.receive_return(r.id, [Inspection(1, "restock")])
    assert oms.order("web-1").total_price == eur("40.00")


def test_a_replacement_of_a_replacement_is_refunded_at_the_price_first_paid():
    oms = Oms(payments=FakeGateway())
    network(oms)
    oms.place_order("o1", [("TSHIRT-M", 1, eur("20.00"))])
    for _ in range(2):  # lost, reshipped; the replacement lost and reshipped again
        fo = oms.accept(oms.fulfilment_orders("o1")[-1].id)
        parcel = oms.ship(fo.id)
        oms.track(parcel.id, "lost")
        oms.resolve_lost(parcel.id, "reship")
    assert oms.order("o1").price_of(3) == eur("20.00")
    fo = oms.accept(oms.fulfilment_orders("o1")[-1].id)
    parcel = oms.ship(fo.id)
    oms.track(parcel.id, "lost")
    oms.resolve_lost(parcel.id, "refund")
    assert oms.order("o1").payment.refunded == Decimal("20.00")
