"""Domain events: what happened, in the past tense; recorded by commands, published after commit."""

from __future__ import annotations

from datetime import datetime

import attrs

from omsims.domain.values import Money

__all__ = [
    "BackInStock",
    "BackorderFilled",
    "ChannelAvailabilityChanged",
    "Event",
    "ExcessStock",
    "FulfilmentOrderAccepted",
    "FulfilmentOrderCancelled",
    "FulfilmentOrderCreated",
    "FulfilmentOrderHeld",
    "FulfilmentOrderRejected",
    "FulfilmentOrderReleased",
    "LostShipmentResolved",
    "LowStock",
    "OrderCancelled",
    "OrderLinesCancelled",
    "OrderPickedUp",
    "OrderPlaced",
    "OrderReadyForPickup",
    "OutOfStock",
    "PaymentAuthorised",
    "PaymentCaptured",
    "PaymentMoved",
    "PaymentOperationDeclined",
    "PaymentRefunded",
    "PaymentVoided",
    "PickupExpired",
    "ReturnApproved",
    "ReturnClosed",
    "ReturnReceived",
    "ReturnRequested",
    "ShipmentDelivered",
    "ShipmentLost",
    "ShipmentShipped",
    "ShipmentTracked",
    "SlowMoving",
    "StockChanged",
    "UnitsReturned",
]


@attrs.frozen
class Event:
    """The base of every event: when it happened (business time), and its id.

    ``id`` is given when the event is committed (``evt-<n>``), stable across
    redeliveries, so a receiver can drop an event it has seen. It takes no part in
    equality: two events are equal when they say the same thing.
    """

    at: datetime
    id: str = attrs.field(default="", kw_only=True, eq=False)

    @property
    def name(self) -> str:
        """The event's type name, e.g. ``OrderPlaced``."""
        return type(self).__name__


@attrs.frozen
class OrderPlaced(Event):
    """An order was accepted and sourced (perhaps only in part)."""

    order_id: str
    channel: str
    lines: tuple[tuple[int, str, int], ...]
    """(line number, SKU, quantity) per line."""


@attrs.frozen
class OrderLinesCancelled(Event):
    """Units of some lines were cancelled."""

    order_id: str
    lines: tuple[tuple[int, int], ...]
    """(line number, units cancelled) per line."""


@attrs.frozen
class OrderCancelled(Event):
    """Every unit of the order that had not shipped is cancelled."""

    order_id: str


@attrs.frozen
class FulfilmentOrderCreated(Event):
    """A location was asked to fulfil part of an order."""

    fulfilment_order_id: str
    order_id: str
    location: str
    lines: tuple[tuple[int, str, int, int, datetime | None], ...]
    """(order line, SKU, units, of which backordered, promised date of those) per line."""


@attrs.frozen
class FulfilmentOrderAccepted(Event):
    """The location accepted its fulfilment order."""

    fulfilment_order_id: str
    order_id: str
    location: str


@attrs.frozen
class FulfilmentOrderRejected(Event):
    """The location cannot fulfil it; its lines are sourced again without it."""

    fulfilment_order_id: str
    order_id: str
    location: str
    reason: str


@attrs.frozen
class FulfilmentOrderHeld(Event):
    """A fulfilment order was put on hold."""

    fulfilment_order_id: str
    order_id: str
    reason: str


@attrs.frozen
class FulfilmentOrderReleased(Event):
    """A fulfilment order on hold was released."""

    fulfilment_order_id: str
    order_id: str


@attrs.frozen
class FulfilmentOrderCancelled(Event):
    """Every unit of a fulfilment order was cancelled before it shipped."""

    fulfilment_order_id: str
    order_id: str


@attrs.frozen
class ShipmentShipped(Event):
    """A parcel left a location."""

    shipment_id: str
    fulfilment_order_id: str
    order_id: str
    location: str
    lines: tuple[tuple[int, str, int], ...]
    carrier: str | None
    tracking: str | None


@attrs.frozen
class ShipmentDelivered(Event):
    """A parcel reached the customer."""

    shipment_id: str
    order_id: str


@attrs.frozen
class ShipmentTracked(Event):
    """The carrier reported a parcel's progress (in transit, out for delivery, an exception)."""

    shipment_id: str
    order_id: str
    status: str
    detail: str | None


@attrs.frozen
class ShipmentLost(Event):
    """The carrier lost a parcel; it must be reshipped or refunded."""

    shipment_id: str
    order_id: str
    lines: tuple[tuple[int, str, int], ...]
    """(order line, SKU, units) per line."""


