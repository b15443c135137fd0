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

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Generic, TypeVar, cast

from omsims.domain.locations import Location
from omsims.domain.values import LocationId, Sku, quantity
from omsims.errors import InvalidIdentifier
from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    InventoryView,
    RequestLine,
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
    incoming,
)

__all__ = [
    "CapacityAware",
    "Fill",
    "HighestStock",
    "Nearest",
    "Ranked",
    "Ranking",
    "Strategy",
    "greedy_fill",
]


class Fill:
    """How a strategy turns ranked locations into allocations.

    Args:
        split_lines: a line may come from several locations (else one location per line).
        max_shipments: at most this many locations per order (``None``: no limit).
        complete: all or nothing; if any unit cannot be allocated, allocate none.
        backorders: backorder what no location has, where a position allows it. Each
            backordered unit is promised the date its supply is due (the earliest
            arrival at that position no earlier backorder has claimed), if any is.
        against_incoming: backorder only units that supply on its way will cover, so
            every backorder has a promised date.
    """

    def __init__(
        self,
        *,
        split_lines: bool = True,
        max_shipments: int | None = None,
        complete: bool = False,
        backorders: bool = True,
        against_incoming: bool = False,
    ) -> None:
        """Set the policy; see the class docstring."""
        for flag in (split_lines, complete, backorders, against_incoming):
            if type(flag) is not bool:
                raise InvalidIdentifier(f"fill options must be True or False, got {flag!r}")
        self.split_lines = split_lines
        self.max_shipments = None if max_shipments is None else quantity(max_shipments)
        self.complete = complete
        self.backorders = backorders
        self.against_incoming = against_incoming

    def __repr__(self) -> str:
        """Show the policy."""
        return (
            f"Fill(split_lines={self.split_lines}, max_shipments={self.max_shipments}, "
            f"complete={self.complete}, backorders={self.backorders}, "
            f"against_incoming={self.against_incoming})"
        )


class Ranking:
    """The locations that passed a strategy's filters, in rank order.

    ``ids`` are the ranked locations (the whole network's when the ranking is memoised,
    else only those holding the order's SKUs); ``rank`` maps each to its place.
    :meth:`holding` narrows them to one SKU's holders, which is all a fill probes.
    """

    __slots__ = ("_cache", "ids", "rank")

    def __init__(self, ids: list[LocationId], *, cache: bool = False) -> None:
        """Wrap ``ids`` (in rank order); ``cache`` memoises :meth:`holding` per holder set."""
        self.ids = ids
        self.rank = {loc: i for i, loc in enumerate(ids)}
        self._cache: dict[object, tuple[Collection[str], list[LocationId]]] | None = (
            {} if cache else None
        )

    def holding(self, holders: Collection[str]) -> list[LocationId]:
        """The ranked locations among ``holders``, in rank order.

        Memoised (when asked for) per holder set: by identity for a tuple (immutable, so
        the same tuple means the same holders), else by content.
        """
        cache = self._cache
        if cache is None:
            return self._among(holders)
        if type(holders) is tuple:
            hit = cache.get(id(holders))
            if hit is not None and hit[0] is holders:
                return hit[1]
            key: object = id(holders)
        else:
            key = holders = tuple(holders)
            hit = cache.get(key)
            if hit is not None:
                return hit[1]
        found = self._among(holders)
        if len(cache) >= _MAX_CACHED_HOLDER_SETS:
            cache.clear()  # bounded: a network of many SKUs cycles through it
        # The entry keeps the holders alive, so their id cannot be reused while cached.
        cache[key] = (holders, found)
        return found

    def _among(self, holders: Collection[str]) -> list[LocationId]:
        rank: dict[str, int] = self.rank  # type: ignore[assignment]
        return cast(
            "list[LocationId]", sorted((x for x in holders if x in rank), key=rank.__getitem__)
        )

    def relevant(self, request: SourcingRequest, inventory: InventoryView) -> list[LocationId]:
        """The ranked locations that hold any of the request's SKUs (all, if unknown)."""
        stocking = getattr(inventory, "stocking", None)
        if stocking is None:
            return list(self.ids)
        holders: set[str] = set()
        for rl in request.lines:
            holders.update(stocking(rl.sku))
        return self.holding(holders)


_MAX_CACHED_HOLDER_SETS = 65_536

_T = TypeVar("_T")
_Steps = tuple[tuple[object, ...], ...]


