"""Ledger entries, entry kinds and the balances of a position.

The quantity model (per SKU per location, a "position")::

    on_hand      physically here (includes committed and unavailable units)
    committed    promised to order lines sourced here, backed by units on hand
    reserved     held for a cart, a checkout or by hand, optionally until an expiry
    unavailable  physically here but not sellable (damaged, quality hold)
    incoming     expected supply and transfers in transit to here, each with an ETA
    backordered  promised to order lines beyond what is on hand, where allowed
    available    on_hand - committed - reserved - unavailable - safety_stock, never below 0

Each entry kind moves the buckets by a fixed sign vector times its quantity, so an entry
stores only its kind and quantity and a replay needs nothing else.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final, NamedTuple

import attrs

from omsims.domain.values import LocationId, Money, Sku

__all__ = [
    "BUCKETS",
    "FREE_SIGNS",
    "BackorderFill",
    "EntryKind",
    "LedgerEntry",
    "Posting",
    "StockLevel",
    "rule_violation",
]

BUCKETS: Final = ("on_hand", "committed", "reserved", "unavailable", "incoming", "backordered")
"""The stored buckets, in the order of an entry's ``deltas``."""


class EntryKind(enum.Enum):
    """What a ledger entry records. Each kind moves the buckets by a fixed sign vector."""

    # Hashed by identity, as members compare (Enum's own hash is a Python-level call on
    # the name): this enum keys the hottest lookups of the core.
    __hash__ = object.__hash__

    RECEIVED = "received"
    ADJUSTED = "adjusted"
    RESERVED = "reserved"
    RELEASED = "released"
    EXPIRED = "expired"
    COMMITTED = "committed"
    RESERVATION_COMMITTED = "reservation_committed"
    UNCOMMITTED = "uncommitted"
    BACKORDERED = "backordered"
    BACKORDER_CANCELLED = "backorder_cancelled"
    BACKORDER_FILLED = "backorder_filled"
    SHIPPED = "shipped"
    RETURNED = "returned"
    RETURNED_UNAVAILABLE = "returned_unavailable"
    HELD = "held"
    HOLD_RELEASED = "hold_released"
    WRITTEN_OFF = "written_off"
    WRITTEN_OFF_UNAVAILABLE = "written_off_unavailable"
    EXPECTED = "expected"
    EXPECTED_CANCELLED = "expected_cancelled"
    EXPECTED_RECEIVED = "expected_received"
    TRANSFERRED_OUT = "transferred_out"
    TRANSFER_INCOMING = "transfer_incoming"
    TRANSFERRED_IN = "transferred_in"
    TRANSFER_CANCELLED = "transfer_cancelled"
    TRANSFER_RETURNED = "transfer_returned"
    TRANSFERRED_OUT_UNAVAILABLE = "transferred_out_unavailable"
    TRANSFERRED_IN_UNAVAILABLE = "transferred_in_unavailable"
    TRANSFER_RETURNED_UNAVAILABLE = "transfer_returned_unavailable"

    @property
    def signs(self) -> tuple[int, int, int, int, int, int]:
        """The sign vector over ``BUCKETS`` that one unit of this kind applies."""
        return SIGNS[self]


_K = EntryKind
SIGNS: Final[dict[EntryKind, tuple[int, int, int, int, int, int]]] = {
    #                              on_hand committed reserved unavail incoming backordered
    _K.RECEIVED: (1, 0, 0, 0, 0, 0),
    _K.ADJUSTED: (1, 0, 0, 0, 0, 0),  # the quantity carries the sign
    _K.RESERVED: (0, 0, 1, 0, 0, 0),
    _K.RELEASED: (0, 0, -1, 0, 0, 0),
    _K.EXPIRED: (0, 0, -1, 0, 0, 0),
    _K.COMMITTED: (0, 1, 0, 0, 0, 0),
    _K.RESERVATION_COMMITTED: (0, 1, -1, 0, 0, 0),
    _K.UNCOMMITTED: (0, -1, 0, 0, 0, 0),
    _K.BACKORDERED: (0, 0, 0, 0, 0, 1),
    _K.BACKORDER_CANCELLED: (0, 0, 0, 0, 0, -1),
    _K.BACKORDER_FILLED: (0, 1, 0, 0, 0, -1),
    _K.SHIPPED: (-1, -1, 0, 0, 0, 0),
    _K.RETURNED: (1, 0, 0, 0, 0, 0),
    _K.RETURNED_UNAVAILABLE: (1, 0, 0, 1, 0, 0),
    _K.HELD: (0, 0, 0, 1, 0, 0),
    _K.HOLD_RELEASED: (0, 0, 0, -1, 0, 0),
    _K.WRITTEN_OFF: (-1, 0, 0, 0, 0, 0),
    _K.WRITTEN_OFF_UNAVAILABLE: (-1, 0, 0, -1, 0, 0),
    _K.EXPECTED: (0, 0, 0, 0, 1, 0),
    _K.EXPECTED_CANCELLED: (0, 0, 0, 0, -1, 0),
    _K.EXPECTED_RECEIVED: (1, 0, 0, 0, -1, 0),
    _K.TRANSFERRED_OUT: (-1, 0, 0, 0, 0, 0),
    _K.TRANSFER_INCOMING: (0, 0, 0, 0, 1, 0),
    _K.TRANSFERRED_IN: (1, 0, 0, 0, -1, 0),
    _K.TRANSFER_CANCELLED: (0, 0, 0, 0, -1, 0),
    _K.TRANSFER_RETURNED: (1, 0, 0, 0, 0, 0),
    # Unavailable units moving (damaged goods to a refurbishment centre): they leave and
    # arrive unavailable, so they never count as sellable on either side.
    _K.TRANSFERRED_OUT_UNAVAILABLE: (-1, 0, 0, -1, 0, 0),
    _K.TRANSFERRED_IN_UNAVAILABLE: (1, 0, 0, 1, -1, 0),
    _K.TRANSFER_RETURNED_UNAVAILABLE: (1, 0, 0, 1, 0, 0),
}

