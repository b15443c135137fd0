"""Sourcing invariants for every built-in strategy, and exactness against brute force."""

import itertools
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from omsims import GeoPoint, Money
from omsims.sourcing import (
    CapacityAware,
    Channel,
    EarliestDelivery,
    Fill,
    HighestStock,
    LowestCost,
    MinimizeSplits,
    Nearest,
    PriorityStrategy,
    Quote,
    Ranked,
    SameCountry,
)
from omsims.testing import strategies as kit
from omsims.testing.invariants import check_deterministic, check_plan
from sourcing_support import View, loc, request

SKUS = ("A", "B", "C")


class ByDistance:
    """A carrier pricing 1 EUR per 100 km plus 1 EUR per kg; no quote without coordinates."""

    name = "by-distance"

    def quote(self, origin, destination, weight_kg):
        if origin.coordinates is None or destination is None:
            return None
        euros = int(origin.coordinates.distance_km(destination) // 100) + int(weight_kg)
        return Quote("by-distance", "std", Money(euros, "EUR"), 1)


@st.composite
def networks(draw, max_locations=6):
    n = draw(st.integers(1, max_locations))
    locations = [
        loc(
            f"l{i}",
            priority=draw(st.integers(0, 3)),
            can_ship=draw(st.booleans()) if i else True,
            country=draw(st.sampled_from(["DE", "AT"])),
            coordinates=draw(
                st.none() | st.builds(GeoPoint, st.integers(47, 55), st.integers(6, 15))
            ),
        )
        for i in range(n)
    ]
    stock = {(sku, f"l{i}"): draw(st.integers(0, 6)) for i in range(n) for sku in SKUS}
    backorders = {
        (sku, f"l{i}"): draw(st.sampled_from([0, 0, 3])) for i in range(n) for sku in SKUS
    }
    capacity = {f"l{i}": draw(st.sampled_from([None, 0, 1])) for i in range(n)}
    return View(locations, stock, backorders, capacity)


orders = st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 8)), min_size=1, max_size=4)
strategies = st.sampled_from(
    [
        PriorityStrategy(),
        Ranked(),
        Nearest(),
        HighestStock(),
        MinimizeSplits(),
        Ranked(fill=Fill(split_lines=False)),
        Ranked(fill=Fill(max_shipments=2)),
        Nearest(fill=Fill(complete=True)),
        MinimizeSplits(filters=(SameCountry(),)),
        CapacityAware(),
        CapacityAware(penalise=True),
        LowestCost(ByDistance(), weights={}, default_weight_kg=1),
        EarliestDelivery(ByDistance()),
        EarliestDelivery(fill=Fill(split_lines=False, max_shipments=1)),
        LowestCost(ByDistance(), weights={"A": 3}, default_weight_kg=1, fill=Fill(max_shipments=1)),
    ]
)


@given(case=kit.sourcing_cases(), strategy=strategies)
def test_every_plan_keeps_the_sourcing_invariants(case, strategy):
    # The testing kit's own checks, as users run them on their rules.
    fill = getattr(strategy, "fill", Fill())
    plan = check_deterministic(strategy, case.request, case.network)
    check_plan(
        plan,
        case.request,
        case.network,
        max_shipments=fill.max_shipments,
        split_lines=fill.split_lines,
        capacity=strategy.name == "capacity aware",
        # Only strategies with the channel filter promise to respect Location.channels
        # (PriorityStrategy documents that it ignores them; others may be built without).
        channels=any(isinstance(f, Channel) for f in getattr(strategy, "filters", ())),
    )
    assert str(plan.explanation)


def fewest_covering(view, lines):
    """Brute force: the smallest number of shipping locations whose stock covers the order."""
    demand = {}
    for sku, n in lines:
        demand[sku] = demand.get(sku, 0) + n
    shipping = [location.id for location in view.locations() if location.can_ship]
    for size in range(1, len(shipping) + 1):
        for combo in itertools.combinations(shipping, size):
            if all(sum(view.available(s, x) for x in combo) >= n for s, n in demand.items()):
                return size
    return None


@given(view=networks(max_locations=7), lines=orders)
def test_minimize_splits_is_exact_against_brute_force(view, lines):
    best = fewest_covering(view, lines)
    plan = MinimizeSplits(fill=Fill(backorders=False)).plan(request(*lines), view)
    if best is None:
        assert plan.unfilled
    else:
        assert not plan.unfilled
        assert plan.shipments == best
        # And never worse than the greedy priority fill that covers the order too.
        greedy = Ranked(fill=Fill(backorders=False)).plan(request(*lines), view)
        assert plan.shipments <= greedy.shipments


class TupleView(View):
    """The same view, handing out one tuple of locations: composed strategies memoise."""

    def __init__(self, view):
        super().__init__(view.locations(), view.stock, view.backorders, view.capacity)
        self._locations = tuple(view.locations())

    def stocking(self, sku):
        return {loc for (s, loc), n in self.stock.items() if s == sku} | {
            loc for (s, loc), n in self.backorders.items() if s == sku and n
        }


