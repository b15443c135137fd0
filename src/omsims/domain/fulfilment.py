"""Fulfilment orders (the part of an order one location must ship) and shipments.

Lifecycle of a fulfilment order::

    OPEN ──accept──▶ ACCEPTED ──ship──▶ PARTIALLY_SHIPPED ──ship──▶ SHIPPED ──deliver──▶ DELIVERED
      │                 ├──mark_ready──▶ READY_FOR_PICKUP ──hand over──────▲  (at a pickup store)
      │                 │                                             ▲
      ├──reject─────────┴──▶ REJECTED (its units are sourced again elsewhere)
      ├──hold───▶ ON_HOLD ──release──▶ (the status it had)
      └──cancel (every unit) ──▶ CANCELLED        (partly shipped + rest cancelled ──▶ SHIPPED)

A fulfilment line's units are: ready (committed at the location, shippable),
backordered (waiting for supply there), shipped, or cancelled.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Final

import attrs

from omsims.domain.events import (
    Event,
    FulfilmentOrderAccepted,
    FulfilmentOrderCancelled,
    FulfilmentOrderHeld,
    FulfilmentOrderRejected,
    FulfilmentOrderReleased,
    LostShipmentResolved,
    ShipmentDelivered,
    ShipmentLost,
    ShipmentTracked,
)
from omsims.domain.values import LocationId, Money, Sku
from omsims.errors import BackdatedPostingRejected, IllegalTransition, InvariantViolation

__all__ = [
    "FulfilmentLine",
    "FulfilmentOrder",
    "FulfilmentStatus",
    "Shipment",
    "ShipmentStatus",
    "TrackingUpdate",
    "line_reference",
    "parse_line_reference",
]


class FulfilmentStatus(enum.Enum):
    """Where a fulfilment order stands."""

    # Hashed by identity, as members compare (Enum's own hash is a Python-level call on
    # the name): this enum keys the hottest lookups of the core.
    __hash__ = object.__hash__

    OPEN = "open"
    ACCEPTED = "accepted"
    READY_FOR_PICKUP = "ready_for_pickup"
    ON_HOLD = "on_hold"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


_CLOSED = frozenset(
    {FulfilmentStatus.DELIVERED, FulfilmentStatus.REJECTED, FulfilmentStatus.CANCELLED}
)


def line_reference(fulfilment_order_id: str, line: int) -> str:
    """The ledger reference of one fulfilment line: ``<fulfilment order id>#<order line>``.

    >>> line_reference("web-1001-F1", 2)
    'web-1001-F1#2'
    >>> parse_line_reference('web-1001-F1#2')
    ('web-1001-F1', 2)
    """
    return f"{fulfilment_order_id}#{line}"


def parse_line_reference(reference: str) -> tuple[str, int]:
    """Split a reference made by :func:`line_reference`."""
    fo_id, _, line = reference.rpartition("#")
    return fo_id, int(line)


@attrs.define
class FulfilmentLine:
    """The units of one order line that one location must ship.

    ``promised`` is when the supply for its backordered units is due (the latest of
    their dates; ``None`` if some have none, or none were backordered).
    """

    line: int
    sku: Sku
    quantity: int
    backordered: int = 0
    shipped: int = 0
    cancelled: int = 0
    promised: datetime | None = None

    @property
    def ready(self) -> int:
        """Units committed at the location and ready to ship."""
        return self.quantity - self.cancelled - self.shipped - self.backordered

    @property
    def open(self) -> int:
        """Units neither shipped nor cancelled."""
        return self.quantity - self.cancelled - self.shipped


@attrs.define
class FulfilmentOrder:
    """The part of an order that one location must ship or hand over."""

    id: str
    order_id: str
    location: LocationId
    lines: list[FulfilmentLine]
    created_at: datetime
    status: FulfilmentStatus = FulfilmentStatus.OPEN
    hold_reason: str | None = None
    status_before_hold: FulfilmentStatus | None = None
    rejection_reason: str | None = None
    shipment_count: int = 0
    history: list[tuple[datetime, str]] = attrs.Factory(list)
    """(when, what) for each change of status after creation: accepted, held, ..."""
    events: list[Event] = attrs.field(factory=list, eq=False, repr=False)
    """Events recorded by the changes above, until the service publishes them."""

    def line(self, number: int) -> FulfilmentLine | None:
        """The fulfilment line for order line ``number``, if this order has one."""
        for fl in self.lines:
            if fl.line == number:
                return fl
        return None

    @property
    def is_closed(self) -> bool:
        """Delivered, rejected or cancelled: nothing more will happen to it."""
        return self.status in _CLOSED

    def _refuse(self, action: str) -> IllegalTransition:
        return IllegalTransition(
            f"cannot {action} fulfilment order {self.id}: it is {self.status.value}"
        )

    def accept(self, at: datetime) -> None:
        """OPEN -> ACCEPTED."""
        if self.status is not FulfilmentStatus.OPEN:
            raise self._refuse("accept")
        self.status = FulfilmentStatus.ACCEPTED
        self.history.append((at, "accepted"))
        self.events.append(FulfilmentOrderAccepted(at, self.id, self.order_id, self.location))

    def mark_ready(self, at: datetime) -> None:
        """ACCEPTED -> READY_FOR_PICKUP: the store picked every unit for the customer."""
        if self.status is not FulfilmentStatus.ACCEPTED:
            raise self._refuse("mark ready")
        if any(fl.backordered for fl in self.lines):
            raise IllegalTransition(
                f"fulfilment order {self.id} is waiting for backordered units: not ready"
            )
        if not any(fl.ready for fl in self.lines):
            raise IllegalTransition(f"fulfilment order {self.id} has no units to hand over")
        self.status = FulfilmentStatus.READY_FOR_PICKUP
        self.history.append((at, "ready for pickup"))

    def check_reject(self) -> None:
        """Raise unless the order may be rejected: open, accepted or held, nothing shipped."""
        allowed = (FulfilmentStatus.OPEN, FulfilmentStatus.ACCEPTED, FulfilmentStatus.ON_HOLD)
        if self.status not in allowed or any(fl.shipped for fl in self.lines):
            raise self._refuse("reject")

    def reject(self, reason: str, at: datetime) -> None:
        """Give up every open unit: the caller re-sources them."""
        self.check_reject()
        for fl in self.lines:
            fl.cancelled += fl.open
            fl.backordered = 0
        self.status = FulfilmentStatus.REJECTED
        self.rejection_reason = reason
        self.history.append((at, f"rejected: {reason}"))
        self.events.append(
            FulfilmentOrderRejected(at, self.id, self.order_id, self.location, reason)
        )

    def hold(self, reason: str, at: datetime) -> None:
        """Pause an open, accepted or partly shipped order."""
        allowed = (
            FulfilmentStatus.OPEN,
            FulfilmentStatus.ACCEPTED,
            FulfilmentStatus.PARTIALLY_SHIPPED,
        )
        if self.status not in allowed:
            raise self._refuse("hold")
        self.status_before_hold = self.status
        self.status = FulfilmentStatus.ON_HOLD
        self.hold_reason = reason
        self.history.append((at, f"put on hold: {reason}"))
        self.events.append(FulfilmentOrderHeld(at, self.id, self.order_id, reason))

    def release(self, at: datetime) -> None:
        """Lift a hold, returning to the status before it."""
        if self.status is not FulfilmentStatus.ON_HOLD or self.status_before_hold is None:
            raise self._refuse("release")
        self.status = self.status_before_hold
        self.status_before_hold = None
        self.hold_reason = None
        self.history.append((at, "released from hold"))
        self.events.append(FulfilmentOrderReleased(at, self.id, self.order_id))

    def check_ship(self, units: dict[int, int]) -> None:
        """Raise unless ``units`` (order line -> units) can ship now."""
        shippable = (
            FulfilmentStatus.ACCEPTED,
            FulfilmentStatus.PARTIALLY_SHIPPED,
            FulfilmentStatus.READY_FOR_PICKUP,
        )
        if self.status not in shippable:
            raise self._refuse("ship")
        if not units:
            raise IllegalTransition(f"fulfilment order {self.id} has nothing ready to ship")
        for number, n in units.items():
            fl = self.line(number)
            if fl is None or not 0 < n <= fl.ready:
                ready = 0 if fl is None else fl.ready
                raise IllegalTransition(
                    f"fulfilment order {self.id}: order line {number} has {ready} units "
                    f"ready to ship, not {n}"
                )

    def ship(self, units: dict[int, int]) -> None:
        """Ship ready units; SHIPPED once every open unit has left."""
        self.check_ship(units)
        for number, n in units.items():
            fl = self.line(number)
            assert fl is not None  # noqa: S101 (check_ship proved it)
            fl.shipped += n
        self._settle_after_shipping()
        self.shipment_count += 1

    def _settle_after_shipping(self) -> None:
        if all(fl.open == 0 for fl in self.lines):
            self.status = FulfilmentStatus.SHIPPED
        elif any(fl.shipped for fl in self.lines):
            self.status = FulfilmentStatus.PARTIALLY_SHIPPED

    def cancel_units(self, number: int, *, backordered: int, ready: int, at: datetime) -> None:
        """Cancel units of one line; CANCELLED when nothing is left and nothing shipped."""
        fl = self.line(number)
        if self.is_closed or self.status is FulfilmentStatus.SHIPPED:
            raise self._refuse("cancel units of")
        if fl is None or not (0 <= backordered <= fl.backordered and 0 <= ready <= fl.ready):
            raise IllegalTransition(
                f"fulfilment order {self.id}: cannot cancel {backordered} backordered and "
                f"{ready} ready units of order line {number}"
            )
        fl.backordered -= backordered
        fl.cancelled += backordered + ready
        if all(fl.open == 0 for fl in self.lines):
            if any(fl.shipped for fl in self.lines):
                self.status = FulfilmentStatus.SHIPPED
            else:
                self.status = FulfilmentStatus.CANCELLED
                self.history.append((at, "cancelled"))
                self.events.append(FulfilmentOrderCancelled(at, self.id, self.order_id))

    def fill_backorder(self, number: int, units: int) -> None:
        """Backordered units of a line became ready."""
        fl = self.line(number)
        if fl is None or not 0 < units <= fl.backordered:
            raise IllegalTransition(
                f"fulfilment order {self.id}: cannot fill {units} backordered units of "
                f"order line {number}"
            )
        fl.backordered -= units

    def mark_delivered(self) -> None:
        """SHIPPED -> DELIVERED (the caller checks every shipment arrived)."""
        if self.status is not FulfilmentStatus.SHIPPED:
            raise self._refuse("deliver")
        self.status = FulfilmentStatus.DELIVERED

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` if a line's counters are impossible."""
        for fl in self.lines:
            if min(fl.backordered, fl.shipped, fl.cancelled, fl.ready) < 0:
                raise InvariantViolation(f"fulfilment order {self.id}: {fl}")


