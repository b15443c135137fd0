"""Simulations: scenarios checked field by field, a deterministic run on the real core."""

from __future__ import annotations

import gc
import itertools
import json
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from omsims.cli import main
from omsims.simulation import (
    ScenarioError,
    compare,
    demand,
    load_scenario,
    parse_scenario,
    simulate,
    sweep,
)
from omsims.simulation.strategies import build


@pytest.fixture(scope="module")
def tiny():
    return load_scenario("tiny")


def raw(tiny, **changes):
    data = tiny.to_dict()
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value
    return data


# -- scenarios -----------------------------------------------------------------------------


def test_a_scenario_survives_its_round_trip_through_plain_data(tiny):
    assert parse_scenario(tiny.to_dict()) == tiny


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"demand__orders_per_day": -5}, "demand.orders_per_day: must be more than 0, got -5"),
        ({"horizon_days": 0}, "horizon_days: must be 1 to 3660, got 0"),
        ({"horizon_days": 100_000}, "horizon_days: must be 1 to 3660"),
        ({"demand__weekly": [1, 1]}, "demand.weekly: needs 7 weights, got 2"),
        ({"demand__on_shortage": "cry"}, "demand.on_shortage: must be one of lose, wait"),
        ({"operations__return_rate": 1.5}, "operations.return_rate: must be at most 1"),
        ({"demand__orders_per_dya": 5}, "demand.orders_per_dya: unknown field"),
        ({"strategies": ["fastest"]}, "strategies[0]: unknown strategy 'fastest'"),
    ],
)
def test_a_bad_field_is_named_before_anything_runs(tiny, change, message):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(raw(tiny, **change))


def test_stock_of_an_unknown_sku_or_location_is_refused(tiny):
    bad = raw(tiny)
    bad["stock"]["levels"] = [{"location": "berlin-dc", "sku": "NOPE", "units": 3}]
    with pytest.raises(ScenarioError, match=r"stock.levels\[0\].sku: unknown SKU 'NOPE'"):
        parse_scenario(bad)
    bad["stock"]["levels"] = [{"location": "mars", "sku": "CAP", "units": 3}]
    with pytest.raises(ScenarioError, match=r"stock.levels\[0\].location: unknown location"):
        parse_scenario(bad)


def test_a_location_without_coordinates_is_refused_for_a_distance_rule(tiny):
    bad = raw(tiny)
    del bad["locations"][2]["lat"], bad["locations"][2]["lon"]
    with pytest.raises(ScenarioError, match=r"locations\[2\] \(munich-store\): no coordinates"):
        parse_scenario(bad)
    bad["strategies"] = ["priority"]
    assert parse_scenario(bad).locations[2].coordinates is None  # no distance rule: fine


def test_a_receipt_past_the_horizon_is_refused(tiny):
    bad = raw(tiny)
    bad["supply"]["receipts"][0]["day"] = 7
    with pytest.raises(ScenarioError, match=r"supply.receipts\[0\].day: 7 is past the horizon"):
        parse_scenario(bad)


def test_a_file_that_is_not_a_scenario_is_refused(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="no bundled scenario of that name"):
        load_scenario("atlantis")


def test_a_json_scenario_reads_like_the_toml_one(tiny, tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny.to_dict()))
    assert load_scenario(path) == tiny


def test_the_bundled_example_is_the_size_the_docs_say():
    example = load_scenario("example")
    kinds = [loc.kind.value for loc in example.locations]
    assert (kinds.count("warehouse"), kinds.count("store")) == (10, 100)
    assert len(example.catalogue.skus) == 2000


# -- demand --------------------------------------------------------------------------------


def test_demand_is_the_same_for_a_seed_and_differs_between_seeds(tiny):
    first = list(demand(tiny, seed=3))
    assert first == list(demand(tiny, seed=3))
    assert first != list(demand(tiny, seed=4))
    assert all(a.at <= b.at for a, b in itertools.pairwise(first))
    assert all(len({sku for sku, _n, _p in d.lines}) == len(d.lines) for d in first)
    assert {d.delivery for d in first} == {"ship", "pickup"}


def test_demand_follows_the_rate(tiny):
    busy = parse_scenario(raw(tiny, demand__orders_per_day=400))
    orders = len(list(demand(busy, seed=1)))
    assert 0.9 * 400 * 7 < orders < 1.1 * 400 * 7


# -- the simulator ---------------------------------------------------------------------------


def test_a_run_is_deterministic_for_a_seed(tiny):
    one, two = simulate(tiny, "nearest", seed=5), simulate(tiny, "nearest", seed=5)
    assert (one.kpis, one.daily, one.events) == (two.kpis, two.daily, two.events)
    assert simulate(tiny, "nearest", seed=6).kpis != one.kpis


