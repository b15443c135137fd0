"""The built-in priority strategy: fill greedily by location priority."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from omsims.domain.locations import Location
from omsims.domain.values import LocationId, Sku
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

    # The last ranking, keyed by the very (immutable) locations sequence it was made from
    # and the exclusions: adapters that hand out the same tuple while the network is
    # unchanged get the ranking for free. Identity, not equality, is the key. A class
    # default, so subclasses need not call __init__.
    _memo: tuple[object, frozenset[str], _Ranking] | None = None

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        """Source every line of ``request``; see the class docstring for the rules."""
        why = Explanation(self.name)
        ranking = self._ranking(request, inventory.locations())
        ranking.explain(why)
        ranked, rank = ranking.ids, ranking.rank
        taken: dict[tuple[str, str], int] = {}  # units on hand already allocated
        promised: dict[tuple[str, str], int] = {}  # units already backordered
        allocations: list[Allocation] = []
        unfilled: list[tuple[int, int]] = []
        # An optional part of the view: the locations that ever held the SKU. Probing only
        # those keeps the cost per line proportional to where the SKU is, not to the network.
        stocking = getattr(inventory, "stocking", None)
        available = inventory.available
        for rl in request.lines:
            left = rl.quantity
            sku = rl.sku
            if stocking is None:
                probe: Sequence[str] = ranked
            else:
                probe = sorted((loc for loc in stocking(sku) if loc in rank), key=rank.__getitem__)
            for loc in probe:
                k = (sku, loc)
                free = available(sku, loc) - taken.get(k, 0)
                if free > 0:
                    n = min(free, left)
                    taken[k] = taken.get(k, 0) + n
                    allocations.append(Allocation(rl.line, sku, LocationId(loc), n))
                    why.took(rl.line, sku, loc, n, backorder=False)
                    left -= n
                    if left == 0:
                        break
            if left:
                left = self._backorder(
                    rl.line, sku, left, ranked, inventory, promised, why, allocations
                )
            if left:
                unfilled.append((rl.line, left))
                why.unfilled(rl.line, sku, left, "no eligible location has it or takes backorders")
        return SourcingPlan(tuple(allocations), tuple(unfilled), why)

    @staticmethod
    def _backorder(
        line: int,
        sku: Sku,
        left: int,
        ranked: Sequence[str],
        inventory: InventoryView,
        promised: dict[tuple[str, str], int],
        why: Explanation,
        allocations: list[Allocation],
    ) -> int:
        for loc in ranked:
            k = (sku, loc)
            room = inventory.backorder_room(sku, loc) - promised.get(k, 0)
            if room > 0:
                n = min(room, left)
                promised[k] = promised.get(k, 0) + n
                allocations.append(Allocation(line, sku, LocationId(loc), n, backorder=True))
                why.took(line, sku, loc, n, backorder=True)
                left -= n
                if left == 0:
                    break
        return left

    def _ranking(self, request: SourcingRequest, locations: Sequence[Location]) -> _Ranking:
        memo = self._memo
        if memo is not None and memo[0] is locations and memo[1] == request.excluded_locations:
            return memo[2]
        ranking = _Ranking.of(locations, request.excluded_locations)
        if isinstance(locations, tuple):  # only an immutable sequence can key the memo
            self._memo = (locations, request.excluded_locations, ranking)
        return ranking


class _Ranking:
    """Locations that may ship, in priority order, and why the others were dropped."""

    __slots__ = ("dropped", "ids", "rank")

    def __init__(self, ids: list[str], dropped: list[tuple[str, str]]) -> None:
        self.ids = ids
        self.rank = {loc: i for i, loc in enumerate(ids)}
        self.dropped = dropped

    @classmethod
    def of(cls, locations: Sequence[Location], excluded: frozenset[str]) -> _Ranking:
        kept: list[Location] = []
        dropped: list[tuple[str, str]] = []
        for loc in locations:
            if loc.id in excluded:
                dropped.append((loc.id, "excluded (it rejected this order before)"))
            elif not loc.active:
                dropped.append((loc.id, "inactive"))
            elif not loc.can_ship:
                dropped.append((loc.id, "cannot ship"))
            else:
                kept.append(loc)
        kept.sort(key=_RANK)
        return cls([loc.id for loc in kept], dropped)

    def explain(self, why: Explanation) -> None:
        for loc, reason in self.dropped:
            why.dropped(loc, reason)
        why.candidates(self.ids)
