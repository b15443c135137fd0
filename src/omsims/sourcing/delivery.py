"""EarliestDelivery: every unit to the customer as early as the network can get it there.

A unit's delivery date is when it is ready at a location (now, if on hand; the ETA of
the purchase order or transfer that brings it, if backordered against incoming supply)
plus the carrier's transit days from that location to the destination.

>>> from datetime import datetime, timedelta, UTC
>>> from decimal import Decimal
>>> from omsims import GeoPoint, Location, Money
>>> from omsims.sourcing import Quote, RequestLine, SourcingRequest
>>> NOW = datetime(2026, 3, 2, tzinfo=UTC)
>>> class Post:  # next day from the city hub, four days from the remote warehouse
...     name = "post"
...     def quote(self, origin, destination, weight_kg):
...         days = 1 if origin.id == "city-hub" else 4
...         return Quote("post", "std", Money(5, "EUR"), days)
>>> class View:
...     def locations(self):
...         return [Location("remote-dc", priority=1), Location("city-hub", priority=2)]
...     def available(self, sku, location): return {"remote-dc": 5, "city-hub": 0}[location]
...     def backorder_room(self, sku, location): return 10
...     def incoming(self, sku, location):  # a transfer lands at the hub tomorrow
...         return [(NOW + timedelta(days=1), 3)] if location == "city-hub" else []
>>> request = SourcingRequest("o1", (RequestLine(1, "X", 4),), NOW,
...                           destination=GeoPoint(52.5, 13.4))
>>> plan = EarliestDelivery(Post()).plan(request, View())
>>> [(a.location, a.quantity, a.backorder) for a in plan.allocations]
[('city-hub', 3, True), ('remote-dc', 1, False)]
>>> print(plan.explanation)
earliest delivery: candidates in order: remote-dc, city-hub
  ranked by priority: remote-dc=1, city-hub=2
  line 1 (X) can be delivered, earliest first:
    3 from city-hub due 2026-03-03 + 1 day = 2026-03-04
    5 from remote-dc on hand + 4 days = 2026-03-06
  line 1 (X): 3 from city-hub backordered, due 2026-03-03
  line 1 (X): 1 from remote-dc on hand
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from omsims.domain.values import LocationId, weight_kg
from omsims.errors import InvalidIdentifier
from omsims.sourcing.carriers import Carrier
from omsims.sourcing.composed import Fill, Ranking, Strategy, _Filler, _shortage_reason
from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    InventoryView,
    RequestLine,
    SourcingRequest,
)
from omsims.sourcing.rules import Channel, Filter, Priority, Ranker

__all__ = ["EarliestDelivery"]


class _Option(NamedTuple):
    """Units one location can deliver by one date."""

    delivery: datetime
    rank: int
    location: LocationId
    due: datetime | None  # None: on hand now; else the ETA of the supply bringing them
    units: int


class EarliestDelivery(Strategy):
    """Deliver each line's units as early as possible, from stock or from supply on its way.

    For each line in order, every candidate offers its stock on hand (ready now) and,
    where the position takes backorders and the fill allows them, each arrival due there
    that no backorder has claimed yet (ready at its ETA; the units are backordered and
    promised that date). An offer's delivery date is its ready date plus the carrier's
    transit days to the destination; offers are taken earliest delivery first, then by
    the rankers (priority by default), then by location id. So every unit gets the
    earliest delivery the network can give, given what earlier lines took.

    A location the carrier will not quote (no route, or no coordinates) is not used;
    without a carrier every transit takes 0 days and stock on hand always comes first.

    The fill policy holds: with ``split_lines=False`` the line comes whole from the one
    location that can deliver all of it earliest; ``max_shipments`` caps the locations;
    ``complete`` is all or nothing. Units no offer covers are backordered without a date
    where a position allows (unless ``against_incoming``), else left unfilled.

    Args:
        carrier: gives the transit days from each location (``None``: 0 days).
        parcel_kg: the weight quoted to learn transit times (default 1 kg).
    """

    def __init__(
        self,
        carrier: Carrier | None = None,
        *,
        parcel_kg: Decimal | int | str = 1,
        filters: Sequence[Filter] = (Channel(),),
        rankers: Sequence[Ranker] = (Priority(),),
        fill: Fill | None = None,
    ) -> None:
        """Earliest delivery with ``carrier``'s transit days; see the class docstring."""
        super().__init__(name="earliest delivery", filters=filters, rankers=rankers, fill=fill)
        if carrier is not None and not callable(getattr(carrier, "quote", None)):
            raise InvalidIdentifier(
                f"EarliestDelivery needs a carrier with quote(), got {carrier!r}"
            )
        self.carrier = carrier
        self.parcel_kg = weight_kg(parcel_kg, "parcel_kg")

    def _allocate(
        self,
        ranking: Ranking,
        request: SourcingRequest,
        inventory: InventoryView,
        why: Explanation,
    ) -> tuple[list[Allocation], list[tuple[int, int]]]:
        ranked = ranking.relevant(request, inventory)
        transit = self._transit_days(ranked, request, inventory, why)
        ranked = [loc for loc in ranked if loc in transit]  # the carrier serves these
        filler = _Filler(Ranking(ranked), inventory, self.fill, [])
        missing: list[tuple[int, str, int, str]] = []
        for rl in request.lines:
            offers = self._offers(rl, ranked, transit, request, inventory, filler)
            if offers:
                why.note(_describe(rl, offers, transit))
            left = self._take(rl, offers, filler)
            if left and self.fill.backorders and not self.fill.against_incoming:
                left = filler.take(rl.line, rl.sku, left, backorder=True)
            if left:
                missing.append((rl.line, rl.sku, left, _shortage_reason(self.fill)))
        why.filled(request.lines, filler.allocations, missing)
        if self.fill.complete and missing:
            why.note("ship complete: not every unit could be allocated, so none is")
            return [], [(rl.line, rl.quantity) for rl in request.lines]
        return filler.allocations, [(line, units) for line, _, units, _ in missing]

    def _transit_days(
        self,
        ranked: Sequence[LocationId],
        request: SourcingRequest,
        inventory: InventoryView,
        why: Explanation,
    ) -> dict[LocationId, int]:
        """Days in transit from each candidate the carrier quotes (all 0 without one)."""
        if self.carrier is None:
            return dict.fromkeys(ranked, 0)
        by_id = {loc.id: loc for loc in inventory.locations()}
        days = {}
        for loc in ranked:
            quote = self.carrier.quote(by_id[loc], request.destination, self.parcel_kg)
            if quote is None:
                why.dropped(loc, f"{self.carrier.name} does not carry from here to the destination")
            else:
                days[loc] = quote.transit_days
        return days

    def _offers(
        self,
        rl: RequestLine,
        ranked: Sequence[LocationId],
        transit: dict[LocationId, int],
        request: SourcingRequest,
        inventory: InventoryView,
        filler: _Filler,
    ) -> list[_Option]:
        """What each candidate can deliver of the line's SKU, and when, earliest first."""
        offers = []
        sku, now = rl.sku, request.at
        for rank, loc in enumerate(ranked):
            trip = timedelta(days=transit[loc])
            on_hand = inventory.available(sku, loc) - filler.counted.get((sku, loc, False), 0)
            if on_hand > 0:
                offers.append(_Option(now + trip, rank, loc, None, on_hand))
            if not self.fill.backorders:
                continue
            room = inventory.backorder_room(sku, loc) - filler.counted.get((sku, loc, True), 0)
            for eta, units in filler.arrivals(sku, loc):
                if room <= 0:
                    break
                offers.append(_Option(max(eta, now) + trip, rank, loc, eta, min(units, room)))
                room -= units
        # Earliest delivery, then rank; on a tie within a location, stock on hand first and
        # then arrivals by ETA (an overdue arrival delivers as soon as stock on hand does).
        offers.sort(key=lambda o: (o.delivery, o.rank, o.due is not None, o.due or o.delivery))
        return offers

    def _take(self, rl: RequestLine, offers: list[_Option], filler: _Filler) -> int:
        """Take the line's units from ``offers`` in order, under the fill policy."""
        left, used, limit = rl.quantity, filler.used, self.fill.max_shipments
        if limit is not None and len(used) >= limit:  # only locations already shipping
            offers = [o for o in offers if o.location in used]
        if not self.fill.split_lines:
            offers = _whole(offers, rl.quantity)
        for offer in offers:
            if left == 0:
                break
            if limit is not None and offer.location not in used and len(used) >= limit:
                continue
            n = min(offer.units, left)
            used[offer.location] = None
            backorder = offer.due is not None
            key = (rl.sku, offer.location, backorder)
            filler.counted[key] = filler.counted.get(key, 0) + n
            filler.allocations.append(
                Allocation(rl.line, rl.sku, offer.location, n, backorder, offer.due)
            )
            left -= n
        return left


def _whole(offers: list[_Option], units: int) -> list[_Option]:
    """The offers of the one location that delivers all ``units`` earliest (ties by rank)."""
    best: tuple[datetime, int] | None = None
    for loc in dict.fromkeys(o.location for o in offers):
        got, done = 0, None
        for o in offers:
            if o.location == loc and got < units:
                got += o.units
                done = o.delivery
        if got >= units and done is not None:
            rank = next(o.rank for o in offers if o.location == loc)
            if best is None or (done, rank) < best:
                best = (done, rank)
    if best is None:
        return []
    return [o for o in offers if o.rank == best[1]]


def _describe(rl: RequestLine, offers: list[_Option], transit: dict[LocationId, int]) -> str:
    shown = [f"line {rl.line} ({rl.sku}) can be delivered, earliest first:"]
    for o in offers:
        days = transit[o.location]
        ready = "on hand" if o.due is None else f"due {o.due:%Y-%m-%d}"
        trip = f"{days} day" if days == 1 else f"{days} days"
        shown.append(f"    {o.units} from {o.location} {ready} + {trip} = {o.delivery:%Y-%m-%d}")
    return "\n".join(shown)
