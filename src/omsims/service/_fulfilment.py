"""Fulfilment commands: accept, reject, hold, release, ship, deliver."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from omsims.domain.events import (
    ShipmentShipped,
)
from omsims.domain.fulfilment import (
    FulfilmentOrder,
    Shipment,
    line_reference,
)
from omsims.domain.orders import Order
from omsims.domain.payments import PaymentKind
from omsims.domain.values import quantity
from omsims.errors import (
    InvalidIdentifier,
    InvalidOrder,
    UnknownShipment,
)
from omsims.ports import UnitOfWork
from omsims.service._core import _id, not_before
from omsims.service._payments import PaymentCommands

__all__ = ["FulfilmentCommands"]


class FulfilmentCommands(PaymentCommands):
    """The commands on fulfilment orders and shipments."""

    def accept(
        self,
        fulfilment_order_id: str,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> FulfilmentOrder:
        """The location accepts its fulfilment order (OPEN -> ACCEPTED)."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> FulfilmentOrder:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            fo.accept(when)
            # Capacity is per business day, counted in UTC dates.
            uow.capacity.consume(fo.location, when.astimezone(UTC).date())
            self._drain(uow, fo)
            uow.fulfilment_orders.save(fo)
            return copy.deepcopy(fo)

        return self._run("accept", (fulfilment_order_id,), idempotency_key, body)

    def reject(
        self,
        fulfilment_order_id: str,
        *,
        reason: str,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        """The location cannot fulfil it: give its units back and source them elsewhere.

        The location is excluded for the rest of this order's life. Returns the order as
        re-sourced (units no other location can take stay unallocated).
        """
        when = self._now(at)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidIdentifier("a rejection needs a reason")

        def body(uow: UnitOfWork) -> Order:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            fo.check_reject()
            order = self._order_for_update(uow, fo.order_id)
            # Withdraw every backorder first, so the stock uncommitted next cannot fill
            # this very fulfilment order's own backorders.
            for fl in fo.lines:
                if fl.backordered:
                    uow.ledger.cancel_backorder(
                        fl.sku,
                        fo.location,
                        fl.backordered,
                        at=when,
                        reference=line_reference(fo.id, fl.line),
                    )
            for fl in fo.lines:
                if fl.ready:
                    posting = uow.ledger.uncommit(
                        fl.sku,
                        fo.location,
                        fl.ready,
                        at=when,
                        reference=line_reference(fo.id, fl.line),
                    )
                    self._settle(uow, posting, when)
                order.deallocate(fl.line, committed=fl.ready, backordered=fl.backordered)
            fo.reject(reason, when)
            self._drain(uow, fo)
            uow.fulfilment_orders.save(fo)
            order.excluded_locations.add(fo.location)
            self._apply_plan(uow, order, self._plan(uow, order, when), when)
            uow.orders.save(order)
            return self._snapshot(order)

        return self._run("reject", (fulfilment_order_id, reason), idempotency_key, body)

    def hold_fulfilment(
        self,
        fulfilment_order_id: str,
        *,
        reason: str,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> FulfilmentOrder:
        """Put a fulfilment order on hold with a reason."""
        when = self._now(at)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidIdentifier("a hold needs a reason")

        def body(uow: UnitOfWork) -> FulfilmentOrder:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            fo.hold(reason, when)
            self._drain(uow, fo)
            uow.fulfilment_orders.save(fo)
            return copy.deepcopy(fo)

        return self._run("hold_fulfilment", (fulfilment_order_id, reason), idempotency_key, body)

    def release_fulfilment(
        self,
        fulfilment_order_id: str,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> FulfilmentOrder:
        """Release a fulfilment order from hold."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> FulfilmentOrder:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            fo.release(when)
            self._drain(uow, fo)
            uow.fulfilment_orders.save(fo)
            return copy.deepcopy(fo)

        return self._run("release_fulfilment", (fulfilment_order_id,), idempotency_key, body)

    def ship(
        self,
        fulfilment_order_id: str,
        lines: Mapping[int, int] | None = None,
        *,
        carrier: str | None = None,
        service: str | None = None,
        tracking: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Shipment:
        """Ship a parcel: every ready unit, or ``{order line: units}`` of them.

        The fulfilment order must be accepted. Shipped units leave on hand and
        committed at the location; the order's lines count them as shipped.
        """
        when = self._now(at)
        for v in (carrier, service, tracking):
            if v is not None and (not isinstance(v, str) or not v or len(v) > 200):
                raise InvalidIdentifier(
                    f"carrier, service and tracking must be short strings, got {v!r}"
                )

        if lines is not None and (
            not isinstance(lines, Mapping) or not all(type(n) is int for n in lines)
        ):
            raise InvalidOrder(
                f"ship takes None or a {{line number: units}} mapping, got {lines!r}"
            )

        def body(uow: UnitOfWork) -> Shipment:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            units = (
                {fl.line: fl.ready for fl in fo.lines if fl.ready}
                if lines is None
                else {n: quantity(u, f"units of line {n}") for n, u in lines.items()}
            )
            fo.check_ship(units)
            order = self._order_for_update(uow, fo.order_id)
            parcel: list[tuple[int, Any, int]] = []
            for number, n in sorted(units.items()):
                fl = fo.line(number)
                assert fl is not None  # noqa: S101 (check_ship proved it)
                uow.ledger.ship(
                    fl.sku, fo.location, n, at=when, reference=line_reference(fo.id, number)
                )
                order.ship(number, n)
                parcel.append((number, fl.sku, n))
            fo.ship(units)
            shipment = Shipment(
                f"{fo.id}-S{fo.shipment_count}",
                fo.id,
                fo.order_id,
                fo.location,
                tuple(parcel),
                when,
                carrier,
                service,
                tracking,
            )
            self._request(
                order,
                PaymentKind.CAPTURE,
                order.value({number: n for number, _sku, n in parcel}),
                when,
                f"shipment {shipment.id}",
            )
            uow.shipments.add(shipment)
            uow.fulfilment_orders.save(fo)
            uow.orders.save(order)
            uow.collect(
                ShipmentShipped(
                    when,
                    shipment.id,
                    fo.id,
                    fo.order_id,
                    fo.location,
                    tuple(parcel),
                    carrier,
                    tracking,
                )
            )
            return copy.deepcopy(shipment)

        payload = (
            fulfilment_order_id,
            None if lines is None else tuple(sorted(lines.items())),
            carrier,
            service,
            tracking,
        )
        shipped = self._run("ship", payload, idempotency_key, body)
        self._settle_quietly(shipped.order_id)
        return shipped

    def deliver(
        self, shipment_id: str, *, at: datetime | None = None, idempotency_key: str | None = None
    ) -> Shipment:
        """A parcel reached the customer; the fulfilment order is DELIVERED with its last."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> Shipment:
            shipment = uow.shipments.get_for_update(_id(shipment_id, "shipment id"))
            if shipment is None:
                raise UnknownShipment(f"no shipment {shipment_id!r}")
            not_before(when, shipment.shipped_at, f"shipment {shipment.id} shipped")
            shipment.deliver(when)
            self._drain(uow, shipment)
            order = self._order_for_update(uow, shipment.order_id)
            for number, _sku, n in shipment.lines:
                order.deliver(number, n)
            fo = self._fulfilment_for_update(uow, shipment.fulfilment_order_id)
            self._deliver_if_complete(uow, fo)
            uow.shipments.save(shipment)
            uow.fulfilment_orders.save(fo)
            uow.orders.save(order)
            return copy.deepcopy(shipment)

        return self._run("deliver", (shipment_id,), idempotency_key, body)
