"""Sourcing: decide which locations fulfil each order line, and explain why.

Strategies compose filters, rankers and a fill policy (:class:`Strategy`); the built-ins
are :class:`Ranked`, :class:`Nearest`, :class:`HighestStock`, :class:`MinimizeSplits`,
:class:`LowestCost`, :class:`EarliestDelivery`, :class:`CapacityAware`,
:class:`Fallback` and the default :class:`PriorityStrategy`. Any object with ``name``
and ``plan(request, inventory)`` is a strategy too.
"""

from omsims.sourcing.carriers import Carrier, Quote
from omsims.sourcing.composed import (
    CapacityAware,
    Fill,
    HighestStock,
    Nearest,
    Ranked,
    Ranking,
    Strategy,
)
from omsims.sourcing.cost import MAX_SEARCH_PARCELS, LowestCost
from omsims.sourcing.delivery import EarliestDelivery
from omsims.sourcing.fallback import Fallback
from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    InventoryView,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)
from omsims.sourcing.priority import PriorityStrategy
from omsims.sourcing.rules import (
    CanPickup,
    CanShip,
    CapacityLeft,
    Channel,
    Distance,
    Exclude,
    Filter,
    MinimumAvailable,
    Predicate,
    Priority,
    Ranker,
    SameCountry,
    SameRegion,
    Score,
    SpareCapacity,
    Stock,
)
from omsims.sourcing.splits import EXACT_CANDIDATES, MinimizeSplits

__all__ = [
    "EXACT_CANDIDATES",
    "MAX_SEARCH_PARCELS",
    "Allocation",
    "CanPickup",
    "CanShip",
    "CapacityAware",
    "CapacityLeft",
    "Carrier",
    "Channel",
    "Distance",
    "EarliestDelivery",
    "Exclude",
    "Explanation",
    "Fallback",
    "Fill",
    "Filter",
    "HighestStock",
    "InventoryView",
    "LowestCost",
    "MinimizeSplits",
    "MinimumAvailable",
    "Nearest",
    "Predicate",
    "Priority",
    "PriorityStrategy",
    "Quote",
    "Ranked",
    "Ranker",
    "Ranking",
    "RequestLine",
    "SameCountry",
    "SameRegion",
    "Score",
    "SourcingPlan",
    "SourcingRequest",
    "SourcingStrategy",
    "SpareCapacity",
    "Stock",
    "Strategy",
]
