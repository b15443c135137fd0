"""LowestCost finds the true lowest cost: checked against brute force on small networks."""

import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from omsims import GeoPoint, Location, Money
from omsims.sourcing import Fill, LowestCost, Quote
from sourcing_support import View, request

DEST = GeoPoint(50, 10)
SKUS = ("A", "B", "C")


class BandCarrier:
    """Per origin: a base price, plus a surcharge per weight band; nothing above 8 kg."""

    name = "bands"

    def __init__(self, base, surcharges, refused):
        self.base, self.surcharges, self.refused = base, surcharges, refused

    def quote(self, origin, destination, weight_kg):
        if origin.id in self.refused or weight_kg > 8:
            return None
        band = 0 if weight_kg <= 2 else 1 if weight_kg <= 5 else 2
        extra = sum(self.surcharges[origin.id][:band])
        return Quote("bands", "std", Money(self.base[origin.id] + extra, "EUR"), 1)


@st.composite
def cases(draw):
    n = draw(st.integers(1, 4))
    ids = [f"l{i}" for i in range(n)]
    locations = [
        Location(
            x,
            priority=draw(st.integers(0, 2)),
            handling_cost=draw(st.sampled_from([None, Money(0, "EUR"), Money(2, "EUR")])),
        )
        for x in ids
    ]
    stock = {(sku, x): draw(st.integers(0, 4)) for x in ids for sku in SKUS}
    carrier = BandCarrier(
        base={x: draw(st.integers(0, 6)) for x in ids},
        surcharges={x: [draw(st.integers(0, 5)), draw(st.integers(0, 5))] for x in ids},
        refused=set(draw(st.lists(st.sampled_from(ids), max_size=1))),
    )
    weights = {sku: draw(st.sampled_from(["0.5", "1", "2", "3"])) for sku in SKUS}
    per_shipment = draw(st.sampled_from([None, Money(1, "EUR"), Money(4, "EUR")]))
    lines = draw(
        st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1, max_size=3)
    )
    limit = draw(st.sampled_from([None, None, 1, 2]))
    whole = draw(st.booleans())
    return View(locations, stock), carrier, weights, per_shipment, lines, limit, whole


def ways_whole(view, lines):
    """Each line from one location: every combination the stock allows."""
    locs = list(view.locations())
    for choice in itertools.product(range(len(locs)), repeat=len(lines)):
        taken = {}
        for (sku, n), i in zip(lines, choice, strict=True):
            taken[(sku, i)] = taken.get((sku, i), 0) + n
        if all(n <= view.available(sku, locs[i].id) for (sku, i), n in taken.items()):
            yield taken


def ways_split(view, lines):
    """Each SKU's units spread over the locations in every way the stock allows."""
    locs = list(view.locations())
    demand = {}
    for sku, n in lines:
        demand[sku] = demand.get(sku, 0) + n

    def splits(sku, n):
        ranges = [range(min(n, view.available(sku, x.id)) + 1) for x in locs]
        return [c for c in itertools.product(*ranges) if sum(c) == n]

    for combo in itertools.product(*(splits(sku, n) for sku, n in demand.items())):
        yield {
            (sku, i): units
            for sku, split in zip(demand, combo, strict=True)
            for i, units in enumerate(split)
        }


def brute_force(view, strategy, lines, limit, *, whole):
    """Every way to give the units to the locations: the lowest (cost, shipments)."""
    locs = list(view.locations())
    best = None
    for taken in (ways_whole if whole else ways_split)(view, lines):
        kg = [Decimal(0)] * len(locs)
        for (sku, i), units in taken.items():
            kg[i] += units * strategy.weight_of(sku)
        used = [i for i in range(len(locs)) if kg[i]]
        if limit is not None and len(used) > limit:
            continue
        quotes = [strategy.carrier.quote(locs[i], DEST, kg[i]) for i in used]
        if None in quotes:
            continue
        total = sum(q.cost.amount for q in quotes)
        for i in used:
            total += locs[i].handling_cost.amount if locs[i].handling_cost else 0
            total += strategy.per_shipment.amount if strategy.per_shipment else 0
        if best is None or (total, len(used)) < best:
            best = (total, len(used))
    return best


def plan_cost(plan, view, strategy):
    locs = {x.id: x for x in view.locations()}
    kg = {}
    for a in plan.allocations:
        kg[a.location] = kg.get(a.location, Decimal(0)) + a.quantity * strategy.weight_of(a.sku)
    total = Decimal(0)
    for loc_id, w in kg.items():
        loc = locs[loc_id]
        total += strategy.carrier.quote(loc, DEST, w).cost.amount
        total += loc.handling_cost.amount if loc.handling_cost else 0
        total += strategy.per_shipment.amount if strategy.per_shipment else 0
    return total


@given(case=cases())
def test_lowest_cost_is_exact_against_brute_force(case):
    view, carrier, weights, per_shipment, lines, limit, whole = case
    strategy = LowestCost(
        carrier,
        weights=weights,
        per_shipment=per_shipment,
        fill=Fill(max_shipments=limit, backorders=False, split_lines=not whole),
        filters=(),
    )
    plan = strategy.plan(request(*lines, destination=DEST), view)
    # Never more than available, and every line accounted for.
    used = {}
    for a in plan.allocations:
        used[(a.sku, a.location)] = used.get((a.sku, a.location), 0) + a.quantity
    assert all(n <= view.available(*key) for key, n in used.items())
    unfilled = dict(plan.unfilled)
    for i, (_, n) in enumerate(lines, 1):
        assert plan.allocated(i) + unfilled.get(i, 0) == n
    if whole:
        assert len({a.line for a in plan.allocations}) == len(plan.allocations)
    best = brute_force(view, strategy, lines, limit, whole=whole)
    if best is not None:
        assert plan.is_complete
        assert (plan_cost(plan, view, strategy), plan.shipments) == best
        assert "exact: lowest cost" in str(plan.explanation)
    # Deterministic.
    assert strategy.plan(request(*lines, destination=DEST), view) == plan