def test_a_run_drives_the_real_core_and_its_numbers_come_from_the_ledger(tiny):
    result = simulate(tiny, "minimize-splits", keep_oms=True)
    oms, kpis = result.oms, result.kpis
    oms.check_invariants()
    on_hand = sum(oms.stock(sku, loc).on_hand for sku, loc in oms.positions())
    assert kpis.stock_units_end == on_hand == result.daily.rows[-1][10]
    assert kpis.units_demanded == kpis.units_filled + kpis.units_lost
    assert kpis.orders == len(oms.orders())
    assert sum(result.daily.column("orders")) == kpis.orders
    assert kpis.units_returned > 0
    assert kpis.rejections > 0  # stores reject 10% of their fulfilment orders


def test_every_fulfilment_order_the_core_makes_reaches_its_location_once(tiny):
    # The run hears of fulfilment orders from the core's events: the first of an order's,
    # and those made again after a store rejects one, each sent on exactly once.
    result = simulate(tiny, "nearest", keep_oms=True)
    oms = result.oms
    made = [fo for order in oms.orders() for fo in oms.fulfilment_orders(order.id)]
    sourced = [row[3] for row in result.events.rows if row[1] == "sourced"]
    assert sorted(sourced) == sorted(fo.id for fo in made)
    assert len(set(sourced)) == len(sourced)
    assert any(fo.status.value == "rejected" for fo in made)
    assert all(fo.status.value in ("delivered", "rejected") for fo in made)


def test_a_collection_in_the_event_log_counts_every_unit_handed_over(tiny):
    # Made ready at the store itself, or brought there in a parcel from elsewhere.
    result = simulate(tiny, "nearest", keep_oms=True)
    arrived: dict[str, int] = {}
    collected = {}
    for _at, event, order, _subject, _where, units, _detail in result.events.rows:
        if event in ("ready", "delivered"):
            arrived[order] = arrived.get(order, 0) + units
        elif event == "collected":
            collected[order] = units
    assert collected
    assert all(units == arrived[order] > 0 for order, units in collected.items())


def test_a_run_that_archives_gives_the_same_numbers_and_keeps_only_open_orders(tiny):
    from omsims import MemoryArchive
    from omsims.domain.archive import FINISHED

    plain = simulate(tiny, "nearest", keep_events=False)
    archive = MemoryArchive()
    archived = simulate(tiny, "nearest", keep_events=False, keep_oms=True, archive=archive)
    assert archived.kpis == plain.kpis
    assert archived.daily.rows == plain.daily.rows
    oms = archived.oms
    assert oms is not None
    live = oms.orders()
    assert not live  # the run drains: every order finished and left the store
    assert len(archive) == plain.kpis.orders
    for n in range(1, plain.kpis.orders + 1):
        assert oms.archived_order(f"d{n:07d}").order.status in FINISHED
    oms.check_invariants()


def test_a_run_puts_the_garbage_collector_back_as_it_found_it(tiny):
    before = gc.get_threshold()
    seen = []

    class Spy:
        name = "spy"

        def plan(self, request, view):
            seen.append(gc.get_threshold())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        simulate(tiny, Spy())
    assert seen[0][0] >= 50_000  # tuned while the run ran
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # what the run froze is back, even after a failure


def test_a_run_hands_its_objects_to_the_permanent_generation_and_takes_them_back(tiny):
    frozen = []
    priority = build("priority", tiny)

    class Spy:
        name = "spy"

        def plan(self, request, view):
            frozen.append(gc.get_freeze_count())
            return priority.plan(request, view)

    simulate(tiny, Spy())
    assert min(frozen) > 0  # the set-up's objects were frozen before the first order
    assert frozen[-1] > frozen[0]  # and each event's as the run went on
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen(tiny):
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        result = simulate(tiny, "nearest")
        assert gc.get_freeze_count() == mine  # neither thawed nor added to
    finally:
        gc.unfreeze()
    assert result.kpis == simulate(tiny, "nearest").kpis  # and the run is the same


def test_lost_sales_when_stock_runs_short(tiny):
    scarce = parse_scenario(raw(tiny, stock__warehouse_cover_days=0.5, stock__store_cover_days=0))
    kpis = simulate(scarce, "priority").kpis
    assert kpis.units_lost > 0
    assert kpis.fill_rate < 1
    assert kpis.units_demanded == kpis.units_filled + kpis.units_lost


