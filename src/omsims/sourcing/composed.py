"""Composable strategies: filters, then rankers applied lexicographically, then a fill policy.

>>> from datetime import datetime, UTC
>>> from omsims import GeoPoint, Location
>>> from omsims.sourcing.plan import RequestLine, SourcingRequest
>>> class View:
...     def locations(self):
...         return [Location("berlin", coordinates=GeoPoint(52.52, 13.40), priority=1),
...                 Location("munich", coordinates=GeoPoint(48.14, 11.58), priority=2)]
...     def available(self, sku, location): return 5
...     def backorder_room(self, sku, location): return 0
>>> request = SourcingRequest("o1", (RequestLine(1, "X", 2),), datetime(2026, 1, 1, tzinfo=UTC),
...                           destination=GeoPoint(48.2, 11.6))
>>> plan = Nearest().plan(request, View())
>>> [(a.location, a.quantity) for a in plan.allocations]
[('munich', 2)]
>>> print(plan.explanation)
nearest: candidates in order: munich, berlin
  ranked by distance: munich=6.8, berlin=497.0
  line 1 (X): 2 from munich on hand
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from omsims.domain.locations import Location
from omsims.domain.values import LocationId, Sku, quantity
from omsims.errors import InvalidIdentifier
from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    InventoryView,
    SourcingPlan,
    SourcingRequest,
)
from omsims.sourcing.rules import (
    CapacityLeft,
    Channel,
    Distance,
    Filter,
    Priority,
    Ranker,
    SpareCapacity,
    Stock,
)

__all__ = ["CapacityAware", "Fill", "HighestStock", "Nearest", "Ranked", "Strategy"]


class Fill:
    """How a strategy turns ranked locations into allocations.

    Args:
        split_lines: a line may come from several locations (else one location per line).
        max_shipments: at most this many locations per order (``None``: no limit).
        complete: all or nothing; if any unit cannot be allocated, allocate none.
        backorders: backorder what no location has, where a position allows it.
    """

    def __init__(
        self,
        *,
        split_lines: bool = True,
        max_shipments: int | None = None,
        complete: bool = False,
        backorders: bool = True,
    ) -> None:
        """Set the policy; see the class docstring."""
        for flag in (split_lines, complete, backorders):
            if type(flag) is not bool:
                raise InvalidIdentifier(f"fill options must be True or False, got {flag!r}")
        self.split_lines = split_lines
        self.max_shipments = None if max_shipments is None else quantity(max_shipments)
        self.complete = complete
        self.backorders = backorders

    def __repr__(self) -> str:
        """Show the policy."""
        return (
            f"Fill(split_lines={self.split_lines}, max_shipments={self.max_shipments}, "
            f"complete={self.complete}, backorders={self.backorders})"
        )


class Strategy:
    """Filters, then rankers (lexicographic; ties finally broken by location id), then a fill.

    Every decision is recorded in the plan's explanation: which locations each filter
    dropped and why, each ranker's scores, which ranker broke which tie, and what was
    taken where. Deterministic: the same request and inventory give the same plan.

    Runtime complexity: O(L (f + r) + L log L + n L) for L locations, f filters, r rankers
    and n lines.
    """

    # (locations tuple, key, ranking, explanation steps): see _memoised_ranking.
    _memo: tuple[object, tuple[object, ...], list[str], list[tuple[object, ...]]] | None = None

    def __init__(
        self,
        *,
        name: str = "custom",
        filters: Sequence[Filter] = (Channel(),),
        rankers: Sequence[Ranker] = (Priority(),),
        fill: Fill | None = None,
    ) -> None:
        """Compose a strategy; by default: the channel filter, priority ranking, greedy fill.

        Excluded, inactive and non-shipping locations are always dropped, before ``filters``.
        """
        self.name = name
        self.filters = tuple(filters)
        self.rankers = tuple(rankers)
        self.fill = fill if fill is not None else Fill()
        for rule in (*self.filters, *self.rankers):
            if not isinstance(getattr(rule, "name", None), str):
                raise InvalidIdentifier(f"every rule needs a name, {rule!r} has none")

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        """Filter, rank and fill; see the class docstring."""
        why = Explanation(self.name)
        ranked = self._memoised_ranking(request, inventory, why)
        if ranked is None:
            kept = self._filter(request, self._relevant(request, inventory, why), inventory, why)
            ranked = self._rank(kept, request, inventory, why)
        allocations, unfilled = self._allocate(ranked, request, inventory, why)
        return SourcingPlan(tuple(allocations), tuple(unfilled), why)

    def _memoised_ranking(
        self, request: SourcingRequest, inventory: InventoryView, why: Explanation
    ) -> list[str] | None:
        """The ranking of every location, reused while nothing it depends on changes.

        Only when every rule declares ``depends_on`` (the request fields it reads, and
        nothing of the inventory) and the view hands out the same tuple of locations: then
        the filters' and rankers' verdicts over the whole network are computed once per
        distinct key and replayed, explanation included, and each request keeps the
        locations that hold its SKUs, in that order.
        """
        locations = inventory.locations()
        fields: set[str] = set()
        for rule in (*self.filters, *self.rankers):
            reads = getattr(rule, "depends_on", None)
            if reads is None:
                return None
            fields.update(reads)
        if not isinstance(locations, tuple):
            return None
        key = (
            frozenset(request.excluded_locations),
            *(getattr(request, f) for f in sorted(fields)),
        )
        memo = self._memo
        if memo is None or memo[0] is not locations or memo[1] != key:
            scratch = Explanation(self.name)
            kept = self._filter(request, locations, inventory, scratch)
            ranked_all = self._rank(kept, request, inventory, scratch)
            memo = self._memo = (locations, key, ranked_all, scratch.steps)
        _, _, ranked_all, steps = memo
        for step in steps:
            why.record(step)
        stocking = getattr(inventory, "stocking", None)
        if stocking is None:
            return list(ranked_all)
        holders: set[str] = set()
        for rl in request.lines:
            holders.update(stocking(rl.sku))
        return [loc for loc in ranked_all if loc in holders]

    # -- the three stages ------------------------------------------------------------------

    @staticmethod
    def _relevant(
        request: SourcingRequest, inventory: InventoryView, why: Explanation
    ) -> Sequence[Location]:
        """The locations worth judging: with the view's help, those that hold the SKUs.

        A location without a position for any of the order's SKUs can neither ship them
        nor take their backorders, so when the view can say where each SKU is
        (``stocking``), the others are skipped before any rule runs: the cost of a plan
        then follows where the SKUs are, not the size of the network.
        """
        locations = inventory.locations()
        stocking = getattr(inventory, "stocking", None)
        if stocking is None:
            return locations
        holders: set[str] = set()
        for rl in request.lines:
            holders.update(stocking(rl.sku))
        relevant = [loc for loc in locations if loc.id in holders]
        if len(relevant) < len(locations):
            why.note(f"{len(locations) - len(relevant)} locations hold none of the order's SKUs")
        return relevant

    def _filter(
        self,
        request: SourcingRequest,
        locations: Sequence[Location],
        inventory: InventoryView,
        why: Explanation,
    ) -> list[Location]:
        kept = []
        for loc in locations:
            reason = None
            if loc.id in request.excluded_locations:
                reason = "excluded (it rejected this order before)"
            elif not loc.active:
                reason = "inactive"
            elif not loc.can_ship:
                # Orders are shipped to an address: a location that cannot ship never
                # qualifies, whatever filters a user composes.
                reason = "cannot ship"
            else:
                for rule in self.filters:
                    if (why_not := rule.reason_to_drop(loc, request, inventory)) is not None:
                        reason = f"{rule.name}: {why_not}"
                        break
            if reason is None:
                kept.append(loc)
            else:
                why.dropped(loc.id, reason)
        return kept

    def _rank(
        self,
        kept: list[Location],
        request: SourcingRequest,
        inventory: InventoryView,
        why: Explanation,
    ) -> list[str]:
        rankers = self.rankers
        keyed: list[tuple[tuple[float, ...], str]]
        if len(rankers) == 1:  # the common case, without a generator per location
            score = rankers[0].score
            keyed = [((score(loc, request, inventory),), loc.id) for loc in kept]
        else:
            keyed = [
                (tuple(r.score(loc, request, inventory) for r in rankers), loc.id) for loc in kept
            ]
        keyed.sort()
        ranked: list[str] = [loc_id for _, loc_id in keyed]
        why.candidates(ranked)
        names = [r.name for r in rankers]
        ties: list[tuple[str, list[str]]] = []
        deciding = {0}
        for (a, a_id), (b, b_id) in itertools.pairwise(keyed):
            if a[0] != b[0]:
                continue  # the first rule decided: no tie to explain
            k = 1
            while k < len(a) and a[k] == b[k]:
                k += 1
            rule = names[k] if k < len(a) else "location id"
            ties.append((rule, [a_id, b_id]))
            if k < len(a):
                deciding.add(k)
        # The first rule's scores always; a later rule's only if it broke a tie.
        if rankers and len(keyed) > 1:
            for i in sorted(deciding):
                why.scored(names[i], [(loc_id, key[i]) for key, loc_id in keyed])
        for rule, pair in ties:
            why.tie(rule, pair)
        return ranked

    def _allocate(
        self,
        ranked: list[str],
        request: SourcingRequest,
        inventory: InventoryView,
        why: Explanation,
    ) -> tuple[list[Allocation], list[tuple[int, int]]]:
        """Greedy fill in rank order under the fill policy (subclasses may search)."""
        return greedy_fill(ranked, request, inventory, why, self.fill)


def greedy_fill(
    ranked: Sequence[str],
    request: SourcingRequest,
    inventory: InventoryView,
    why: Explanation,
    fill: Fill,
) -> tuple[list[Allocation], list[tuple[int, int]]]:
    """Fill each line from the locations in ``ranked`` order under ``fill``'s policy."""
    filler = _Filler(ranked, inventory, why, fill)
    unfilled: list[tuple[int, int]] = []
    for rl in request.lines:
        left = filler.take(rl.line, rl.sku, rl.quantity, backorder=False)
        if left and fill.backorders:
            left = filler.take(rl.line, rl.sku, left, backorder=True)
        if left:
            unfilled.append((rl.line, left))
            why.unfilled(rl.line, rl.sku, left, _shortage_reason(fill))
    if fill.complete and unfilled:
        why.note("ship complete: not every unit could be allocated, so none is")
        return [], [(rl.line, rl.quantity) for rl in request.lines]
    return filler.allocations, unfilled


