"""Compare strategies or replenishment policies on the same demand; sweep a grid of parameters.

Every strategy in a comparison faces the same orders (common random numbers), so the
differences in its table are the strategies' own; so does every replenishment policy in
:func:`compare_policies`, under one strategy. A comparison runs in this process, one run
after another, or side by side on an executor you pass. A sweep runs every combination
of the grid's values, for every strategy and seed, on any ``concurrent.futures.Executor``:
processes by default, a Dask ``distributed`` client's executor for a cluster.
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from omsims.replenishment import Policy
from omsims.simulation.engine import SimulationResult, progress_bar, simulate
from omsims.simulation.kpis import KPI_COLUMNS
from omsims.simulation.policies import POLICY_KINDS, PolicySpec, Replenishment, resolve_policy
from omsims.simulation.scenario import Scenario, ScenarioError
from omsims.simulation.strategies import known
from omsims.simulation.table import Table
from omsims.sourcing import SourcingStrategy

__all__ = ["Comparison", "SweepResult", "compare", "compare_policies", "sweep"]


@attrs.frozen
class Comparison:
    """Each strategy's (or policy's) result on the same scenario and seed, and a KPI table.

    ``by`` says what the runs differ by: ``"strategy"`` (:func:`compare`) or
    ``"policy"`` (:func:`compare_policies`); it heads the tables' first column.
    """

    scenario: str
    seed: int
    results: dict[str, SimulationResult]
    by: str = "strategy"

    @property
    def table(self) -> Table:
        """One row per strategy (or policy): its name, then every KPI of :data:`KPI_COLUMNS`."""
        return Table(
            (self.by, *KPI_COLUMNS),
            [(name, *r.kpis.as_dict().values()) for name, r in self.results.items()],
        )

    @property
    def summary(self) -> Table:
        """The headline KPIs, narrow enough for a terminal.

        :data:`SUMMARY_COLUMNS` for strategies; for policies
        :data:`POLICY_SUMMARY_COLUMNS`: fill rate against the inventory held, and what
        replenishment ordered.
        """
        full = self.table
        columns = SUMMARY_COLUMNS if self.by == "strategy" else POLICY_SUMMARY_COLUMNS
        keep = [full.columns.index(self.by if c == "name" else c) for c in columns]
        return Table(
            tuple(self.by if c == "name" else SUMMARY_HEADINGS[c] for c in columns),
            [tuple(row[i] for i in keep) for row in full.rows],
        )

    def write(self, folder: str | Path) -> list[Path]:
        """Write every KPI and, per strategy (or policy), its daily rows and event log.

        Files: ``kpis.csv``, ``kpis.json``, ``daily-<name>.csv``, ``events-<name>.csv``;
        returns their paths.
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
    "name",
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
"""The KPIs :attr:`Comparison.summary` shows for strategies (``name``: the strategy)."""
POLICY_SUMMARY_COLUMNS = (
    "name",
    "fill_rate",
    "units_lost",
    "average_stock_units",
    "average_stock_value",
    "holding_cost",
    "purchase_orders",
    "units_ordered",
    "transfers",
    "units_transferred",
)
"""The KPIs :attr:`Comparison.summary` shows for replenishment policies."""
SUMMARY_HEADINGS = {
    "fill_rate": "fill",
    "units_lost": "lost",
    "shipments_per_order": "parcels/order",
    "split_rate": "split",
    "cost_per_order": "cost/order",
    "km_per_order": "km/order",
    "on_time_rate": "on time",
    "capacity_breaches": "over capacity",
    "holding_cost": "holding cost",
    "average_stock_units": "units held",
    "average_stock_value": "value held",
    "purchase_orders": "purchases",
    "units_ordered": "units bought",
    "transfers": "transfers",
    "units_transferred": "units moved",
}


