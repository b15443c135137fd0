"""Whole simulation runs on generated scenarios: the invariants an analyst relies on.

Each example is a small variation of the bundled tiny network (a few days, a few dozen
orders a day, stock from none to plenty, stores that reject, customers who return or
wait for supply), run through the real core. The properties hold for every scenario
and every seed, not just for the bundled ones.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from omsims import MemoryArchive
from omsims.domain.archive import FINISHED
from omsims.simulation import load_scenario, parse_scenario, simulate

_TINY = load_scenario("tiny").to_dict()
_REPLENISHMENT = load_scenario("replenishment").to_dict()["replenishment"]
_STRATEGIES = ("priority", "nearest", "minimize-splits")


def _runs(n):
    """``n`` examples under the CI profile (60), proportionally more under the others.

    Each example is a whole run or several, so these tests take fewer than the profile's
    default; `HYPOTHESIS_PROFILE=thorough` still runs them thirty times as long.
    """
    return settings(max_examples=max(1, n * settings.default.max_examples // 60))


# The daily table's counters, each the sum over the days of a total's KPI.
_DAILY_TOTALS = {
    "orders": "orders",
    "units_demanded": "units_demanded",
    "units_filled": "units_filled",
    "units_lost": "units_lost",
    "shipments": "shipments",
    "deliveries": "orders_delivered",
    "on_time": "orders_on_time",
    "capacity_breaches": "capacity_breaches",
    "stock_outs": "stock_outs",
}


@st.composite
def scenarios(draw):
    """The tiny network with its horizon, demand, stock, supply and operations drawn."""
    data = {**_TINY}
    horizon = draw(st.integers(1, 4))
    data["horizon_days"] = horizon
    data["demand"] = {
        **_TINY["demand"],
        "orders_per_day": draw(st.floats(1, 60)),
        "on_shortage": draw(st.sampled_from(["lose", "wait"])),
        "delivery": {"ship": draw(st.floats(0.05, 1)), "pickup": draw(st.floats(0, 1))},
    }
    # No cover at all runs the network dry at once; a few days keeps most orders filled.
    data["stock"] = {
        "warehouse_cover_days": draw(st.sampled_from([0, 0.5, 2, 5])),
        "store_cover_days": draw(st.sampled_from([0, 1, 3])),
    }
    data["supply"] = {
        "receipts": [
            {"day": day, "location": location, "cover_days": cover}
            for day, location, cover in draw(
                st.lists(
                    st.tuples(
                        st.integers(0, horizon - 1),
                        st.sampled_from(["berlin-dc", "dortmund-dc", "hamburg-store"]),
                        st.sampled_from([1, 5]),
                    ),
                    max_size=3,
                )
            )
        ]
    }
    data["operations"] = {
        **_TINY["operations"],
        "reject_probability": {"store": draw(st.sampled_from([0, 0.1, 0.5, 1]))},
        "return_rate": draw(st.sampled_from([0, 0.2, 1])),
        "return_days": draw(st.sampled_from([0.5, 2])),
    }
    data["seed"] = draw(st.integers(0, 2**32 - 1))
    return parse_scenario(data)


@st.composite
def replenished_scenarios(draw):
    """Generated scenarios whose warehouses are replenished by a drawn policy.

    Lead times of a few days at most, so purchases and transfers arrive within a short
    horizon and waiting customers are sourced from them.
    """
    data = draw(scenarios()).to_dict()
    data["horizon_days"] = draw(st.integers(3, 8))
    data["supply"] = {"receipts": []}
    section = {**_REPLENISHMENT}
    section["location_kinds"] = draw(st.sampled_from([["warehouse"], ["warehouse", "store"]]))
    section["transfers"] = draw(st.booleans())
    section["transfer_lead_time_days"] = draw(st.sampled_from([0.5, 1, 2]))
    section["supplier"] = {
        **_REPLENISHMENT["supplier"],
        "lead_time_days": draw(st.sampled_from([0.5, 1, 3])),
        "lead_time_sd": draw(st.sampled_from([0, 1])),
        "minimum": draw(st.sampled_from([1, 5])),
        "multiple": draw(st.sampled_from([1, 4])),
    }
    data["replenishment"] = section
    return parse_scenario(data)


def _placed(result):
    """The demand a run saw: every order's arrival, units and delivery method."""
    return [row for row in result.events.rows if row[1] == "placed"]


