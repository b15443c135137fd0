"""Entities the ledger keeps beside its entries: reservations, expected supply, transfers.

Each is immutable; the ledger replaces it with an evolved copy when its state changes,
which makes a rollback a matter of putting the old object back.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from omsims.domain.values import LocationId, Money, Sku

__all__ = [
    "IncomingSupply",
    "Reservation",
    "ReservationStatus",
    "SupplyLine",
    "Transfer",
]


class ReservationStatus(enum.Enum):
    """Where a reservation stands."""

    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"
    COMMITTED = "committed"


@attrs.frozen
class Reservation:
    """Units held at one position for a cart, a checkout or by hand, until released.

    ``remaining`` is what is still held; it falls as parts are released or committed.
    """

    id: str
    sku: Sku
    location: LocationId
    quantity: int
    remaining: int
    created_at: datetime
    expires_at: datetime | None = None
    reference: str | None = None
    status: ReservationStatus = ReservationStatus.ACTIVE


@attrs.frozen
class SupplyLine:
    """Expected supply (a purchase order line, a production run) due at a position.

    ``unit_cost`` is what one unit costs (``None``: not known); every receipt of the
    line carries it on its ledger entry.
    """

    id: str
    sku: Sku
    location: LocationId
    quantity: int
    eta: datetime
    created_at: datetime
    reference: str | None = None
    received: int = 0
    cancelled: int = 0
    unit_cost: Money | None = None

    @property
    def open_quantity(self) -> int:
        """Units still expected: ordered - received - cancelled."""
        return self.quantity - self.received - self.cancelled


@attrs.frozen
class Transfer:
    """Units moving between two locations; in transit they count as incoming at the destination."""

    id: str
    sku: Sku
    from_location: LocationId
    to_location: LocationId
    quantity: int
    eta: datetime
    created_at: datetime
    reference: str | None = None
    received: int = 0
    cancelled: int = 0
    unavailable_reason: str | None = None
    """For unavailable units on the move (e.g. to refurbishment): why; they arrive unavailable."""

    @property
    def in_transit(self) -> int:
        """Units on their way: sent - received - cancelled (returned to the origin)."""
        return self.quantity - self.received - self.cancelled


@attrs.frozen
class IncomingSupply:
    """One row of the incoming schedule: what arrives where and when."""

    eta: datetime
    sku: Sku
    location: LocationId
    quantity: int
    source: str
    """The supply line or transfer id."""
