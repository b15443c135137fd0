"""Sourcing simulations: scenarios, a deterministic simulator on the real core, KPIs.

Analysts script it::

    from omsims.simulation import load_scenario, compare
    comparison = compare(load_scenario("example"), ["priority", "nearest", "lowest-cost"])
    print(comparison.table.render())

Replenishment policies compare the same way, on one strategy::

    from omsims.simulation import compare_policies
    comparison = compare_policies(load_scenario("replenishment"), ["lean", "safe", "weekly"])

The ``omsims`` command wraps the same functions (``omsims simulate``, ``omsims compare``,
``omsims compare --policies``, ``omsims sweep``). Plots need matplotlib
(``pip install 'omsims[sim]'``); everything else needs only the package. See
docs/simulation.md.
"""

from omsims.simulation.compare import Comparison, SweepResult, compare, compare_policies, sweep
from omsims.simulation.demand import DemandOrder, demand
from omsims.simulation.engine import DAILY_COLUMNS, EVENT_COLUMNS, SimulationResult, simulate
from omsims.simulation.kpis import KPI_COLUMNS, Kpis
from omsims.simulation.policies import POLICY_KINDS, PolicySpec, Replenishment
from omsims.simulation.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from omsims.simulation.strategies import NAMES as STRATEGIES
from omsims.simulation.table import Table

__all__ = [
    "DAILY_COLUMNS",
    "EVENT_COLUMNS",
    "KPI_COLUMNS",
    "POLICY_KINDS",
    "STRATEGIES",
    "Comparison",
    "DemandOrder",
    "Kpis",
    "PolicySpec",
    "Replenishment",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "SweepResult",
    "Table",
    "compare",
    "compare_policies",
    "demand",
    "load_scenario",
    "parse_scenario",
    "simulate",
    "sweep",
]
