"""LowestCost: the cheapest way to ship the whole order, exactly where affordable.

A plan's cost is, per shipment (one per location used): the carrier's quote for the
parcel (by its weight, from the location to the destination), the location's
``handling_cost`` and a fixed ``per_shipment`` cost.

>>> from datetime import datetime, UTC
>>> from decimal import Decimal
>>> from omsims import GeoPoint, Location, Money
>>> from omsims.sourcing import Quote, RequestLine, SourcingRequest
>>> class Flat:  # 5 EUR a parcel up to 10 kg, 9 EUR above
...     name = "flat"
...     def quote(self, origin, destination, weight_kg):
...         return Quote("flat", "std", Money(5 if weight_kg <= 10 else 9, "EUR"), 1)
>>> class View:
...     stock = {("A", "big"): 2, ("B", "big"): 0, ("A", "small"): 2, ("B", "small"): 1}
...     def locations(self):
...         return [Location("big", handling_cost=Money("1.00", "EUR"), priority=1),
...                 Location("small", handling_cost=Money("3.00", "EUR"), priority=2)]
...     def available(self, sku, location): return self.stock[sku, location]
...     def backorder_room(self, sku, location): return 0
>>> strategy = LowestCost(Flat(), weights={"A": 4, "B": 1}, per_shipment=Money(2, "EUR"))
>>> request = SourcingRequest("o1", (RequestLine(1, "A", 2), RequestLine(2, "B", 1)),
...                           datetime(2026, 1, 1, tzinfo=UTC), destination=GeoPoint(52, 13))
>>> plan = strategy.plan(request, View())
>>> [(a.line, a.location, a.quantity) for a in plan.allocations]
[(1, 'small', 2), (2, 'small', 1)]
>>> print(plan.explanation)  # doctest: +ELLIPSIS
lowest cost: candidates in order: big, small
  ranked by priority: big=1, small=2
  greedy by rank costs 18.00 EUR in 2 shipments
  exact: lowest cost 10.00 EUR in 1 shipment (3 parcels weighed)
  small: 9 kg, flat std 5 EUR + handling 3.00 EUR + per shipment 2 EUR = 10.00 EUR
  line 1 (A): 2 from small on hand
  line 2 (B): 1 from small on hand
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Final

from omsims.domain.locations import Location
from omsims.domain.values import LocationId, Money, Sku, quantity, weight_kg
from omsims.errors import InvalidIdentifier, InvalidMoney, InvalidPlan
from omsims.sourcing.carriers import Carrier, Quote
from omsims.sourcing.composed import Fill, Ranking, Strategy, greedy_fill
from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    InventoryView,
    SourcingRequest,
)
from omsims.sourcing.rules import Channel, Filter, Priority, Ranker
from omsims.sourcing.splits import EXACT_CANDIDATES

__all__ = ["MAX_SEARCH_PARCELS", "LowestCost"]

MAX_SEARCH_PARCELS: Final = 100_000
"""How many candidate parcels LowestCost's exact search may weigh before it settles."""

_NEVER: Final = 10**30  # a cost above any real one (thousandths of a currency unit)