@_runs(25)
@given(scenarios(), st.permutations(_STRATEGIES))
def test_every_strategy_meets_the_same_demand_and_a_seed_gives_the_same_run(scenario, order):
    first, second, *_ = order
    one = simulate(scenario, first)
    other = simulate(scenario, second)
    # Common random numbers: whatever the strategy does, the same customers arrive at
    # the same instants wanting the same units.
    assert _placed(one) == _placed(other)
    assert (one.kpis.orders, one.kpis.units_demanded) == (
        other.kpis.orders,
        other.kpis.units_demanded,
    )
    again = simulate(scenario, first)
    assert (again.kpis, again.daily.rows, again.events.rows) == (
        one.kpis,
        one.daily.rows,
        one.events.rows,
    )


@_runs(30)
@given(scenarios(), st.sampled_from(_STRATEGIES))
def test_every_unit_demanded_is_filled_lost_or_still_waiting_and_stock_is_the_ledgers(
    scenario, strategy
):
    result = simulate(scenario, strategy, keep_oms=True)
    k, oms = result.kpis, result.oms
    assert oms is not None
    oms.check_invariants()  # every cached balance equals a replay of the ledger

    waiting = sum(ln.unallocated for order in oms.orders() for ln in order.lines)
    assert k.units_demanded == k.units_filled + k.units_lost + waiting
    if scenario.demand.on_shortage == "lose":
        assert waiting == 0
    else:
        assert k.units_lost == 0
        assert k.units_backordered >= waiting
    assert k.orders == len(oms.orders())

    on_hand = sum(oms.stock(sku, location).on_hand for sku, location in oms.positions())
    assert k.stock_units_end == on_hand == result.daily.column("stock_units")[-1]
    # The run goes on past the horizon until the last order is finished; stock is held
    # (and costs) over the horizon's days.
    held = result.daily.column("stock_units")
    assert k.days == scenario.horizon_days <= len(held)
    assert k.stock_units_days == sum(held[: k.days])

    for column, total in _DAILY_TOTALS.items():
        assert sum(result.daily.column(column)) == getattr(k, total), column

    # The event log tells the same story: units sent to locations, less those sent back
    # by a rejection, are the units filled; a parcel or a pickup per delivered order.
    units = dict.fromkeys(("sourced", "rejected", "placed"), 0)
    for row in result.events.rows:
        if row[1] in units:
            units[row[1]] += row[5]
    assert units["placed"] == k.units_demanded
    assert units["sourced"] - units["rejected"] == k.units_filled
    finished = {row[2] for row in result.events.rows if row[1] in ("delivered", "collected")}
    assert len(finished) >= k.orders_delivered


@_runs(30)
@given(scenarios(), st.sampled_from(_STRATEGIES))
def test_the_kpis_are_counts_within_their_bounds_and_rates_within_zero_and_one(scenario, strategy):
    k = simulate(scenario, strategy, keep_events=False).kpis
    assert 0 <= k.orders_filled_complete <= k.orders
    assert 0 <= k.orders_on_time <= k.orders_delivered <= k.orders
    assert 0 <= k.orders_split <= k.orders_delivered
    assert 0 <= k.units_filled <= k.units_demanded
    assert 0 <= k.units_lost <= k.units_demanded
    assert k.stock_outs >= k.orders - k.orders_filled_complete  # a line short each
    if dict(scenario.operations.reject_probability).get("store", 0) == 0:
        # Without rejections every unsourced unit met a stock-out when it was placed.
        assert (k.stock_outs > 0) == (k.units_lost + k.units_backordered > 0)
        assert k.rejections == 0
    assert k.shipping_cost >= 0
    assert k.distance_km >= 0
    assert k.holding_cost >= 0
    for rate in (k.fill_rate, k.order_fill_rate, k.split_rate):
        assert 0 <= rate <= 1
    if scenario.operations.return_rate == 0:
        assert k.units_returned == 0


