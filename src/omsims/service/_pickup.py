"""In-store commands: ready for pickup, pick up, unclaimed pickups, reserve to try on.

Buy online, pick up in store (BOPIS): ``place_order(..., pickup_at=store)`` sources the
store's own stock first and sends the rest there; the store marks what it picked
ready, parcels from elsewhere become ready when they reach it, and once every unit is
there the customer is told (``OrderReadyForPickup``). They collect with :meth:`pick_up`;
what nobody collects by the deadline goes back into the store's stock, refunded.

Reserve online, try in store (ROPIS): :meth:`reserve_in_store` holds units at the
store until an expiry; the customer buys with ``place_order(..., sold_at=store,
reservation=...)``, or the reservation runs out (``expire_reservations``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omsims.domain.copies import deep_copy
from omsims.domain.events import OrderPickedUp, PickupExpired
from omsims.domain.fulfilment import (
    FulfilmentOrder,
    FulfilmentStatus,
    ShipmentStatus,
    line_reference,
)
from omsims.domain.locations import LocationKind
from omsims.domain.orders import Order
from omsims.domain.supply import Reservation
from omsims.domain.values import as_identifier, as_sku, quantity
from omsims.errors import IllegalTransition, InvalidOrder, PickupRefused, UnknownSku
from omsims.ports import UnitOfWork
from omsims.service._core import not_before
from omsims.service._fulfilment import FulfilmentCommands

__all__ = ["PickupCommands"]


class PickupCommands(FulfilmentCommands):
    """The commands of a store's counter."""

    def ready_for_pickup(
        self,
        fulfilment_order_id: str,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> FulfilmentOrder:
        """The pickup store picked its units for the customer (ACCEPTED -> READY_FOR_PICKUP).

        When nothing else is on its way to the store, the order is ready for pickup.
        """
        when = self._now(at)

        def body(uow: UnitOfWork) -> FulfilmentOrder:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            order = self._order_for_update(uow, fo.order_id)
            if order.pickup_at != fo.location:
                raise IllegalTransition(
                    f"fulfilment order {fo.id} is not picked up at {fo.location}: ship it"
                )
            fo.mark_ready(when)
            uow.fulfilment_orders.save(fo)
            self._refresh_pickup(uow, order, when)
            uow.orders.save(order)
            return deep_copy(fo)

        return self._run("ready_for_pickup", (fulfilment_order_id, at), idempotency_key, body)

    def pick_up(
        self,
        order_id: str,
        *,
        customer: str | None = None,
        store: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        """The customer collects a ready pickup order at the counter.

        ``customer`` must be the order's customer, and ``store`` (the counter it is
        collected at, if given) its pickup store: anyone else is refused with ``PickupRefused``.
        Every unit waiting at the store is handed over, and captured.

        >>> from omsims import Oms, Location, LocationKind
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("munich-store", kind=LocationKind.STORE,
        ...                               can_pickup=True))
        >>> _ = oms.receive("DRESS-38", "munich-store", 3)
        >>> order = oms.place_order("web-7", [("DRESS-38", 1)], customer="c-42",
        ...                         pickup_at="munich-store")
        >>> fo = oms.accept(oms.fulfilment_orders("web-7")[0].id)
        >>> oms.ready_for_pickup(fo.id).status.value, oms.order("web-7").status.value
        ('ready_for_pickup', 'ready_for_pickup')
        >>> oms.pick_up("web-7", customer="c-99")
        Traceback (most recent call last):
        ...
        omsims.errors.PickupRefused: order web-7 is not customer c-99's to collect
        >>> oms.pick_up("web-7", customer="c-42").status.value
        'delivered'
        """
        moment = self._now(at)
        if customer is not None:
            as_identifier(customer, "customer")

        def body(uow: UnitOfWork) -> Order:
            order = self._order_for_update(uow, order_id, moment)
            if order.pickup_at is None:
                raise IllegalTransition(f"order {order.id} is not picked up in a store")
            if order.customer is not None and customer != order.customer:
                raise PickupRefused(f"order {order.id} is not customer {customer}'s to collect")
            if store is not None and store != order.pickup_at:
                raise PickupRefused(
                    f"order {order.id} is collected at {order.pickup_at}, not {store}"
                )
            self._refresh_pickup(uow, order, moment)
            if order.ready_at is None:
                raise IllegalTransition(
                    f"order {order.id} is {order.status.value}, not ready for pickup"
                )
            not_before(moment, order.ready_at, f"order {order.id} was ready")
            self._collect(uow, order, moment)
            order.note(moment, f"collected at {order.pickup_at}")
            self._refresh_pickup(uow, order, moment)
            uow.orders.save(order)
            self._emit(uow, OrderPickedUp(moment, order.id, order.pickup_at))
            return self._snapshot(order)

        result = self._run("pick_up", (order_id, customer, store, at), idempotency_key, body)
        self._settle_quietly(result.id)
        return self._settled(result)

    def expire_pickups(self, *, at: datetime | None = None) -> list[Order]:
        """Put back what nobody collected by its deadline, and refund it.

        Units the store picked from its own stock go back on sale there; parcels sent
        to the store are taken into its stock (``unclaimed``). Run it now and then (e.g.
        nightly). Each order is its own command; returns the orders it expired.

        Runtime complexity: O(orders) to find them.
        """
        when = self._now(at)
        with self._read() as uow:
            due = [
                o.id
                for o in uow.orders.list()
                if o.pickup_deadline is not None and o.pickup_deadline <= when
            ]
        return [self._expire_pickup(order_id, when) for order_id in due]

    def _expire_pickup(self, order_id: str, when: datetime) -> Order:
        def body(uow: UnitOfWork) -> Order:
            order = self._order_for_update(uow, order_id, when)
            store, deadline = order.pickup_at, order.pickup_deadline
            if store is None or deadline is None or deadline > when:
                return self._snapshot(order)  # collected, expired or changed meanwhile
            cancelled = self._put_back_picked(uow, order, when)
            unclaimed = self._take_in_parcels(uow, order, store, when)
            self._void_cancelled(order, cancelled, when)
            self._refund_excess(order, when, "pickup not collected")
            units = unclaimed + sum(cancelled.values())
            order.note(when, f"not collected by {deadline}: {units} unit(s) back")
            self._refresh_pickup(uow, order, when)
            uow.orders.save(order)
            self._emit(uow, PickupExpired(when, order.id, store, units))
            return self._snapshot(order)

        result = self._run("expire_pickup", (order_id, when), None, body)
        self._settle_quietly(result.id)
        return self._settled(result)

    def _collect(self, uow: UnitOfWork, order: Order, when: datetime) -> None:
        """Hand over what the store picked and every parcel waiting there."""
        for waiting in uow.fulfilment_orders.for_order(order.id):
            if waiting.status is FulfilmentStatus.READY_FOR_PICKUP:
                fo = self._fulfilment_for_update(uow, waiting.id)
                self._hand_over(uow, order, fo, when)
        for s in uow.shipments.for_order(order.id):
            if s.status is ShipmentStatus.AWAITING_PICKUP:
                shipment = self._shipment_for_update(uow, s.id)
                shipment.hand_over(when)
                self._drain(uow, shipment)
                uow.shipments.save(shipment)
                self._parcel_done(uow, order, shipment)

    def _put_back_picked(self, uow: UnitOfWork, order: Order, when: datetime) -> dict[int, int]:
        """Units the store picked go back on sale: cancelled, uncommitted. Per line."""
        cancelled: dict[int, int] = {}
        for waiting in uow.fulfilment_orders.for_order(order.id):
            if waiting.status is not FulfilmentStatus.READY_FOR_PICKUP:
                continue
            fo = self._fulfilment_for_update(uow, waiting.id)
            for fl in fo.lines:
                if fl.ready:
                    n, ref = fl.ready, line_reference(fo.id, fl.line)
                    posting = uow.ledger.uncommit(fl.sku, fo.location, n, at=when, reference=ref)
                    fo.cancel_units(fl.line, backordered=0, ready=n, at=when)
                    order.cancel(fl.line, unallocated=0, backordered=0, committed=n)
                    cancelled[fl.line] = cancelled.get(fl.line, 0) + n
                    self._settle(uow, posting, when)
            self._drain(uow, fo)
            uow.fulfilment_orders.save(fo)
        return cancelled

    def _take_in_parcels(self, uow: UnitOfWork, order: Order, store: str, when: datetime) -> int:
        """Parcels waiting at the store join its stock, unclaimed; how many units."""
        units = 0
        for s in uow.shipments.for_order(order.id):
            if s.status is not ShipmentStatus.AWAITING_PICKUP:
                continue
            shipment = self._shipment_for_update(uow, s.id)
            shipment.leave_unclaimed(when)
            for number, sku, n in shipment.lines:
                order.unclaim(number, n)
                units += n
                posting = uow.ledger.return_stock(sku, store, n, at=when, reference=shipment.id)
                self._settle(uow, posting, when)
            uow.shipments.save(shipment)
            fo = self._fulfilment_for_update(uow, shipment.fulfilment_order_id)
            self._deliver_if_complete(uow, fo)
            uow.fulfilment_orders.save(fo)
        return units

    def reserve_in_store(
        self,
        reference: str,
        lines: Sequence[tuple[str, int]],
        *,
        store: str,
        expires_at: datetime,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> list[Reservation]:
        """Reserve online, try on in store: hold ``[(sku, units)]`` at ``store`` until expiry.

        All the lines are held, or none (``InsufficientStock``). The customer buys
        with ``place_order(..., sold_at=store, reservation=reference)``; what they do
        not buy goes back on sale then, or at expiry (``expire_reservations``).

        >>> from datetime import datetime, UTC
        >>> from omsims import Oms, Location, LocationKind, ManualClock
        >>> oms = Oms(clock=ManualClock(datetime(2026, 3, 1, 10, tzinfo=UTC)))
        >>> _ = oms.add_location(Location("munich-store", kind=LocationKind.STORE))
        >>> _ = oms.receive("DRESS-38", "munich-store", 2)
        >>> _ = oms.receive("DRESS-40", "munich-store", 2)
        >>> held = oms.reserve_in_store("ropis-1", [("DRESS-38", 1), ("DRESS-40", 1)],
        ...     store="munich-store", expires_at=datetime(2026, 3, 2, 18, tzinfo=UTC))
        >>> oms.available("DRESS-38", "munich-store")
        1
        >>> sale = oms.place_order("pos-1", [("DRESS-38", 1)], channel="pos",
        ...                        sold_at="munich-store", reservation="ropis-1")
        >>> sale.status.value, oms.available("DRESS-40", "munich-store")
        ('delivered', 2)
        """
        when = self._now(at)
        ref = as_identifier(reference, "reservation reference")
        if not isinstance(lines, list | tuple) or not lines:
            raise InvalidOrder(f"reserve_in_store takes [(sku, units)], got {lines!r}")
        wanted = []
        for raw in lines:
            if not isinstance(raw, tuple | list) or len(raw) != 2:
                raise InvalidOrder(f"reserve_in_store takes (sku, units) pairs, got {raw!r}")
            wanted.append((as_sku(raw[0]), quantity(raw[1])))

        def body(uow: UnitOfWork) -> list[Reservation]:
            shop = self._location(uow, store)
            if shop.kind is not LocationKind.STORE or not shop.active:
                raise InvalidOrder(f"{shop.id} is not an open store")
            held = []
            for sku, units in wanted:
                if not uow.ledger.has_sku(sku):
                    raise UnknownSku(f"SKU {sku!r} is not known")
                held.append(
                    uow.ledger.reserve(
                        sku, store, units, at=when, expires_at=expires_at, reference=ref
                    )
                )
            return held

        payload = (ref, tuple(wanted), store, expires_at, at)
        return self._run("reserve_in_store", payload, idempotency_key, body)