def compare(
    scenario: Scenario,
    strategies: Sequence[str | SourcingStrategy] | None = None,
    *,
    seed: int | None = None,
    progress: bool = False,
    keep_events: bool = True,
    executor: concurrent.futures.Executor | None = None,
) -> Comparison:
    """Run the scenario once per strategy (names, or your own strategy objects).

    Without ``strategies``, the scenario's own list. Every name is checked before
    anything runs. The runs go one after another in this process, or side by side on
    ``executor`` (a ``ProcessPoolExecutor`` with a worker per core, say); the results
    are the same either way, in the order the strategies were given, event logs and
    all. On a process pool your own strategy objects must pickle (an instance of a class
    defined at a module's top level does).

    >>> from omsims.simulation import load_scenario, compare
    >>> c = compare(load_scenario("tiny"), ["priority", "nearest"], keep_events=False)
    >>> [(name, r.kpis.orders) for name, r in c.results.items()]
    [('priority', 277), ('nearest', 277)]
    """
    chosen = list(strategies) if strategies is not None else list(scenario.strategies)
    for strategy in chosen:
        if isinstance(strategy, str):
            known(strategy, "strategies")
    runs = [
        functools.partial(simulate, scenario, strategy, seed=seed, keep_events=keep_events)
        for strategy in chosen
    ]
    results: dict[str, SimulationResult] = {}
    for result in _run_all(runs, executor, progress=progress):
        results[result.strategy] = result
    return Comparison(scenario.name, scenario.seed if seed is None else seed, results)


def _run_all(
    runs: Sequence[Callable[..., SimulationResult]],
    executor: concurrent.futures.Executor | None,
    *,
    progress: bool,
) -> list[SimulationResult]:
    """Every run's result, in order: here one by one, or all at once on ``executor``.

    Here each run shows its own bar of days; on an executor one bar counts the runs
    done (a worker's bar would garble the terminal).
    """
    if executor is None:
        return [run(progress=progress) for run in runs]
    futures = [executor.submit(run) for run in runs]
    step = progress_bar(len(futures), wanted=progress, unit="run", desc="comparing")
    try:
        results = []
        for future in futures:
            results.append(future.result())
            step(1)
    except BaseException:
        for future in futures:
            future.cancel()  # those not started yet
        raise
    finally:
        step(None)
    return results


def compare_policies(
    scenario: Scenario,
    policies: Mapping[str, PolicySpec | Policy | Mapping[str, Any]] | Sequence[str] | None = None,
    *,
    strategy: str | SourcingStrategy | None = None,
    seed: int | None = None,
    progress: bool = False,
    keep_events: bool = True,
    executor: concurrent.futures.Executor | None = None,
) -> Comparison:
    """Run the scenario once per replenishment policy, with one strategy, on the same demand.

    ``policies`` are names (``"min-max@0.99"``, or one of the scenario's
    ``[replenishment.policies]``), or a mapping of a name to a policy object, a
    :class:`~omsims.simulation.policies.PolicySpec` or a policy table. Without them,
    the scenario's named policies, else one of each kind. The strategy defaults to the
    scenario's first. A scenario without a ``[replenishment]`` section takes the
    section's defaults. Every name is checked before anything runs. ``executor``: as
    for :func:`compare`.

    >>> from omsims.simulation import load_scenario, compare_policies
    >>> short = load_scenario("replenishment").with_changes({"horizon_days": 5})
    >>> c = compare_policies(short, ["min-max@0.8", "min-max@0.99"], keep_events=False)
    >>> [(name, r.policy, r.strategy) for name, r in c.results.items()]
    [('min-max@0.8', 'min-max@0.8', 'nearest'), ('min-max@0.99', 'min-max@0.99', 'nearest')]
    """
    section = scenario.replenishment or Replenishment()
    chosen: dict[str, object]
    if policies is None:
        chosen = dict(section.policies) or {kind: kind for kind in POLICY_KINDS}
    elif isinstance(policies, Mapping):
        chosen = dict(policies)
    elif isinstance(policies, str):
        raise ScenarioError(f"policies: a list of names, not the text {policies!r}")
    else:
        chosen = {name: name for name in policies}
    if not chosen:
        raise ScenarioError("policies: name at least one policy")
    specs = {
        name: resolve_policy(p, section, f"policies[{name!r}]")[1] for name, p in chosen.items()
    }
    if isinstance(strategy, str):
        known(strategy)
    runs = [
        functools.partial(
            simulate, scenario, strategy, seed=seed, keep_events=keep_events, policy=spec
        )
        for spec in specs.values()
    ]
    done = _run_all(runs, executor, progress=progress)
    results = {
        name: attrs.evolve(result, policy=name) for name, result in zip(specs, done, strict=True)
    }
    return Comparison(scenario.name, scenario.seed if seed is None else seed, results, "policy")


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
