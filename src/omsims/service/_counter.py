"""What happens at a store's counter, shared by the commands that need it.

Handing units over to a customer who is there (a carry-out sale, a pickup), and
deciding when a pickup order is ready to be collected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from omsims.domain.events import OrderReadyForPickup, ShipmentShipped
from omsims.domain.fulfilment import (
    FulfilmentOrder,
    FulfilmentStatus,
    Shipment,
    ShipmentStatus,
    TrackingUpdate,
    line_reference,
)
from omsims.domain.orders import Order
from omsims.domain.values import Sku
from omsims.ports import UnitOfWork
from omsims.service._payments import PaymentCommands

__all__ = ["StoreCounter"]

HANDED_OVER = "handed over"
"""The ``service`` of a shipment a customer took at the counter (no carrier)."""


class StoreCounter(PaymentCommands):
    """Hand-overs at a store and the readiness of pickups."""

    def _send(
        self,
        uow: UnitOfWork,
        order: Order,
        fo: FulfilmentOrder,
        units: dict[int, int],
        when: datetime,
        **parcel_fields: Any,
    ) -> Shipment:
        """Units of ``fo`` leave its location as one parcel: ledger, counters, money.

        The units leave the location's stock as shipped, the order and the fulfilment
        order count them shipped, and the payment captures what they cost (with the
        shipping charge on the order's first parcel). ``parcel_fields`` are the
        shipment's carrier, tracking, label and the like. The caller checked ``units``.
        """
        first = not any(ln.shipped for ln in order.lines)
        parcel: list[tuple[int, Sku, int]] = []
        for number, n in sorted(units.items()):
            sku = order.line(number).sku
            uow.ledger.ship(sku, fo.location, n, at=when, reference=line_reference(fo.id, number))
            order.ship(number, n)
            parcel.append((number, sku, n))
        shipment = Shipment(
            f"{fo.id}-S{fo.shipment_count + 1}",
            fo.id,
            order.id,
            fo.location,
            tuple(parcel),
            when,
            **parcel_fields,
        )
        fo.ship(units)
        self._capture_shipped(order, units, first, when, f"shipment {shipment.id}")
        uow.shipments.add(shipment)
        uow.fulfilment_orders.save(fo)
        self._emit(
            uow,
            ShipmentShipped(
                when,
                shipment.id,
                fo.id,
                order.id,
                fo.location,
                tuple(parcel),
                shipment.carrier,
                shipment.tracking,
            ),
        )
        return shipment

    def _hand_over(
        self, uow: UnitOfWork, order: Order, fo: FulfilmentOrder, when: datetime
    ) -> Shipment:
        """Give every ready unit of ``fo`` to the customer at its store, now.

        A parcel with no carrier (:meth:`_send`), delivered at once.
        """
        units = {fl.line: fl.ready for fl in fo.lines if fl.ready}
        fo.check_ship(units)
        shipment = self._send(uow, order, fo, units, when, service=HANDED_OVER)
        shipment.track(TrackingUpdate(when, ShipmentStatus.DELIVERED, HANDED_OVER))
        self._drain(uow, shipment)
        uow.shipments.save(shipment)
        self._parcel_done(uow, order, shipment)
        return shipment

    def _parcel_done(self, uow: UnitOfWork, order: Order, shipment: Shipment) -> None:
        """A parcel reached its end (delivered or lost): count its units so on ``order``."""
        for number, _sku, n in shipment.lines:
            if shipment.status is ShipmentStatus.DELIVERED:
                order.deliver(number, n)
            else:
                order.lose(number, n)
        fo = self._fulfilment_for_update(uow, shipment.fulfilment_order_id)
        self._deliver_if_complete(uow, fo)
        uow.fulfilment_orders.save(fo)

    def _refresh_pickup(self, uow: UnitOfWork, order: Order, when: datetime) -> None:
        """Bring a pickup order's promise and readiness up to date after any change.

        Ready once every unit still due waits at its store: picked by the store (its
        fulfilment order ready for pickup) or in a parcel that reached it. Then the
        customer is told, with the deadline. A cancellation, a loss or a rejection can
        make it ready; a parcel that leaves the store (an exception) makes it not ready.
        """
        store = order.pickup_at
        if store is None:
            return
        self._promise_ready(uow, order)
        waiting = sum(
            fl.ready
            for fo in uow.fulfilment_orders.for_order(order.id)
            if fo.status is FulfilmentStatus.READY_FOR_PICKUP
            for fl in fo.lines
        ) + sum(
            n
            for s in uow.shipments.for_order(order.id)
            if s.status is ShipmentStatus.AWAITING_PICKUP
            for _line, _sku, n in s.lines
        )
        outstanding = sum(
            ln.quantity - ln.cancelled - ln.delivered - ln.lost - ln.unclaimed for ln in order.lines
        )
        ready = outstanding > 0 and waiting == outstanding
        if ready and order.ready_at is None:
            order.ready_at = when
            order.pickup_deadline = when + self.pickup.hold
            order.note(when, f"ready for pickup at {store}")
            self._emit(uow, OrderReadyForPickup(when, order.id, store, order.pickup_deadline))
        elif not ready and order.ready_at is not None:
            order.ready_at = order.pickup_deadline = None
            if outstanding:
                order.note(when, "no longer ready for pickup")

    def _promise_ready(self, uow: UnitOfWork, order: Order) -> None:
        """When a pickup order will be ready: the latest of its fulfilment orders' promises.

        Stock at the store is ready once prepared; stock elsewhere once transferred;
        backordered units once their supply is due, then prepared or transferred. If
        some backordered units have no supply date, nothing is promised.
        """
        if order.pickup_at is None:
            return
        if any(ln.unallocated for ln in order.lines):
            order.ready_by = None  # some units have nowhere to come from yet
            return
        latest = None
        for fo in uow.fulfilment_orders.for_order(order.id):
            if fo.is_closed:
                continue
            lead = self.pickup.prepare if fo.location == order.pickup_at else self.pickup.transfer
            for fl in fo.lines:
                if not fl.open:
                    continue
                if fl.backordered and fl.promised is None:
                    order.ready_by = None
                    return
                start = fl.promised if fl.backordered and fl.promised else fo.created_at
                due = start + lead
                latest = due if latest is None or due > latest else latest
        order.ready_by = latest
