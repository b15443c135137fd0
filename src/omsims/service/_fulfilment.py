"""Fulfilment commands: accept, reject, hold, release, ship, track, deliver, lost parcels."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from omsims.domain.copies import deep_copy
from omsims.domain.fulfilment import (
    FulfilmentOrder,
    Shipment,
    ShipmentStatus,
    TrackingUpdate,
    line_reference,
)
from omsims.domain.orders import Order, ShipTo
from omsims.domain.shipping import Label, Parcel
from omsims.domain.values import LocationId, quantity
from omsims.domain.values import weight_kg as as_weight
from omsims.errors import (
    CarrierUnavailable,
    ConflictError,
    IllegalTransition,
    InvalidIdentifier,
    InvalidOrder,
    UnknownShipment,
)
from omsims.ports import ShippingCarrier, UnitOfWork
from omsims.service._core import _id, not_before
from omsims.service._counter import StoreCounter

__all__ = ["FulfilmentCommands"]


class FulfilmentCommands(StoreCounter):
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
            return deep_copy(fo)

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
            self._refresh_pickup(uow, order, when)
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
            return deep_copy(fo)

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
            return deep_copy(fo)

        return self._run("release_fulfilment", (fulfilment_order_id,), idempotency_key, body)

    def ship(
        self,
        fulfilment_order_id: str,
        lines: Mapping[int, int] | None = None,
        *,
        carrier: str | None = None,
        service: str | None = None,
        tracking: str | None = None,
        weight_kg: Decimal | int | str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Shipment:
        """Ship a parcel: every ready unit, or ``{order line: units}`` of them.

        The fulfilment order must be accepted. Shipped units leave on hand and
        committed at the location; the order's lines count them as shipped, and the
        order's payment (if any) captures what they cost.

        When ``carrier`` names one of the Oms's carriers and no ``tracking`` is given,
        omsims buys the label first (tracking number, cost, ETA), under the shipment's
        id as idempotency key; if the carrier cannot issue one, nothing ships
        (``CarrierUnavailable``). Otherwise ``carrier``, ``service`` and ``tracking``
        are recorded as given (a label bought elsewhere).

        >>> from omsims import Oms, Location
        >>> from omsims.adapters.carriers import FakeCarrier
        >>> oms = Oms(carriers=[FakeCarrier("post", transit_days=2)])
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> _ = oms.place_order("web-1001", [("TSHIRT-M", 2)])
        >>> fo = oms.accept(oms.fulfilment_orders("web-1001")[0].id)
        >>> parcel = oms.ship(fo.id, carrier="post")
        >>> parcel.tracking, parcel.eta - parcel.shipped_at
        ('POST0000000001', datetime.timedelta(days=2))
        """
        when = self._now(at)
        for v in (carrier, service, tracking):
            if v is not None and (not isinstance(v, str) or not v or len(v) > 200):
                raise InvalidIdentifier(
                    f"carrier, service and tracking must be short strings, got {v!r}"
                )
        weight = None if weight_kg is None else as_weight(weight_kg, "parcel weight")
        if lines is not None and (
            not isinstance(lines, Mapping) or not all(type(n) is int for n in lines)
        ):
            raise InvalidOrder(
                f"ship takes None or a {{line number: units}} mapping, got {lines!r}"
            )
        self._check_key(idempotency_key)  # before paying for a label
        buyer = self.carriers.get(carrier) if carrier is not None and tracking is None else None
        bought = (
            None
            if buyer is None
            else self._buy_label(
                buyer, fulfilment_order_id, lines, service, weight, when, idempotency_key
            )
        )
        label = None if bought is None else bought[1]

        def body(uow: UnitOfWork) -> Shipment:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            units = _units(fo, lines)
            fo.check_ship(units)
            shipment_id = f"{fo.id}-S{fo.shipment_count + 1}"
            order = self._order_for_update(uow, fo.order_id)
            to_store = _destination_store(order, fo)
            if bought is not None and bought[0] != shipment_id:
                raise ConflictError(
                    f"fulfilment order {fo.id} shipped another parcel meanwhile; ship again"
                )
            shipment = self._send(
                uow,
                order,
                fo,
                units,
                when,
                carrier=carrier,
                service=service if label is None else label.service,
                tracking=tracking if label is None else label.tracking,
                label=None if label is None else label.reference,
                cost=None if label is None else label.cost,
                eta=None if label is None else label.eta,
                weight_kg=weight,
                to_store=to_store,
            )
            uow.orders.save(order)
            return deep_copy(shipment)

        payload = (
            fulfilment_order_id,
            None if lines is None else tuple(sorted(lines.items())),
            carrier,
            service,
            tracking,
            weight,
        )
        try:
            shipped = self._run("ship", payload, idempotency_key, body)
        except BaseException:
            if buyer is not None and label is not None:
                self._return_label(buyer, label)
            raise
        self._settle_quietly(shipped.order_id)
        return shipped

    def _buy_label(
        self,
        buyer: ShippingCarrier,
        fulfilment_order_id: str,
        lines: Mapping[int, int] | None,
        service: str | None,
        weight: Decimal | None,
        when: datetime,
        idempotency_key: str | None,
    ) -> tuple[str, Label] | None:
        """Buy the label for the parcel ``ship`` is about to record (outside its transaction).

        Returns the shipment id it is for and the label; ``None`` when the command is a
        repeat of one already done (its parcel has a label).
        """
        with self._read() as uow:
            if self._replayed(uow, idempotency_key):
                return None
            fo = self._fulfilment_for_update(uow, fulfilment_order_id, when)
            units = _units(fo, lines)
            fo.check_ship(units)  # refuse a bad shipment before paying for its label
            order = self._order_for_update(uow, fo.order_id)
            origin = self._location(uow, fo.location)
            shipment_id = f"{fo.id}-S{fo.shipment_count + 1}"
            contents = tuple((order.line(n).sku, u) for n, u in sorted(units.items()))
            store = _destination_store(order, fo)
            destination = (
                order.ship_to
                if store is None
                else ShipTo(point=self._location(uow, store).coordinates)
            )
            parcel = Parcel(
                shipment_id, order.id, origin, destination, contents, weight, when, service
            )
        try:
            # A key of its own per attempt: an attempt that fails cancels its label, so a
            # retry must not be handed that cancelled label back.
            label = buyer.create_shipment(parcel, key=f"{shipment_id}-{secrets.token_hex(6)}")
        except CarrierUnavailable:
            raise
        except Exception as exc:  # any carrier failure: nothing has shipped
            raise CarrierUnavailable(f"carrier {buyer.name} failed: {exc}") from exc
        return shipment_id, label

    def _return_label(self, buyer: ShippingCarrier, label: Label) -> None:
        """Cancel a label whose shipment was not recorded (best effort)."""
        # If the carrier cannot be told, an unused label is simply never scanned.
        with contextlib.suppress(Exception):
            buyer.cancel_label(label, key=f"{label.reference}-cancel")

    def deliver(
        self, shipment_id: str, *, at: datetime | None = None, idempotency_key: str | None = None
    ) -> Shipment:
        """A parcel reached the customer; the fulfilment order is DELIVERED with its last.

        The same as ``track(shipment_id, "delivered")``, but a second delivery is refused.
        """
        when = self._now(at)

        def body(uow: UnitOfWork) -> Shipment:
            shipment = self._shipment_for_update(uow, shipment_id)
            if shipment.status is ShipmentStatus.DELIVERED:
                raise IllegalTransition(f"cannot deliver shipment {shipment.id}: it is delivered")
            self._apply_tracking(uow, shipment, TrackingUpdate(when, ShipmentStatus.DELIVERED))
            return deep_copy(shipment)

        return self._run("deliver", (shipment_id,), idempotency_key, body)

    def track(
        self,
        shipment_id: str,
        status: ShipmentStatus | str,
        *,
        detail: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Shipment:
        """Feed a carrier's tracking update: in transit, out for delivery, exception, ...

        The statuses are ``in_transit``, ``out_for_delivery``, ``exception``,
        ``delivered`` and ``lost``. Carriers report late, twice and out of order: a
        repeat changes nothing, and an update that would move the parcel backwards is
        kept in its history only.
        ``delivered`` counts the units as delivered (as :meth:`deliver`); ``lost``
        counts them lost, for :meth:`resolve_lost` to reship or refund.

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> _ = oms.place_order("web-1001", [("TSHIRT-M", 2)])
        >>> fo = oms.accept(oms.fulfilment_orders("web-1001")[0].id)
        >>> parcel = oms.ship(fo.id, carrier="dhl", tracking="JD0001")
        >>> oms.track(parcel.id, "out_for_delivery").status.value
        'out_for_delivery'
        >>> oms.track(parcel.id, "in_transit").status.value  # late: kept, status unchanged
        'out_for_delivery'
        >>> oms.track(parcel.id, "delivered").status.value, oms.order("web-1001").status.value
        ('delivered', 'delivered')
        """
        when = self._now(at)
        update = TrackingUpdate(when, _status(status), _detail(detail))

        def body(uow: UnitOfWork) -> Shipment:
            shipment = self._shipment_for_update(uow, shipment_id)
            self._apply_tracking(uow, shipment, update)
            return deep_copy(shipment)

        payload = (shipment_id, update.status, update.detail, at)
        return self._run("track", payload, idempotency_key, body)

    def resolve_lost(
        self,
        shipment_id: str,
        action: str,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        """Decide about a lost parcel: ``"reship"`` its units free, or ``"refund"`` them.

        Reshipping adds a replacement line (no price) per lost line and sources it like
        any other; refunding asks the payment to give back what the lost units cost.
        Returns the order.
        """
        when = self._now(at)
        if action not in ("reship", "refund"):
            raise InvalidIdentifier(f"a lost parcel is reshipped or refunded, not {action!r}")

        def body(uow: UnitOfWork) -> Order:
            shipment = self._shipment_for_update(uow, shipment_id)
            lost_at = shipment.history[-1].at if shipment.history else shipment.shipped_at
            not_before(
                when, lost_at, f"shipment {shipment.id} was reported {shipment.status.value}"
            )
            shipment.resolve(action, when)
            self._drain(uow, shipment)
            order = self._order_for_update(uow, shipment.order_id)
            order.note(when, f"lost parcel {shipment.id}: {action}")
            for number, _sku, n in shipment.lines:
                order.resolve_lost(number, n)
                if action == "reship":
                    order.add_replacement(number, n)
            if action == "reship":
                self._apply_plan(uow, order, self._plan(uow, order, when), when)
            else:
                self._refund_excess(order, when, f"lost parcel {shipment.id}")
            fo = self._fulfilment_for_update(uow, shipment.fulfilment_order_id)
            self._deliver_if_complete(uow, fo)
            uow.fulfilment_orders.save(fo)
            uow.shipments.save(shipment)
            self._refresh_pickup(uow, order, when)
            uow.orders.save(order)
            return self._snapshot(order)

        result = self._run("resolve_lost", (shipment_id, action, at), idempotency_key, body)
        self._settle_quietly(result.id)
        return self._settled(result)

    # -- helpers ------------------------------------------------------------------------------

    def _apply_tracking(self, uow: UnitOfWork, shipment: Shipment, update: TrackingUpdate) -> None:
        """Apply a tracking update to the parcel and to what it carries."""
        if not shipment.track(update):
            uow.shipments.save(shipment)  # the history grew, nothing else
            return
        self._drain(uow, shipment)
        uow.shipments.save(shipment)
        if shipment.is_final:
            order = self._order_for_update(uow, shipment.order_id)
            self._parcel_done(uow, order, shipment)
            uow.orders.save(order)
        if shipment.to_store is not None:  # a pickup may be ready now, or no longer
            order = self._order_for_update(uow, shipment.order_id)
            self._refresh_pickup(uow, order, update.at)
            uow.orders.save(order)

    @staticmethod
    def _shipment_for_update(uow: UnitOfWork, shipment_id: str) -> Shipment:
        shipment = uow.shipments.get_for_update(_id(shipment_id, "shipment id"))
        if shipment is None:
            raise UnknownShipment(f"no shipment {shipment_id!r}")
        return shipment


def _destination_store(order: Order, fo: FulfilmentOrder) -> LocationId | None:
    """For a pickup: the store a parcel goes to (refused from the store itself)."""
    store = order.pickup_at
    if store is None:
        return None
    if fo.location == store:
        raise IllegalTransition(
            f"fulfilment order {fo.id} is picked up at {store}: mark it ready, then pick_up"
        )
    return store


def _units(fo: FulfilmentOrder, lines: Mapping[int, int] | None) -> dict[int, int]:
    """What a shipment takes: every ready unit, or the validated ``{line: units}``."""
    if lines is None:
        return {fl.line: fl.ready for fl in fo.lines if fl.ready}
    return {n: quantity(u, f"units of line {n}") for n, u in lines.items()}


# A parcel becomes shipped by ship(), and unclaimed by expire_pickups(), not by a report.
_NOT_REPORTED = frozenset({ShipmentStatus.SHIPPED, ShipmentStatus.UNCLAIMED})


def _status(value: ShipmentStatus | str) -> ShipmentStatus:
    try:
        status = value if isinstance(value, ShipmentStatus) else ShipmentStatus(value)
    except ValueError:
        status = ShipmentStatus.SHIPPED  # refused below, with the same message
    if status in _NOT_REPORTED:
        names = ", ".join(s.value for s in ShipmentStatus if s not in _NOT_REPORTED)
        raise InvalidIdentifier(f"unknown tracking status {value!r}; one of: {names}")
    return status


def _detail(value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 500):
        raise InvalidIdentifier(
            f"a tracking detail is a string of up to 500 characters, got {value!r}"
        )
    return value