@attrs.frozen
class LostShipmentResolved(Event):
    """A lost parcel was reshipped or refunded."""

    shipment_id: str
    order_id: str
    action: str


@attrs.frozen
class BackorderFilled(Event):
    """Arriving supply turned backordered units of an order line into committed ones."""

    order_id: str
    fulfilment_order_id: str
    line: int
    location: str
    quantity: int


@attrs.frozen
class UnitsReturned(Event):
    """Delivered units came back to a location."""

    order_id: str
    line: int
    location: str
    quantity: int
    restocked: bool


@attrs.frozen
class StockChanged(Event):
    """A position's balances changed; ``available`` is the new figure."""

    sku: str
    location: str
    on_hand: int
    available: int


@attrs.frozen
class LowStock(Event):
    """A position's available stock fell to or below its low-stock threshold."""

    sku: str
    location: str
    available: int
    threshold: int


@attrs.frozen
class OutOfStock(Event):
    """A position's available stock fell to zero: nothing more can be promised from it."""

    sku: str
    location: str
    on_hand: int


@attrs.frozen
class BackInStock(Event):
    """A position that had nothing available has units available again."""

    sku: str
    location: str
    available: int


@attrs.frozen
class ExcessStock(Event):
    """A stock review found a position holding more than ``limit_days`` of cover.

    ``days_of_cover`` is ``None`` when the position had no demand at all in the window.
    """

    sku: str
    location: str
    on_hand: int
    days_of_cover: float | None
    limit_days: float


@attrs.frozen
class SlowMoving(Event):
    """A stock review found units on hand that have not sold for ``idle_days`` days.

    ``idle_days`` is ``None`` when the position had no demand at all in the window.
    """

    sku: str
    location: str
    on_hand: int
    idle_days: int | None
    limit_days: int


@attrs.frozen
class PaymentAuthorised(Event):
    """The gateway holds money for the order: its total, or a dearer exchange's balance."""

    order_id: str
    amount: Money
    authorisation: str


@attrs.frozen
class PaymentMoved(Event):
    """The base of the events for money the gateway moved (it is never published itself)."""

    order_id: str
    operation_id: str
    amount: Money
    reference: str
    reason: str


@attrs.frozen
class PaymentCaptured(PaymentMoved):
    """The gateway took money from the authorisation (a shipment left)."""


@attrs.frozen
class PaymentVoided(PaymentMoved):
    """The gateway released part of the authorisation (units were cancelled)."""


@attrs.frozen
class PaymentRefunded(PaymentMoved):
    """The gateway gave money back (a return, a lost parcel, a goodwill refund)."""


@attrs.frozen
class PaymentOperationDeclined(Event):
    """The gateway refused a capture, void or refund for good; someone must look at it."""

    order_id: str
    operation_id: str
    kind: str
    amount: Money
    error: str


@attrs.frozen
class ReturnRequested(Event):
    """A customer asked to return units; ``location`` is where the parcel should go."""

    return_id: str
    order_id: str
    lines: tuple[tuple[int, str, int], ...]
    """(order line, SKU, units) per line."""
    reason: str
    method: str
    location: str


@attrs.frozen
class ReturnApproved(Event):
    """The shop agreed to take the units back; a mail return may carry its label."""

    return_id: str
    order_id: str
    carrier: str | None
    tracking: str | None


@attrs.frozen
class ReturnClosed(Event):
    """A return ended without receipt: ``status`` is ``rejected`` or ``cancelled``."""

    return_id: str
    order_id: str
    status: str
    reason: str


@attrs.frozen
class ReturnReceived(Event):
    """Returned units arrived and were inspected; ``status`` is refunded or exchanged."""

    return_id: str
    order_id: str
    location: str
    units: tuple[tuple[int, str, int, str], ...]
    """(order line, SKU, units, disposition) per inspection."""
    status: str


@attrs.frozen
class OrderReadyForPickup(Event):
    """Every unit of a pickup order waits at its store; tell the customer."""

    order_id: str
    store: str
    deadline: datetime
    """After this the units go back to stock and are refunded."""


@attrs.frozen
class OrderPickedUp(Event):
    """The customer collected their order at the store."""

    order_id: str
    store: str


@attrs.frozen
class PickupExpired(Event):
    """Nobody collected a pickup order by its deadline: its units are back in stock."""

    order_id: str
    store: str
    units: int


@attrs.frozen
class ChannelAvailabilityChanged(Event):
    """What a sales channel may offer of one of its listings changed (its stock feed)."""

    channel: str
    sku: str
    """The channel's own SKU (the internal one where the channel maps none)."""
    available: int
