"""LowestCost: the cost model, the search's limits, its fallbacks and its errors."""

from decimal import Decimal

import pytest

from omsims import GeoPoint, Location, Money, Oms
from omsims.adapters.carriers import TableRateCarrier
from omsims.errors import InvalidIdentifier, InvalidMoney, InvalidPlan, InvalidQuantity
from omsims.sourcing import Fill, LowestCost, Quote
from sourcing_support import View, request

DEST = GeoPoint(52.5, 13.4)


class Flat:
    """Every parcel costs ``base`` plus ``per_kg`` a kilogram (rounded to cents)."""

    name = "flat"

    def __init__(self, base="5", per_kg="0", currency="EUR", refuse=()):
        self.base, self.per_kg, self.currency, self.refuse = (
            Decimal(base),
            Decimal(per_kg),
            currency,
            set(refuse),
        )
        self.calls = 0

    def quote(self, origin, destination, weight_kg):
        self.calls += 1
        if origin.id in self.refuse or destination is None:
            return None
        cost = (self.base + self.per_kg * weight_kg).quantize(Decimal("0.01"))
        return Quote(self.name, "std", Money(cost, self.currency), 1)


def eur(x):
    return Money(x, "EUR")


def view(stock, **handling):
    locations = [
        Location(name, priority=i, handling_cost=handling.get(name))
        for i, name in enumerate(sorted({loc for _, loc in stock}))
    ]
    return View(locations, stock)


def cost_of(plan, strategy, v):
    """Recompute a plan's cost from its allocations, independently of the strategy."""
    by_loc = {}
    for a in plan.allocations:
        by_loc[a.location] = by_loc.get(a.location, Decimal(0)) + a.quantity * strategy.weight_of(
            a.sku
        )
    locs = {loc.id: loc for loc in v.locations()}
    total = Decimal(0)
    for loc_id, kg in by_loc.items():
        total += strategy.carrier.quote(locs[loc_id], DEST, kg).cost.amount
        if locs[loc_id].handling_cost is not None:
            total += locs[loc_id].handling_cost.amount
        if strategy.per_shipment is not None:
            total += strategy.per_shipment.amount
    return total


def test_a_cheap_handling_location_beats_the_first_ranked_one():
    v = view({("A", "a"): 5, ("A", "b"): 5}, a=eur("4.00"), b=eur("1.00"))
    plan = LowestCost(Flat(), weights={"A": 1}).plan(request(("A", 2), destination=DEST), v)
    assert [(a.location, a.quantity) for a in plan.allocations] == [("b", 2)]
    assert "exact: lowest cost 6.00 EUR in 1 shipment" in str(plan.explanation)


def test_a_fixed_cost_per_shipment_makes_one_parcel_beat_two_cheap_ones():
    # a holds A, b holds B; c holds both but handles expensively.
    stock = {("A", "a"): 1, ("B", "b"): 1, ("A", "c"): 1, ("B", "c"): 1}
    v = view(stock, c=eur("3.00"))
    cheap_parcels = LowestCost(Flat(base="1"), weights={"A": 1, "B": 1})
    req = request(("A", 1), ("B", 1), destination=DEST)
    assert cheap_parcels.plan(req, v).shipments == 2  # 1 + 1 < 1 + 3
    with_fixed = LowestCost(Flat(base="1"), weights={"A": 1, "B": 1}, per_shipment=eur(5))
    plan = with_fixed.plan(req, v)
    assert {a.location for a in plan.allocations} == {"c"}  # 1 + 3 + 5 < 2 * (1 + 5)
    assert cost_of(plan, with_fixed, v) == Decimal(9)


def test_weight_bands_can_make_two_parcels_cheaper_than_one():
    # One 20 kg parcel costs 30; two 10 kg parcels cost 2 * 8.
    class Bands:
        name = "bands"

        def quote(self, origin, destination, weight_kg):
            return Quote("bands", "std", eur(8 if weight_kg <= 10 else 30), 1)

    v = view({("A", "a"): 2, ("A", "b"): 2})
    strategy = LowestCost(Bands(), weights={"A": 10})
    plan = strategy.plan(request(("A", 2), destination=DEST), v)
    assert sorted((a.location, a.quantity) for a in plan.allocations) == [("a", 1), ("b", 1)]
    assert cost_of(plan, strategy, v) == Decimal(16)


