import pytest

from omsims import GeoPoint, LocationKind
from omsims.sourcing import (
    CanPickup,
    Channel,
    Distance,
    Exclude,
    Fill,
    HighestStock,
    MinimizeSplits,
    MinimumAvailable,
    Nearest,
    Predicate,
    Priority,
    Ranked,
    SameCountry,
    SameRegion,
    Score,
    Strategy,
)
from sourcing_support import View, loc, request

BERLIN, MUNICH, HAMBURG = GeoPoint(52.52, 13.40), GeoPoint(48.14, 11.58), GeoPoint(53.55, 9.99)


def placed(plan):
    return [(a.line, a.location, a.quantity, a.backorder) for a in plan.allocations]


def test_ranked_fills_by_priority_and_explains_the_tie_break():
    view = View(
        [loc("b", priority=1), loc("a", priority=1), loc("c", priority=0)],
        {("X", "a"): 1, ("X", "b"): 5, ("X", "c"): 1},
    )
    plan = Ranked().plan(request(("X", 3)), view)
    assert placed(plan) == [(1, "c", 1, False), (1, "a", 1, False), (1, "b", 1, False)]
    text = plan.explain()
    assert "candidates in order: c, a, b" in text
    assert "tie between a, b broken by location id" in text


def test_nearest_ranks_by_distance_and_puts_unknown_coordinates_last():
    view = View(
        [loc("berlin", coordinates=BERLIN), loc("nowhere"), loc("munich", coordinates=MUNICH)],
        {("X", "berlin"): 5, ("X", "nowhere"): 5, ("X", "munich"): 5},
    )
    plan = Nearest().plan(request(("X", 1), destination=HAMBURG), view)
    assert placed(plan) == [(1, "berlin", 1, False)]
    assert "candidates in order: berlin, munich, nowhere" in plan.explain()
    assert "nowhere=inf" in plan.explain()


def test_highest_stock_prefers_the_fullest_location():
    view = View([loc("a"), loc("b")], {("X", "a"): 2, ("X", "b"): 9})
    assert placed(HighestStock().plan(request(("X", 2)), view)) == [(1, "b", 2, False)]


def test_later_rankers_only_break_ties():
    view = View(
        [
            loc("a", priority=2, coordinates=BERLIN),
            loc("b", priority=1, coordinates=BERLIN),
            loc("c", priority=0, coordinates=MUNICH),
        ],
        {("X", k): 1 for k in "abc"},
    )
    plan = Strategy(rankers=(Distance(), Priority())).plan(
        request(("X", 3), destination=BERLIN), view
    )
    assert [a.location for a in plan.allocations] == ["b", "a", "c"]
    assert "tie between b, a broken by priority" in plan.explain()


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        (CanPickup(), {"store"}),
        (Channel(), {"dc", "store"}),
        (SameCountry(), {"dc", "store"}),
        (SameRegion(), {"dc"}),
        (MinimumAvailable(3), {"dc"}),
        (Exclude(["dc"]), {"store", "franchise"}),
        (
            Predicate(
                "stores only", lambda location, _request: location.kind is LocationKind.STORE
            ),
            {"store", "franchise"},
        ),
    ],
)
def test_each_filter_keeps_what_it_should_and_says_why_it_dropped_the_rest(rule, kept):
    view = View(
        [
            loc("dc", country="DE", region="north"),
            loc("store", kind=LocationKind.STORE, can_pickup=True, country="DE", region="south"),
            loc("franchise", kind=LocationKind.STORE, channels={"pos"}, country="AT"),
        ],
        {("X", "dc"): 5, ("X", "store"): 1, ("X", "franchise"): 1},
    )
    strategy = Strategy(filters=(rule,))
    plan = strategy.plan(
        request(("X", 1), destination_country="DE", destination_region="north"), view
    )
    dropped = {step[1] for step in plan.explanation.steps if step[0] == "dropped"}
    assert {"dc", "store", "franchise"} - dropped == kept
    for step in plan.explanation.steps:
        if step[0] == "dropped":
            assert step[2].startswith(f"{rule.name}: ")


def test_a_custom_score_ranks():
    view = View([loc("a"), loc("b")], {("X", "a"): 1, ("X", "b"): 1})
    plan = Strategy(
        rankers=(Score("b first", lambda location, _request: 0 if location.id == "b" else 1),)
    ).plan(request(("X", 1)), view)
    assert placed(plan) == [(1, "b", 1, False)]


def test_fill_without_splitting_takes_each_line_from_one_location():
    view = View([loc("a", priority=1), loc("b", priority=2)], {("X", "a"): 2, ("X", "b"): 3})
    plan = Ranked(fill=Fill(split_lines=False)).plan(request(("X", 3)), view)
    assert placed(plan) == [(1, "b", 3, False)]
    plan = Ranked(fill=Fill(split_lines=False)).plan(request(("X", 4)), view)
    assert plan.allocations == ()
    assert plan.unfilled == ((1, 4),)
    assert "no single location has the whole line" in plan.explain()


def test_fill_respects_the_shipment_limit():
    view = View(
        [loc(n, priority=i) for i, n in enumerate("abc")],
        {("X", "a"): 1, ("X", "b"): 1, ("Y", "c"): 1},
    )
    plan = Ranked(fill=Fill(max_shipments=2)).plan(request(("X", 2), ("Y", 1)), view)
    assert plan.shipments == 2
    assert plan.unfilled == ((2, 1),)


