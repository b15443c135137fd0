"""The sourcing strategies a scenario or the command line names, built for a scenario.

A name maps to a factory that builds the strategy with what the scenario knows (the
carrier, the SKUs' weights, the handling costs), so ``--strategies
priority,nearest,lowest-cost`` compares like with like. Pass your own strategy objects
to :func:`~omsims.simulation.compare` to compare a rule of your own.

>>> sorted(NAMES)[:3]
['capacity-aware', 'earliest-delivery', 'highest-stock']
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from omsims.adapters.carriers import TableRateCarrier
from omsims.domain.values import Money
from omsims.sourcing import (
    CapacityAware,
    EarliestDelivery,
    HighestStock,
    LowestCost,
    MinimizeSplits,
    Nearest,
    PriorityStrategy,
    SourcingStrategy,
)
from omsims.sourcing.rules import Distance, Priority

if TYPE_CHECKING:
    from omsims.simulation.scenario import Scenario

__all__ = ["DISTANCE_BASED", "NAMES", "build", "carrier_for", "known"]

CARRIER_NAME = "parcels"


def carrier_for(scenario: Scenario) -> TableRateCarrier:
    """The scenario's table-rate carrier (every strategy and every parcel uses it)."""
    table = scenario.carrier
    return TableRateCarrier(
        CARRIER_NAME,
        currency=scenario.currency,
        distance_bands_km=table.distance_bands_km,
        weight_bands_kg=table.weight_bands_kg,
        rates=table.rates,
        transit_days=table.transit_days,
    )


def _weights(scenario: Scenario) -> dict[str, Decimal]:
    return {s.sku: s.weight_kg for s in scenario.catalogue.skus}


def _lowest_cost(scenario: Scenario) -> SourcingStrategy:
    return LowestCost(
        carrier_for(scenario),
        weights=_weights(scenario),
        per_shipment=Money("1.50", scenario.currency),
    )


NAMES: dict[str, Callable[[Scenario], SourcingStrategy]] = {
    "priority": lambda _s: PriorityStrategy(),
    "nearest": lambda _s: Nearest(),
    "minimize-splits": lambda _s: MinimizeSplits(rankers=(Distance(), Priority())),
    "lowest-cost": _lowest_cost,
    "earliest-delivery": lambda s: EarliestDelivery(carrier_for(s)),
    "capacity-aware": lambda _s: CapacityAware(rankers=(Distance(), Priority())),
    "highest-stock": lambda _s: HighestStock(),
}
"""Every strategy name a scenario or the command line may use."""

DISTANCE_BASED = frozenset(
    {"nearest", "minimize-splits", "lowest-cost", "earliest-delivery", "capacity-aware"}
)
"""Strategies that rank by distance: every location needs coordinates for them."""


def known(name: str, field: str = "strategy") -> str:
    """``name`` if it is a strategy name, else ``ScenarioError`` listing the names."""
    from omsims.simulation.scenario import ScenarioError  # a cycle

    if name not in NAMES:
        raise ScenarioError(
            f"{field}: unknown strategy {name!r}; one of {', '.join(sorted(NAMES))}"
        )
    return name


def build(name: str, scenario: Scenario) -> SourcingStrategy:
    """The strategy called ``name``, built for ``scenario``."""
    return NAMES[known(name)](scenario)