def test_ties_go_to_fewer_shipments_then_to_rank():
    v = view({("A", "a"): 1, ("A", "b"): 2, ("A", "c"): 2})
    # Flat parcels at 0: every plan costs nothing; the fewest shipments win, then rank.
    plan = LowestCost(Flat(base="0"), weights={"A": 1}).plan(request(("A", 2), destination=DEST), v)
    assert [(a.location, a.quantity) for a in plan.allocations] == [("b", 2)]


def test_fill_rules_hold_inside_the_search():
    stock = {("A", "a"): 1, ("A", "b"): 1, ("A", "c"): 3}
    v = view(stock, c=eur("10.00"))
    req = request(("A", 2), destination=DEST)
    free = LowestCost(Flat(), weights={"A": 1}).plan(req, v)
    assert sorted(a.location for a in free.allocations) == ["a", "b"]
    whole = LowestCost(Flat(), weights={"A": 1}, fill=Fill(split_lines=False)).plan(req, v)
    assert [(a.location, a.quantity) for a in whole.allocations] == [("c", 2)]
    one = LowestCost(Flat(), weights={"A": 1}, fill=Fill(max_shipments=1)).plan(req, v)
    assert one.shipments == 1


def test_two_lines_of_one_sku_share_the_stock():
    v = view({("A", "a"): 2, ("A", "b"): 5}, a=eur("0.00"), b=eur("9.00"))
    plan = LowestCost(Flat(), weights={"A": 1}).plan(
        request(("A", 2), ("A", 2), destination=DEST), v
    )
    assert sum(a.quantity for a in plan.allocations if a.location == "a") <= 2
    assert plan.allocated(1) == plan.allocated(2) == 2


def test_no_covering_plan_falls_back_to_the_greedy_fill_with_backorders():
    v = View([Location("a")], {("A", "a"): 1}, backorders={("A", "a"): 5})
    plan = LowestCost(Flat(), weights={"A": 1}).plan(request(("A", 3), destination=DEST), v)
    assert [(a.quantity, a.backorder) for a in plan.allocations] == [(1, False), (2, True)]
    assert "no plan ships the whole order from stock on hand" in str(plan.explanation)


def test_without_a_destination_nothing_is_quoted_and_greedy_decides():
    v = view({("A", "a"): 2})
    plan = LowestCost(Flat(), weights={"A": 1}).plan(request(("A", 1)), v)
    assert [(a.location, a.quantity) for a in plan.allocations] == [("a", 1)]
    assert "no plan ships the whole order" in str(plan.explanation)


def test_an_unquoted_location_is_never_chosen():
    v = view({("A", "a"): 2, ("A", "b"): 2}, b=eur("9.00"))
    plan = LowestCost(Flat(refuse={"a"}), weights={"A": 1}).plan(
        request(("A", 1), destination=DEST), v
    )
    assert [a.location for a in plan.allocations] == ["b"]


def test_beyond_the_exact_limit_it_fills_greedily_and_says_so():
    v = view({("A", "a"): 1, ("A", "b"): 1, ("A", "c"): 5}, a=eur(9), b=eur(9))
    plan = LowestCost(Flat(), weights={"A": 1}, exact_up_to=2).plan(
        request(("A", 2), destination=DEST), v
    )
    assert sorted(a.location for a in plan.allocations) == ["a", "b"]
    assert "exceed the exact limit of 2" in str(plan.explanation)


def test_a_search_out_of_budget_keeps_the_best_plan_found_and_says_it_is_not_proven():
    stock = {(sku, loc): 1 for sku in "ABCD" for loc in "abcdef"}
    v = view(stock)
    plan = LowestCost(
        Flat(base="0", per_kg="1"), weights=dict.fromkeys("ABCD", 1), max_parcels=3
    ).plan(request(("A", 1), ("B", 1), ("C", 1), ("D", 1), destination=DEST), v)
    assert plan.is_complete
    assert "not proven lowest" in str(plan.explanation)


