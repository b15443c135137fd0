"""Replenishment in simulations: the scenario section, the daily review, policy comparisons."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from omsims.cli import main
from omsims.replenishment import MinMax, ReorderPoint
from omsims.simulation import (
    PolicySpec,
    ScenarioError,
    compare_policies,
    load_scenario,
    parse_scenario,
    simulate,
    sweep,
)
from omsims.simulation.replenisher import DailyDemand


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("replenishment")


@pytest.fixture(scope="module")
def week(scenario):
    """The bundled scenario cut to a week: quick, and still ordering and receiving."""
    return scenario.with_changes({"horizon_days": 7})


@pytest.fixture(scope="module")
def days3(scenario):
    """Three days: enough to tell policies apart in a table, a plot or a command."""
    return scenario.with_changes({"horizon_days": 3})


def with_section(scenario, **section):
    data = scenario.to_dict()
    data["replenishment"] = section
    return data


# -- the scenario section ------------------------------------------------------------------


def test_the_section_survives_its_round_trip_through_plain_data_and_json(scenario, tmp_path):
    assert parse_scenario(scenario.to_dict()) == scenario
    path = tmp_path / "replenishment.json"
    path.write_text(json.dumps(scenario.to_dict()))
    assert load_scenario(path) == scenario
    section = scenario.replenishment
    assert section.location_kinds == ("warehouse",)
    assert section.supplier.lead_time.days == 7
    assert [name for name, _ in section.policies] == ["lean", "safe", "weekly"]


def test_an_empty_section_turns_replenishment_on_with_the_defaults():
    tiny = load_scenario("tiny")
    section = parse_scenario(with_section(tiny)).replenishment
    assert section.policy.policy == MinMax()
    assert section.policy.forecaster.name == "moving-average(28)"
    assert section.supplier.lead_time.days == 7
    assert "store" in section.location_kinds
    assert (section.review_at.hour, section.transfers, section.history_days) == (6, True, 90)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"policy": {"kind": "just-in-time"}}, "replenishment.policy.kind: must be one of"),
        (
            {"policy": {"service_level": 1.0}},
            "replenishment.policy.service_level: must lie strictly between 0 and 1, got 1",
        ),
        (
            {"policy": {"service_level": 0}},
            "replenishment.policy.service_level: must lie strictly between 0 and 1, got 0",
        ),
        (
            {"policy": {"forecaster": "arima"}},
            "replenishment.policy.forecaster: must be one of moving-average, ses, holt",
        ),
        (
            {"policy": {"forecaster": "ses", "alpha": 1.5}},
            r"replenishment.policy.alpha: must lie in \(0, 1\], got 1.5",
        ),
        (
            {"policy": {"forecaster": "ses", "window": 7}},
            "replenishment.policy.window: not a field of the ses forecaster",
        ),
        (
            {"policy": {"kind": "min-max", "review_days": 7}},
            "replenishment.policy.review_days: not a field of a min-max policy",
        ),
        (
            {"policy": {"kind": "min-max", "minimum": 10, "maximum": 5}},
            "replenishment.policy: a min/max policy needs minimum",
        ),
        ({"policy": {"cover_days": 0}}, "replenishment.policy.cover_days: must be more than 0"),
        ({"policy": {"window": 0}}, "replenishment.policy.window: must be at least 1, got 0"),
        (
            {"supplier": {"lead_time_days": -2}},
            "replenishment.supplier.lead_time_days: must be at least 0, got -2",
        ),
        (
            {"supplier": {"lead_time_sd": -1}},
            "replenishment.supplier.lead_time_sd: must be at least 0, got -1",
        ),
        ({"supplier": {"multiple": 0}}, "replenishment.supplier.multiple: must be at least 1"),
        (
            {"supplier": {"lead_times": {"atlantis": {"days": 3}}}},
            "replenishment.supplier.lead_times.atlantis: unknown location 'atlantis'",
        ),
        (
            {"supplier": {"lead_times": {"berlin-dc": {"sd": 3}}}},
            "replenishment.supplier.lead_times.berlin-dc.days: missing",
        ),
        ({"review_at": "6 am"}, "replenishment.review_at: must be a time of day as HH:MM"),
        (
            {"location_kinds": ["shop"]},
            r"replenishment.location_kinds\[0\]: must be one of warehouse, store",
        ),
        ({"transfers": "yes"}, "replenishment.transfers: must be true or false"),
        ({"history_days": 0}, "replenishment.history_days: must be at least 1, got 0"),
        ({"prior_days": -1}, "replenishment.prior_days: must be at least 0, got -1"),
        ({"policies": {"a,b": {}}}, "replenishment.policies.a,b: a name is letters"),
        (
            {"policies": {"safe": {"service_level": 2}}},
            "replenishment.policies.safe.service_level: must lie strictly between 0 and 1",
        ),
        ({"reviews_at": "06:00"}, "replenishment.reviews_at: unknown field"),
    ],
)
def test_a_bad_section_is_named_before_anything_runs(scenario, section, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(with_section(scenario, **section))


def test_policy_names_and_objects_are_checked_before_anything_runs(days3):
    with pytest.raises(ScenarioError, match="unknown policy 'fastest'; name one of the scen"):
        compare_policies(days3, ["lean", "fastest"])
    with pytest.raises(ScenarioError, match=r"'min-max@1\.5': the service level after @"):
        simulate(days3, policy="min-max@1.5")
    with pytest.raises(ScenarioError, match=r"policies\['odd'\].kind: must be one of"):
        compare_policies(days3, {"odd": {"kind": "odd"}})
    with pytest.raises(ScenarioError, match="a list of names, not the text"):
        compare_policies(days3, "lean")


# -- the run ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["reorder-point", "min-max", "periodic-review"])
def test_each_policy_runs_deterministically_for_a_seed(week, kind):
    one, two = simulate(week, policy=kind), simulate(week, policy=kind)
    assert one.policy == kind
    assert (one.kpis, one.daily, one.events) == (two.kpis, two.daily, two.events)
    assert one.kpis.purchase_orders > 0
    assert simulate(week, policy=kind, seed=2).kpis != one.kpis


def test_replenishment_orders_and_receives_through_the_oms(week):
    result = simulate(week, policy="min-max", keep_oms=True)
    kpis, oms = result.kpis, result.oms
    assert kpis.purchase_orders > 0
    assert kpis.units_received == kpis.units_ordered > 0  # no scheduled receipts here
    # Everything ordered arrived before the run ended: nothing is still incoming.
    assert all(oms.stock(sku, loc).incoming == 0 for sku, loc in oms.positions())
    oms.check_invariants()
    events = result.events.to_dicts()
    purchases = [e for e in events if e["event"] == "purchase"]
    arrived = [e for e in events if e["event"] == "arrived" and e["detail"] == "purchase"]
    assert len(purchases) == kpis.purchase_orders
    assert sorted(e["subject"] for e in arrived) == sorted(e["subject"] for e in purchases)
    assert sum(e["units"] for e in purchases) == kpis.units_ordered
    # Only the warehouses are covered; the stores sell what they opened with.
    assert {e["location"] for e in purchases} <= {"berlin-dc", "dortmund-dc"}
    assert kpis.units_demanded == kpis.units_filled + kpis.units_lost


def test_without_lead_time_noise_a_purchase_arrives_on_its_due_date(scenario):
    data = scenario.to_dict()
    data["horizon_days"] = 5
    data["replenishment"]["supplier"]["lead_time_sd"] = 0
    result = simulate(parse_scenario(data))
    events = result.events.to_dicts()
    ordered = {e["subject"]: e["at"] for e in events if e["event"] == "purchase"}
    arrived = {e["subject"]: e["at"] for e in events if e["event"] == "arrived"}
    assert ordered
    assert arrived.keys() == ordered.keys()
    for supply, at in ordered.items():
        due = datetime.fromisoformat(at) + timedelta(days=7)
        assert datetime.fromisoformat(arrived[supply]) == due


def test_reviews_happen_at_the_review_time_of_each_day(days3):
    data = days3.to_dict()
    data["start"] = "2026-12-01T10:00:00+00:00"  # after the first day's review time
    data["replenishment"]["review_at"] = "07:30"
    events = simulate(parse_scenario(data)).events.to_dicts()
    times = sorted({e["at"] for e in events if e["event"] == "purchase"})
    assert times
    assert all(t.endswith("T07:30:00+00:00") for t in times)
    assert times[0] >= "2026-12-02"


def test_a_proposal_two_policies_both_make_arrives_at_the_same_time(week):
    def arrivals(policy):
        events = simulate(week, policy=policy).events.to_dicts()
        return {e["subject"]: e["at"] for e in events if e["event"] == "arrived"}

    # The lead-time noise is seeded by the proposal's id (day, SKU, locations), not by
    # the policy: common random numbers for lead times too.
    lean, safe = arrivals("lean"), arrivals("safe")
    both = lean.keys() & safe.keys()
    assert both
    assert all(lean[p] == safe[p] for p in both)
    assert {lean[p][11:] for p in both} != {"06:00:00+00:00"}  # the noise moved them


def test_a_scenario_without_a_section_runs_as_before_and_a_policy_turns_it_on():
    tiny = load_scenario("tiny")
    plain = simulate(tiny, "nearest", keep_events=False)
    assert plain.policy is None
    assert plain.kpis.purchase_orders == plain.kpis.transfers == 0
    replenished = simulate(tiny, "nearest", keep_events=False, policy=MinMax(service_level=0.9))
    assert replenished.policy == "min-max@0.9"
    assert replenished.kpis.purchase_orders > 0
    assert replenished.kpis.units_demanded == plain.kpis.units_demanded


def test_the_simulators_demand_history_is_the_one_the_oms_replays_from_its_ledger(scenario):
    data = scenario.to_dict()
    data["horizon_days"] = 10
    data["replenishment"]["prior_days"] = 0
    run = simulate(parse_scenario(data), keep_events=False, keep_oms=True)
    oms = run.oms
    positions = [(sku, loc) for sku, loc in oms.positions() if loc.endswith("-dc")]
    start = scenario.start
    demand = DailyDemand(positions, start)
    for entry in oms.entries():
        demand.observe(entry)
    for today, days in [(3, 90), (10, 5), (12, 90), (15, 4)]:
        ours = demand.history(today, days=days)
        replayed = oms.demand_history(days=days, at=start + timedelta(days=today, hours=6))
        theirs = replayed.demand()
        assert {pos: ours[pos] for pos in positions} == {pos: theirs[pos] for pos in positions}
    assert any(sum(series) for series in demand.history(12, days=90).values())


def test_a_higher_service_level_holds_more_and_fills_at_least_as_well(scenario):
    comparison = compare_policies(scenario, ["min-max@0.8", "min-max@0.99"], keep_events=False)
    low, high = (comparison.results[n].kpis for n in ("min-max@0.8", "min-max@0.99"))
    assert low.units_demanded == high.units_demanded  # the same demand
    assert high.average_stock_units > low.average_stock_units
    assert high.average_stock_value > low.average_stock_value
    assert high.holding_cost > low.holding_cost
    assert high.fill_rate >= low.fill_rate


def test_a_sweep_runs_over_the_policys_fields(week):
    with ThreadPoolExecutor(2) as pool:
        result = sweep(
            week,
            {"replenishment.policy.service_level": [0.6, 0.99]},
            strategies=["nearest"],
            executor=pool,
        )
    held = result.table.column("average_stock_units")
    assert result.table.column("replenishment.policy.service_level") == [0.6, 0.99]
    assert held[1] > held[0]


# -- comparing policies ------------------------------------------------------------------------


def test_a_policy_comparison_has_one_row_per_policy(days3):
    comparison = compare_policies(
        days3,
        {
            "named": "lean",
            "preset": "reorder-point@0.9",
            "object": ReorderPoint(quantity=40, service_level=0.9),
            "spec": PolicySpec(MinMax(cover_days=7, service_level=0.8)),
            "table": {"kind": "periodic-review", "review_days": 2},
        },
        strategy="priority",
        keep_events=False,
    )
    assert comparison.by == "policy"
    table = comparison.table
    assert table.columns[0] == "policy"
    assert table.column("policy") == ["named", "preset", "object", "spec", "table"]
    assert {r.strategy for r in comparison.results.values()} == {"priority"}
    assert len({r.kpis.units_demanded for r in comparison.results.values()}) == 1
    summary = comparison.summary
    assert summary.columns[:5] == ("policy", "fill", "lost", "units held", "value held")
    assert len(summary.rows) == 5


def test_policies_compared_on_an_executor_give_what_they_give_here(days3):
    names = ["lean", "safe", "min-max@0.8"]
    here = compare_policies(days3, names)
    with ThreadPoolExecutor(2) as pool:
        there = compare_policies(days3, names, executor=pool)
    assert list(there.results) == names
    assert there.table.rows == here.table.rows
    assert [r.events for r in there.results.values()] == [r.events for r in here.results.values()]
    assert [r.policy for r in there.results.values()] == names


def test_without_names_the_scenarios_own_policies_are_compared(days3):
    comparison = compare_policies(days3, keep_events=False)
    assert list(comparison.results) == ["lean", "safe", "weekly"]
    tiny = load_scenario("tiny").with_changes({"horizon_days": 4})
    assert list(compare_policies(tiny, keep_events=False).results) == [
        "reorder-point",
        "min-max",
        "periodic-review",
    ]


def test_the_fill_against_stock_plot_is_written(days3, tmp_path):
    pytest.importorskip("matplotlib")
    from omsims.simulation.plots import fill_against_stock, plot_comparison

    comparison = compare_policies(days3, ["lean", "safe"], keep_events=False)
    paths = fill_against_stock(comparison, tmp_path, held="value")
    assert [p.name for p in paths] == ["fill-vs-stock.png", "fill-vs-stock.svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    names = {p.name for p in plot_comparison(comparison, tmp_path / "all")}
    assert names == {"fill-vs-stock.png", "fill-vs-stock.svg", "stock.png", "stock.svg"}
    with pytest.raises(ValueError, match="held is 'units' or 'value'"):
        fill_against_stock(comparison, tmp_path, held="weight")


# -- the command line ---------------------------------------------------------------------------


def test_the_compare_command_compares_policies(days3, tmp_path):
    scenario = tmp_path / "days3.json"
    scenario.write_text(json.dumps(days3.to_dict()))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["compare", str(scenario), "--policies", "lean,min-max@0.99", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["policy", "fill", "lost"]
    assert [ln.split()[0] for ln in lines[2:4]] == ["lean", "min-max@0.99"]
    names = {p.name for p in out.iterdir()}
    assert {"kpis.csv", "daily-lean.csv", "events-min-max@0.99.csv"} <= names
    assert {"fill-vs-stock.png", "fill-vs-stock.svg"} <= names
    rows = json.loads((out / "kpis.json").read_text())
    assert [r["policy"] for r in rows] == ["lean", "min-max@0.99"]
    assert all(r["purchase_orders"] > 0 for r in rows)


def test_the_commands_name_a_bad_policy(days3, tmp_path):
    scenario = tmp_path / "days3.json"
    scenario.write_text(json.dumps(days3.to_dict()))
    runner = CliRunner()
    result = runner.invoke(main, ["compare", str(scenario), "--policies", "lean,fastest"])
    assert result.exit_code == 2
    assert "unknown policy 'fastest'" in result.output
    result = runner.invoke(
        main, ["compare", str(scenario), "--policies", "lean", "--strategies", "nearest,priority"]
    )
    assert result.exit_code == 2
    assert "with --policies, name one strategy" in result.output
    result = runner.invoke(main, ["simulate", str(scenario), "--policy", "safe"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["strategy", "fill"]
    assert not math.isnan(float(lines[2].split()[1]))
    assert lines[4].split()[:4] == ["policy", "fill", "lost", "units"]
    assert lines[6].split()[0] == "safe"