def test_waiting_customers_are_filled_when_supply_arrives(tiny):
    scarce = parse_scenario(
        raw(
            tiny,
            stock__warehouse_cover_days=0.5,
            stock__store_cover_days=0,
            demand__on_shortage="wait",
        )
    )
    result = simulate(scarce, "priority", keep_oms=True)
    kpis, oms = result.kpis, result.oms
    assert kpis.units_backordered > 0
    assert kpis.units_lost == 0
    # Filled counts the backorders supply filled later; what is still short is unsourced.
    short = sum(ln.unallocated for order in oms.orders() for ln in order.lines)
    assert kpis.units_demanded == kpis.units_filled + short
    assert short < kpis.units_backordered
    oms.check_invariants()


def test_a_rejection_counts_only_the_units_it_left_unsourced_not_those_already_waiting(tiny):
    # Found by tests/property/test_simulation_runs.py: an order with one line waiting for
    # supply and another at a store that rejects it. The waiting line was counted again
    # at the rejection (filled went down, and the wait up, by its units a second time).
    one_day = raw(
        tiny,
        horizon_days=1,
        stock__warehouse_cover_days=0,
        stock__store_cover_days=1,
        demand__orders_per_day=25,
        demand__on_shortage="wait",
        demand__delivery={"ship": 1.0},
        operations__reject_probability={"store": 0.5},
        seed=0,
    )
    one_day["supply"]["receipts"] = []
    result = simulate(parse_scenario(one_day), "priority", keep_oms=True)
    kpis, oms = result.kpis, result.oms
    orders = oms.orders()
    waiting = sum(ln.unallocated for order in orders for ln in order.lines)
    assert kpis.rejections > 0
    assert waiting > 0
    assert kpis.units_demanded == kpis.units_filled + waiting
    # Some orders had a line waiting when a store rejected another of their lines.
    assert any(sum(1 for ln in order.lines if ln.unallocated) >= 2 for order in orders)
    # The event log says how many units each rejection sent back to be sourced again.
    sourced = {row[3]: row[5] for row in result.events.rows if row[1] == "sourced"}
    rejected = [row for row in result.events.rows if row[1] == "rejected"]
    assert rejected
    assert all(row[5] == sourced[row[3]] > 0 for row in rejected)


@pytest.mark.parametrize("on_shortage", ["lose", "wait"])
def test_a_sku_nobody_stocks_is_still_sold_and_lost_or_waits(tiny, on_shortage):
    # With no opening stock the core would not know the SKUs: their orders were refused
    # (UnknownSku) instead of lost or waiting for supply.
    bare = raw(
        tiny,
        stock__warehouse_cover_days=0,
        stock__store_cover_days=0,
        demand__on_shortage=on_shortage,
    )
    bare["supply"]["receipts"] = []
    kpis = simulate(parse_scenario(bare), "nearest").kpis
    assert kpis.orders > 0
    assert kpis.units_filled == 0
    assert kpis.stock_outs >= kpis.orders
    if on_shortage == "lose":
        assert kpis.units_lost == kpis.units_demanded
    else:
        assert kpis.units_backordered == kpis.units_demanded
        assert kpis.units_lost == 0


def test_strategies_are_compared_on_the_same_demand(tiny):
    comparison = compare(tiny, keep_events=False)
    assert list(comparison.results) == ["priority", "nearest", "minimize-splits"]
    demanded = {r.kpis.units_demanded for r in comparison.results.values()}
    assert len(demanded) == 1
    kpis = {name: r.kpis for name, r in comparison.results.items()}
    assert kpis["nearest"].km_per_order < kpis["priority"].km_per_order
    assert kpis["minimize-splits"].split_rate <= kpis["nearest"].split_rate


def test_a_comparison_on_a_process_pool_gives_what_one_in_this_process_gives(tiny):
    here = compare(tiny, ["nearest", "priority", "minimize-splits"])
    with ProcessPoolExecutor(2) as pool:
        there = compare(tiny, ["nearest", "priority", "minimize-splits"], executor=pool)
    assert list(there.results) == ["nearest", "priority", "minimize-splits"]  # as given
    assert there.table.rows == here.table.rows
    for name, result in here.results.items():
        assert there.results[name].daily == result.daily
        assert there.results[name].events == result.events  # the whole event log
        assert result.events is not None
        assert len(result.events.rows) > 1_000


