"""Archived orders: finished orders moved out of the live store, and when an order is finished.

A shop (or a simulation) that runs for long keeps every order it ever took. The live
store needs only the orders something can still happen to; the rest can go to an
archive (the :class:`~omsims.ports.OrderArchive` port) with their fulfilment orders and
shipments, and stay readable there. The ledger keeps every entry: stock history is not
archived with the order.

>>> from datetime import datetime, UTC
>>> from omsims.domain.orders import Order
>>> order = Order.new("A-1", [("MUG", 1)], placed_at=datetime(2026, 1, 1, tzinfo=UTC))
>>> unfinished(order, ())
'order A-1 is placed'
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime

import attrs

from omsims.domain.fulfilment import FulfilmentOrder, FulfilmentStatus, Shipment
from omsims.domain.orders import Order, OrderStatus
from omsims.domain.payments import OperationStatus

__all__ = ["FINISHED", "ArchivedOrder", "unfinished"]

FINISHED = frozenset(
    {
        OrderStatus.DELIVERED,
        OrderStatus.PARTIALLY_RETURNED,
        OrderStatus.RETURNED,
        OrderStatus.CANCELLED,
    }
)
"""The order statuses an order may be archived in (see :func:`unfinished` for the rest)."""

_STILL_MOVING = frozenset(
    {
        FulfilmentStatus.OPEN,
        FulfilmentStatus.ACCEPTED,
        FulfilmentStatus.ON_HOLD,
        FulfilmentStatus.READY_FOR_PICKUP,
        FulfilmentStatus.PARTIALLY_SHIPPED,
    }
)


@attrs.frozen
class ArchivedOrder:
    """A finished order as it was archived, with everything that belonged to it."""

    order: Order
    fulfilment_orders: tuple[FulfilmentOrder, ...]
    shipments: tuple[Shipment, ...]
    placement: Hashable
    """What the order was placed with, so placing it again is still recognised (or refused)."""
    archived_at: datetime

    @property
    def id(self) -> str:
        """The order's id."""
        return self.order.id


def unfinished(order: Order, fulfilment_orders: Sequence[FulfilmentOrder]) -> str | None:
    """Why ``order`` may not be archived yet, or None when nothing more can happen to it.

    Finished: its status is one of :data:`FINISHED`; no fulfilment order still has units
    to send; no return request is open; no payment operation is still due at the
    gateway. (A lost parcel not yet resolved keeps the order shipped, so unfinished.)
    """
    if order.status not in FINISHED:
        return f"order {order.id} is {order.status.value}"
    for fo in fulfilment_orders:
        if fo.status in _STILL_MOVING:
            return f"its fulfilment order {fo.id} is {fo.status.value}"
    if any(r.is_open for r in order.returns):
        return f"its return request {next(r.id for r in order.returns if r.is_open)} is open"
    if order.payment is not None and any(
        op.status is OperationStatus.DUE for op in order.payment.operations
    ):
        return "a payment operation is still due at the gateway"
    return None
