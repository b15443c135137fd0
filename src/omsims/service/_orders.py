"""Order commands: place, re-source, cancel, return, and a dry-run plan."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime

from omsims.domain.copies import deep_copy
from omsims.domain.events import (
    OrderCancelled,
    OrderLinesCancelled,
    OrderPlaced,
    PaymentAuthorised,
    UnitsReturned,
)
from omsims.domain.fulfilment import (
    FulfilmentOrder,
    line_reference,
)
from omsims.domain.locations import LocationKind
from omsims.domain.orders import Order, OrderStatus, ShipTo
from omsims.domain.values import GeoPoint, Money, quantity
from omsims.errors import (
    IdempotencyConflict,
    IllegalTransition,
    InsufficientStock,
    InvalidIdentifier,
    InvalidOrder,
    UnknownReservation,
    UnknownSku,
)
from omsims.ports import UnitOfWork
from omsims.service._core import held_in_store, not_before_delivery, placement_key
from omsims.service._counter import StoreCounter
from omsims.sourcing.plan import (
    SourcingPlan,
)

__all__ = ["OrderCommands"]


class OrderCommands(StoreCounter):
    """The commands on orders."""

    def place_order(
        self,
        order_id: str,
        lines: Sequence[object],
        *,
        ship_to: GeoPoint | ShipTo | None = None,
        channel: str = "web",
        customer: str | None = None,
        shipping: Money | None = None,
        pickup_at: str | None = None,
        sold_at: str | None = None,
        reservation: str | None = None,
        allow_partial: bool = True,
        at: datetime | None = None,
    ) -> Order:
        """Capture an order, source it, commit its stock and create its fulfilment orders.

        ``lines`` are ``(sku, quantity)`` or ``(sku, quantity, unit_price)``; for a
        channel the Oms knows (``Oms(channels=...)``), in the channel's SKUs: each is
        mapped to internal SKUs here, a bundle to a line per component, and a SKU the
        channel does not list is refused (``UnknownChannelSku``). The external
        ``order_id`` is the idempotency key: placing the same order again writes nothing
        and returns the order as it now stands; the same id with other contents raises
        ``IdempotencyConflict``. To see where an order would ship from without placing
        it, use :meth:`plan`. ``shipping`` is what the customer pays for delivery: it is
        authorised with the lines and captured with the first parcel.

        How the customer gets the units:

        - ``ship_to``: sent to an address (its coordinates feed distance rules).
        - ``pickup_at=store``: buy online, pick up in store. The store's own stock comes
          first; the rest is sourced elsewhere and sent to the store. The order is
          promised ready by :attr:`Order.ready_by`; see :meth:`pick_up`.
        - ``sold_at=store``: bought at the store's till. Without ``ship_to`` the units are
          handed over on the spot from the store's stock (all of them, or the order is
          refused with ``InsufficientStock``); ``reservation`` names the in-store
          reservation (:meth:`reserve_in_store`) the customer is buying from, which ends.
          With ``ship_to`` it is an "endless aisle" sale, sourced anywhere and sent home.
        With ``allow_partial=False`` an order that cannot be sourced in full is refused
        (``InsufficientStock``) and nothing is written; otherwise what cannot be sourced
        stays unallocated (see :meth:`reallocate`).

        >>> from omsims import Oms, Location, GeoPoint
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc", priority=1))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> order = oms.place_order("web-1001", [("TSHIRT-M", 2)], ship_to=GeoPoint(48.14, 11.58))
        >>> order.status
        <OrderStatus.ALLOCATED: 'allocated'>
        >>> [(fo.location, fo.lines[0].quantity) for fo in oms.fulfilment_orders("web-1001")]
        [('berlin-dc', 2)]

        Runtime complexity: the strategy's, plus O(a) ledger postings for a allocations.
        """
        when = self._now(at)
        destination = ShipTo(point=ship_to) if isinstance(ship_to, GeoPoint) else ship_to
        lines = self._internal_lines(channel, lines)
        new_order = functools.partial(
            Order.new,
            order_id,
            lines,
            placed_at=when,
            channel=channel,
            customer=customer,
            ship_to=destination,
            shipping=shipping,
            pickup_at=pickup_at,
            sold_at=sold_at,
        )
        if reservation is not None and (sold_at is None or destination is not None):
            raise InvalidOrder("a reservation is bought at the store: give sold_at, no ship_to")
        unused = [new_order()]  # validated before anything runs
        order = unused[0]
        fingerprint = (
            "place_order",
            tuple((ln.sku, ln.quantity, ln.unit_price, ln.listing) for ln in order.lines),
            channel,
            customer,
            destination,
            allow_partial,
            shipping,
            pickup_at,
            sold_at,
            reservation,
        )

        # The gateway first, outside the transaction: a declined payment places nothing.
        payment = self._authorise(order)

        def body(uow: UnitOfWork) -> Order:
            # A store may run the body again (after a StaleRead); a run that failed had
            # allocated the lines of the order it used, so each run takes a new one.
            order = unused.pop() if unused else new_order()
            order.payment = None if payment is None else payment.copy()
            key = placement_key(order.id)
            archived = self._placed_before(order.id, fingerprint)
            if archived is not None:
                return deep_copy(archived.order)
            if uow.orders.get(order.id) is not None:
                hit = uow.idempotency.get(key)
                if hit is not None and hit[0] == fingerprint:
                    return self._snapshot(uow.orders.get(order.id))
                raise IdempotencyConflict(
                    f"order {order.id!r} was already placed with other contents"
                )
            self._check_new_order(uow, order)
            self._buy_from(uow, order, reservation)
            plan = self._plan(uow, order, when)
            self._refuse_short(uow, order, plan, allow_partial)
            uow.orders.add(order)
            uow.idempotency.put(key, fingerprint, order.id)
            self._emit(
                uow,
                OrderPlaced(
                    when,
                    order.id,
                    order.channel,
                    tuple((ln.number, ln.sku, ln.quantity) for ln in order.lines),
                ),
            )
            if order.payment is not None:
                money = Money(order.payment.authorised, order.payment.currency)
                self._emit(
                    uow, PaymentAuthorised(when, order.id, money, order.payment.authorisation)
                )
            self._apply_plan(uow, order, plan, when)
            self._after_sourcing(uow, order, when)
            uow.orders.save(order)
            return self._snapshot(order)

        if payment is None:
            return self._run("place_order", (), None, body)
        try:
            placed = self._run("place_order", (), None, body)
        except BaseException:
            self._unauthorise(payment)
            raise
        self._unauthorise(payment, placed)  # placed meanwhile by another, with its own hold
        if placed.payment is not None and placed.payment.due():  # a till sale captured
            self._settle_quietly(placed.id)
            return self._settled(placed)
        return placed

    def _internal_lines(self, channel: object, lines: Sequence[object]) -> Sequence[object]:
        """A known channel's SKUs and bundles as internal lines (others as they are)."""
        sold_as = self.channels.get(channel) if isinstance(channel, str) else None
        if sold_as is None:
            return lines
        if isinstance(lines, str | bytes) or not isinstance(lines, Sequence):
            raise InvalidOrder(f"lines must be a list of (sku, quantity), got {lines!r}")
        return sold_as.translate(lines)

    def _check_new_order(self, uow: UnitOfWork, order: Order) -> None:
        """Every SKU known; a pickup store takes pickups; a till is in an open store."""
        for ln in order.lines:
            if not uow.ledger.has_sku(ln.sku):
                raise UnknownSku(f"line {ln.number}: SKU {ln.sku!r} is not known")
        if order.pickup_at is not None:
            store = self._location(uow, order.pickup_at)
            if not store.can_pickup or not store.active:
                raise InvalidOrder(f"{store.id} does not take pickups (can_pickup, active)")
        if order.sold_at is not None:
            store = self._location(uow, order.sold_at)
            if store.kind is not LocationKind.STORE or not store.active:
                raise InvalidOrder(f"{store.id} is not an open store")

    def _after_sourcing(self, uow: UnitOfWork, order: Order, when: datetime) -> None:
        """A till sale is handed over now; a pickup learns when it will be ready."""
        if _carried_out(order):
            for fo in uow.fulfilment_orders.for_order(order.id):
                fo.accept(when)
                self._drain(uow, fo)
                self._hand_over(uow, order, fo, when)
            if order.reservation is not None:
                self._end_reservation(uow, order, order.reservation, when)
            # Anything the order gets later (an exchange) is collected at that store.
            order.pickup_at = order.sold_at
        self._refresh_pickup(uow, order, when)

    def _refuse_short(
        self, uow: UnitOfWork, order: Order, plan: SourcingPlan, allow_partial: bool
    ) -> None:
        """``InsufficientStock`` for a plan short of the order, if it must be complete."""
        carry_out = _carried_out(order)
        if (not allow_partial or carry_out) and (short := self._shortfall(uow, order, plan)):
            where = f" at {order.sold_at}" if carry_out else ""
            raise InsufficientStock(
                f"order {order.id} cannot be sourced in full{where} ({', '.join(short)})"
            )

    def _buy_from(self, uow: UnitOfWork, order: Order, reservation: str | None) -> None:
        """A till sale buys from an in-store reservation: it must be there, active."""
        if reservation is None:
            return
        if order.sold_at is None or not held_in_store(uow, reservation, order.sold_at):
            raise UnknownReservation(
                f"no active reservation {reservation!r} at {order.sold_at} to buy from"
            )
        order.reservation = reservation

    def _end_reservation(
        self, uow: UnitOfWork, order: Order, reference: str, when: datetime
    ) -> None:
        """Release what a till sale did not buy of its reservation: the customer decided.

        What they bought came out of the reservation itself (``RESERVATION_COMMITTED``),
        so no one else, not even a waiting backorder, could take it in between.
        """
        assert order.sold_at is not None  # noqa: S101 (only till sales buy from one)
        for r in held_in_store(uow, reference, order.sold_at):
            posting = uow.ledger.release(r.id, at=when)
            self._settle(uow, posting, when)
        order.note(when, f"bought from reservation {reference}")

    def reallocate(
        self, order_id: str, *, at: datetime | None = None, idempotency_key: str | None = None
    ) -> Order:
        """Source an order's unallocated units again (e.g. after new stock arrived)."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> Order:
            order = self._order_for_update(uow, order_id, when)
            if any(ln.unallocated for ln in order.lines):
                self._apply_plan(uow, order, self._plan(uow, order, when), when)
                self._refresh_pickup(uow, order, when)
                uow.orders.save(order)
            return self._snapshot(order)

        return self._run("reallocate", (order_id, at), idempotency_key, body)

    def cancel_order(
        self, order_id: str, *, at: datetime | None = None, idempotency_key: str | None = None
    ) -> Order:
        """Cancel every unit of the order that has not shipped."""
        return self._cancel(order_id, None, at, idempotency_key)

    def cancel_lines(
        self,
        order_id: str,
        lines: Mapping[int, int],
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        """Cancel some units of some lines: ``{line number: units}``.

        Units are taken first from what is unallocated, then backordered, then committed;
        shipped units cannot be cancelled (``IllegalTransition``).
        """
        if not isinstance(lines, Mapping) or not lines or not all(type(n) is int for n in lines):
            raise InvalidOrder(
                f"cancel_lines takes a non-empty {{line number: units}} mapping, got {lines!r}"
            )
        wanted = {n: quantity(u, f"units to cancel on line {n}") for n, u in lines.items()}
        return self._cancel(order_id, wanted, at, idempotency_key)

    def _cancel(
        self,
        order_id: str,
        wanted: dict[int, int] | None,
        at: datetime | None,
        key: str | None,
    ) -> Order:
        when = self._now(at)

        def body(uow: UnitOfWork) -> Order:
            order = self._order_for_update(uow, order_id, when)
            todo = (
                {ln.number: ln.cancellable for ln in order.lines if ln.cancellable}
                if wanted is None
                else wanted
            )
            if wanted is None and not todo:
                raise IllegalTransition(f"order {order_id} has nothing left to cancel")
            for number, units in todo.items():
                line = order.line(number)
                if units > line.cancellable:
                    raise IllegalTransition(
                        f"line {number} of order {order_id} has {line.cancellable} cancellable "
                        f"units (the rest shipped or cancelled), not {units}"
                    )
            fos = [
                fo
                for fo in (
                    uow.fulfilment_orders.get_for_update(f.id)
                    for f in reversed(uow.fulfilment_orders.for_order(order.id))
                )
                if fo is not None
            ]
            self._cancel_units(uow, order, fos, todo, when)
            # Cancelled units never ship, so their money is released, never captured; a
            # cancelled replacement or exchange was paid already: refunded.
            self._void_cancelled(order, todo, when)
            self._refund_excess(order, when, "prepaid units cancelled")
            cancelled = ", ".join(f"{u} of line {n}" for n, u in sorted(todo.items()))
            order.note(when, f"cancelled {cancelled}")
            for fo in fos:
                uow.fulfilment_orders.save(fo)
            self._refresh_pickup(uow, order, when)
            uow.orders.save(order)
            if order.status is OrderStatus.CANCELLED:
                self._emit(uow, OrderCancelled(when, order.id))
            else:
                self._emit(uow, OrderLinesCancelled(when, order.id, tuple(sorted(todo.items()))))
            return self._snapshot(order)

        payload = (order_id, None if wanted is None else tuple(sorted(wanted.items())), at)
        result = self._run("cancel", payload, key, body)
        self._settle_quietly(result.id)
        return self._settled(result)

    def _cancel_units(
        self,
        uow: UnitOfWork,
        order: Order,
        fos: list[FulfilmentOrder],
        todo: dict[int, int],
        when: datetime,
    ) -> None:
        """Cancel ``todo`` (line -> units): unallocated first, then backorders, then stock.

        Every backorder of the cancelled units is withdrawn before any stock is uncommitted,
        so freed stock never fills a backorder that is about to be cancelled too. Newest
        fulfilment orders give their units back first.
        """
        taken: dict[int, list[int]] = {}  # line -> [unallocated, backordered, committed]
        plan: list[tuple[bool, FulfilmentOrder, int, int]] = []  # (backorder?, fo, line, n)
        for number, units in sorted(todo.items()):
            line = order.line(number)
            took = taken[number] = [min(units, line.unallocated), 0, 0]
            left = units - took[0]
            for backorder in (True, False):
                for fo in fos:
                    fl = fo.line(number)
                    if left == 0 or fl is None or fo.is_closed:
                        continue
                    n = min(left, fl.backordered if backorder else fl.ready)
                    if n:
                        plan.append((backorder, fo, number, n))
                        took[1 if backorder else 2] += n
                        left -= n
        for backorder, fo, number, n in sorted(plan, key=lambda p: not p[0]):
            sku, ref = order.line(number).sku, line_reference(fo.id, number)
            if backorder:
                uow.ledger.cancel_backorder(sku, fo.location, n, at=when, reference=ref)
                fo.cancel_units(number, backordered=n, ready=0, at=when)
            else:
                posting = uow.ledger.uncommit(sku, fo.location, n, at=when, reference=ref)
                fo.cancel_units(number, backordered=0, ready=n, at=when)
                self._settle(uow, posting, when)
            self._drain(uow, fo)
            self._deliver_if_complete(uow, fo)
        for number, (unallocated, backordered, committed) in taken.items():
            order.cancel(
                number, unallocated=unallocated, backordered=backordered, committed=committed
            )

    def return_units(
        self,
        order_id: str,
        line: int,
        qty: int,
        *,
        location: str,
        restock: bool = True,
        reason: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        """Take delivered units of a line back at ``location``: sellable, or unavailable.

        With ``restock=False`` the units land in ``unavailable`` with ``reason``.
        """
        when = self._now(at)
        units = quantity(qty)
        if type(restock) is not bool:
            raise InvalidIdentifier(f"restock must be True or False, got {restock!r}")

        def body(uow: UnitOfWork) -> Order:
            order = self._order_for_update(uow, order_id, when)
            ln = order.line(line)
            self._location(uow, location)
            not_before_delivery(uow, order.id, line, when)
            if units > order.returnable(line):
                raise IllegalTransition(
                    f"line {line} of order {order.id} has {order.returnable(line)} delivered "
                    f"units not yet returned nor on an open return request; cannot return {units}"
                )
            order.record_return(line, units)
            kept = "restocked" if restock else f"not restocked: {reason or 'returned'}"
            order.note(when, f"{units} of line {line} returned to {location} ({kept})")
            self._refund_excess(order, when, f"{units} of line {line} returned")
            posting = uow.ledger.return_stock(
                ln.sku,
                location,
                units,
                at=when,
                unavailable_reason=None if restock else (reason or "returned, not restocked"),
                reference=order.id,
            )
            self._settle(uow, posting, when)
            uow.orders.save(order)
            self._emit(uow, UnitsReturned(when, order.id, line, location, units, restock))
            return self._snapshot(order)

        payload = (order_id, line, qty, location, restock, reason, at)
        result = self._run("return_units", payload, idempotency_key, body)
        self._settle_quietly(result.id)
        return self._settled(result)

    def plan(
        self,
        lines: Sequence[object],
        *,
        ship_to: GeoPoint | ShipTo | None = None,
        channel: str = "web",
        order_id: str = "preview",
        at: datetime | None = None,
    ) -> SourcingPlan:
        """Ask the strategy where an order would ship from, without placing it.

        Writes nothing; the plan carries its explanation (``print(plan.explanation)``).

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 1)
        >>> print(oms.plan([("TSHIRT-M", 2)]).explanation)
        priority: candidates in order: berlin-dc
          line 1 (TSHIRT-M): 1 from berlin-dc on hand
          line 1 (TSHIRT-M): 1 unfilled: no eligible location has it or takes backorders
        """
        when = self._now(at)
        destination = ShipTo(point=ship_to) if isinstance(ship_to, GeoPoint) else ship_to
        lines = self._internal_lines(channel, lines)
        order = Order.new(order_id, lines, placed_at=when, channel=channel, ship_to=destination)
        with self._read() as uow:
            for ln in order.lines:
                if not uow.ledger.has_sku(ln.sku):
                    raise UnknownSku(f"line {ln.number}: SKU {ln.sku!r} is not known")
            return self._plan(uow, order, when)


def _carried_out(order: Order) -> bool:
    """Bought at a store's till and taken home by the customer."""
    return order.sold_at is not None and order.ship_to is None