class _Memo(Generic[_T]):
    """A strategy's verdicts per request key, for one tuple of locations.

    Most orders share one key (no exclusions, the same channel); an order sourced again
    after a rejection excludes the rejecting location and has a key of its own. Keeping
    several keys means such an order does not push the common verdict out. A new
    locations tuple (the network changed) starts afresh; so does a full memo (bounded:
    every rejection adds a key).
    """

    __slots__ = ("_table",)

    def __init__(self) -> None:
        # One tuple, swapped whole: a thread never pairs one network with another's verdicts.
        self._table: tuple[object, dict[object, tuple[_T, _Steps]]] = (None, {})

    def get(self, locations: object, key: object) -> tuple[_T, _Steps] | None:
        """The verdict remembered for ``key`` on ``locations``, or ``None``."""
        table = self._table
        return table[1].get(key) if table[0] is locations else None

    def put(self, locations: object, key: object, value: _T, steps: _Steps) -> tuple[_T, _Steps]:
        """Remember ``value`` (and how it was reached) for ``key`` on ``locations``."""
        table = self._table
        if table[0] is not locations or len(table[1]) >= _MAX_MEMO_KEYS:
            table = self._table = (locations, {})
        hit = table[1][key] = (value, steps)
        return hit


_MAX_MEMO_KEYS = 1_024


class Strategy:
    """Filters, then rankers (lexicographic; ties finally broken by location id), then a fill.

    Every decision is recorded in the plan's explanation: which locations each filter
    dropped and why, each ranker's scores, which ranker broke which tie, and what was
    taken where. Deterministic: the same request and inventory give the same plan.

    Rules that declare ``depends_on`` (the request fields they read, and nothing of the
    inventory) are judged once per network and reused: the filters' verdicts when every
    filter declares it, the whole ranking when every ranker does too.

    Runtime complexity: O(L (f + r) + L log L + n L) for L locations, f filters, r rankers
    and n lines; with memoised verdicts, L is only the locations holding the order's SKUs.
    """

    # Verdicts per request key (the exclusions and the fields the rules read), for the
    # very (immutable) locations tuple a view hands out: (result, explanation steps).
    _kept_memo: _Memo[list[Location]]
    _ranking_memo: _Memo[Ranking]

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
        self._filter_fields = _fields_read(self.filters)
        ranker_fields = _fields_read(self.rankers)
        self._ranking_fields = (
            None
            if self._filter_fields is None or ranker_fields is None
            else tuple(sorted({*self._filter_fields, *ranker_fields}))
        )
        self._rank_names = tuple(r.name for r in self.rankers)
        # The memo keys: the exclusions and every request field the rules read.
        self._filter_key = attrgetter("excluded_locations", *(self._filter_fields or ()))
        self._ranking_key = attrgetter("excluded_locations", *(self._ranking_fields or ()))
        self._kept_memo = _Memo()
        self._ranking_memo = _Memo()
        self._greedy = type(self)._allocate is Strategy._allocate  # noqa: SLF001

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        """Filter, rank and fill; see the class docstring."""
        why = Explanation(self.name)
        ranking = self._ranking(request, inventory, why)
        if self._greedy:  # no subclass search: skip a call on the hot path
            allocations, unfilled = greedy_fill(ranking, request, inventory, why, self.fill)
        else:
            allocations, unfilled = self._allocate(ranking, request, inventory, why)
        return SourcingPlan(tuple(allocations), tuple(unfilled), why)

    # -- the three stages ------------------------------------------------------------------

    def _ranking(
        self, request: SourcingRequest, inventory: InventoryView, why: Explanation
    ) -> Ranking:
        """Filter and rank, reusing memoised verdicts where every rule allows it."""
        locations = inventory.locations()
        fields = self._ranking_fields
        if fields is not None and isinstance(locations, tuple):
            key = self._ranking_key(request)
            hit = self._ranking_memo.get(locations, key)
            if hit is None:
                scratch = Explanation(self.name)
                kept = self._filter(request, locations, inventory, scratch)
                ids = self._rank(kept, request, inventory, scratch)
                hit = self._ranking_memo.put(
                    locations, key, Ranking(ids, cache=True), scratch.recorded()
                )
            why.share(hit[1])
            return hit[0]
        kept = self._kept(request, inventory, locations, why)
        return Ranking(self._rank(kept, request, inventory, why))

    def _kept(
        self,
        request: SourcingRequest,
        inventory: InventoryView,
        locations: Sequence[Location],
        why: Explanation,
    ) -> list[Location]:
        """The locations that pass the filters and hold any of the order's SKUs."""
        stocking = getattr(inventory, "stocking", None)
        holders: set[str] | None = None
        if stocking is not None:
            # A location without a position for any of the order's SKUs can neither ship
            # them nor take their backorders: the others are never judged, so the cost of
            # a plan follows where the SKUs are, not the size of the network.
            holders = set()
            for rl in request.lines:
                holders.update(stocking(rl.sku))
        fields = self._filter_fields
        if fields is not None and isinstance(locations, tuple):
            key = self._filter_key(request)
            hit = self._kept_memo.get(locations, key)
            if hit is None:
                scratch = Explanation(self.name)
                kept = self._filter(request, locations, inventory, scratch)
                hit = self._kept_memo.put(locations, key, kept, scratch.recorded())
            why.share(hit[1])
            kept = hit[0]
            return kept if holders is None else [loc for loc in kept if loc.id in holders]
        if holders is not None:
            relevant = [loc for loc in locations if loc.id in holders]
            if len(relevant) < len(locations):
                why.note(
                    f"{len(locations) - len(relevant)} locations hold none of the order's SKUs"
                )
            locations = relevant
        return self._filter(request, locations, inventory, why)

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
    ) -> list[LocationId]:
        """Sort by every ranker's score, then id; the explanation expands ties lazily."""
        # One column of scores per ranker, zipped into (score, ..., id) keys: tuples
        # compare lexicographically, exactly the rule "a later ranker breaks ties".
        columns = [[r.score(loc, request, inventory) for loc in kept] for r in self.rankers]
        keyed: list[tuple[object, ...]] = list(zip(*columns, [loc.id for loc in kept], strict=True))
        keyed.sort()
        why.ranked(self._rank_names, keyed)
        return [k[-1] for k in keyed]  # type: ignore[misc]

    def _allocate(
        self,
        ranking: Ranking,
        request: SourcingRequest,
        inventory: InventoryView,
        why: Explanation,
    ) -> tuple[list[Allocation], list[tuple[int, int]]]:
        """Greedy fill in rank order under the fill policy (subclasses may search)."""
        return greedy_fill(ranking, request, inventory, why, self.fill)


