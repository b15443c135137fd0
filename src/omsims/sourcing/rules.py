"""Sourcing rules: filters that drop locations, rankers that order the rest.

A filter answers "why not this location?" with a reason, or ``None`` to keep it. A ranker
gives each location a score, lower is better; rankers apply lexicographically, so a later
ranker only breaks the ties of the earlier ones (as in Shopify's order routing). Write your
own as a small object with ``name`` and the one method, or wrap a function:

>>> from omsims import Location
>>> big_only = Predicate("big stores", lambda loc, request: loc.priority < 10)
>>> big_only.reason_to_drop(Location("tiny", priority=50), None, None)
'not satisfied'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from omsims.domain.locations import Location
from omsims.domain.values import as_location_id, non_negative_quantity
from omsims.sourcing.plan import InventoryView, SourcingRequest

__all__ = [
    "CanPickup",
    "CanShip",
    "CapacityLeft",
    "Channel",
    "Distance",
    "Exclude",
    "Filter",
    "MinimumAvailable",
    "Predicate",
    "Priority",
    "Ranker",
    "SameCountry",
    "SameRegion",
    "Score",
    "SpareCapacity",
    "Stock",
    "capacity_left",
    "incoming",
]


@runtime_checkable
class Filter(Protocol):
    """Keeps or drops a location for one request.

    A rule may also declare ``depends_on``: the names of the request fields it reads (and
    that it reads nothing of the inventory). Strategies whose rules all declare it reuse
    their verdicts across requests; rules without it are asked every time.
    """

    name: str

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Why ``location`` may not serve ``request``, or ``None`` to keep it."""
        ...


@runtime_checkable
class Ranker(Protocol):
    """Scores a location for one request; lower scores rank first."""

    name: str

    def score(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> float:
        """The location's score (lower is better)."""
        ...


# -- filters ---------------------------------------------------------------------------


class CanShip:
    """Keep locations that ship parcels."""

    name = "can ship"
    depends_on: tuple[str, ...] = ()

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location that cannot ship."""
        return None if location.can_ship else "cannot ship"


class CanPickup:
    """Keep locations where customers can pick up."""

    name = "can pick up"
    depends_on: tuple[str, ...] = ()

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location without pickup."""
        return None if location.can_pickup else "no pickup here"


class Channel:
    """Keep locations that serve the order's channel (``Location.channels``)."""

    name = "channel"
    depends_on = ("channel",)

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location reserved for other channels."""
        if location.serves(request.channel):
            return None
        return f"does not serve channel {request.channel!r}"


class SameCountry:
    """Keep locations in the destination's country (all, if the destination has none)."""

    name = "same country"
    depends_on = ("destination_country",)

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location in another country."""
        wanted = request.destination_country
        if wanted is None or location.country == wanted:
            return None
        return f"in {location.country or 'no country'}, not {wanted}"


class SameRegion:
    """Keep locations in the destination's region (all, if the destination has none)."""

    name = "same region"
    depends_on = ("destination_region",)

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location in another region."""
        wanted = request.destination_region
        if not wanted or location.region == wanted:
            return None
        return f"in region {location.region or '-'}, not {wanted}"


class MinimumAvailable:
    """Keep locations with at least ``units`` available across the order's SKUs."""

    name = "minimum available"

    def __init__(self, units: int = 1) -> None:
        """Keep locations with ``units`` or more of the order's SKUs available."""
        self.units = non_negative_quantity(units, "minimum available")

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location with too little of what the order wants."""
        skus = {rl.sku for rl in request.lines}
        have = sum(inventory.available(sku, location.id) for sku in skus)
        return None if have >= self.units else f"only {have} of the order's SKUs available"


def capacity_left(location: Location, inventory: InventoryView) -> int | None:
    """Fulfilment orders ``location`` may still take today, if the view knows (else None).

    ``capacity_left(location)`` is an optional part of an inventory view; the Oms's view
    counts the fulfilment orders accepted today against ``Location.daily_capacity``.
    """
    ask = getattr(inventory, "capacity_left", None)
    return None if ask is None else ask(location)


def incoming(inventory: InventoryView, sku: str, location: str) -> Sequence[tuple[datetime, int]]:
    """Arrivals due at a position that no backorder has claimed, as (eta, units) (else ()).

    ``incoming(sku, location)`` is an optional part of an inventory view; the Oms's view
    answers from the ledger's purchase orders and transfers on their way.
    """
    ask = getattr(inventory, "incoming", None)
    return () if ask is None else ask(sku, location)


class CapacityLeft:
    """Keep locations with daily capacity left (locations without a limit always pass)."""

    name = "capacity"

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location that has accepted its daily capacity of fulfilment orders."""
        left = capacity_left(location, inventory)
        if left is None or left > 0:
            return None
        return f"no capacity left today (daily capacity {location.daily_capacity})"


class Exclude:
    """Drop the named locations."""

    name = "exclude"
    depends_on: tuple[str, ...] = ()

    def __init__(self, locations: Iterable[str]) -> None:
        """Never use ``locations``."""
        self.locations = frozenset(as_location_id(loc) for loc in locations)

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location on the list."""
        return "excluded by rule" if location.id in self.locations else None


class Predicate:
    """A filter from a function ``(location, request) -> bool`` (True keeps)."""

    def __init__(self, name: str, keep: Callable[[Location, SourcingRequest], bool]) -> None:
        """Wrap ``keep`` under ``name``."""
        self.name = name
        self.keep = keep

    def reason_to_drop(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> str | None:
        """Drop a location the function does not keep."""
        return None if self.keep(location, request) else "not satisfied"


# -- rankers ---------------------------------------------------------------------------


class Priority:
    """Rank by ``Location.priority`` (lower numbers first)."""

    name = "priority"
    depends_on: tuple[str, ...] = ()

    def score(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> float:
        """The location's priority number."""
        return location.priority


class Distance:
    """Rank by great-circle distance to the destination; no coordinates rank last."""

    name = "distance"

    def score(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> float:
        """Kilometres to the destination (0 for every location if there is none)."""
        if request.destination is None:
            return 0.0
        if location.coordinates is None:
            return math.inf
        return round(location.coordinates.distance_km(request.destination), 1)


class Stock:
    """Rank by units available of the order's SKUs, most first."""

    name = "stock"

    def score(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> float:
        """Minus the units available (so the fullest location scores lowest)."""
        skus = {rl.sku for rl in request.lines}
        return -sum(inventory.available(sku, location.id) for sku in skus)


class SpareCapacity:
    """Rank locations with no capacity left today after all others (a penalty, not a ban)."""

    name = "spare capacity"

    def score(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> float:
        """0 while capacity is left (or unlimited), 1 once it is used up."""
        left = capacity_left(location, inventory)
        return 0 if left is None or left > 0 else 1


class Score:
    """A ranker from a function ``(location, request) -> number`` (lower first)."""

    def __init__(self, name: str, score: Callable[[Location, SourcingRequest], float]) -> None:
        """Wrap ``score`` under ``name``."""
        self.name = name
        self._score = score

    def score(
        self, location: Location, request: SourcingRequest, inventory: InventoryView
    ) -> float:
        """What the function says."""
        return self._score(location, request)