FREE_SIGNS: Final[dict[EntryKind, int]] = {k: s[0] - s[1] - s[2] - s[3] for k, s in SIGNS.items()}
"""How one unit of each kind moves a position's free units (on hand that nothing claims)."""


class LedgerEntry(NamedTuple):
    """One immutable line of the stock ledger.

    A ``NamedTuple`` rather than an attrs class: entries are the hottest record in the
    library (one per posting) and are built only from already-validated data, so they
    skip validation and take the cheapest immutable form Python has.

    ``quantity`` is positive except for ``ADJUSTED`` entries, where it carries the sign.
    ``reference`` names what caused the entry (an order's fulfilment line, a reservation,
    a supply line, a transfer); ``key`` is the idempotency key of the posting, if any.
    ``unit_cost`` is what one unit cost, on the entries that bring purchased units in:
    ``RECEIVED``, ``EXPECTED`` and ``EXPECTED_RECEIVED`` (``None``: not given). Other
    entries carry none: valuation derives their cost from these
    (:mod:`omsims.replenishment.valuation`).
    """

    sequence: int
    at: datetime
    sku: Sku
    location: LocationId
    kind: EntryKind
    quantity: int
    reference: str | None = None
    reason: str | None = None
    key: str | None = None
    unit_cost: Money | None = None

    @property
    def deltas(self) -> tuple[int, ...]:
        """The signed change to each of ``BUCKETS``.

        >>> from datetime import datetime, UTC
        >>> LedgerEntry(1, datetime(2026, 1, 1, tzinfo=UTC), "A", "L", EntryKind.SHIPPED, 2).deltas
        (-2, -2, 0, 0, 0, 0)
        """
        q = self.quantity
        return tuple(s * q for s in SIGNS[self.kind])


class BackorderFill(NamedTuple):
    """Backordered units that arriving supply turned into committed units."""

    sku: Sku
    location: LocationId
    reference: str
    quantity: int


class Posting(NamedTuple):
    """What one ledger command wrote: its entries and any backorders that supply filled."""

    entries: tuple[LedgerEntry, ...]
    fills: tuple[BackorderFill, ...] = ()


@attrs.frozen
class StockLevel:
    """The balances of one position (or, with ``location=None``, of a SKU network-wide).

    >>> print(StockLevel("TSHIRT-M", "berlin-dc", on_hand=10, committed=2))
    TSHIRT-M @ berlin-dc: on_hand=10 committed=2 reserved=0 unavailable=0 safety_stock=0
    incoming=0 backordered=0 available=8
    """

    sku: Sku
    location: LocationId | None
    on_hand: int = 0
    committed: int = 0
    reserved: int = 0
    unavailable: int = 0
    safety_stock: int = 0
    incoming: int = 0
    backordered: int = 0
    available: int = attrs.field(
        default=attrs.Factory(
            lambda s: max(0, s.on_hand - s.committed - s.reserved - s.unavailable - s.safety_stock),
            takes_self=True,
        )
    )

    def __str__(self) -> str:
        """Render every bucket on two lines."""
        where = "network" if self.location is None else self.location
        return (
            f"{self.sku} @ {where}: on_hand={self.on_hand} committed={self.committed} "
            f"reserved={self.reserved} unavailable={self.unavailable} "
            f"safety_stock={self.safety_stock}\nincoming={self.incoming} "
            f"backordered={self.backordered} available={self.available}"
        )

    @property
    def free(self) -> int:
        """Units on hand that nothing claims: on_hand - committed - reserved - unavailable."""
        return self.on_hand - self.committed - self.reserved - self.unavailable


def rule_violation(buckets: tuple[int, ...] | list[int]) -> str | None:
    """Say which rule a set of bucket values breaks, or ``None`` if it breaks none.

    The rules: no bucket is negative, and on hand covers committed + reserved +
    unavailable (a unit cannot be promised, held and damaged twice over).

    >>> rule_violation((5, 3, 3, 0, 0, 0))
    'committed + reserved + unavailable (6) exceed on hand (5)'
    >>> rule_violation((5, 3, 2, 0, 0, 0)) is None
    True
    """
    for name, value in zip(BUCKETS, buckets, strict=True):
        if value < 0:
            return f"{name} below zero ({value})"
    on_hand, committed, reserved, unavailable = buckets[0], buckets[1], buckets[2], buckets[3]
    claimed = committed + reserved + unavailable
    if claimed > on_hand:
        return f"committed + reserved + unavailable ({claimed}) exceed on hand ({on_hand})"
    return None