@given(
    view=networks(),
    orders_=st.lists(
        st.tuples(
            orders,
            st.sampled_from([None, "DE"]),
            st.frozensets(st.sampled_from(["l0", "l1", "l2"]), max_size=2),
        ),
        min_size=1,
        max_size=6,
    ),
    make=st.sampled_from(
        [lambda: Ranked(filters=(SameCountry(),)), Nearest, lambda: Ranked(filters=())]
    ),
)
def test_memoised_rankings_plan_exactly_like_fresh_ones(view, orders_, make):
    # Orders with and without exclusions (sourced again after a rejection) and other
    # countries interleave: each must get its own verdict back, explanation included.
    memo_view = TupleView(view)
    memoised = make()
    for lines, country, excluded in orders_:
        req = request(*lines, destination_country=country, excluded_locations=excluded)
        got, want = memoised.plan(req, memo_view), make().plan(req, view)
        assert got.allocations == want.allocations
        assert got.unfilled == want.unfilled
        assert got.explanation.steps == want.explanation.steps


@given(view=networks(), lines=orders, memo=st.booleans())
def test_the_free_split_fill_takes_exactly_what_the_policy_checked_fill_takes(view, lines, memo):
    # Fill() runs a loop without the policy's checks; a shipment limit no order reaches
    # sends the same fill through the checked path. Both must allocate alike.
    if memo:
        view = TupleView(view)
    req = request(*lines)
    free = Nearest().plan(req, view)
    checked = Nearest(fill=Fill(max_shipments=1_000)).plan(req, view)
    assert free.allocations == checked.allocations
    assert free.unfilled == checked.unfilled
    # The same steps, but for the reason given for units left unfilled.
    assert [s[:-1] if s[0] == "unfilled" else s for s in free.explanation.steps] == [
        s[:-1] if s[0] == "unfilled" else s for s in checked.explanation.steps
    ]


DAYS = [datetime(2026, 3, d, tzinfo=UTC) for d in (3, 5, 9)]


@st.composite
def networks_with_arrivals(draw):
    view = draw(networks())
    keys = list(view.backorders)
    view.arrivals = {
        key: sorted(draw(st.lists(st.tuples(st.sampled_from(DAYS), st.integers(1, 4)), max_size=2)))
        for key in keys
    }
    return view


@given(
    view=networks_with_arrivals(),
    lines=orders,
    strategy=st.sampled_from(
        [
            Ranked(),
            Ranked(fill=Fill(against_incoming=True)),
            Nearest(fill=Fill(split_lines=False)),
            EarliestDelivery(),
            EarliestDelivery(fill=Fill(against_incoming=True, max_shipments=2)),
        ]
    ),
)
def test_every_promise_is_backed_by_an_arrival_no_earlier_promise_took(view, lines, strategy):
    plan = strategy.plan(request(*lines, destination=GeoPoint(52, 13)), view)
    promised = {}
    for a in plan.allocations:
        if not a.backorder:
            assert a.promised is None  # stock on hand is ready now
            continue
        if a.promised is None:
            assert not strategy.fill.against_incoming
        promised.setdefault((a.sku, a.location), []).append(a)
    for key, allocations in promised.items():
        arrivals = view.incoming(*key)
        dated = [a for a in allocations if a.promised is not None]
        # Promises are handed out in arrival order, and never beyond what arrives by then.
        assert [a.promised for a in dated] == sorted(a.promised for a in dated)
        for a in dated:
            by_then = sum(n for eta, n in arrivals if eta <= a.promised)
            upto = sum(b.quantity for b in dated if b.promised <= a.promised)
            assert upto <= by_then
        # Undated units only once every arrival is promised.
        if len(dated) < len(allocations):
            assert sum(a.quantity for a in dated) == sum(n for _, n in arrivals)


@given(view=networks_with_arrivals(), sku=st.sampled_from(SKUS), units=st.integers(1, 12))
def test_earliest_delivery_gives_each_unit_the_earliest_date_left(view, sku, units):
    # Brute force: every unit the network could deliver, by date (on hand now, else the
    # ETA of an arrival within the position's backorder room), all transits 0 days.
    req = request((sku, units))
    dates = []
    for location in view.locations():
        if not location.can_ship:
            continue
        dates += [req.at] * view.available(sku, location.id)
        room = view.backorder_room(sku, location.id)
        for eta, n in view.incoming(sku, location.id):
            dates += [max(eta, req.at)] * min(n, max(room, 0))
            room -= n
    plan = EarliestDelivery(fill=Fill(against_incoming=True)).plan(req, view)
    got = sorted(
        d for a in plan.allocations for d in [a.promised if a.backorder else req.at] * a.quantity
    )
    assert got == sorted(dates)[:units]