class _Filler:
    """The running state of one greedy fill: what is taken, promised and used."""

    def __init__(
        self, ranked: Sequence[str], inventory: InventoryView, why: Explanation, fill: Fill
    ) -> None:
        self.ranked = ranked
        self.inventory = inventory
        self.why = why
        self.fill = fill
        self.counted: dict[tuple[str, str, bool], int] = {}
        self.used: list[str] = []  # locations in the plan, in the order first used
        self.allocations: list[Allocation] = []

    def take(self, line: int, sku: Sku, want: int, *, backorder: bool) -> int:
        """Allocate up to ``want`` units of a line; returns what is left."""
        fill, left = self.fill, want
        for loc in self.ranked:
            have = (
                self.inventory.backorder_room(sku, loc)
                if backorder
                else self.inventory.available(sku, loc)
            ) - self.counted.get((sku, loc, backorder), 0)
            room = (
                loc in self.used
                or fill.max_shipments is None
                or (len(self.used) < fill.max_shipments)
            )
            if have <= 0 or not room or (not fill.split_lines and have < left):
                continue
            n = min(have, left)
            self.counted[(sku, loc, backorder)] = self.counted.get((sku, loc, backorder), 0) + n
            if loc not in self.used:
                self.used.append(loc)
            self.allocations.append(Allocation(line, sku, LocationId(loc), n, backorder=backorder))
            self.why.took(line, sku, loc, n, backorder=backorder)
            left -= n
            if left == 0:
                break
        return left


