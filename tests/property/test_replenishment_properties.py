"""Replenishment properties: caps hold, donors keep their level, ATP grows and is bounded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from omsims import Location, ManualClock, Oms, StockLevel
from omsims.replenishment import (
    LeadTime,
    MinMax,
    MovingAverage,
    PeriodicReview,
    ReorderPoint,
    Rule,
    Rules,
    Supplier,
    demand_history,
    inventory_position,
    plan_replenishment,
)

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
LOCATIONS = ["l0", "l1", "l2", "l3"]
SKUS = ["A", "B"]


@st.composite
def policies(draw: st.DrawFn) -> ReorderPoint | MinMax | PeriodicReview:
    kind = draw(st.sampled_from(["sq", "ss", "rs", "computed-ss", "computed-rs"]))
    level = draw(st.sampled_from([0.5, 0.9, 0.99]))
    if kind == "sq":
        s = draw(st.integers(0, 30))
        q = draw(st.integers(1, 40))
        cap = draw(st.none() | st.integers(s, s + 60))
        return ReorderPoint(quantity=q, reorder_point=s, maximum=cap, service_level=level)
    if kind == "ss":
        s = draw(st.integers(0, 30))
        return MinMax(minimum=s, maximum=draw(st.integers(s + 1, s + 60)), service_level=level)
    if kind == "rs":
        return PeriodicReview(review_days=draw(st.integers(1, 3)), up_to=draw(st.integers(1, 60)))
    if kind == "computed-ss":
        return MinMax(cover_days=draw(st.integers(1, 30)), service_level=level)
    return PeriodicReview(review_days=draw(st.integers(1, 7)), service_level=level)


suppliers = st.builds(
    Supplier,
    st.just("acme"),
    st.builds(LeadTime, st.integers(0, 10), st.sampled_from([0.0, 1.5])),
    minimum=st.integers(1, 12),
    multiple=st.integers(1, 12),
)


@st.composite
def levels(draw: st.DrawFn, sku: str, location: str) -> StockLevel:
    on_hand = draw(st.integers(0, 80))
    committed = draw(st.integers(0, on_hand))
    reserved = draw(st.integers(0, on_hand - committed))
    return StockLevel(
        sku,
        location,
        on_hand=on_hand,
        committed=committed,
        reserved=reserved,
        incoming=draw(st.integers(0, 30)),
        backordered=draw(st.integers(0, 10)),
        safety_stock=draw(st.integers(0, 3)),
    )


@st.composite
def networks(draw: st.DrawFn) -> tuple[list[StockLevel], dict, Rules]:
    stock, history, positions = [], {}, {}
    for sku in SKUS:
        for loc in draw(st.lists(st.sampled_from(LOCATIONS), min_size=1, max_size=4, unique=True)):
            stock.append(draw(levels(sku, loc)))
            history[(sku, loc)] = draw(st.lists(st.integers(0, 9), min_size=1, max_size=40))
            positions[(sku, loc)] = Rule(
                draw(policies()), draw(st.none() | suppliers), MovingAverage(7)
            )
    return stock, history, Rules(positions=positions)


@given(networks(), st.booleans(), st.integers(0, 6))
def test_proposals_never_push_a_position_past_its_max(network, transfers, day):
    stock, history, rules = network
    now = NOW + timedelta(days=day)
    plan = plan_replenishment(stock, history, rules, now=now, transfers=transfers)
    by_key = {(s.sku, s.location): s for s in stock}
    for (sku, loc), lv in plan.levels.items():
        ip = inventory_position(by_key[(sku, loc)])
        received = plan.incoming(sku, loc)
        sent = plan.outgoing(sku, loc)
        if lv.maximum is not None and received:
            assert ip + received <= lv.maximum, (sku, loc, ip, received, lv)
        if sent:
            level = by_key[(sku, loc)]
            assert not received
            assert sent <= level.free - level.safety_stock  # only free units move
            target = lv.order_up_to if lv.order_up_to is not None else lv.maximum
            if target is None:
                target = (lv.reorder_point or 0) + (lv.quantity or 0)
            assert ip - sent >= target  # a donor keeps its own order-up-to level
    for p in plan.proposals:
        assert p.quantity > 0
        assert p.due >= now
        if p.supplier is not None:
            rule = rules.for_position(p.sku, p.location)
            assert rule is not None
            assert rule.supplier is not None
            assert p.quantity % rule.supplier.multiple == 0
            assert p.quantity >= rule.supplier.minimum


@given(networks())
def test_planning_is_deterministic_and_ignores_the_order_of_its_input(network):
    stock, history, rules = network
    a = plan_replenishment(stock, history, rules, now=NOW)
    b = plan_replenishment(list(reversed(stock)), history, rules, now=NOW)
    assert a.proposals == b.proposals
    assert a.skipped == b.skipped


# -- ATP through a real Oms -----------------------------------------------------------

commands = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.sampled_from(LOCATIONS[:2]), st.integers(1, 5)),
        st.tuples(
            st.just("expect"),
            st.sampled_from(LOCATIONS[:2]),
            st.integers(1, 8),
            st.integers(0, 9),
        ),
        st.tuples(st.just("order"), st.integers(1, 6)),
        st.tuples(st.just("advance"), st.integers(1, 2)),
    ),
    max_size=25,
)


def run(script: list[tuple]) -> tuple[Oms, ManualClock]:
    clock = ManualClock(NOW)
    oms = Oms(clock=clock)
    for loc in LOCATIONS[:2]:
        oms.add_location(Location(loc))
    oms.add_sku("A")
    for loc in LOCATIONS[:2]:
        oms.configure_position("A", loc, allow_backorders=True)
    for n, step in enumerate(script):
        match step:
            case ("receive", loc, q):
                oms.receive("A", loc, q)
            case ("expect", loc, q, days):
                oms.expect("A", loc, q, eta=clock.now() + timedelta(days=days))
            case ("order", q):
                oms.place_order(f"o{n}", [("A", q)])
            case ("advance", days):
                clock.advance(days=days)
    return oms, clock


@given(commands, st.sampled_from([None, "l0", "l1"]))
def test_atp_never_falls_as_days_pass_and_never_exceeds_stock_plus_supply(script, where):
    oms, _ = run(script)
    atp = oms.available_to_promise("A", where, days=14)
    rows = [n for _, n in atp.rows()]
    assert rows == sorted(rows)
    assert rows[0] >= oms.available("A", where) == atp.available  # plus what is due today
    level = oms.stock("A", where)
    assert 0 <= rows[-1] <= atp.total <= level.on_hand + level.incoming
    # What ATP promises beyond today is what no backorder has claimed.
    assert atp.total - atp.available <= max(0, level.incoming - level.backordered)


@given(commands)
def test_the_earliest_promise_date_can_deliver_it(script):
    oms, _clock = run(script)
    atp = oms.available_to_promise("A", days=14)
    for units in (1, 5, 20):
        day = atp.earliest(units)
        if day is not None:
            assert atp.on(day) >= units
            assert day == atp.start or atp.on(day - timedelta(days=1)) < units


@given(commands)
def test_demand_history_counts_every_unit_shipped_in_its_window(script):
    oms, _clock = run(script)
    for order in oms.orders():
        for fo in oms.fulfilment_orders(order.id):
            if fo.status.value == "open" and all(line.backordered == 0 for line in fo.lines):
                oms.accept(fo.id)
                oms.ship(fo.id)
    entries = oms.entries()
    start = NOW.date() - timedelta(days=1)
    history = demand_history(entries, start=start, days=30)
    shipped = sum(e.quantity for e in entries if e.kind.value == "shipped")
    assert sum(sum(u) for u in history.units.values()) == shipped
    for key, out in history.stockouts.items():
        assert all(0 <= d < 30 for d in out)
        assert len(history.series(*key)) <= 30
    assert history.start == start
    assert isinstance(history.start, date)
