"""The built-in priority strategy: fill greedily by location priority."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from omsims.domain.locations import Location
from omsims.domain.values import LocationId
from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    InventoryView,
    SourcingPlan,
    SourcingRequest,
)

__all__ = ["PriorityStrategy"]

_RANK = attrgetter("priority", "id")


class PriorityStrategy:
    """Fill each line from the locations in priority order, then backorder where allowed.

    Locations are ranked by ``(priority, id)``: lower priority numbers first, ties broken
    by id, so the plan is deterministic. Lines are sourced in line order; a SKU on
    several lines draws on one shared pool, so two lines never promise the same unit.
    Units no location has on hand are backordered at the first location (in the same
    order) that allows backorders and has room; the rest stay unfilled.

    Locations that cannot ship, are inactive or are excluded by the request are dropped.

    >>> from datetime import datetime, UTC
    >>> from omsims.sourcing.plan import RequestLine, SourcingRequest
    >>> class View:
    ...     def locations(self): return [Location("b", priority=2), Location("a", priority=1)]
    ...     def available(self, sku, location): return {"a": 1, "b": 5}[location]
    ...     def backorder_room(self, sku, location): return 0
    >>> request = SourcingRequest("o1", (RequestLine(1, "X", 3),), datetime(2026, 1, 1, tzinfo=UTC))
    >>> plan = PriorityStrategy().plan(request, View())
    >>> [(a.location, a.quantity) for a in plan.allocations]
    [('a', 1), ('b', 2)]

    Runtime complexity: O(L log L + n L) for L locations and n lines.
    """

    name = "priority"

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        """Source every line of ``request``; see the class docstring for the rules."""
        why = Explanation(self.name)
        ranked = self._candidates(request, inventory.locations(), why)
        taken: dict[tuple[str, str], int] = {}  # units on hand already allocated
        promised: dict[tuple[str, str], int] = {}  # units already backordered
        allocations: list[Allocation] = []
        unfilled: list[tuple[int, int]] = []
        # An optional part of the view: the locations that ever held the SKU. Probing only
        # those keeps the cost per line proportional to where the SKU is, not to the network.
        stocking = getattr(inventory, "stocking", None)
        for rl in request.lines:
            left = rl.quantity
            holders = stocking(rl.sku) if stocking is not None else None
            for loc in ranked:
                if left == 0:
                    break
                if holders is not None and loc not in holders:
                    continue
                k = (rl.sku, loc)
                free = inventory.available(rl.sku, loc) - taken.get(k, 0)
                if free > 0:
                    n = min(free, left)
                    taken[k] = taken.get(k, 0) + n
                    allocations.append(Allocation(rl.line, rl.sku, LocationId(loc), n))
                    why.took(rl.line, rl.sku, loc, n, backorder=False)
                    left -= n
            for loc in ranked:
                if left == 0:
                    break
                k = (rl.sku, loc)
                room = inventory.backorder_room(rl.sku, loc) - promised.get(k, 0)
                if room > 0:
                    n = min(room, left)
                    promised[k] = promised.get(k, 0) + n
                    allocations.append(
                        Allocation(rl.line, rl.sku, LocationId(loc), n, backorder=True)
                    )
                    why.took(rl.line, rl.sku, loc, n, backorder=True)
                    left -= n
            if left:
                unfilled.append((rl.line, left))
                why.unfilled(
                    rl.line, rl.sku, left, "no eligible location has it or takes backorders"
                )
        return SourcingPlan(tuple(allocations), tuple(unfilled), why)

    @staticmethod
    def _candidates(
        request: SourcingRequest, locations: Sequence[Location], why: Explanation
    ) -> list[str]:
        kept: list[Location] = []
        for loc in locations:
            if loc.id in request.excluded_locations:
                why.dropped(loc.id, "excluded (it rejected this order before)")
            elif not loc.active:
                why.dropped(loc.id, "inactive")
            elif not loc.can_ship:
                why.dropped(loc.id, "cannot ship")
            else:
                kept.append(loc)
        kept.sort(key=_RANK)
        why.candidates([loc.id for loc in kept])
        return [loc.id for loc in kept]
