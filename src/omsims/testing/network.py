"""A network as plain data: the inventory view the testing kit hands to strategies.

A strategy sees the network through an :class:`~omsims.sourcing.InventoryView`. In a
test you want one you can write down, print and shrink: :class:`Network` is that view
with every optional part (capacity, incoming supply, which locations stock a SKU).

>>> from omsims import Location
>>> net = Network([Location("berlin"), Location("munich", priority=2)], {("TEE", "berlin"): 3})
>>> net.available("TEE", "berlin"), net.available("TEE", "munich")
(3, 0)
>>> net
Network([Location('berlin'), Location('munich', priority=2)], stock={('TEE', 'berlin'): 3})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import attrs

from omsims.domain.locations import Location

__all__ = ["Network", "short_repr"]

Position = tuple[str, str]


class Network:
    """Locations and what they hold, given as plain data; an ``InventoryView``.

    Args:
        locations: every location, in the order ``locations()`` returns them.
        stock: ``(sku, location) -> units`` available now (missing: 0).
        backorder_room: ``(sku, location) -> units`` that may still be backordered.
        capacity: ``location id -> fulfilment orders it may still take today``
            (missing: no limit).
        incoming: ``(sku, location) -> [(eta, units), ...]`` supply on its way.
        catalogue: SKUs the network is about, stocked or not (``skus()`` lists them
            first); generated networks name the SKUs they were drawn for.
    """

    def __init__(
        self,
        locations: Iterable[Location],
        stock: Mapping[Position, int] | None = None,
        *,
        backorder_room: Mapping[Position, int] | None = None,
        capacity: Mapping[str, int | None] | None = None,
        incoming: Mapping[Position, Sequence[tuple[datetime, int]]] | None = None,
        catalogue: Sequence[str] = (),
    ) -> None:
        """Hold the data as given (copied); see the class docstring."""
        self._locations = tuple(locations)
        self.stock = {k: v for k, v in (stock or {}).items() if v}
        self.room = {k: v for k, v in (backorder_room or {}).items() if v}
        self.capacity = {k: v for k, v in (capacity or {}).items() if v is not None}
        self.arrivals = {k: list(v) for k, v in (incoming or {}).items() if v}
        self.catalogue = tuple(catalogue)

    def locations(self) -> Sequence[Location]:
        """Every location, in the order given."""
        return self._locations

    def location(self, location_id: str) -> Location | None:
        """The location with this id, or None."""
        return next((loc for loc in self._locations if loc.id == location_id), None)

    def available(self, sku: str, location: str) -> int:
        """Units of ``sku`` at ``location`` that can be committed now."""
        return self.stock.get((sku, location), 0)

    def backorder_room(self, sku: str, location: str) -> int:
        """Units of ``sku`` that ``location`` may still take as backorders."""
        return self.room.get((sku, location), 0)

    def capacity_left(self, location: Location) -> int | None:
        """Fulfilment orders ``location`` may still take today (None: no limit)."""
        return self.capacity.get(location.id)

    def incoming(self, sku: str, location: str) -> list[tuple[datetime, int]]:
        """Supply of ``sku`` on its way to ``location``, earliest first."""
        return sorted(self.arrivals.get((sku, location), []))

    def stocking(self, sku: str) -> set[str]:
        """The locations with stock of, or backorder room for, ``sku``."""
        return {loc for (s, loc) in (*self.stock, *self.room) if s == sku}

    def skus(self) -> list[str]:
        """The catalogue, then every other SKU the network holds or may backorder, sorted."""
        held = {s for s, _ in (*self.stock, *self.room)} - set(self.catalogue)
        return [*self.catalogue, *sorted(held)]

    def __eq__(self, other: object) -> bool:
        """Equal when every part is equal."""
        if not isinstance(other, Network):
            return NotImplemented
        return self._parts() == other._parts()

    __hash__ = None  # type: ignore[assignment]  # mutable data

    def _parts(self) -> tuple[object, ...]:
        return (self._locations, self.stock, self.room, self.capacity, self.arrivals)

    def __repr__(self) -> str:
        """A short, runnable description: what a shrunk counterexample prints."""
        parts = [f"[{', '.join(short_repr(loc) for loc in self._locations)}]"]
        for name, value in (
            ("stock", self.stock),
            ("backorder_room", self.room),
            ("capacity", self.capacity),
            ("incoming", self.arrivals),
        ):
            if value:
                parts.append(f"{name}={dict(sorted(value.items()))!r}")
        return f"Network({', '.join(parts)})"


def short_repr(location: Location) -> str:
    """``Location(...)`` with only the fields that differ from their defaults.

    >>> short_repr(Location("berlin", can_pickup=True))
    "Location('berlin', can_pickup=True)"
    """
    shown = [repr(location.id)]
    for field in attrs.fields(Location):
        if field.name in ("id", "name"):
            continue
        value = getattr(location, field.name)
        if value != field.default:
            shown.append(f"{field.name}={value!r}")
    if location.name != location.id:
        shown.insert(1, f"name={location.name!r}")
    return f"Location({', '.join(shown)})"
