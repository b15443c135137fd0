"""Replenishment: policies, proposals, demand history, ATP, reports, and the Oms commands."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from omsims import Location, ManualClock, Oms, RecordingNotifier, StockLevel
from omsims.errors import (
    IdempotencyConflict,
    InvalidParameter,
    InvalidTime,
    UnknownLocation,
    UnknownSku,
)
from omsims.replenishment import (
    AvailableToPromise,
    Forecast,
    LeadTime,
    MinMax,
    MovingAverage,
    PeriodicReview,
    Proposal,
    ProposalKind,
    ReorderPoint,
    ReviewLimits,
    Rule,
    Rules,
    Supplier,
    demand_history,
    inventory_position,
    plan_replenishment,
    safety_stock,
    service_factor,
)

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday


def given(level: float, sigma: float = 0.0) -> Forecast:
    return Forecast("given", level=level, sigma=sigma)


# -- policies ------------------------------------------------------------------------


def test_safety_stock_is_z_times_the_combined_deviation():
    # d = 10/day, sigma_d = 3, L = 4 +- 1 days, 95 %: z * sqrt(4 * 9 + 100 * 1)
    ss = safety_stock(given(10, 3), LeadTime(4, sd=1), 0.95)
    assert ss == pytest.approx(1.6449 * math.sqrt(36 + 100), rel=1e-4)
    # Nothing varies: nothing to keep.
    assert safety_stock(given(10), LeadTime(4), 0.99) == 0
    # A higher service level keeps more, by the ratio of the two z values.
    higher = safety_stock(given(10, 3), LeadTime(4, sd=1), 0.99)
    assert higher == pytest.approx(ss * 2.3263 / 1.6449, rel=1e-4)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, math.nan, True, "0.9"])
def test_a_service_level_outside_zero_to_one_is_refused(level):
    with pytest.raises(InvalidParameter, match="service level"):
        service_factor(level)
    with pytest.raises(InvalidParameter):
        MinMax(service_level=level)


@pytest.mark.parametrize("days", [-1, -0.5, math.inf, math.nan, 10**6, "7", True])
def test_a_negative_or_absurd_lead_time_is_refused(days):
    with pytest.raises(InvalidParameter, match="lead time"):
        LeadTime(days)
    with pytest.raises(InvalidParameter, match="lead time"):
        LeadTime(3, sd=days)


def test_supplier_rules_are_validated():
    with pytest.raises(InvalidParameter, match="multiple"):
        Supplier("acme", multiple=0)
    with pytest.raises(InvalidParameter, match="minimum"):
        Supplier("acme", minimum=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="LeadTime"):
        Supplier("acme", lead_times={"dc": 3})  # type: ignore[dict-item]


def test_supplier_rounding_respects_minimum_multiple_and_cap():
    s = Supplier("acme", minimum=20, multiple=6)
    assert s.round(0) == 0
    assert s.round(1) == 24  # raised to the minimum, then to a multiple
    assert s.round(25) == 30
    assert s.round(25, cap=29) == 24
    assert s.round(25, cap=23) == 0  # a multiple under the cap is below the minimum


def test_reorder_point_computed_from_the_forecast():
    levels = ReorderPoint(cover_days=10).levels(given(4, 2), LeadTime(9))
    ss = math.ceil(1.6449 * 2 * 3)  # z * sigma * sqrt(9)
    assert levels.safety_stock == ss
    assert levels.reorder_point == 36 + ss
    assert levels.quantity == 40
    assert levels.demand == pytest.approx(36)


def test_reorder_point_orders_multiples_of_q_until_above_s():
    policy = ReorderPoint(quantity=10, reorder_point=5)
    levels = policy.levels(given(1), LeadTime(1))
    assert [policy.raw_need(p, levels, day_number=0) for p in (6, 5, 0, -5, -6)] == [
        0,
        10,
        10,
        20,
        20,
    ]


def test_min_max_orders_up_to_max():
    policy = MinMax(minimum=3, maximum=12)
    levels = policy.levels(given(1), LeadTime(1))
    assert (levels.reorder_point, levels.order_up_to, levels.maximum) == (3, 12, 12)
    assert policy.raw_need(3, levels, day_number=0) == 9
    assert policy.raw_need(4, levels, day_number=0) == 0


def test_periodic_review_orders_only_on_review_days():
    policy = PeriodicReview(review_days=7, offset=3, up_to=20)
    levels = policy.levels(given(1), LeadTime(2))
    days = [d for d in range(14) if policy.raw_need(5, levels, day_number=d)]
    assert days == [3, 10]
    # Computed S covers review period plus lead time.
    computed = PeriodicReview(review_days=7).levels(given(2), LeadTime(3))
    assert computed.order_up_to == 20  # 2/day over 10 days, no variability
    assert computed.reorder_point is None


def test_inventory_position_counts_every_bucket():
    level = StockLevel(
        "A", "l", on_hand=20, committed=5, reserved=2, unavailable=1, safety_stock=2,
        incoming=7, backordered=3,
    )  # fmt: skip
    assert inventory_position(level) == 20 - 5 - 2 - 1 - 2 + 7 - 3


# -- proposals -----------------------------------------------------------------------


def test_a_short_position_gets_a_purchase_with_its_reason_and_due_date():
    stock = [StockLevel("MUG", "dc", on_hand=5, incoming=2)]
    rule = Rule(ReorderPoint(quantity=24, reorder_point=10), Supplier("acme", LeadTime(3.5)))
    plan = plan_replenishment(stock, {}, rule, now=NOW)
    [p] = plan.proposals
    assert (p.kind, p.sku, p.location, p.quantity, p.supplier) == (
        ProposalKind.PURCHASE,
        "MUG",
        "dc",
        24,
        "acme",
    )
    assert p.due == NOW + timedelta(days=4)  # lead times round up to whole days
    assert "inventory position 7 is at or below its reorder point 10" in p.reason
    assert p.id == "buy/2026-03-02/MUG/dc"
    assert plan.positions[("MUG", "dc")] == 7


def test_no_proposal_when_the_position_is_above_its_trigger():
    stock = [StockLevel("MUG", "dc", on_hand=11)]
    plan = plan_replenishment(
        stock, {}, Rule(MinMax(minimum=10, maximum=20), Supplier("a")), now=NOW
    )
    assert plan.proposals == ()
    assert str(plan) == "nothing to propose"


def test_surplus_moves_to_short_locations_before_anything_is_bought():
    stock = [
        StockLevel("MUG", "north", on_hand=50),
        StockLevel("MUG", "east", on_hand=28),
        StockLevel("MUG", "store", on_hand=0),
        StockLevel("MUG", "shop", on_hand=1),
    ]
    rule = Rule(MinMax(minimum=5, maximum=20), Supplier("acme", multiple=10))
    plan = plan_replenishment(stock, {}, rule, now=NOW)
    moves = [(p.from_location, p.location, p.quantity) for p in plan.transfers]
    # Most urgent first (store is at 0), largest surplus first (north: 30, east: 8).
    assert moves == [("north", "store", 20), ("north", "shop", 10), ("east", "shop", 8)]
    assert plan.purchases == []  # shop reaches 19 > its minimum: no purchase needed
    assert plan.outgoing("MUG", "north") == 30  # north keeps its order-up-to 20


def test_what_transfers_cannot_cover_is_bought():
    stock = [StockLevel("MUG", "north", on_hand=23), StockLevel("MUG", "store", on_hand=0)]
    rule = Rule(MinMax(minimum=5, maximum=20), Supplier("acme"))
    plan = plan_replenishment(stock, {}, rule, now=NOW)
    assert [(p.kind.value, p.location, p.quantity) for p in plan.proposals] == [
        ("move", "store", 3),
        ("buy", "store", 17),
    ]
    assert "(+3 by transfer)" in plan.purchases[0].reason


def test_transfers_can_be_turned_off():
    stock = [StockLevel("MUG", "north", on_hand=50), StockLevel("MUG", "store", on_hand=0)]
    rule = Rule(MinMax(minimum=5, maximum=20), Supplier("acme"))
    plan = plan_replenishment(stock, {}, rule, now=NOW, transfers=False)
    assert [p.kind for p in plan.proposals] == [ProposalKind.PURCHASE]


def test_a_minimum_order_that_would_pass_the_maximum_is_skipped_with_a_reason():
    stock = [StockLevel("MUG", "dc", on_hand=8)]
    rule = Rule(MinMax(minimum=10, maximum=15), Supplier("acme", minimum=12))
    plan = plan_replenishment(stock, {}, rule, now=NOW)
    assert plan.proposals == ()
    [skip] = plan.skipped
    assert "minimum 12" in skip.reason
    assert "maximum 15" in skip.reason


def test_without_a_supplier_a_short_position_is_reported_not_bought_for():
    plan = plan_replenishment([StockLevel("MUG", "dc")], {}, MinMax(minimum=1, maximum=5), now=NOW)
    assert plan.proposals == ()
    assert "no supplier" in plan.skipped[0].reason


def test_rules_per_position_then_sku_then_default():
    a, b, c = Rule(MinMax()), Rule(ReorderPoint()), Rule(PeriodicReview())
    book = Rules(a, skus={"MUG": b}, positions={("MUG", "dc"): c})
    assert book.for_position("MUG", "dc") is c
    assert book.for_position("MUG", "store") is b
    assert book.for_position("CAP", "dc") is a
    assert Rules().for_position("CAP", "dc") is None
    with pytest.raises(InvalidParameter, match="rules"):
        Rules("min-max")  # type: ignore[arg-type]


def test_forecast_drives_computed_levels():
    history = {("MUG", "dc"): [3] * 28}
    stock = [StockLevel("MUG", "dc", on_hand=10)]
    rule = Rule(MinMax(cover_days=10), Supplier("acme", LeadTime(5)), MovingAverage(7))
    plan = plan_replenishment(stock, history, rule, now=NOW)
    levels = plan.levels[("MUG", "dc")]
    assert (levels.reorder_point, levels.order_up_to) == (15, 45)
    assert plan.proposals[0].quantity == 35


def test_network_wide_stock_is_refused():
    with pytest.raises(InvalidParameter, match="per location"):
        plan_replenishment([StockLevel("MUG", None)], {}, MinMax(), now=NOW)


def test_a_naive_now_is_refused():
    with pytest.raises(InvalidTime):
        plan_replenishment([], {}, MinMax(), now=datetime(2026, 3, 2))  # noqa: DTZ001


# -- demand history --------------------------------------------------------------------


def test_history_counts_shipments_per_day_and_flags_stock_out_days():
    oms, clock = _oms()
    oms.receive("MUG", "dc", 2)
    for _ in range(3):
        clock.advance(days=1)
        oms.place_order(f"o{clock.now():%d}", [("MUG", 1)])
        for fo in oms.fulfilment_orders(f"o{clock.now():%d}"):
            if fo.lines[0].quantity - fo.lines[0].backordered:
                oms.accept(fo.id)
                oms.ship(fo.id)
    clock.advance(days=1)
    history = oms.demand_history(days=4)
    assert history.units[("MUG", "dc")] == [0, 1, 1, 0]
    # Day 2 ended with nothing free; day 3 had nothing to sell at all.
    assert sorted(history.stockouts[("MUG", "dc")]) == [2, 3]
    assert history.series("MUG", "dc") == [0, 1]
    assert history.series("MUG", "dc", skip_stockouts=False) == [0, 1, 1, 0]


@pytest.mark.parametrize("days", [0, -1, 10**6, 10**10, 1.5, True])
def test_a_history_window_must_be_whole_days_in_range(days):
    with pytest.raises(InvalidParameter):
        demand_history([], start=date(2026, 1, 1), days=days)
    oms, _ = _oms()
    with pytest.raises(InvalidParameter):
        oms.demand_history(days=days)
    with pytest.raises(InvalidParameter):
        oms.stock_report(days=days)


# -- ATP -----------------------------------------------------------------------------


def test_atp_adds_unclaimed_supply_on_the_day_it_is_due():
    oms, clock = _oms()
    oms.configure_position("MUG", "dc", allow_backorders=True)
    oms.expect("MUG", "dc", 10, eta=clock.now() + timedelta(days=3))
    oms.expect("MUG", "dc", 5, eta=clock.now() + timedelta(days=5))
    oms.place_order("o1", [("MUG", 4)])  # backordered: claims 4 of the first arrival
    atp = oms.available_to_promise("MUG", "dc", days=7)
    assert [n for _, n in atp.rows()] == [0, 0, 0, 6, 6, 11, 11]
    assert atp.earliest(6) == (clock.now() + timedelta(days=3)).date()
    assert atp.earliest(12) is None
    assert atp.total == 11


def test_network_atp_is_the_sum_of_its_locations():
    oms, clock = _oms()
    oms.add_location(Location("store"))
    oms.receive("MUG", "dc", 3)
    oms.receive("MUG", "store", 2)
    oms.expect("MUG", "store", 4, eta=clock.now() + timedelta(days=1))
    atp = oms.available_to_promise("MUG", days=3)
    assert atp.location is None
    assert [n for _, n in atp.rows()] == [5, 9, 9]


def test_atp_refuses_unknown_skus_and_locations():
    oms, _ = _oms()
    with pytest.raises(UnknownSku):
        oms.available_to_promise("NOPE")
    oms.receive("MUG", "dc", 1)
    with pytest.raises(UnknownLocation):
        oms.available_to_promise("MUG", "nowhere")


def test_late_supply_counts_from_today():
    atp = AvailableToPromise.build(
        "A", "l", available=1, arrivals=[(NOW - timedelta(days=2), 3)], start=NOW.date(), days=2
    )
    assert atp.rows()[0][1] == 4


def test_a_backorder_is_promised_the_date_of_the_supply_that_covers_it():
    oms, clock = _oms()
    oms.configure_position("MUG", "dc", allow_backorders=True)
    eta = clock.now() + timedelta(days=4)
    oms.expect("MUG", "dc", 10, eta=eta)
    oms.place_order("pre-1", [("MUG", 2)])  # a preorder: nothing on hand yet
    [fo] = oms.fulfilment_orders("pre-1")
    assert fo.lines[0].backordered == 2
    assert fo.lines[0].promised == eta
    [supply] = oms.incoming("MUG", "dc")
    clock.advance(days=4)
    oms.receive_expected(supply.source)
    [fo] = oms.fulfilment_orders("pre-1")
    assert fo.lines[0].backordered == 0  # filled first-in-first-out on arrival


# -- the Oms commands ----------------------------------------------------------------


def _oms() -> tuple[Oms, ManualClock]:
    clock = ManualClock(NOW)
    oms = Oms(clock=clock, notifier=RecordingNotifier())
    oms.add_location(Location("dc"))
    oms.add_sku("MUG")
    return oms, clock


def test_approving_a_purchase_posts_expected_supply_once():
    oms, _ = _oms()
    oms.receive("MUG", "dc", 2)
    plan = oms.plan_replenishment(Rule(MinMax(minimum=5, maximum=20), Supplier("acme")))
    [buy] = plan.proposals
    line = oms.approve_proposal(buy)
    assert oms.approve_proposal(buy) == line  # keyed by the proposal's id
    assert oms.stock("MUG", "dc").incoming == 18
    assert line.reference == buy.id
    assert line.eta == buy.due
    # The next plan sees the incoming supply and proposes nothing more.
    assert (
        oms.plan_replenishment(Rule(MinMax(minimum=5, maximum=20), Supplier("a"))).proposals == ()
    )
    # Received in part, then the rest cancelled.
    oms.receive_expected(line.id, 10)
    oms.cancel_expected(line.id)
    assert (oms.stock("MUG", "dc").on_hand, oms.stock("MUG", "dc").incoming) == (12, 0)
    oms.check_invariants()


def test_approving_a_transfer_sends_the_units():
    oms, _ = _oms()
    oms.add_location(Location("store"))
    oms.receive("MUG", "dc", 40)
    oms.receive("MUG", "store", 1)
    plan = oms.plan_replenishment(Rule(MinMax(minimum=5, maximum=20), Supplier("acme")))
    [move] = plan.proposals
    assert move.kind is ProposalKind.TRANSFER
    t = oms.approve_proposal(move)
    assert (oms.stock("MUG", "dc").on_hand, oms.stock("MUG", "store").incoming) == (21, 19)
    oms.receive_transfer(t.id)
    assert oms.stock("MUG", "store").on_hand == 20


def test_the_same_proposal_id_with_another_quantity_is_a_conflict():
    oms, _ = _oms()
    oms.receive("MUG", "dc", 1)
    plan = oms.plan_replenishment(Rule(MinMax(minimum=5, maximum=20), Supplier("acme")))
    [buy] = plan.proposals
    oms.approve_proposal(buy)
    import attrs

    with pytest.raises(IdempotencyConflict):
        oms.approve_proposal(attrs.evolve(buy, quantity=3))


@pytest.mark.parametrize(
    ("sku", "location", "error"),
    [("GHOST", "dc", UnknownSku), ("MUG", "nowhere", UnknownLocation)],
)
def test_a_proposal_for_an_unknown_sku_or_location_writes_nothing(sku, location, error):
    oms, _ = _oms()
    before = (len(oms.entries()), len(oms.published_events))
    bad = Proposal("buy/x", ProposalKind.PURCHASE, sku, location, 5, NOW, "test", supplier="a")
    with pytest.raises(error):
        oms.approve_proposal(bad)
    assert (len(oms.entries()), len(oms.published_events)) == before
    assert oms.skus() == ["MUG"]


def test_a_transfer_proposal_from_an_unknown_location_writes_nothing():
    oms, _ = _oms()
    bad = Proposal("move/x", ProposalKind.TRANSFER, "MUG", "dc", 5, NOW, "t", from_location="x")
    with pytest.raises(UnknownLocation):
        oms.approve_proposal(bad)
    assert oms.entries() == []


def test_rules_naming_an_unknown_sku_or_location_are_refused():
    oms, _ = _oms()
    with pytest.raises(UnknownSku):
        oms.plan_replenishment(Rules(skus={"GHOST": Rule(MinMax())}))
    with pytest.raises(UnknownLocation):
        oms.plan_replenishment(Rules(positions={("MUG", "nowhere"): Rule(MinMax())}))


def test_stock_report_and_review_flag_slow_and_excess_stock():
    oms, clock = _oms()
    oms.add_sku("CAP")
    oms.receive("MUG", "dc", 100)
    oms.receive("CAP", "dc", 10)
    for day in range(10):
        oms.place_order(f"o{day}", [("CAP", 1)])
        fo = oms.fulfilment_orders(f"o{day}")[0]
        oms.accept(fo.id)
        oms.ship(fo.id)
        clock.advance(days=1)
    limits = ReviewLimits(slow_days=5, excess_days=30)
    report = oms.stock_report(days=10, limits=limits)
    mug, cap = report.row("MUG", "dc"), report.row("CAP", "dc")
    assert (mug.slow_moving, mug.excess, mug.days_of_cover) == (True, True, None)
    assert (cap.on_hand, cap.slow_moving, cap.excess) == (0, False, False)
    assert cap.daily_demand == 1.0  # every day sold one (the last one left it out of stock)
    assert report.network.slow_moving_units == 100
    events = oms.published_events
    before = len(events)
    oms.review_stock(days=10, limits=limits, idempotency_key="review-1")
    again = oms.review_stock(days=10, limits=limits, idempotency_key="review-1")
    new = list(oms.published_events)[before:]
    assert sorted(e.name for e in new if e.name in {"SlowMoving", "ExcessStock"}) == [
        "ExcessStock",
        "SlowMoving",
    ]
    assert again.row("MUG", "dc") == mug


def test_the_stock_report_values_stock_at_fifo_cost_when_receipts_carry_costs():
    from decimal import Decimal

    from omsims import Money

    oms, _ = _oms()
    oms.receive("MUG", "dc", 10, unit_cost=Money("2.00", "EUR"))
    oms.receive("MUG", "dc", 10, unit_cost=Money("3.00", "EUR"))
    oms.place_order("o1", [("MUG", 15)])
    fo = oms.fulfilment_orders("o1")[0]
    oms.accept(fo.id)
    oms.ship(fo.id)
    report = oms.stock_report(days=7)
    assert report.row("MUG", "dc").value == Decimal("15.00")
    assert report.network.value == Decimal("15.00")
    # Without costs there is no value to show.
    bare, _ = _oms()
    bare.receive("MUG", "dc", 3)
    assert bare.stock_report().row("MUG", "dc").value is None