@_runs(20)
@given(scenarios(), st.sampled_from(_STRATEGIES))
def test_archiving_finished_orders_changes_no_number_and_keeps_only_open_orders(scenario, strategy):
    plain = simulate(scenario, strategy)
    archive = MemoryArchive()
    archived = simulate(scenario, strategy, keep_oms=True, archive=archive)
    assert archived.kpis == plain.kpis
    assert archived.daily.rows == plain.daily.rows
    assert archived.events.rows == plain.events.rows
    oms = archived.oms
    assert oms is not None
    oms.check_invariants()
    live = oms.orders()
    assert all(order.status not in FINISHED for order in live)
    assert len(live) + len(archive) == plain.kpis.orders
    placed = {row[2] for row in _placed(plain)}
    kept = {order.id for order in live}
    assert kept <= placed
    for order_id in sorted(placed - kept):
        assert oms.archived_order(order_id).order.status in FINISHED


def test_the_generated_scenarios_reach_the_cases_the_properties_are_about():
    # Guards against a generator that never runs the network dry, never waits for supply
    # or never sees a rejection: then the properties above would hold vacuously.
    seen = set()

    @settings(max_examples=40, database=None, derandomize=True)
    @given(scenarios(), st.sampled_from(_STRATEGIES))
    def run(scenario, strategy):
        k = simulate(scenario, strategy, keep_events=False).kpis
        seen.update(
            name
            for name, happened in (
                ("lost", k.units_lost > 0),
                ("backordered", k.units_backordered > 0),
                ("rejected", k.rejections > 0),
                ("returned", k.units_returned > 0),
                ("split", k.orders_split > 0),
                ("received", k.units_received > 0),
            )
            if happened
        )

    run()
    assert seen == {"lost", "backordered", "rejected", "returned", "split", "received"}


@_runs(25)
@example(load_scenario("replenishment"), "nearest", None)  # three weeks: it moves stock too
@given(
    replenished_scenarios(),
    st.sampled_from(_STRATEGIES),
    st.sampled_from([None, "lean", "safe", "weekly"]),
)
def test_replenishment_buys_and_moves_only_what_the_event_log_and_the_ledger_show(
    scenario, strategy, policy
):
    result = simulate(scenario, strategy, policy=policy, keep_oms=True)
    k, oms = result.kpis, result.oms
    assert oms is not None
    oms.check_invariants()
    waiting = sum(ln.unallocated for order in oms.orders() for ln in order.lines)
    assert k.units_demanded == k.units_filled + k.units_lost + waiting

    units: dict[str, int] = {}
    count: dict[str, int] = {}
    for row in result.events.rows:
        units[row[1]] = units.get(row[1], 0) + row[5]
        count[row[1]] = count.get(row[1], 0) + 1
    assert (k.purchase_orders, k.units_ordered) == (
        count.get("purchase", 0),
        units.get("purchase", 0),
    )
    assert (k.transfers, k.units_transferred) == (
        count.get("transfer", 0),
        units.get("transfer", 0),
    )
    arrived_purchases = sum(
        row[5] for row in result.events.rows if row[1] == "arrived" and row[6] == "purchase"
    )
    # Purchases arrive in full, some after the run ends; nothing else is received.
    assert k.units_received == arrived_purchases <= k.units_ordered
    moved = sum(row[5] for row in result.events.rows if row[6].startswith("transfer from "))
    assert moved <= k.units_transferred  # some may still be on the road when the run ends
    if not scenario.replenishment.transfers:
        assert k.transfers == 0
    on_hand = sum(oms.stock(sku, location).on_hand for sku, location in oms.positions())
    assert k.stock_units_end == on_hand
