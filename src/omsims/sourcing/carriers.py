"""The carrier port as sourcing sees it: a price and a transit time for a parcel.

Cost- and delivery-aware strategies ask a :class:`Carrier` for a :class:`Quote` per
candidate shipment. A carrier is any object with ``name`` and ``quote(...)``; the bundled
:class:`omsims.adapters.carriers.TableRateCarrier` prices by distance band and weight.
The omnichannel issue extends the port with shipments and tracking.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from omsims.domain.locations import Location
from omsims.domain.values import GeoPoint, Money

__all__ = ["Carrier", "Quote"]


@attrs.frozen
class Quote:
    """What one parcel would cost and how long it would travel."""

    carrier: str
    service: str
    cost: Money
    transit_days: int


@runtime_checkable
class Carrier(Protocol):
    """Quotes parcels; pure and deterministic for the same inputs.

    On one route a heavier parcel must never cost less, and one it will not carry it
    must not carry heavier either (true of every rate card):
    :class:`~omsims.sourcing.LowestCost` prunes its search on both.
    """

    name: str

    def quote(
        self, origin: Location, destination: GeoPoint | None, weight_kg: Decimal
    ) -> Quote | None:
        """The price and transit time from ``origin``, or ``None`` if it cannot carry it."""
        ...