class LowestCost(Strategy):
    """Ship the whole order at the lowest total cost, from stock on hand.

    The search is exact: it considers every way to split the order's units over the
    candidate locations (every unit of a line from one location when
    ``Fill(split_lines=False)``; at most ``Fill(max_shipments=...)`` locations) and
    returns a cheapest one. It is a depth-first branch and bound over the candidates in
    order of their cheapest parcel (ties by rank), largest parcels first, in integer
    arithmetic. The plans to beat are the greedy fill by rank, the cheapest single
    location that holds everything and a greedy by price per unit. A
    partial plan is dropped when the stock left cannot cover what is missing; when its
    cost plus the cheapest shipments it still needs (at least the units missing over the
    most any candidate left can carry) cannot beat the best plan; or when the same
    remainder was reached before at no higher cost and no more shipments. A parcel is
    never weighed further when one unit more would cost the same there (the bigger one
    leaves later parcels lighter, so it is never worse).

    Ties: among plans of equal cost the one with fewer shipments wins; among those, the
    greedy fill by rank if it is one, else the cheapest single location, else the greedy
    by price per unit, else the first plan the search found.

    Exact up to ``exact_up_to`` candidate locations holding the order's SKUs (default
    20). Beyond it, the greedy fill by rank is used. Within it, a search that weighs
    more than ``max_parcels`` parcels (default :data:`MAX_SEARCH_PARCELS`) stops with
    the best plan found and says so in the explanation ("not proven lowest"); the
    benchmark's orders (up to 4 lines, 20 candidates) stay far below it. When no plan
    ships the whole order from stock on hand (or no carrier quotes it), the greedy fill
    by rank is used, backorders included.

    Requires of the carrier what every rate card satisfies: on one route a heavier
    parcel never costs less, and a parcel too heavy to quote stays unquoted when it
    gets heavier still (the search's bounds rely on both).

    Args:
        carrier: quotes each candidate parcel.
        weights: kilograms per unit of each SKU.
        default_weight_kg: the weight of a SKU missing from ``weights`` (else an error).
        per_shipment: a fixed cost added per shipment (a location used).
        exact_up_to: the most candidates the exact search takes on.
        max_parcels: the most parcels the exact search weighs.
    """

    def __init__(
        self,
        carrier: Carrier,
        *,
        weights: Mapping[str, Decimal | int | str],
        default_weight_kg: Decimal | int | str | None = None,
        per_shipment: Money | None = None,
        filters: Sequence[Filter] = (Channel(),),
        rankers: Sequence[Ranker] = (Priority(),),
        fill: Fill | None = None,
        exact_up_to: int = EXACT_CANDIDATES,
        max_parcels: int = MAX_SEARCH_PARCELS,
    ) -> None:
        """Minimise cost with ``carrier``; see the class docstring for every argument."""
        super().__init__(name="lowest cost", filters=filters, rankers=rankers, fill=fill)
        if not callable(getattr(carrier, "quote", None)):
            raise InvalidIdentifier(f"LowestCost needs a carrier with quote(), got {carrier!r}")
        if per_shipment is not None and not isinstance(per_shipment, Money):
            raise InvalidMoney(f"per_shipment must be Money, got {per_shipment!r}")
        if per_shipment is not None and per_shipment.amount < 0:
            raise InvalidMoney(f"per_shipment may not be negative, got {per_shipment}")
        self.carrier = carrier
        self.weights = {sku: weight_kg(w, f"weight of {sku}") for sku, w in weights.items()}
        self.default_weight_kg = (
            None if default_weight_kg is None else weight_kg(default_weight_kg, "default weight")
        )
        self.per_shipment = per_shipment
        self.exact_up_to = quantity(exact_up_to, "exact_up_to")
        self.max_parcels = quantity(max_parcels, "max_parcels")

    def weight_of(self, sku: str) -> Decimal:
        """Kilograms per unit of ``sku``."""
        found = self.weights.get(sku, self.default_weight_kg)
        if found is None:
            raise InvalidIdentifier(
                f"LowestCost has no weight for SKU {sku!r}: add it to weights= or give "
                "default_weight_kg="
            )
        return found

    def _allocate(
        self,
        ranking: Ranking,
        request: SourcingRequest,
        inventory: InventoryView,
        why: Explanation,
    ) -> tuple[list[Allocation], list[tuple[int, int]]]:
        ranked = ranking.relevant(request, inventory)
        search = _Search(self, request, inventory, ranked)
        greedy = search.greedy()
        if greedy is not None and (cost := search.cost(greedy)) is not None:
            why.note(f"greedy by rank costs {search.money(cost)} in {_n(len(greedy))}")
        if len(search.candidates) > self.exact_up_to:
            why.note(
                f"{len(search.candidates)} candidates exceed the exact limit of "
                f"{self.exact_up_to}: filling greedily by rank"
            )
            return greedy_fill(ranked, request, inventory, why, self.fill)
        best = search.run((greedy, search.single(), search.cheapest_per_unit()))
        if best is None:
            why.note("no plan ships the whole order from stock on hand: filling greedily by rank")
            return greedy_fill(ranked, request, inventory, why, self.fill)
        cost, parcels = best
        proof = (
            f"exact: lowest cost {search.money(cost)}"
            if not search.exhausted
            else f"best found (search stopped after {self.max_parcels} parcels, not proven "
            f"lowest): {search.money(cost)}"
        )
        weighed = min(search.weighed, self.max_parcels)
        why.note(f"{proof} in {_n(len(parcels))} ({_plural(weighed, 'parcel')} weighed)")
        for loc, bundle in parcels:
            why.note(search.breakdown(loc, bundle))
        allocations = search.allocations(parcels)
        why.filled(request.lines, allocations, ())
        return allocations, []