def test_the_explanation_breaks_down_every_shipment():
    v = view({("A", "a"): 3}, a=eur("1.50"))
    plan = LowestCost(Flat(base="4", per_kg="0.5"), weights={"A": "0.4"}, per_shipment=eur(2)).plan(
        request(("A", 3), destination=DEST), v
    )
    assert (
        "a: 1.2 kg, flat std 4.60 EUR + handling 1.50 EUR + per shipment 2 EUR = 8.10 EUR"
        in str(plan.explanation)
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"weights": {"A": -1}}, InvalidQuantity, "above 0"),
        ({"weights": {"A": 0.5}}, InvalidQuantity, "floats"),
        ({"weights": {"A": "heavy"}}, InvalidQuantity, "not a decimal"),
        ({"weights": {}, "default_weight_kg": 0}, InvalidQuantity, "above 0"),
        ({"weights": {}, "per_shipment": 5}, InvalidMoney, "per_shipment must be Money"),
        ({"weights": {}, "exact_up_to": -1}, InvalidQuantity, "exact_up_to"),
    ],
)
def test_bad_configuration_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        LowestCost(Flat(), **kwargs)


def test_a_carrier_without_quote_is_refused():
    with pytest.raises(InvalidIdentifier, match="carrier with quote"):
        LowestCost(object(), weights={})


def test_an_unknown_weight_or_a_second_currency_fails_clearly_and_writes_nothing():
    oms = Oms(strategy=LowestCost(Flat(currency="USD"), weights={"A": 1}, per_shipment=eur(1)))
    oms.add_location(Location("a"))
    oms.receive("A", "a", 5)
    oms.receive("B", "a", 5)
    before = oms.stock("A", "a")
    with pytest.raises(InvalidIdentifier, match="no weight for SKU 'B'"):
        oms.place_order("o1", [("B", 1)], ship_to=DEST)
    with pytest.raises(InvalidMoney, match="cannot add flat's quote in USD to costs in EUR"):
        oms.place_order("o2", [("A", 1)], ship_to=DEST)
    assert oms.stock("A", "a") == before
    assert oms.orders() == []


def test_lowest_cost_places_orders_through_the_oms_with_the_bundled_carrier():
    dhl = TableRateCarrier(
        "dhl",
        currency="EUR",
        distance_bands_km=(100, 1000),
        weight_bands_kg=(Decimal(5), Decimal(30)),
        rates=(("4.00", "6.00"), ("7.00", "12.00")),
        transit_days=(1, 2),
    )
    oms = Oms(strategy=LowestCost(dhl, weights={"A": 2}))
    oms.add_location(Location("far", coordinates=GeoPoint(48.14, 11.58), priority=1))
    oms.add_location(Location("near", coordinates=GeoPoint(52.4, 13.1), priority=2))
    for loc in ("far", "near"):
        oms.receive("A", loc, 5)
    order = oms.place_order("o1", [("A", 2)], ship_to=DEST)
    (fo,) = oms.fulfilment_orders(order.id)
    assert fo.location == "near"


def test_negative_costs_are_refused():
    with pytest.raises(InvalidMoney, match="may not be negative"):
        Location("a", handling_cost=eur(-3))
    with pytest.raises(InvalidMoney, match="may not be negative"):
        LowestCost(Flat(), weights={}, per_shipment=eur(-1))
    v = view({("A", "a"): 2})
    with pytest.raises(InvalidMoney, match="negative price"):
        LowestCost(Flat(base="-1"), weights={"A": 1}).plan(request(("A", 1), destination=DEST), v)


@pytest.mark.parametrize(
    "rate",
    [
        lambda kg: 9 if kg <= 1 else 5,  # heavier is cheaper
        lambda kg: None if kg < 2 else 5,  # a minimum weight: light parcels refused
    ],
    ids=["heavier-cheaper", "minimum-weight"],
)
def test_a_carrier_breaking_the_port_s_rule_is_refused_rather_than_trusted(rate):
    class Odd:
        name = "odd"

        def quote(self, origin, destination, weight_kg):
            price = rate(weight_kg)
            return None if price is None else Quote("odd", "std", eur(price), 1)

    v = view({("A", "a"): 3, ("A", "b"): 3})
    with pytest.raises(InvalidPlan, match="breaks the Carrier rule"):
        LowestCost(Odd(), weights={"A": 1}).plan(request(("A", 3), destination=DEST), v)
