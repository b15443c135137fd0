"""EarliestDelivery: stock now or supply by its ETA, plus transit; under every fill policy."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omsims import GeoPoint, Location, Money, Oms
from omsims.adapters.carriers import TableRateCarrier
from omsims.adapters.clock import ManualClock
from omsims.errors import InvalidIdentifier, InvalidQuantity
from omsims.sourcing import EarliestDelivery, Fill, Quote
from sourcing_support import View, loc, request

T = datetime(2026, 3, 2, tzinfo=UTC)
DEST = GeoPoint(52.5, 13.4)


def day(n):
    return T + timedelta(days=n)


class Days:
    """Transit days per origin; origins not listed get no quote."""

    name = "days"

    def __init__(self, **days):
        self.days = days

    def quote(self, origin, destination, weight_kg):
        if origin.id not in self.days:
            return None
        return Quote("days", "std", Money(5, "EUR"), self.days[origin.id])


def view(stock, arrivals=None, room=10):
    names = sorted({x for _, x in stock} | {x for _, x in arrivals or {}})
    return View(
        [loc(x, priority=i) for i, x in enumerate(names)],
        stock,
        backorders=dict.fromkeys(((s, x) for s, x in stock), room),
        arrivals=arrivals or {},
    )


def taken(plan):
    return [(a.location, a.quantity, a.backorder, a.promised) for a in plan.allocations]


def test_a_fast_location_s_incoming_supply_beats_slow_stock_on_hand():
    v = view({("X", "a"): 5, ("X", "b"): 0}, {("X", "b"): [(day(1), 3)]})
    plan = EarliestDelivery(Days(a=4, b=1)).plan(request(("X", 4), destination=DEST), v)
    assert taken(plan) == [("b", 3, True, day(1)), ("a", 1, False, None)]


def test_without_a_carrier_stock_on_hand_comes_first_then_supply_by_eta():
    v = view({("X", "a"): 1, ("X", "b"): 0}, {("X", "b"): [(day(5), 2)], ("X", "a"): [(day(3), 1)]})
    plan = EarliestDelivery().plan(request(("X", 3)), v)
    assert taken(plan) == [("a", 1, False, None), ("a", 1, True, day(3)), ("b", 1, True, day(5))]


def test_ties_in_delivery_go_to_the_higher_ranked_location():
    v = view({("X", "a"): 5, ("X", "b"): 5})
    plan = EarliestDelivery(Days(a=2, b=2)).plan(request(("X", 2), destination=DEST), v)
    assert taken(plan) == [("a", 2, False, None)]


def test_a_whole_line_comes_from_the_location_that_delivers_all_of_it_first():
    # b delivers 1 unit tomorrow but the other 2 only in five days; c has all 3 in 2 days.
    stock = {("X", "b"): 1, ("X", "c"): 3}
    v = view(stock, {("X", "b"): [(day(5), 5)]})
    whole = EarliestDelivery(Days(b=1, c=2), fill=Fill(split_lines=False))
    assert taken(whole.plan(request(("X", 3), destination=DEST), v)) == [("c", 3, False, None)]
    split = EarliestDelivery(Days(b=1, c=2))
    assert [a.location for a in split.plan(request(("X", 3), destination=DEST), v).allocations] == [
        "b",
        "c",
    ]


def test_the_shipment_limit_holds():
    v = view({("X", "a"): 1, ("X", "b"): 1, ("X", "c"): 5})
    plan = EarliestDelivery(Days(a=1, b=1, c=3), fill=Fill(max_shipments=2)).plan(
        request(("X", 3), destination=DEST), v
    )
    assert plan.shipments <= 2
    assert plan.is_complete


def test_a_location_the_carrier_cannot_serve_is_dropped_and_the_explanation_says_so():
    v = view({("X", "a"): 5, ("X", "b"): 5})
    plan = EarliestDelivery(Days(b=3)).plan(request(("X", 1), destination=DEST), v)
    assert taken(plan) == [("b", 1, False, None)]
    text = str(plan.explanation)
    assert "dropped a: days does not carry from here to the destination" in text
    assert "1 from b on hand" in text
    assert "5 from b on hand + 3 days = 2026-03-04" in text  # requests are made on March 1


def test_no_backorders_means_stock_on_hand_only():
    v = view({("X", "a"): 1}, {("X", "a"): [(day(1), 5)]})
    plan = EarliestDelivery(fill=Fill(backorders=False)).plan(request(("X", 3)), v)
    assert taken(plan) == [("a", 1, False, None)]
    assert plan.unfilled == ((1, 2),)


def test_units_no_supply_covers_are_backordered_undated_unless_only_incoming_may_be():
    v = view({("X", "a"): 0}, {("X", "a"): [(day(2), 1)]})
    plan = EarliestDelivery().plan(request(("X", 3)), v)
    assert taken(plan) == [("a", 1, True, day(2)), ("a", 2, True, None)]
    strict = EarliestDelivery(fill=Fill(against_incoming=True)).plan(request(("X", 3)), v)
    assert taken(strict) == [("a", 1, True, day(2))]
    assert strict.unfilled == ((1, 2),)


def test_ship_complete_takes_nothing_when_something_is_missing():
    v = view({("X", "a"): 1}, room=0)
    plan = EarliestDelivery(fill=Fill(complete=True)).plan(request(("X", 2)), v)
    assert plan.allocations == ()
    assert plan.unfilled == ((1, 2),)


def test_bad_configuration_is_refused():
    with pytest.raises(InvalidIdentifier, match="carrier with quote"):
        EarliestDelivery(object())
    with pytest.raises(InvalidQuantity, match="parcel_kg"):
        EarliestDelivery(parcel_kg=0)


def test_the_oms_promises_the_transfer_s_arrival_to_an_order_it_sources_against_it():
    table = TableRateCarrier(
        "dhl",
        currency="EUR",
        distance_bands_km=(100, 1000),
        weight_bands_kg=(Decimal(30),),
        rates=(("5",), ("9",)),
        transit_days=(1, 3),
    )
    oms = Oms(clock=ManualClock(T), strategy=EarliestDelivery(table))
    oms.add_location(Location("berlin", coordinates=GeoPoint(52.52, 13.40)))
    oms.add_location(Location("munich", coordinates=GeoPoint(48.14, 11.58)))
    oms.add_sku("X")
    oms.configure_position("X", "berlin", allow_backorders=True)
    oms.receive("X", "munich", 10)
    oms.transfer("X", "munich", "berlin", 2, eta=day(1))
    order = oms.place_order("o1", [("X", 3)], ship_to=DEST)
    by_location = {fo.location: fo.lines[0] for fo in oms.fulfilment_orders(order.id)}
    assert (by_location["berlin"].backordered, by_location["berlin"].promised) == (2, day(1))
    assert by_location["munich"].backordered == 0
    assert by_location["munich"].quantity == 1


def test_an_overdue_arrival_ties_with_stock_on_hand_without_breaking_the_plan():
    clock = ManualClock(T)
    oms = Oms(clock=clock, strategy=EarliestDelivery())
    oms.add_location(Location("hub"))
    oms.add_sku("X")
    oms.configure_position("X", "hub", allow_backorders=True)
    oms.receive("X", "hub", 1)
    oms.expect("X", "hub", 5, eta=day(1))
    clock.advance(days=2)  # the purchase order is late
    order = oms.place_order("o1", [("X", 3)])
    (fo,) = oms.fulfilment_orders(order.id)
    assert (fo.lines[0].quantity, fo.lines[0].backordered, fo.lines[0].promised) == (3, 2, day(1))


def test_whole_lines_under_a_shipment_cap_stay_with_locations_already_shipping():
    stock = {("X", "a"): 1, ("Y", "a"): 1, ("Y", "b"): 1}
    v = view(stock)
    strategy = EarliestDelivery(
        Days(a=3, b=1), fill=Fill(split_lines=False, max_shipments=1, backorders=False)
    )
    plan = strategy.plan(request(("X", 1), ("Y", 1), destination=DEST), v)
    assert [(a.line, a.location) for a in plan.allocations] == [(1, "a"), (2, "a")]
    assert plan.is_complete
