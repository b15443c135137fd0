"""The testing kit: it catches buggy rules, its strategies are valid and shrink, its checks fire."""

import importlib.util
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from omsims import GeoPoint, Location, Money, Oms
from omsims.adapters.carriers import FakeCarrier
from omsims.errors import InvariantViolation
from omsims.sourcing import (
    Allocation,
    Explanation,
    MinimizeSplits,
    Nearest,
    PriorityStrategy,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
)
from omsims.testing import strategies as kit
from omsims.testing.differential import check_no_worse, cost, differential
from omsims.testing.invariants import (
    BrokenInvariant,
    CheckedStrategy,
    check_ledger,
    check_oms,
    check_order,
    check_plan,
)
from omsims.testing.machine import OmsMachine
from omsims.testing.network import Network

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICK = settings(max_examples=60, database=None, derandomize=True, deadline=None)
# To show a strategy reaches a case, finding one is enough: no shrinking it.
REACHES = settings(database=None, max_examples=500, phases=[Phase.generate])


def _buggy():
    spec = importlib.util.spec_from_file_location(
        "buggy_strategies", EXAMPLES / "buggy_strategies.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


buggy = _buggy()


# -- the kit catches each deliberately buggy rule, and prints the shrunk case ---------------


@pytest.mark.parametrize(
    ("rule", "invariant", "shrunk"),
    [
        (buggy.PerLineGreedy, "within available", "lines [1: 1 x A, 2: 1 x A]"),
        (buggy.SkipsFullLocations, "within capacity", "lines [1: 1 x A]"),
        (buggy.CoinFlipOnTies, "deterministic", "lines [1: 1 x A]"),
    ],
)
def test_the_kit_catches_each_buggy_rule_with_a_small_counterexample(rule, invariant, shrunk):
    broken = buggy.find_bug(rule())
    assert broken is not None, f"the kit missed the bug in {rule.__name__}"
    print(broken)  # the shrunk counterexample, as a user sees it  # noqa: T201
    assert broken.invariant == invariant
    request = dict(broken.inputs)["request"]
    assert shrunk in request  # shrunk to the fewest lines and units that show the bug
    assert "Location('l2')" not in dict(broken.inputs)["network"]  # and two locations at most


def test_the_buggy_rules_pass_what_they_do_not_break():
    # Each bug is specific: the oversell shows only when two lines share a SKU.
    case = kit.SourcingCase(
        SourcingRequest("o1", (RequestLine(1, "A", 1), RequestLine(2, "B", 1)), kit.EPOCH),
        Network([Location("l0")], {("A", "l0"): 1, ("B", "l0"): 1}),
    )
    plan = buggy.PerLineGreedy().plan(case.request, case.network)
    check_plan(plan, case.request, case.network, channels=False)


# -- the checks fire, naming the invariant ---------------------------------------------------

REQ = SourcingRequest(
    "o1",
    (RequestLine(1, "A", 2), RequestLine(2, "B", 1)),
    kit.EPOCH,
    excluded_locations=frozenset({"x"}),
)
NET = Network(
    [
        Location("l0"),
        Location("l1", active=False),
        Location("l2", can_ship=False),
        Location("l3", channels={"pos"}),
        Location("x"),
        Location("l4"),
    ],
    {("A", "l0"): 2, ("B", "l0"): 1, ("A", "l4"): 5, ("B", "l4"): 5},
    backorder_room={("A", "l0"): 1},
    capacity={"l4": 0},
)


def plan_of(*allocations, unfilled=()):
    return SourcingPlan(tuple(allocations), tuple(unfilled), Explanation("hand-made"))


GOOD = plan_of(Allocation(1, "A", "l0", 2), Allocation(2, "B", "l0", 1))


@pytest.mark.parametrize(
    ("plan", "options", "invariant", "why"),
    [
        (plan_of(Allocation(3, "A", "l0", 1)), {}, "well formed", "names line 3"),
        (plan_of(Allocation(1, "B", "l0", 2)), {}, "well formed", "line 1 is A"),
        (plan_of(Allocation(1, "A", "l0", 0)), {}, "well formed", "quantity 0"),
        (plan_of(Allocation(1, "A", "l0", 2)), {}, "accounts for every unit", "line 2"),
        (
            plan_of(Allocation(1, "A", "l0", 2), Allocation(2, "B", "l0", 1), unfilled=[(1, 1)]),
            {},
            "accounts for every unit",
            "allocates 2 and leaves 1",
        ),
        (
            plan_of(Allocation(1, "A", "x", 2), Allocation(2, "B", "l0", 1)),
            {},
            "only eligible locations",
            "excludes",
        ),
        (
            plan_of(Allocation(1, "A", "l1", 2), Allocation(2, "B", "l0", 1)),
            {},
            "only eligible locations",
            "inactive",
        ),
        (
            plan_of(Allocation(1, "A", "l2", 2), Allocation(2, "B", "l0", 1)),
            {},
            "only eligible locations",
            "cannot ship",
        ),
        (
            plan_of(Allocation(1, "A", "l3", 2), Allocation(2, "B", "l0", 1)),
            {},
            "only eligible locations",
            "does not serve 'web'",
        ),
        (
            plan_of(Allocation(1, "A", "nowhere", 2), Allocation(2, "B", "l0", 1)),
            {},
            "only eligible locations",
            "does not have",
        ),
        (
            plan_of(Allocation(1, "A", "l0", 2, backorder=True), Allocation(2, "B", "l0", 1)),
            {},
            "within available",
            "room for 1",
        ),
        (
            plan_of(
                Allocation(1, "A", "l0", 1),
                Allocation(1, "A", "l4", 1),
                Allocation(2, "B", "l0", 1),
            ),
            {"split_lines": False},
            "within split limit",
            "line 1 comes from l0, l4",
        ),
        (
            plan_of(Allocation(1, "A", "l0", 2), Allocation(2, "B", "l4", 1)),
            {"max_shipments": 1},
            "within split limit",
            "2 locations",
        ),
        (
            plan_of(Allocation(1, "A", "l0", 2), Allocation(2, "B", "l4", 1)),
            {"capacity": True},
            "within capacity",
            "l4",
        ),
    ],
)
def test_each_plan_check_names_its_invariant_and_why(plan, options, invariant, why):
    check_plan(GOOD, REQ, NET, **options)  # the good plan passes the same options
    with pytest.raises(BrokenInvariant) as caught:
        check_plan(plan, REQ, NET, **options)
    assert caught.value.invariant == invariant
    assert why in caught.value.why
    assert isinstance(caught.value, AssertionError)  # a test failure to pytest and Hypothesis
    assert "request: order o1, lines [1: 2 x A, 2: 1 x B], channel web, excluding x" in str(
        caught.value
    )


def test_a_strategy_that_returns_something_else_is_caught():
    with pytest.raises(BrokenInvariant, match="not a SourcingPlan"):
        check_plan([("A", "l0", 2)], REQ, NET)


def test_the_oms_with_a_checked_buggy_strategy_refuses_the_order_and_writes_nothing(
    oms: Oms,
):
    oms.strategy = CheckedStrategy(buggy.PerLineGreedy(), channels=False)
    before = (oms.entries(), oms.orders())
    with pytest.raises(BrokenInvariant, match="within available"):
        oms.place_order("o1", [("MUG", 4), ("MUG", 4)])
    assert (oms.entries(), oms.orders()) == before


def test_order_and_ledger_checks_catch_corruption(oms: Oms):
    order = oms.place_order("o1", [("TEE-M", 2)])
    check_order(order)
    order.lines[0].committed = -1
    with pytest.raises(BrokenInvariant, match="order counters add up") as caught:
        check_order(order)
    assert "line 1: a counter is negative (committed -1" in caught.value.why
    assert dict(caught.value.inputs) == {"order": "o1"}
    check_oms(oms)  # the Oms's own order is untouched: queries hand out copies


@given(ledger=kit.ledgers())
@QUICK
def test_generated_ledgers_replay_to_their_balances(ledger):
    check_ledger(ledger)
    for sku, loc in ledger.positions():  # available is clamped at 0; free never is
        assert ledger.balance(sku, loc).free >= 0


def test_the_ledger_check_catches_a_cached_balance_that_drifted():
    ledger = find(kit.ledgers(), lambda led: any(True for _ in led.positions()))
    sku, loc = next(iter(ledger.positions()))
    ledger._positions[sku, loc].on_hand += 1  # corrupt the cache on purpose
    with pytest.raises(BrokenInvariant, match="ledger replays to its balances"):
        check_ledger(ledger)


# -- the strategies generate valid objects, cover every case, and shrink ---------------------


@given(case=kit.sourcing_cases())
@QUICK
def test_generated_cases_are_consistent(case):
    ids = [loc.id for loc in case.network.locations()]
    assert ids == [f"l{i}" for i in range(len(ids))]
    skus = case.network.skus()
    assert skus
    assert len(set(skus)) == len(skus)
    assert all(n > 0 for n in case.network.stock.values())
    assert {s for s, _ in case.network.stock} <= set(skus)
    assert [rl.line for rl in case.request.lines] == list(range(1, len(case.request.lines) + 1))
    assert {rl.sku for rl in case.request.lines} <= set(skus)
    assert case.request.excluded_locations < set(ids)  # never every location


@given(levels=kit.stock_levels(("A", "B"), ("l0", "l1"), units=st.integers(2, 4)))
@QUICK
def test_stock_levels_stay_within_the_positions_and_units_given(levels):
    assert set(levels) <= {("A", "l0"), ("A", "l1"), ("B", "l0"), ("B", "l1")}
    assert all(2 <= n <= 4 for n in levels.values())


def test_strategies_shrink_to_small_readable_examples():
    quiet = settings(database=None)
    assert repr(find(kit.networks(), lambda _: True, settings=quiet)) == "Network([Location('l0')])"
    case = find(kit.sourcing_cases(), lambda _: True, settings=quiet)
    assert case.request.lines == (RequestLine(1, "A", 1),)
    assert find(kit.orders(), lambda _: True, settings=quiet).lines == (("A", 1),)
    assert find(kit.locations(), lambda _: True, settings=quiet) == Location("a", priority=100)
    assert find(kit.skus(), lambda _: True, settings=quiet) == "A"
    # Shrinking drops the locations a failure does not need.
    two = find(
        kit.networks(),
        lambda n: n.available("A", "l1") > 0 and n.capacity.get("l1") == 0,
        settings=settings(database=None, max_examples=2_000),
    )
    assert (
        repr(two)
        == "Network([Location('l0'), Location('l1')], stock={('A', 'l1'): 1}, capacity={'l1': 0})"
    )


@pytest.mark.parametrize(
    "edge",
    [
        lambda n: not n.stock,  # zero stock everywhere
        lambda n: len(n.locations()) == 1,
        lambda n: bool(n.room),  # backorderable positions
        lambda n: 0 in n.capacity.values(),
        lambda n: any(not loc.active for loc in n.locations()),
        lambda n: any(loc.coordinates is None for loc in n.locations()),
    ],
    ids=["no-stock", "one-location", "backorderable", "full", "inactive", "no-coordinates"],
)
def test_networks_reach_every_edge(edge):
    find(kit.networks(), edge, settings=REACHES)


@pytest.mark.parametrize("method", kit.DELIVERY_METHODS)
def test_orders_of_every_delivery_method_place_on_a_real_oms(method, oms: Oms):
    spec = find(
        kit.orders(sku_ids=("TEE-M",), stores=("munich-store",)),
        lambda o: o.method == method,
        settings=REACHES,
    )
    order = spec.place(oms)
    assert order.id == "o1"
    if method == "pickup":
        assert order.pickup_at == "munich-store"
    if method in ("ship", "endless_aisle"):
        assert order.ship_to is not None
    check_oms(oms)


@given(scenario=kit.scenarios(max_days=2, max_orders_per_day=10))
@settings(max_examples=5, database=None, derandomize=True, deadline=None)
def test_generated_scenarios_simulate(scenario):
    from omsims.simulation import simulate

    result = simulate(scenario, "priority", keep_oms=True, progress=False)
    result.oms.check_invariants()
    assert result.kpis.orders == len(result.oms.orders())  # every order went through the Oms


def test_strategies_accept_strategies_for_their_parts():
    net = find(
        kit.networks(location=kit.locations(can_ship=st.just(False)), stock=st.just(7)),
        lambda n: bool(n.stock),
        settings=REACHES,
    )
    assert not any(loc.can_ship for loc in net.locations())
    assert set(net.stock.values()) == {7}
    due = find(kit.networks(incoming=st.just([(2, 5)])), lambda n: bool(n.stock), settings=REACHES)
    pos = next(iter(due.stock))
    assert due.incoming(*pos) == [(kit.EPOCH + timedelta(days=2), 5)]


# -- the state machine ---------------------------------------------------------------------


class OversellingMachine(OmsMachine):
    plan_checks = {"channels": False}  # noqa: RUF012

    def make_strategy(self):
        return buggy.PerLineGreedy()


def test_the_state_machine_catches_a_rule_that_oversells():
    with pytest.raises(BrokenInvariant, match="within available"):
        run_state_machine_as_test(
            OversellingMachine,
            settings=settings(
                max_examples=50,
                stateful_step_count=15,
                database=None,
                derandomize=True,
                deadline=None,
                phases=[p for p in Phase if p is not Phase.explain],
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )


# -- the differential helper -----------------------------------------------------------------


def test_a_strategy_against_itself_differs_nowhere():
    report = differential(Nearest(), Nearest(), kpi="distance", max_examples=50)
    assert (report.cases, report.differing, report.worst) == (50, 0, None)


def test_a_differential_report_adds_up():
    report = differential(PriorityStrategy(), MinimizeSplits(), kpi="shipments", max_examples=200)
    ties = sum(1 for d in report.differences if d.delta == 0)
    assert report.differing == report.b_better + report.b_worse + ties
    assert report.b_better > 0
    assert report.mean_delta == sum(d.delta for d in report.differences) / report.cases
    for d in report.differences:
        assert (d.a.allocations, d.a.unfilled) != (d.b.allocations, d.b.unfilled)
        assert d.a_value == d.a.shipments
    assert str(report).startswith("priority (a) against minimize splits (b) on shipments")


def test_cost_is_a_kpi_priced_by_a_carrier():
    carrier = FakeCarrier(cost=Money("4.00", "EUR"))
    case = kit.SourcingCase(
        SourcingRequest("o1", (RequestLine(1, "A", 2),), kit.EPOCH, GeoPoint(52, 13)),
        Network([Location("l0"), Location("l1")], {("A", "l0"): 1, ("A", "l1"): 1}),
    )
    plan = PriorityStrategy().plan(case.request, case.network)
    assert plan.shipments == 2
    assert cost(carrier)(plan, case) == 8.0


def test_unknown_kpis_are_refused():
    with pytest.raises(ValueError, match="unknown KPI 'speed'"):
        differential(Nearest(), Nearest(), kpi="speed")


def test_check_no_worse_fails_with_both_plans_on_a_shrunk_case():
    with pytest.raises(BrokenInvariant) as caught:
        check_no_worse(Nearest(), MinimizeSplits(), kpi="shipments", max_examples=300)
    assert caught.value.invariant == "nearest no worse than minimize splits on shipments"
    assert {"request", "network", "nearest", "minimize splits"} == set(dict(caught.value.inputs))


# -- the pytest plugin and the Hypothesis entry point ----------------------------------------


def test_the_plugin_fixtures(oms: Oms, small_network: Network, manual_clock):
    assert oms.available("TEE-M") == 12
    assert {loc.id for loc in oms.locations()} == {loc.id for loc in small_network.locations()}
    manual_clock.advance(hours=1)
    assert oms.clock.now() == manual_clock.now()


@pytest.mark.parametrize("cls", [Location, Network, SourcingRequest, kit.OrderSpec, GeoPoint])
def test_from_type_works_on_omsims_types(cls):
    assert isinstance(find(st.from_type(cls), lambda _: True, settings=REACHES), cls)


def test_loading_the_plugin_and_the_hook_imports_no_hypothesis():
    code = (
        "import sys, omsims.testing.plugin, omsims.testing._hypothesis; "
        "assert 'hypothesis' not in sys.modules, 'imported hypothesis'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 (our own code)


def test_broken_invariants_are_invariant_violations():
    assert issubclass(BrokenInvariant, InvariantViolation)