class _Counting(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(1)
        self.submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


def test_a_comparison_names_an_unknown_strategy_before_anything_runs(tiny):
    with (
        _Counting() as pool,
        pytest.raises(ScenarioError, match="strategies: unknown strategy 'fastest'"),
    ):
        compare(tiny, ["priority", "fastest"], executor=pool)
    assert pool.submitted == 0
    with _Counting() as pool:
        compare(tiny, ["priority", "nearest"], keep_events=False, executor=pool)
    assert pool.submitted == 2  # the count can tell


def test_a_sweep_checks_its_grid_before_it_runs(tiny):
    with pytest.raises(ScenarioError, match=r"demand\.orders_per_hour: no such field"):
        sweep(tiny, {"demand.orders_per_hour": [1]}, executor=ThreadPoolExecutor(1))
    with pytest.raises(ScenarioError, match=r"demand\.orders_per_day: must be more than 0"):
        sweep(tiny, {"demand.orders_per_day": [10, -1]}, executor=ThreadPoolExecutor(1))


def test_a_sweep_on_a_dask_cluster_gives_the_rows_a_thread_pool_gives(tiny):
    distributed = pytest.importorskip("distributed")
    grid = {"demand.orders_per_day": [20, 40], "operations.ship_hours": [6, 30]}
    with ThreadPoolExecutor(2) as pool:
        local = sweep(tiny, grid, strategies=["nearest", "priority"], executor=pool)
    with (
        distributed.LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = sweep(
            tiny, grid, strategies=["nearest", "priority"], executor=client.get_executor()
        )
    assert len(on_dask.table.rows) == 8
    assert on_dask.table.rows == local.table.rows


def test_a_sweep_runs_in_processes_and_comes_back_in_grid_order(tiny):
    result = sweep(tiny, {"operations.ship_hours": [6, 30]}, strategies=["nearest"], seeds=[1, 2])
    table = result.table
    assert table.column("operations.ship_hours") == [6, 6, 30, 30]
    assert table.column("seed") == [1, 2, 1, 2]
    on_time = dict(
        zip(
            zip(table.column("operations.ship_hours"), table.column("seed"), strict=True),
            table.column("on_time_rate"),
            strict=True,
        )
    )
    assert on_time[6, 1] > on_time[30, 1]


# -- the command line ---------------------------------------------------------------------------


def test_the_compare_command_prints_a_table_and_writes_files_and_plots(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["compare", "tiny", "--strategies", "priority,nearest", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[:3] == ["strategy", "fill", "lost"]
    names = sorted(p.name for p in out.iterdir())
    assert "kpis.csv" in names
    assert "events-nearest.csv" in names
    assert {"kpis.png", "kpis.svg", "stock.png", "cost-vs-splits.svg"} <= set(names)
    rows = json.loads((out / "kpis.json").read_text())
    assert [r["strategy"] for r in rows] == ["priority", "nearest"]
    # Two runs went to two processes; one worker runs them here, to the same figures.
    alone = tmp_path / "alone"
    argv = ["compare", "tiny", "--strategies", "priority,nearest", "--workers", "1"]
    result = CliRunner().invoke(main, [*argv, "--out", str(alone), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert json.loads((alone / "kpis.json").read_text()) == rows
    assert (alone / "events-nearest.csv").read_text() == (out / "events-nearest.csv").read_text()
    result = CliRunner().invoke(main, [*argv[:-1], "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_the_commands_name_a_bad_scenario_or_strategy(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[demand]\norders_per_day = -5\n')
    result = CliRunner().invoke(main, ["simulate", str(bad)])
    assert result.exit_code == 1
    assert "demand.orders_per_day: must be more than 0, got -5" in result.output
    result = CliRunner().invoke(main, ["compare", "tiny", "--strategies", "fastest"])
    assert result.exit_code == 2
    assert "unknown strategy 'fastest'" in result.output


def test_the_sweep_command(tmp_path):
    out = tmp_path / "sweep.csv"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            "tiny",
            "--grid",
            "demand.orders_per_day=20,40",
            "--strategies",
            "nearest",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0].startswith("demand.orders_per_day,strategy,seed,orders")


def test_coins_are_uniform_in_the_unit_interval_and_the_same_for_the_same_decision(tiny):
    from omsims.simulation.engine import _Run

    run = _Run(tiny, build("priority", tiny), seed=7, keep_events=False)
    coins = [run._coin("reject", f"o{i}-F1") for i in range(20_000)]
    assert all(0.0 <= c < 1.0 for c in coins)
    assert coins == [run._coin("reject", f"o{i}-F1") for i in range(20_000)]
    # As uniform as a generator: every tenth of [0, 1) holds its tenth, within 5%.
    deciles = [sum(1 for c in coins if d / 10 <= c < (d + 1) / 10) for d in range(10)]
    assert all(1_900 <= n <= 2_100 for n in deciles), deciles
    other = _Run(tiny, build("priority", tiny), seed=8, keep_events=False)
    assert run._coin("reject", "o1-F1") != other._coin("reject", "o1-F1")
    assert run._coin("reject", "o1-F1") != run._coin("return", "o1-F1")