def _shortage_reason(fill: Fill) -> str:
    limits = []
    if not fill.split_lines:
        limits.append("no single location has the whole line")
    if fill.max_shipments is not None:
        limits.append(f"at most {fill.max_shipments} shipments")
    return "; ".join(limits) or "no eligible location has it or takes backorders"


class Ranked(Strategy):
    """Ship by location priority (lower numbers first), ties by location id."""

    def __init__(
        self, *, filters: Sequence[Filter] = (Channel(),), fill: Fill | None = None
    ) -> None:
        """Priority ranking over ``filters`` with ``fill``."""
        super().__init__(name="ranked", filters=filters, rankers=(Priority(),), fill=fill)


class Nearest(Strategy):
    """Ship from the nearest locations (great-circle distance), then by priority."""

    def __init__(
        self, *, filters: Sequence[Filter] = (Channel(),), fill: Fill | None = None
    ) -> None:
        """Distance ranking (priority breaks ties) over ``filters`` with ``fill``."""
        super().__init__(
            name="nearest", filters=filters, rankers=(Distance(), Priority()), fill=fill
        )


class HighestStock(Strategy):
    """Ship from the locations holding the most of the order's SKUs, then by priority."""

    def __init__(
        self, *, filters: Sequence[Filter] = (Channel(),), fill: Fill | None = None
    ) -> None:
        """Stock ranking (priority breaks ties) over ``filters`` with ``fill``."""
        super().__init__(
            name="highest stock", filters=filters, rankers=(Stock(), Priority()), fill=fill
        )


class CapacityAware(Strategy):
    """Respect each location's daily capacity of fulfilment orders.

    With ``penalise=False`` (the default) a location that has accepted its
    ``daily_capacity`` of fulfilment orders today is skipped; with ``penalise=True`` it
    is only ranked after every location with capacity left. The other rankers (priority
    by default) order the rest. Capacity resets at midnight UTC.
    """

    def __init__(
        self,
        *,
        filters: Sequence[Filter] = (Channel(),),
        rankers: Sequence[Ranker] = (Priority(),),
        penalise: bool = False,
        fill: Fill | None = None,
    ) -> None:
        """Capacity first (as a filter, or as the first ranker), then ``rankers``."""
        if penalise:
            super().__init__(
                name="capacity aware (penalise)",
                filters=filters,
                rankers=(SpareCapacity(), *rankers),
                fill=fill,
            )
        else:
            super().__init__(
                name="capacity aware",
                filters=(*filters, CapacityLeft()),
                rankers=rankers,
                fill=fill,
            )