def _n(shipments: int) -> str:
    return _plural(shipments, "shipment")


def _plural(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


class _Search:
    """One order's branch and bound, in integers.

    Weights count units of ``10**-places`` kg and money thousandths of a currency unit
    (no currency has more than 3 decimals).

    Items are what a parcel takes units of: a SKU (its lines' units pooled) when lines
    may split, else each line whole. A bundle gives the units per item of one parcel.
    """

    def __init__(
        self,
        strategy: LowestCost,
        request: SourcingRequest,
        inventory: InventoryView,
        ranked: Sequence[LocationId],
    ) -> None:
        self.strategy = strategy
        self.request = request
        self.split = strategy.fill.split_lines
        self.limit = strategy.fill.max_shipments
        skus: list[Sku] = []
        for rl in request.lines:
            if rl.sku not in skus:
                skus.append(rl.sku)
        self.skus = skus
        if self.split:
            pooled = [sum(rl.quantity for rl in request.lines if rl.sku == sku) for sku in skus]
            self.items = list(enumerate(pooled))
        else:
            self.items = [(skus.index(rl.sku), rl.quantity) for rl in request.lines]
        unit_kg = [strategy.weight_of(sku) for sku in skus]
        self.places = max(0, *(-int(kg.as_tuple().exponent) for kg in unit_kg))
        self.unit_w = [int(unit_kg[k].scaleb(self.places)) for k, _ in self.items]
        by_id = {loc.id: loc for loc in inventory.locations()}
        self.candidates: list[Location] = []
        self.stock: list[tuple[int, ...]] = []
        for loc_id in ranked:
            have = tuple(max(0, inventory.available(sku, loc_id)) for sku in skus)
            if any(have):
                self.candidates.append(by_id[loc_id])
                self.stock.append(have)
        self.quotes: dict[tuple[int, int], tuple[int, Quote] | None] = {}
        self.fixed: dict[str, int] = {}
        self.asked: dict[int, list[int]] = {}  # per candidate, the weights really quoted
        self.currency = None if strategy.per_shipment is None else strategy.per_shipment.currency
        self.weighed = 0
        self.exhausted = False

    # -- costs --------------------------------------------------------------------------

    def money(self, thousandths: int) -> str:
        """An amount as text, e.g. ``10.00 EUR``."""
        amount = Decimal(thousandths).scaleb(-3).normalize()
        places = max(2, -int(amount.as_tuple().exponent))
        return f"{amount:.{places}f} {self.currency or ''}".rstrip()

    def _thousandths(self, money: Money, what: str) -> int:
        if self.currency is None:
            self.currency = money.currency
        elif money.currency != self.currency:
            raise InvalidMoney(
                f"LowestCost cannot add {what} in {money.currency} to costs in {self.currency}"
            )
        return int(money.amount.scaleb(3))

    def weight(self, bundle: Sequence[int]) -> int:
        """A bundle's weight in units of ``10**-places`` kg."""
        return sum(map(operator.mul, bundle, self.unit_w))

    def kg(self, weight: int) -> Decimal:
        """A weight back in kilograms."""
        return Decimal(weight).scaleb(-self.places)

    def parcel(self, i: int, weight: int) -> tuple[int, Quote] | None:
        """What shipping ``weight`` from candidate ``i`` costs, or None if not quoted."""
        key = (i, weight)
        hit = self.quotes.get(key, self)  # self: not asked yet (None means unquoted)
        if hit is not self:
            return hit  # type: ignore[return-value]
        asked = self.asked.setdefault(i, [])
        at = bisect.bisect_left(asked, weight)
        if at:
            lighter = self.quotes[(i, asked[at - 1])]
            heavier = self.quotes[(i, asked[at])] if at < len(asked) else None
            # A heavier parcel never costs less and an unquoted one stays unquoted: between
            # two weights of one price, or above one nobody carries, the answer is known.
            if lighter is None or (heavier is not None and heavier[0] == lighter[0]):
                self.quotes[key] = lighter
                return lighter
        loc = self.candidates[i]
        quote = self.strategy.carrier.quote(loc, self.request.destination, self.kg(weight))
        found = None
        if quote is not None:
            fixed = self.fixed.get(loc.id)
            if fixed is None:
                fixed = self.fixed[loc.id] = self._fixed(loc)
            price = self._thousandths(quote.cost, f"{quote.carrier}'s quote")
            if price < 0:
                raise InvalidMoney(f"{quote.carrier} quoted a negative price: {quote.cost}")
            found = (fixed + price, quote)
        self._check_rate_card(i, asked, at, weight, found)
        self.quotes[key] = found
        asked.insert(at, weight)
        return found

    def _check_rate_card(
        self,
        i: int,
        asked: list[int],
        at: int,
        weight: int,
        found: tuple[int, Quote] | None,
    ) -> None:
        """Refuse a carrier that breaks the port's rule between this quote and its neighbours.

        The search's bounds assume a heavier parcel never costs less and a parcel too
        heavy to quote stays unquoted heavier; a plan built on a carrier that breaks
        them could be called lowest when it is not.
        """
        lighter = self.quotes[(i, asked[at - 1])] if at else None
        heavier = self.quotes[(i, asked[at])] if at < len(asked) else None
        if found is None:  # unquoted here: nothing heavier may be quoted
            broken = heavier is not None
        else:  # quoted here: nothing lighter unquoted or dearer, nothing heavier cheaper
            broken = (at > 0 and (lighter is None or lighter[0] > found[0])) or (
                heavier is not None and heavier[0] < found[0]
            )
        if broken:
            carrier = self.strategy.carrier.name
            raise InvalidPlan(
                f"carrier {carrier!r} breaks the Carrier rule at {self.candidates[i].id}: a "
                f"heavier parcel may not cost less, nor be carried when a lighter one is not "
                f"(around {self.kg(weight)} kg)"
            )

    def _fixed(self, loc: Location) -> int:
        """What a shipment from ``loc`` costs besides the carrier: handling, per shipment."""
        fixed = 0
        if loc.handling_cost is not None:
            fixed += self._thousandths(loc.handling_cost, f"{loc.id}'s handling cost")
        if self.strategy.per_shipment is not None:
            fixed += self._thousandths(self.strategy.per_shipment, "the per-shipment cost")
        return fixed

    def breakdown(self, i: int, bundle: Sequence[int]) -> str:
        """One shipment's cost, part by part."""
        loc = self.candidates[i]
        weight = self.weight(bundle)
        found = self.parcel(i, weight)
        # The search may have inferred this price from its neighbours: ask for the words.
        quote = self.strategy.carrier.quote(loc, self.request.destination, self.kg(weight))
        assert found is not None  # noqa: S101 (a plan's parcels are quoted)
        assert quote is not None  # noqa: S101
        cost = found[0]
        parts = [f"{quote.carrier} {quote.service} {quote.cost}"]
        if loc.handling_cost is not None:
            parts.append(f"handling {loc.handling_cost}")
        if self.strategy.per_shipment is not None:
            parts.append(f"per shipment {self.strategy.per_shipment}")
        return f"{loc.id}: {self.kg(weight)} kg, {' + '.join(parts)} = {self.money(cost)}"

    # -- first plans to beat ------------------------------------------------------------

    def greedy(self) -> list[tuple[int, tuple[int, ...]]] | None:
        """The greedy fill by rank as parcels, if it ships the whole order within limits."""
        left = [n for _, n in self.items]
        parcels = []
        for i, have in enumerate(self.stock):
            bundle = self._all_of(have, left)
            if any(bundle):
                parcels.append((i, bundle))
                left = [a - b for a, b in zip(left, bundle, strict=True)]
            if not any(left):
                break
        if any(left) or (self.limit is not None and len(parcels) > self.limit):
            return None
        return parcels

    def single(self) -> list[tuple[int, tuple[int, ...]]] | None:
        """The cheapest one location that ships the whole order alone (ties by rank)."""
        whole = tuple(n for _, n in self.items)
        best: tuple[int, int] | None = None
        for i, have in enumerate(self.stock):
            p = self.parcel(i, self.weight(whole)) if self._fits(have, whole) else None
            if p is not None and (best is None or p[0] < best[0]):
                best = (p[0], i)
        return None if best is None else [(best[1], whole)]

    def cheapest_per_unit(self) -> list[tuple[int, tuple[int, ...]]] | None:
        """Greedy by price: repeatedly the parcel that ships the most units per unit of cost.

        Each candidate offers what it has of what is missing (whole lines when lines stay
        whole); ties go to the earlier ranked. A good first bound when one location
        cannot ship it all.
        """
        left = [n for _, n in self.items]
        parcels: list[tuple[int, tuple[int, ...]]] = []
        used: set[int] = set()
        while any(left):
            best: tuple[float, int, tuple[int, ...]] | None = None
            for i, have in enumerate(self.stock):
                if i in used:
                    continue
                bundle = self._all_of(have, left)
                units = sum(bundle)
                found = self.parcel(i, self.weight(bundle)) if units else None
                if found is not None and (best is None or found[0] / units < best[0]):
                    best = (found[0] / units, i, bundle)
            if best is None:
                return None
            _, i, bundle = best
            used.add(i)
            parcels.append((i, bundle))
            left = [a - b for a, b in zip(left, bundle, strict=True)]
        if self.limit is not None and len(parcels) > self.limit:
            return None
        return parcels

    def _all_of(self, have: tuple[int, ...], left: Sequence[int]) -> tuple[int, ...]:
        """The most of ``left`` a candidate with ``have`` can send in one parcel."""
        pool = list(have)
        bundle = []
        for (k, _), m in zip(self.items, left, strict=True):
            take = min(m, pool[k]) if self.split else (m if m <= pool[k] else 0)
            pool[k] -= take
            bundle.append(take)
        return tuple(bundle)

    def cost(self, parcels: Sequence[tuple[int, tuple[int, ...]]]) -> int | None:
        """What ``parcels`` cost together, or None if one gets no quote."""
        total = 0
        for i, bundle in parcels:
            found = self.parcel(i, self.weight(bundle))
            if found is None:
                return None
            total += found[0]
        return total

    # -- the search ---------------------------------------------------------------------

    def run(
        self, starts: Sequence[list[tuple[int, tuple[int, ...]]] | None]
    ) -> tuple[int, list[tuple[int, tuple[int, ...]]]] | None:
        """The cheapest plan as (cost, [(candidate, bundle), ...]), or None if none ships.

        ``starts`` are plans to beat (the first cheapest is kept on a tie).
        """
        n = len(self.candidates)
        lightest = min(self.unit_w) if self.unit_w else 0
        # The cheapest shipment from each candidate: its lightest parcel, since a heavier
        # one never costs less. Unquoted, it cannot ship at all.
        floor = [_NEVER if (p := self.parcel(i, lightest)) is None else p[0] for i in range(n)]
        # Search the cheapest candidates first (ties by rank): the cheapest shipments
        # still possible then rise with depth, and the bound below bites early.
        order = sorted(range(n), key=lambda i: (floor[i], i))
        at = {old: new for new, old in enumerate(order)}
        self.candidates = [self.candidates[i] for i in order]
        self.stock = [self.stock[i] for i in order]
        self.quotes = {(at[i], w): q for (i, w), q in self.quotes.items()}
        self.asked = {at[i]: weights for i, weights in self.asked.items()}
        floor = sorted(floor)
        self.best: list[tuple[int, tuple[int, ...]]] | None = None
        self.best_key = (_NEVER, 0)
        for start in starts:
            plan = None if start is None else [(at[i], bundle) for i, bundle in start]
            c = None if plan is None else self.cost(plan)
            if plan is not None and c is not None and (c, len(plan)) < self.best_key:
                self.best, self.best_key = plan, (c, len(plan))
        self.suffix_stock = [
            [sum(column) for column in zip(*self.stock[i:], strict=True)] if i < n else []
            for i in range(n + 1)
        ]
        # Per suffix of candidates: the k cheapest shipments, as running sums.
        self.cheapest = [list(itertools.accumulate(floor[i:], initial=0)) for i in range(n + 1)]
        self.seen: dict[tuple[int, tuple[int, ...]], tuple[int, int]] = {}
        self.bounds: dict[tuple[int, tuple[int, ...], int], tuple[int, int]] = {}
        self.heavy: dict[tuple[int, int], int | None] = {}
        self.chosen: list[tuple[int, tuple[int, ...]]] = []
        self._visit(0, tuple(m for _, m in self.items), 0, 0)
        return None if self.best is None else (self.best_key[0], self.best)

    def _visit(self, i: int, left: tuple[int, ...], cost: int, ships: int) -> None:
        """Branch on candidate ``i``: each parcel it can send, then sending nothing."""
        if not any(left):
            if (cost, ships) < self.best_key:
                self.best_key, self.best = (cost, ships), list(self.chosen)
            return
        if self._hopeless(i, left, cost, ships):
            return
        for bundle, price in self._parcels(i, left, cost):
            self.chosen.append((i, bundle))
            rest = tuple(a - b for a, b in zip(left, bundle, strict=True))
            self._visit(i + 1, rest, cost + price, ships + 1)
            self.chosen.pop()
        self._visit(i + 1, left, cost, ships)

    def _hopeless(self, i: int, left: tuple[int, ...], cost: int, ships: int) -> bool:
        """Whether no completion of this partial plan can beat the best one found."""
        n = len(self.candidates)
        if i == n or self.exhausted:
            return True
        before = self.seen.get((i, left))
        if before is not None and before[0] <= cost and before[1] <= ships:
            return True  # reached before at no higher cost with no more shipments
        room = n - i if self.limit is None else min(n - i, self.limit - ships)
        key = (i, left, room)
        bound = self.bounds.get(key)
        if bound is None:
            bound = self.bounds[key] = self._bound(i, left, room)
        more, least = bound
        if not more or (cost + least, ships + more) >= self.best_key:
            return True  # cannot be completed, or not for less than the best plan
        self.seen[(i, left)] = (cost, ships)
        return False

    def _bound(self, i: int, left: tuple[int, ...], room: int) -> tuple[int, int]:
        """(the fewest more shipments, the least they cost) to ship ``left`` from ``i`` on.

        ``(0, 0)`` when the candidates left cannot: too little stock, more shipments
        than ``room``, or no quote. Every further shipment carries at most what the
        best-stocked candidate left can, so at least ceil(missing / that) are needed.
        """
        need = [0] * len(self.skus)
        for (k, _), m in zip(self.items, left, strict=True):
            need[k] += m
        if any(h < m for h, m in zip(self.suffix_stock[i], need, strict=True)):
            return (0, 0)
        most = max(sum(map(min, have, need)) for have in self.stock[i:])
        more = -(-sum(need) // most)
        if more > room:
            return (0, 0)
        least = self._at_least(i, left, more, room)
        return (0, 0) if least >= _NEVER else (more, least)

    def _at_least(self, i: int, left: tuple[int, ...], more: int, most: int) -> int:
        """A lower bound on shipping ``left`` in ``more`` to ``most`` parcels from ``i`` on.

        With k parcels (at most one per unit), one carries at least the average weight
        and costs at least what the cheapest candidate charges for that; the other
        k - 1 at least the k - 1 cheapest floors. The bound is the least over every k.
        Returns ``_NEVER`` when no k can be quoted.
        """
        floors = self.cheapest[i]
        weight = sum(map(operator.mul, left, self.unit_w))
        lowest = _NEVER
        for k in range(more, min(most, sum(left)) + 1):
            if floors[k - 1] + floors[1] >= lowest:
                break  # every later k costs at least this: floors only rise
            heavy = self._heaviest(i, -(-weight // k))
            if heavy is not None:  # else nobody carries that weight, nor anything heavier
                lowest = min(lowest, floors[k - 1] + heavy)
        return lowest

    def _heaviest(self, i: int, weight: int) -> int | None:
        """The least any candidate from ``i`` on charges for ``weight`` (None: nobody)."""
        key = (i, weight)
        if key in self.heavy:
            return self.heavy[key]
        here = self.parcel(i, weight)
        later = self._heaviest(i + 1, weight) if i + 1 < len(self.candidates) else None
        found = min(
            (c for c in (None if here is None else here[0], later) if c is not None),
            default=None,
        )
        self.heavy[key] = found
        return found

    def _parcels(
        self, i: int, left: tuple[int, ...], cost: int
    ) -> Iterator[tuple[tuple[int, ...], int]]:
        """The parcels worth sending from candidate ``i``, largest first, with their price.

        A parcel is skipped when a unit more (a line more, if lines stay whole) would
        cost no more at this location: that larger parcel leaves the later ones lighter,
        so it is never worse.
        """
        have = self.stock[i]
        items = self.items
        if self.split:
            caps = [min(m, have[k]) for (k, _), m in zip(items, left, strict=True)]
            steps = [1] * len(items)
        else:
            caps = [m if m <= have[k] else 0 for (k, _), m in zip(items, left, strict=True)]
            steps = [m or 1 for m in caps]
        choices = [range(c, -1, -s) for c, s in zip(caps, steps, strict=True)]
        budget, quotes, unit_w, split = (
            self.strategy.max_parcels,
            self.quotes,
            self.unit_w,
            self.split,
        )
        bound = self.best_key[0] - cost
        for bundle in itertools.product(*choices):
            self.weighed += 1
            if self.weighed > budget:
                self.exhausted = True
                return
            if not any(bundle) or (not split and not self._fits(have, bundle)):
                continue
            weight = sum(map(operator.mul, bundle, unit_w))
            found = quotes.get((i, weight)) or self.parcel(i, weight)
            if found is None or found[0] > bound:
                continue
            price = found[0]
            # Larger parcels come first (descending ranges), so the one a unit bigger has
            # been priced already: a dictionary lookup, not a quote.
            growable = False
            for j, n in enumerate(bundle):
                if n < caps[j] and (
                    split or self._fits(have, (*bundle[:j], n + steps[j], *bundle[j + 1 :]))
                ):
                    bigger = quotes.get((i, weight + steps[j] * unit_w[j])) or self.parcel(
                        i, weight + steps[j] * unit_w[j]
                    )
                    if bigger is not None and bigger[0] == price:
                        growable = True
                        break
            if not growable:
                yield bundle, price
                bound = self.best_key[0] - cost  # the best may have improved meanwhile

    def _fits(self, have: tuple[int, ...], bundle: tuple[int, ...]) -> bool:
        used = [0] * len(have)
        for (k, _), n in zip(self.items, bundle, strict=True):
            used[k] += n
        return all(u <= h for u, h in zip(used, have, strict=True))

    def allocations(self, parcels: Sequence[tuple[int, tuple[int, ...]]]) -> list[Allocation]:
        """The parcels as allocations, line by line; a SKU's parcels serve its lines in order."""
        if not self.split:  # one item per line, in line order
            by_line = [
                Allocation(rl.line, rl.sku, self.candidates[i].id, bundle[j])
                for i, bundle in parcels
                for j, rl in enumerate(self.request.lines)
                if bundle[j]
            ]
            return sorted(by_line, key=lambda a: a.line)
        pools = {
            sku: [[self.candidates[i].id, bundle[k]] for i, bundle in parcels if bundle[k]]
            for k, sku in enumerate(self.skus)
        }
        out = []
        for rl in self.request.lines:
            want = rl.quantity
            for pool in pools[rl.sku]:
                n = min(pool[1], want)  # type: ignore[call-overload]
                if n:
                    out.append(Allocation(rl.line, rl.sku, pool[0], n))  # type: ignore[arg-type]
                    pool[1] -= n
                    want -= n
        return out