def _fields_read(rules: Sequence[Filter] | Sequence[Ranker]) -> tuple[str, ...] | None:
    """The request fields ``rules`` read, or ``None`` if any rule does not declare them."""
    fields: set[str] = set()
    for rule in rules:
        reads = getattr(rule, "depends_on", None)
        if reads is None:
            return None
        fields.update(reads)
    return tuple(sorted(fields))


def greedy_fill(
    ranked: Ranking | Sequence[LocationId],
    request: SourcingRequest,
    inventory: InventoryView,
    why: Explanation,
    fill: Fill,
) -> tuple[list[Allocation], list[tuple[int, int]]]:
    """Fill each line from the locations in ``ranked`` order under ``fill``'s policy.

    Given a :class:`Ranking` and a view that knows each SKU's holders, every line probes
    only its own SKU's holders; given a list, every location on it. Lines are filled in
    request order, each from stock on hand first, then (if ``fill.backorders``) as
    backorders, and a SKU on several lines draws on one shared pool.
    """
    ranking = ranked if isinstance(ranked, Ranking) else Ranking(list(ranked))
    missing: list[tuple[int, str, int, str]] = []
    if fill.split_lines and fill.max_shipments is None:
        allocations = _fill_freely(ranking, request.lines, inventory, fill, missing)
    else:
        filler = _Filler(ranking, inventory, fill, [])
        for rl in request.lines:
            left = filler.take(rl.line, rl.sku, rl.quantity, backorder=False)
            if left and fill.backorders:
                left = filler.take(rl.line, rl.sku, left, backorder=True)
            if left:
                missing.append((rl.line, rl.sku, left, _shortage_reason(fill)))
        allocations = filler.allocations
    why.filled(request.lines, allocations, missing)
    if fill.complete and missing:
        why.note("ship complete: not every unit could be allocated, so none is")
        return [], [(rl.line, rl.quantity) for rl in request.lines]
    return allocations, [(line, units) for line, _, units, _ in missing] if missing else []


_new_allocation = tuple.__new__  # Allocation's own __new__ is a Python function: skip it


def _fill_freely(
    ranking: Ranking,
    lines: Sequence[RequestLine],
    inventory: InventoryView,
    fill: Fill,
    missing: list[tuple[int, str, int, str]],
) -> list[Allocation]:
    """Fill every line, splitting freely: :meth:`_Filler.take` without the policy's checks.

    The policy every built-in uses by default, on the hot path of every order; a
    property test holds it to exactly what the checked path does.
    """
    available = inventory.available
    stocking = _stocking(inventory, ranking)
    holding = ranking.holding
    # Units already taken count only when a SKU is on several lines: skip the books else.
    shared = len(lines) > 1 and len({rl.sku for rl in lines}) < len(lines)
    taken: dict[tuple[str, str], int] = {}
    allocations: list[Allocation] = []
    backorders: _Filler | None = None
    cache = ranking._cache if ranking._cache is not None else {}  # noqa: SLF001 (same module)
    for rl in lines:
        sku, left = rl.sku, rl.quantity
        held = stocking(sku)
        # Ranking.holding's cache hit, inlined: a call less per line on the hot path.
        hit = cache.get(id(held))
        for loc in hit[1] if hit is not None and hit[0] is held else holding(held):
            have = available(sku, loc)
            if shared:
                have -= taken.get((sku, loc), 0)
            if have > 0:
                n = have if have < left else left  # noqa: FURB136 (min() costs a call)
                if shared:
                    taken[(sku, loc)] = taken.get((sku, loc), 0) + n
                allocations.append(
                    _new_allocation(Allocation, (rl.line, sku, loc, n, False, None, None))
                )
                left -= n
                if not left:
                    break
        if left and fill.backorders:
            if backorders is None:
                backorders = _Filler(ranking, inventory, fill, allocations)
            left = backorders.take(rl.line, sku, left, backorder=True)
        if left:
            missing.append((rl.line, sku, left, _NO_STOCK))
    return allocations


