"""Fallback: try one strategy, and if it cannot source the whole order, another.

>>> from omsims.sourcing import Fill, Nearest, Ranked
>>> strategy = Fallback(Nearest(fill=Fill(max_shipments=1)), Ranked())
>>> strategy.name
'nearest, else ranked'
"""

from __future__ import annotations

from omsims.errors import InvalidIdentifier
from omsims.sourcing.plan import (
    Explanation,
    InventoryView,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)

__all__ = ["Fallback"]


class Fallback:
    """Use the first strategy whose plan sources every unit; else the last one's plan.

    The explanation holds every attempt in order, and says why each was passed over.
    """

    def __init__(self, *strategies: SourcingStrategy) -> None:
        """Try ``strategies`` in the order given (at least two)."""
        if len(strategies) < 2 or not all(hasattr(s, "plan") for s in strategies):
            raise InvalidIdentifier("Fallback needs two or more strategies")
        self.strategies = strategies
        self.name = ", else ".join(s.name for s in strategies)

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        """Plan with each strategy in turn until one sources the whole order."""
        why = Explanation(self.name)
        plan: SourcingPlan | None = None
        for strategy in self.strategies:
            plan = strategy.plan(request, inventory)
            why.note(f"trying {strategy.name}:")
            for step in plan.explanation.steps:
                why.record(step)
            if plan.is_complete:
                why.note(f"{strategy.name} sources every unit: its plan is used")
                break
            left = sum(units for _, units in plan.unfilled)
            why.note(f"{strategy.name} leaves {left} units unfilled")
        assert plan is not None  # noqa: S101 (there are at least two strategies)
        return SourcingPlan(plan.allocations, plan.unfilled, why)