class ShipmentStatus(enum.Enum):
    """Where a parcel stands, as its carrier reports it."""

    # Hashed by identity, as members compare (Enum's own hash is a Python-level call on
    # the name): this enum keys the hottest lookups of the core.
    __hash__ = object.__hash__

    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    EXCEPTION = "exception"
    AWAITING_PICKUP = "awaiting_pickup"
    """Arrived at the pickup store; the customer has not collected it yet."""
    DELIVERED = "delivered"
    LOST = "lost"
    UNCLAIMED = "unclaimed"
    """Never collected from the pickup store; its units went into the store's stock."""


_PROGRESS: Final = {
    ShipmentStatus.SHIPPED: 0,
    ShipmentStatus.IN_TRANSIT: 1,
    ShipmentStatus.OUT_FOR_DELIVERY: 2,
    ShipmentStatus.AWAITING_PICKUP: 3,
}
_FINAL: Final = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.LOST, ShipmentStatus.UNCLAIMED})


@attrs.frozen
class TrackingUpdate:
    """One report from the carrier about a parcel."""

    at: datetime
    status: ShipmentStatus
    detail: str | None = None


@attrs.define
class Shipment:
    """A parcel: some units of one fulfilment order, with carrier and tracking.

    Lifecycle, driven by tracking updates (``Oms.track``)::

        SHIPPED ─▶ IN_TRANSIT ─▶ OUT_FOR_DELIVERY ─▶ DELIVERED
           └──────────┴──────────────┴──▶ EXCEPTION ─▶ (back on its way, or LOST)
                                            any of these ─▶ LOST

    Carriers report late and out of order: an update that would move the parcel
    backwards is kept in :attr:`history` but leaves the status alone.
    """

    id: str
    fulfilment_order_id: str
    order_id: str
    location: LocationId
    lines: tuple[tuple[int, Sku, int], ...]
    """(order line, SKU, units) per line."""
    shipped_at: datetime
    carrier: str | None = None
    service: str | None = None
    tracking: str | None = None
    status: ShipmentStatus = ShipmentStatus.SHIPPED
    delivered_at: datetime | None = None
    label: str | None = None
    """The carrier's reference for the label it issued, when omsims bought it."""
    cost: Money | None = None
    eta: datetime | None = None
    """When the carrier expects to deliver it."""
    weight_kg: Decimal | None = None
    """The parcel's weight, when the packer gave it."""
    history: list[TrackingUpdate] = attrs.Factory(list)
    resolution: str | None = None
    """For a lost parcel: ``"reship"`` or ``"refund"``, once decided."""
    to_store: LocationId | None = None
    """For a pickup order: the store the parcel goes to, where the customer collects it."""
    events: list[Event] = attrs.field(factory=list, eq=False, repr=False)
    """Events recorded by the changes below, until the service publishes them."""

    @property
    def is_final(self) -> bool:
        """Delivered or lost: no tracking update changes it any more."""
        return self.status in _FINAL

    def track(self, update: TrackingUpdate) -> bool:
        """Apply a carrier's report; ``False`` if it changed nothing (a repeat, or late).

        ``DELIVERED`` and ``LOST`` are final: a report after them is refused, unless it
        repeats them.
        """
        if self.is_final:
            unclaimed_repeat = (
                self.status is ShipmentStatus.UNCLAIMED
                and update.status is ShipmentStatus.DELIVERED
            )
            if update.status is self.status or unclaimed_repeat:
                return False  # a repeat (a late "delivered" to the store it waited at)
            msg = f"shipment {self.id} is {self.status.value}: cannot mark it {update.status.value}"
            raise IllegalTransition(msg)
        if update.at < self.shipped_at:
            msg = f"{update.at} is before shipment {self.id} shipped ({self.shipped_at})"
            raise BackdatedPostingRejected(msg)
        new, now = update.status, self.status
        if new is ShipmentStatus.AWAITING_PICKUP and self.to_store is None:
            raise IllegalTransition(f"shipment {self.id} goes to the customer, not to a store")
        if new is ShipmentStatus.DELIVERED and self.to_store is not None:
            # Delivered to the pickup store, not yet to the customer (``hand_over``).
            new = ShipmentStatus.AWAITING_PICKUP
            update = attrs.evolve(update, status=new)
        if new is now:
            return False  # a repeat: nothing new to keep
        self.history.append(update)
        if new in _PROGRESS and now in _PROGRESS and _PROGRESS[new] < _PROGRESS[now]:
            return False
        self.status = new
        if new is ShipmentStatus.DELIVERED:
            self.delivered_at = update.at
            self.events.append(ShipmentDelivered(update.at, self.id, self.order_id))
        elif new is ShipmentStatus.LOST:
            self.events.append(ShipmentLost(update.at, self.id, self.order_id, self.lines))
        else:
            self.events.append(
                ShipmentTracked(update.at, self.id, self.order_id, new.value, update.detail)
            )
        return True

    def hand_over(self, at: datetime) -> None:
        """AWAITING_PICKUP -> DELIVERED: the customer collected it at the store."""
        if self.status is not ShipmentStatus.AWAITING_PICKUP:
            raise IllegalTransition(
                f"shipment {self.id} is {self.status.value}, not awaiting pickup"
            )
        self.history.append(TrackingUpdate(at, ShipmentStatus.DELIVERED, "collected"))
        self.status, self.delivered_at = ShipmentStatus.DELIVERED, at
        self.events.append(ShipmentDelivered(at, self.id, self.order_id))

    def leave_unclaimed(self, at: datetime) -> None:
        """AWAITING_PICKUP -> UNCLAIMED: the pickup deadline passed."""
        if self.status is not ShipmentStatus.AWAITING_PICKUP:
            raise IllegalTransition(
                f"shipment {self.id} is {self.status.value}, not awaiting pickup"
            )
        self.history.append(TrackingUpdate(at, ShipmentStatus.UNCLAIMED, "not collected"))
        self.status = ShipmentStatus.UNCLAIMED

    def resolve(self, action: str, at: datetime) -> None:
        """Decide what happens about a lost parcel: ``"reship"`` or ``"refund"``."""
        if self.status is not ShipmentStatus.LOST or self.resolution is not None:
            state = (
                self.status.value if self.resolution is None else f"resolved ({self.resolution})"
            )
            raise IllegalTransition(f"shipment {self.id} is {state}: nothing to resolve")
        if action not in ("reship", "refund"):
            raise IllegalTransition(f"a lost parcel is reshipped or refunded, not {action!r}")
        self.resolution = action
        self.events.append(LostShipmentResolved(at, self.id, self.order_id, action))