def test_ship_complete_allocates_nothing_when_anything_is_missing():
    view = View([loc("a")], {("X", "a"): 1})
    plan = Ranked(fill=Fill(complete=True)).plan(request(("X", 1), ("Y", 1)), view)
    assert plan.allocations == ()
    assert plan.unfilled == ((1, 1), (2, 1))
    assert "ship complete" in plan.explain()


def test_backorders_only_where_allowed_and_only_if_the_policy_says_so():
    view = View([loc("a"), loc("b")], {("X", "a"): 1}, backorders={("X", "b"): 5})
    assert placed(Ranked().plan(request(("X", 3)), view)) == [
        (1, "a", 1, False),
        (1, "b", 2, True),
    ]
    assert Ranked(fill=Fill(backorders=False)).plan(request(("X", 3)), view).unfilled == ((1, 2),)


def test_minimize_splits_never_ships_three_times_for_2_4_5_and_an_order_of_5():
    view = View(
        [loc(n, priority=i) for i, n in enumerate("abc")],
        {("X", "a"): 2, ("X", "b"): 4, ("X", "c"): 5},
    )
    plan = MinimizeSplits().plan(request(("X", 5)), view)
    assert plan.shipments == 1
    assert placed(plan) == [(1, "c", 5, False)]
    assert "exact: fewest locations that cover the order: c" in plan.explain()
    # Priority alone would have split it.
    assert Ranked().plan(request(("X", 5)), view).shipments == 2


def test_minimize_splits_degrades_to_greedy_when_nothing_covers():
    view = View([loc("a"), loc("b")], {("X", "a"): 1, ("X", "b"): 1})
    plan = MinimizeSplits().plan(request(("X", 5)), view)
    assert plan.unfilled == ((1, 3),)
    assert "no set of locations covers the whole order" in plan.explain()


def test_minimize_splits_is_greedy_beyond_its_exact_limit():
    view = View(
        [loc(f"l{i}", priority=i) for i in range(4)], {("X", f"l{i}"): 1 + i for i in range(4)}
    )
    plan = MinimizeSplits(exact_up_to=2).plan(request(("X", 4)), view)
    assert "exceed the exact limit of 2" in plan.explain()
    assert plan.shipments == 1


def test_strategies_plug_into_the_oms():
    from omsims import Location, Oms

    oms = Oms(strategy=MinimizeSplits())
    for i, (name, units) in enumerate([("a", 2), ("b", 4), ("c", 5)]):
        oms.add_location(Location(name, priority=i))
        oms.receive("X", name, units)
    oms.place_order("o1", [("X", 5)])
    assert [fo.location for fo in oms.fulfilment_orders("o1")] == ["c"]
    oms.check_invariants()


def test_minimize_splits_beats_the_greedy_cover_where_greedy_is_wrong():
    # Greedy by units covered takes x first (6 units) and then needs y and z too.
    view = View(
        [loc("x", priority=0), loc("y", priority=1), loc("z", priority=2)],
        {("A", "x"): 3, ("B", "x"): 3, ("A", "y"): 4, ("B", "z"): 4},
    )
    order = request(("A", 4), ("B", 4))
    assert MinimizeSplits().plan(order, view).shipments == 2
    assert MinimizeSplits(exact_up_to=0).plan(order, view).shipments == 3


def test_fallback_uses_the_first_strategy_that_sources_everything():
    from omsims.sourcing import Fallback

    view = View(
        [loc("near", coordinates=BERLIN, priority=2), loc("far", coordinates=MUNICH, priority=1)],
        {("X", "near"): 1, ("X", "far"): 5},
    )
    one_parcel_nearby = Nearest(fill=Fill(max_shipments=1, complete=True))
    plan = Fallback(one_parcel_nearby, Ranked()).plan(request(("X", 2), destination=BERLIN), view)
    assert placed(plan) == [(1, "far", 2, False)]
    text = plan.explain()
    assert "nearest leaves 2 units unfilled" in text
    assert "ranked sources every unit: its plan is used" in text
    plan = Fallback(one_parcel_nearby, Ranked()).plan(request(("X", 1), destination=BERLIN), view)
    assert placed(plan) == [(1, "near", 1, False)]


def test_capacity_aware_skips_or_penalises_locations_at_their_daily_capacity():
    from datetime import UTC, datetime

    from omsims import Location, ManualClock, Oms
    from omsims.sourcing import CapacityAware

    clock = ManualClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    oms = Oms(clock=clock, strategy=CapacityAware())
    oms.add_location(Location("busy-store", priority=1, daily_capacity=1))
    oms.add_location(Location("dc", priority=2))
    for name in ("busy-store", "dc"):
        oms.receive("X", name, 10)
    oms.place_order("o1", [("X", 1)])
    oms.accept(oms.fulfilment_orders("o1")[0].id)  # busy-store's one order for today
    plan = oms.plan([("X", 1)])
    assert [a.location for a in plan.allocations] == ["dc"]
    assert "dropped busy-store: capacity: no capacity left today" in plan.explain()
    penalised = CapacityAware(penalise=True)
    oms.strategy = penalised
    assert [a.location for a in oms.plan([("X", 11)]).allocations] == ["dc", "busy-store"]
    clock.advance(days=1)  # capacity resets with the day
    oms.strategy = CapacityAware()
    assert [a.location for a in oms.plan([("X", 1)]).allocations] == ["busy-store"]
