"""Compare strategies on the same demand, and sweep a scenario over a grid of parameters.

Every strategy in a comparison faces the same orders (common random numbers), so the
differences in its table are the strategies' own. A sweep runs every combination of
the grid's values, for every strategy and seed, on any ``concurrent.futures.Executor``:
processes by default, a Dask ``distributed`` client's executor for a cluster.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from omsims.simulation.engine import SimulationResult, progress_bar, simulate
from omsims.simulation.kpis import KPI_COLUMNS
from omsims.simulation.scenario import Scenario
from omsims.simulation.table import Table
from omsims.sourcing import SourcingStrategy

__all__ = ["Comparison", "SweepResult", "compare", "sweep"]


@attrs.frozen
class Comparison:
    """Each strategy's result on the same scenario and seed, and a KPI table of them."""

    scenario: str
    seed: int
    results: dict[str, SimulationResult]

    @property
    def table(self) -> Table:
        """One row per strategy: ``strategy`` then every KPI of :data:`KPI_COLUMNS`."""
        return Table(
            ("strategy", *KPI_COLUMNS),
            [(name, *r.kpis.as_dict().values()) for name, r in self.results.items()],
        )

    @property
    def summary(self) -> Table:
        """The headline KPIs (:data:`SUMMARY_COLUMNS`), narrow enough for a terminal."""
        full = self.table
        keep = [full.columns.index(c) for c in SUMMARY_COLUMNS]
        return Table(
            tuple(SUMMARY_HEADINGS[c] for c in SUMMARY_COLUMNS),
            [tuple(row[i] for i in keep) for row in full.rows],
        )

    def write(self, folder: str | Path) -> list[Path]:
        """Write every KPI and, per strategy, its daily rows and event log.

        Files: ``kpis.csv``, ``kpis.json``, ``daily-<strategy>.csv``,
        ``events-<strategy>.csv``; returns their paths.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "kpis.csv", out / "kpis.json"]
        self.table.to_csv(written[0])
        self.table.to_json(written[1])
        for name, result in self.results.items():
            slug = name.replace(" ", "-")
            written.append(out / f"daily-{slug}.csv")
            result.daily.to_csv(written[-1])
            if result.events is not None:
                written.append(out / f"events-{slug}.csv")
                result.events.to_csv(written[-1])
        return written


SUMMARY_COLUMNS = (
    "strategy",
    "fill_rate",
    "units_lost",
    "shipments_per_order",
    "split_rate",
    "cost_per_order",
    "km_per_order",
    "on_time_rate",
    "capacity_breaches",
    "holding_cost",
)
"""The KPIs :attr:`Comparison.summary` shows."""
SUMMARY_HEADINGS = {
    "strategy": "strategy",
    "fill_rate": "fill",
    "units_lost": "lost",
    "shipments_per_order": "parcels/order",
    "split_rate": "split",
    "cost_per_order": "cost/order",
    "km_per_order": "km/order",
    "on_time_rate": "on time",
    "capacity_breaches": "over capacity",
    "holding_cost": "holding cost",
}


def compare(
    scenario: Scenario,
    strategies: Sequence[str | SourcingStrategy] | None = None,
    *,
    seed: int | None = None,
    progress: bool = False,
    keep_events: bool = True,
) -> Comparison:
    """Run the scenario once per strategy (names, or your own strategy objects).

    Without ``strategies``, the scenario's own list.

    >>> from omsims.simulation import load_scenario, compare
    >>> c = compare(load_scenario("tiny"), ["priority", "nearest"], keep_events=False)
    >>> [(name, r.kpis.orders) for name, r in c.results.items()]
    [('priority', 277), ('nearest', 277)]
    """
    chosen = list(strategies) if strategies is not None else list(scenario.strategies)
    results: dict[str, SimulationResult] = {}
    for strategy in chosen:
        result = simulate(scenario, strategy, seed=seed, progress=progress, keep_events=keep_events)
        results[result.strategy] = result
    return Comparison(scenario.name, scenario.seed if seed is None else seed, results)


@attrs.frozen
class SweepResult:
    """One row per run: the grid's values, the strategy, the seed, then every KPI."""

    table: Table


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[object]],
    *,
    strategies: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    executor: concurrent.futures.Executor | None = None,
    progress: bool = False,
) -> SweepResult:
    """Run every combination of ``grid`` (dotted scenario fields to values) per strategy and seed.

    ``grid={"demand.orders_per_day": [200, 400], "operations.ship_hours": [12, 24]}``
    makes four scenarios. Runs go to ``executor`` (a process pool over the machine's
    cores when none is given) and come back in grid order, so the table is the same
    whatever ran them. Strategies are names here: they are built in the worker.

    >>> from omsims.simulation import load_scenario, sweep
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     result = sweep(load_scenario("tiny"), {"demand.orders_per_day": [20, 40]},
    ...                    strategies=["nearest"], executor=pool)
    >>> result.table.column("demand.orders_per_day"), result.table.column("orders")
    ([20, 40], [133, 277])
    """
    names = list(strategies) if strategies is not None else list(scenario.strategies)
    runs_seeds = list(seeds) if seeds is not None else [scenario.seed]
    keys = list(grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]
    for combo in combos:
        scenario.with_changes(combo)  # a bad field or value fails here, before anything runs
    jobs = [(combo, name, seed) for combo in combos for name in names for seed in runs_seeds]
    own = executor is None
    pool = executor or concurrent.futures.ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
    try:
        futures = [pool.submit(_one_run, scenario, combo, name, seed) for combo, name, seed in jobs]
        rows = []
        step = progress_bar(len(futures), wanted=progress, unit="run", desc="sweeping")
        try:
            for (combo, name, seed), future in zip(jobs, futures, strict=True):
                kpis = future.result()
                step(1)
                rows.append((*combo.values(), name, seed, *kpis.values()))
        finally:
            step(None)
    finally:
        if own:
            pool.shutdown()
    return SweepResult(Table((*keys, "strategy", "seed", *KPI_COLUMNS), rows))


def _one_run(
    scenario: Scenario, changes: dict[str, object], strategy: str, seed: int
) -> dict[str, Any]:
    """One run of a sweep, in a worker: the KPIs as plain data (cheap to send back)."""
    changed = scenario.with_changes(changes) if changes else scenario
    return simulate(changed, strategy, seed=seed, keep_events=False).kpis.as_dict()