def _stocking(inventory: InventoryView, ranking: Ranking) -> Callable[[str], Collection[str]]:
    """Each SKU's holders, from the view; without its help, every ranked location."""
    stocking = getattr(inventory, "stocking", None)
    return stocking if stocking is not None else lambda _sku: ranking.ids


class _Filler:
    """The running state of one greedy fill under a policy: what is taken and used."""

    __slots__ = (
        "against_incoming",
        "allocations",
        "available",
        "counted",
        "holding",
        "inventory",
        "limit",
        "room",
        "stocking",
        "used",
        "whole",
    )

    def __init__(
        self,
        ranking: Ranking,
        inventory: InventoryView,
        fill: Fill,
        allocations: list[Allocation],
    ) -> None:
        self.stocking = _stocking(inventory, ranking)
        self.holding = ranking.holding
        self.available = inventory.available
        self.room = inventory.backorder_room
        self.inventory = inventory
        self.against_incoming = fill.against_incoming
        self.limit = fill.max_shipments
        self.whole = not fill.split_lines
        self.counted: dict[tuple[str, str, bool], int] = {}
        self.used: dict[str, None] = {}  # locations in the plan, in the order first used
        self.allocations = allocations

    def take(self, line: int, sku: Sku, want: int, *, backorder: bool) -> int:
        """Allocate up to ``want`` units of a line under the policy; returns what is left."""
        left, counted, used, limit, whole = want, self.counted, self.used, self.limit, self.whole
        ask = self.room if backorder else self.available
        for loc in self.holding(self.stocking(sku)):
            k = (sku, loc, backorder)
            have = ask(sku, loc) - counted.get(k, 0)
            if backorder and self.against_incoming:
                have = min(have, sum(n for _, n in self.arrivals(sku, loc)))
            if (
                have <= 0
                or (whole and have < left)
                or (limit is not None and loc not in used and len(used) >= limit)
            ):
                continue
            n = have if have < left else left  # noqa: FURB136 (min() costs a call per unit)
            used[loc] = None
            if backorder:
                self._promise(line, sku, loc, n)
            else:
                counted[k] = counted.get(k, 0) + n
                self.allocations.append(
                    _new_allocation(Allocation, (line, sku, loc, n, False, None, None))
                )
            left -= n
            if left == 0:
                break
        return left

    def arrivals(self, sku: str, loc: LocationId) -> list[tuple[datetime, int]]:
        """The position's unclaimed arrivals, less what this plan has promised already."""
        skip = self.counted.get((sku, loc, True), 0)
        out = []
        for eta, n in incoming(self.inventory, sku, loc):
            kept = n - min(skip, n)
            skip -= n - kept
            if kept:
                out.append((eta, kept))
        return out

    def _promise(self, line: int, sku: Sku, loc: LocationId, n: int) -> None:
        """Backorder ``n`` units, one allocation per arrival that covers them, dated."""
        arrivals = self.arrivals(sku, loc)
        self.counted[(sku, loc, True)] = self.counted.get((sku, loc, True), 0) + n
        for eta, due in arrivals:
            if not n:
                return
            m = min(due, n)
            self.allocations.append(
                _new_allocation(Allocation, (line, sku, loc, m, True, eta, None))
            )
            n -= m
        if n:  # no supply covers these yet: backordered without a date
            self.allocations.append(
                _new_allocation(Allocation, (line, sku, loc, n, True, None, None))
            )


_NO_STOCK = "no eligible location has it or takes backorders"


def _shortage_reason(fill: Fill) -> str:
    limits = []
    if not fill.split_lines:
        limits.append("no single location has the whole line")
    if fill.max_shipments is not None:
        limits.append(f"at most {fill.max_shipments} shipments")
    return "; ".join(limits) or _NO_STOCK


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
