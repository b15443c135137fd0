"""What omsims tells a carrier about a parcel, and the label the carrier gives back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from omsims.domain.locations import Location
from omsims.domain.orders import ShipTo
from omsims.domain.values import Money, Sku

__all__ = ["Label", "Parcel"]


@attrs.frozen
class Parcel:
    """A parcel about to leave: where from, where to, what is in it and how heavy."""

    shipment_id: str
    order_id: str
    origin: Location
    destination: ShipTo | None
    lines: tuple[tuple[Sku, int], ...]
    """(SKU, units) per line."""
    weight_kg: Decimal | None
    shipped_at: datetime
    service: str | None = None
    """The service asked for, if any (else the carrier's default)."""
    returning: bool = False
    """A return: the parcel travels the other way, from ``destination`` to ``origin``."""


@attrs.frozen
class Label:
    """A carrier's label: its reference, the tracking number, the price and the promise."""

    carrier: str
    service: str
    reference: str
    tracking: str
    cost: Money | None = None
    eta: datetime | None = None
