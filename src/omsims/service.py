"""The Oms service: commands in, events out, one transaction per command.

Every command runs in one unit of work: it validates, changes the ledger and the
aggregates, and commits, or raises and leaves no trace. Events are collected during the
command and handed to the notifier only after commit; a notifier that fails never
undoes a command, and what it failed to take is kept for :meth:`OmsService.retry_notifications`.

Build it through :class:`omsims.Oms`, which wires the in-memory defaults.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import attrs

from omsims.domain.events import (
    BackorderFilled,
    Event,
    FulfilmentOrderAccepted,
    FulfilmentOrderCancelled,
    FulfilmentOrderCreated,
    FulfilmentOrderHeld,
    FulfilmentOrderRejected,
    FulfilmentOrderReleased,
    LowStock,
    OrderCancelled,
    OrderLinesCancelled,
    OrderPlaced,
    ShipmentDelivered,
    ShipmentShipped,
    StockChanged,
    UnitsReturned,
)
from omsims.domain.fulfilment import (
    FulfilmentLine,
    FulfilmentOrder,
    FulfilmentStatus,
    Shipment,
    ShipmentStatus,
    line_reference,
    parse_line_reference,
)
from omsims.domain.ledger import Ledger
from omsims.domain.locations import Location, PositionSettings
from omsims.domain.orders import Order, OrderStatus, ShipTo
from omsims.domain.stock import SIGNS, BackorderFill, EntryKind, LedgerEntry, Posting, StockLevel
from omsims.domain.supply import IncomingSupply, Reservation, SupplyLine, Transfer
from omsims.domain.values import GeoPoint, LocationId, aware, quantity
from omsims.errors import (
    AlreadyExists,
    IdempotencyConflict,
    InsufficientStock,
    InvalidIdentifier,
    InvalidOrder,
    InvalidPlan,
    InvalidQuantity,
    InvalidTime,
    InvariantViolation,
    UnknownFulfilmentOrder,
    UnknownLocation,
    UnknownOrder,
    UnknownShipment,
    UnknownSku,
)
from omsims.ports import Clock, Notifier, UnitOfWork, UnitOfWorkFactory
from omsims.sourcing.plan import (
    Allocation,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)

__all__ = ["OmsService"]

_R = TypeVar("_R")


class _Unchanged:
    """The default of settings that a call leaves as they are."""

    def __repr__(self) -> str:
        return "<unchanged>"


_UNSET: Any = _Unchanged()


class _LedgerInventory:
    """The inventory view a strategy sees: the locations and ledger availability."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._ledger = uow.ledger
        # Every location, inactive ones too: strategies drop them and say why.
        self._locations = uow.locations.list()
        # Bound straight to the ledger: strategies call these once per probe.
        self.available = uow.ledger.available
        self.stocking = uow.ledger.stocking

    def locations(self) -> Sequence[Location]:
        return self._locations

    def backorder_room(self, sku: str, location: str) -> int:
        settings = self._ledger.settings(sku, location)
        if not settings.allow_backorders:
            return 0
        return settings.backorder_room(self._ledger.balance(sku, location).backordered)


class OmsService:
    """The order- and inventory-management facade.

    Args:
        unit_of_work: makes one unit of work per command (e.g. a ``MemoryStore``).
        clock: business time for commands that are not given ``at``.
        notifier: receives events after each command commits.
        strategy: the sourcing strategy ``place_order`` and ``reject`` use.
        keep_events: how many of the latest published events :attr:`published_events`
            keeps (0 keeps none). Bounded on purpose: a shop process runs for months, and
            the notifier, not the Oms, is where events are meant to go.
    """

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        clock: Clock,
        notifier: Notifier,
        strategy: SourcingStrategy,
        keep_events: int = 10_000,
    ) -> None:
        """Wire the service to its ports."""
        self._uow = unit_of_work
        self.clock = clock
        self.notifier = notifier
        self.strategy = strategy
        if type(keep_events) is not int or keep_events < 0:
            raise InvalidQuantity(f"keep_events must be an int >= 0, got {keep_events!r}")
        self.published_events: deque[Event] = deque(maxlen=keep_events)
        self._pending: deque[Event] = deque()
        # Commands run one at a time inside the store, but hand-over happens after commit:
        # this lock keeps two threads from delivering the same event twice or out of order.
        self._notify_lock = threading.Lock()

    # == the command machinery ==========================================================

    def _now(self, at: datetime | None) -> datetime:
        now = self.clock.now()
        if at is None:
            return now
        aware(at)
        if at > now:
            raise InvalidTime(f"business time {at} is in the future (now is {now})")
        return at

    def _run(
        self,
        name: str,
        payload: tuple[Hashable, ...],
        key: str | None,
        body: Callable[[UnitOfWork], _R],
    ) -> _R:
        if key is not None and (type(key) is not str or not key or len(key) > 200):
            raise InvalidIdentifier(f"an idempotency key must be a non-empty string, got {key!r}")
        with self._uow() as uow:
            # User keys and natural keys (order ids) live in separate namespaces.
            stored_key = None if key is None else f"key:{key}"
            if stored_key is not None and (hit := uow.idempotency.get(stored_key)) is not None:
                if hit[0] != (name, payload):
                    raise IdempotencyConflict(
                        f"idempotency key {key!r} was first used for {hit[0][0]} "  # type: ignore[index]
                        "with other arguments"
                    )
                return hit[1]  # type: ignore[no-any-return]
            first = uow.ledger.last_sequence
            result = body(uow)
            self._stock_events(uow, first)
            if stored_key is not None:
                uow.idempotency.put(stored_key, (name, payload), result)
            uow.commit()
            events = uow.committed_events()
        self._publish(events)
        return result

    def _publish(self, events: Sequence[Event]) -> None:
        with self._notify_lock:
            self._pending.extend(events)
        self.retry_notifications()

    def retry_notifications(self) -> int:
        """Hand waiting events to the notifier, oldest first; returns how many went.

        Stops at the first failure so events are never delivered out of order.
        """
        with self._notify_lock:
            return self._deliver_pending()

    def _deliver_pending(self) -> int:
        sent = 0
        while self._pending:
            event = self._pending[0]
            try:
                self.notifier.publish(event)
            except Exception:  # noqa: BLE001 (any notifier failure means "try later")
                break
            self._pending.popleft()
            self.published_events.append(event)
            sent += 1
        return sent

    @property
    def pending_notifications(self) -> list[Event]:
        """Events committed but not yet accepted by the notifier."""
        return list(self._pending)

    def _stock_events(self, uow: UnitOfWork, first: int) -> None:
        """One StockChanged per position the command touched, and LowStock on crossing."""
        ledger = uow.ledger
        entries = ledger.entries_since(first)
        if not entries:
            return
        touched = dict.fromkeys((e.sku, e.location) for e in entries)
        at = max(e.at for e in entries)
        for sku, loc in touched:
            on_hand, available = ledger.on_hand_and_available(sku, loc)
            uow.collect(StockChanged(at, sku, loc, on_hand, available))
            threshold = ledger.settings(sku, loc).low_stock_threshold
            if threshold is not None and available <= threshold:
                self._low_stock(uow, entries, sku, loc, at, threshold)

    @staticmethod
    def _low_stock(
        uow: UnitOfWork,
        entries: Sequence[LedgerEntry],
        sku: str,
        loc: str,
        at: datetime,
        threshold: int,
    ) -> None:
        """Publish LowStock if this command took available from above the threshold."""
        d = [0] * 6
        for e in entries:
            if e.sku == sku and e.location == loc:
                for j, s in enumerate(SIGNS[e.kind]):
                    d[j] += s * e.quantity
        level = uow.ledger.balance(sku, loc)
        before = max(0, level.free - (d[0] - d[1] - d[2] - d[3]) - level.safety_stock)
        if level.available <= threshold < before:
            uow.collect(LowStock(at, sku, loc, level.available, threshold))

    # == locations and positions ==========================================================

    def add_location(self, location: Location) -> Location:
        """Add a location to the network (``AlreadyExists`` if its id is taken).

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> oms.add_location(Location("berlin-dc", priority=1)).id
        'berlin-dc'
        """
        if not isinstance(location, Location):
            raise InvalidIdentifier(f"add_location takes a Location, got {location!r}")

        def body(uow: UnitOfWork) -> Location:
            if uow.locations.get(location.id) is not None:
                raise AlreadyExists(f"location {location.id!r} already exists; use update_location")
            uow.locations.put(location)
            uow.ledger.add_location(location.id)
            return location

        return self._run("add_location", (location,), None, body)

    def update_location(self, location: Location) -> Location:
        """Replace an existing location's details (``UnknownLocation`` if there is none)."""
        if not isinstance(location, Location):
            raise InvalidIdentifier(f"update_location takes a Location, got {location!r}")

        def body(uow: UnitOfWork) -> Location:
            self._location(uow, location.id)
            uow.locations.put(location)
            return location

        return self._run("update_location", (location,), None, body)

    def add_sku(self, sku: str) -> None:
        """Make a SKU known before any stock of it exists (so it can be backordered)."""

        def body(uow: UnitOfWork) -> None:
            uow.ledger.add_sku(sku)

        self._run("add_sku", (sku,), None, body)

    def configure_position(
        self,
        sku: str,
        location: str,
        *,
        safety_stock: int = _UNSET,
        allow_backorders: bool = _UNSET,
        backorder_limit: int | None = _UNSET,
        low_stock_threshold: int | None = _UNSET,
        at: datetime | None = None,
    ) -> PositionSettings:
        """Change some settings of a position; those not named keep their value.

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("store-1"))
        >>> oms.add_sku("MUG")
        >>> oms.configure_position("MUG", "store-1", allow_backorders=True, backorder_limit=5)
        PositionSettings(safety_stock=0, allow_backorders=True, backorder_limit=5, ...)
        """
        when = self._now(at)
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "safety_stock": safety_stock,
                "allow_backorders": allow_backorders,
                "backorder_limit": backorder_limit,
                "low_stock_threshold": low_stock_threshold,
            }.items()
            if v is not _UNSET
        }

        def body(uow: UnitOfWork) -> PositionSettings:
            self._location(uow, location)
            if not uow.ledger.has_sku(sku):
                raise UnknownSku(f"SKU {sku!r} is not known: add_sku or receive it first")
            settings = attrs.evolve(uow.ledger.settings(sku, location), **changes)
            posting = uow.ledger.configure(sku, location, settings, at=when)
            self._settle(uow, posting, when)
            return settings

        return self._run("configure_position", (sku, location), None, body)

    # == stock commands ================================================================

    def receive(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Receive units at a location; waiting backorders there are filled first.

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> oms.receive("TSHIRT-M", "berlin-dc", 10).entries[0].kind
        <EntryKind.RECEIVED: 'received'>
        """
        return self._ledger_command(
            "receive",
            (sku, location, qty, at, reference),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.receive(
                sku, location, qty, at=when, key=key, reference=reference
            ),
        )

    def adjust(
        self,
        sku: str,
        location: str,
        delta: int,
        *,
        reason: str,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Correct on hand by a signed ``delta`` with a reason (a count, a find, a loss)."""
        return self._ledger_command(
            "adjust",
            (sku, location, delta, reason, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.adjust(
                sku, location, delta, reason=reason, at=when, key=key
            ),
        )

    def hold(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        reason: str,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Mark free units unavailable (damaged, quality hold)."""
        return self._ledger_command(
            "hold",
            (sku, location, qty, reason, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.hold(
                sku, location, qty, reason=reason, at=when, key=key
            ),
        )

    def release_hold(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        reason: str,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Return unavailable units to sale."""
        return self._ledger_command(
            "release_hold",
            (sku, location, qty, reason, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.release_hold(
                sku, location, qty, reason=reason, at=when, key=key
            ),
        )

    def write_off(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        reason: str,
        from_unavailable: bool = False,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Remove units from on hand for good (free units, or unavailable ones)."""
        return self._ledger_command(
            "write_off",
            (sku, location, qty, reason, from_unavailable, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.write_off(
                sku,
                location,
                qty,
                reason=reason,
                from_unavailable=from_unavailable,
                at=when,
                key=key,
            ),
        )

    def expect(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        eta: datetime,
        reference: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> SupplyLine:
        """Record supply due at a location by ``eta``; it counts as incoming until received."""
        return self._ledger_command(
            "expect",
            (sku, location, qty, eta, reference, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.expect(
                sku, location, qty, eta=eta, at=when, key=key, reference=reference
            ),
        )

    def receive_expected(
        self,
        supply_id: str,
        qty: int | None = None,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Receive all (or part) of an expected supply line."""
        return self._ledger_command(
            "receive_expected",
            (supply_id, qty, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.receive_expected(supply_id, qty, at=when, key=key),
        )

    def cancel_expected(
        self,
        supply_id: str,
        qty: int | None = None,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Stop expecting all (or part) of a supply line."""
        return self._ledger_command(
            "cancel_expected",
            (supply_id, qty, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.cancel_expected(supply_id, qty, at=when, key=key),
        )

    def transfer(
        self,
        sku: str,
        from_location: str,
        to_location: str,
        qty: int,
        *,
        eta: datetime,
        reference: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Transfer:
        """Send free units between locations; in transit they are incoming at the destination."""
        return self._ledger_command(
            "transfer",
            (sku, from_location, to_location, qty, eta, reference, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.transfer(
                sku, from_location, to_location, qty, eta=eta, at=when, key=key, reference=reference
            ),
        )

    def receive_transfer(
        self,
        transfer_id: str,
        qty: int | None = None,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Receive all (or part) of a transfer at its destination."""
        return self._ledger_command(
            "receive_transfer",
            (transfer_id, qty, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.receive_transfer(transfer_id, qty, at=when, key=key),
        )

    def cancel_transfer(
        self,
        transfer_id: str,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Return what is still in transit to the origin."""
        return self._ledger_command(
            "cancel_transfer",
            (transfer_id, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.cancel_transfer(transfer_id, at=when, key=key),
        )

    def reserve(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        expires_at: datetime | None = None,
        reference: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Hold available units (a cart, a checkout), optionally until ``expires_at``."""
        return self._ledger_command(
            "reserve",
            (sku, location, qty, expires_at, reference, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.reserve(
                sku, location, qty, at=when, key=key, expires_at=expires_at, reference=reference
            ),
        )

    def release(
        self,
        reservation_id: str,
        qty: int | None = None,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Release all (or part) of a reservation."""
        return self._ledger_command(
            "release",
            (reservation_id, qty, at),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.release(reservation_id, qty, at=when, key=key),
        )

    def expire_reservations(self, *, at: datetime | None = None) -> list[Reservation]:
        """Expire every reservation whose expiry has passed; returns them."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> list[Reservation]:
            before = uow.ledger.last_sequence
            expired = uow.ledger.expire_due(at=when)
            fills = [
                BackorderFill(e.sku, e.location, e.reference, e.quantity)
                for e in uow.ledger.entries(since=before, kind=EntryKind.BACKORDER_FILLED)
                if e.reference is not None
            ]
            self._apply_fills(uow, fills, when)
            return expired

        return self._run("expire_reservations", (when,), None, body)

    def _ledger_command(
        self,
        name: str,
        payload: tuple[Hashable, ...],
        key: str | None,
        at: datetime | None,
        post: Callable[[Ledger, datetime, str | None], _R],
    ) -> _R:
        when = self._now(at)

        def body(uow: UnitOfWork) -> _R:
            # The key also goes on the ledger entries, so every unit traces to its command.
            result = post(uow.ledger, when, key)
            if isinstance(result, Posting):
                self._settle(uow, result, when)
            return result

        return self._run(name, payload, key, body)

    # == orders =============================================================================

    def place_order(
        self,
        order_id: str,
        lines: Sequence[object],
        *,
        ship_to: GeoPoint | ShipTo | None = None,
        channel: str = "web",
        customer: str | None = None,
        allow_partial: bool = True,
        at: datetime | None = None,
    ) -> Order:
        """Capture an order, source it, commit its stock and create its fulfilment orders.

        ``lines`` are ``(sku, quantity)`` or ``(sku, quantity, unit_price)``. The external
        ``order_id`` is the idempotency key: placing the same order again writes nothing
        and returns the order as it now stands; the same id with other contents raises
        ``IdempotencyConflict``. To see where an order would ship from without placing
        it, use :meth:`plan_order`.
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
        order = Order.new(
            order_id, lines, placed_at=when, channel=channel, customer=customer, ship_to=destination
        )
        fingerprint = (
            "place_order",
            tuple((ln.sku, ln.quantity, ln.unit_price) for ln in order.lines),
            channel,
            customer,
            destination,
            allow_partial,
        )

        def body(uow: UnitOfWork) -> Order:
            key = f"order:{order.id}"
            if uow.orders.get(order.id) is not None:
                hit = uow.idempotency.get(key)
                if hit is not None and hit[0] == fingerprint:
                    return self._snapshot(uow.orders.get(order.id))
                raise IdempotencyConflict(
                    f"order {order.id!r} was already placed with other contents"
                )
            for ln in order.lines:
                if not uow.ledger.has_sku(ln.sku):
                    raise UnknownSku(f"line {ln.number}: SKU {ln.sku!r} is not known")
            plan = self._plan(uow, order, when)
            if not allow_partial and plan.unfilled:
                short = ", ".join(f"line {n}: {u} units" for n, u in plan.unfilled)
                raise InsufficientStock(f"order {order.id} cannot be sourced in full ({short})")
            uow.orders.add(order)
            uow.idempotency.put(key, fingerprint, order.id)
            uow.collect(
                OrderPlaced(
                    when,
                    order.id,
                    order.channel,
                    tuple((ln.number, ln.sku, ln.quantity) for ln in order.lines),
                )
            )
            self._apply_plan(uow, order, plan, when)
            uow.orders.save(order)
            return self._snapshot(order)

        return self._run("place_order", (), None, body)

    def reallocate(self, order_id: str, *, at: datetime | None = None) -> Order:
        """Source an order's unallocated units again (e.g. after new stock arrived)."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> Order:
            order = self._order_for_update(uow, order_id)
            if any(ln.unallocated for ln in order.lines):
                self._apply_plan(uow, order, self._plan(uow, order, when), when)
                uow.orders.save(order)
            return self._snapshot(order)

        return self._run("reallocate", (order_id, when), None, body)

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
        if not isinstance(lines, Mapping) or not lines:
            raise InvalidOrder(
                f"cancel_lines takes a non-empty {{line: units}} mapping, got {lines!r}"
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
            order = self._order_for_update(uow, order_id)
            todo = (
                {ln.number: ln.cancellable for ln in order.lines if ln.cancellable}
                if wanted is None
                else wanted
            )
            if wanted is None and not todo:
                raise InvalidOrder(f"order {order_id} has nothing left to cancel")
            for number, units in todo.items():
                line = order.line(number)
                if units > line.cancellable:
                    raise InvalidOrder(
                        f"line {number} of order {order_id} has {line.cancellable} cancellable "
                        f"units, not {units}"
                    )
            fos = [
                uow.fulfilment_orders.get_for_update(fo.id)
                for fo in reversed(uow.fulfilment_orders.for_order(order.id))
            ]
            for number, units in sorted(todo.items()):
                self._cancel_line(
                    uow, order, [f for f in fos if f is not None], number, units, when
                )
            for fo in fos:
                if fo is not None:
                    uow.fulfilment_orders.save(fo)
            uow.orders.save(order)
            if order.status is OrderStatus.CANCELLED:
                uow.collect(OrderCancelled(when, order.id))
            else:
                uow.collect(OrderLinesCancelled(when, order.id, tuple(sorted(todo.items()))))
            return self._snapshot(order)

        payload = (order_id, None if wanted is None else tuple(sorted(wanted.items())), at)
        return self._run("cancel", payload, key, body)

    def _cancel_line(
        self,
        uow: UnitOfWork,
        order: Order,
        fos: list[FulfilmentOrder],
        number: int,
        units: int,
        when: datetime,
    ) -> None:
        line = order.line(number)
        take_unallocated = min(units, line.unallocated)
        left = units - take_unallocated
        took_backordered = took_committed = 0
        # Newest fulfilment orders give their units back first; backorders before stock.
        for backorder in (True, False):
            for fo in fos:
                fl = fo.line(number)
                if left == 0 or fl is None or fo.is_closed:
                    continue
                n = min(left, fl.backordered if backorder else fl.ready)
                if n == 0:
                    continue
                ref = line_reference(fo.id, number)
                if backorder:
                    uow.ledger.cancel_backorder(line.sku, fo.location, n, at=when, reference=ref)
                    fo.cancel_units(number, backordered=n, ready=0)
                    took_backordered += n
                else:
                    posting = uow.ledger.uncommit(line.sku, fo.location, n, at=when, reference=ref)
                    fo.cancel_units(number, backordered=0, ready=n)
                    took_committed += n
                    self._settle(uow, posting, when)
                left -= n
                if fo.status is FulfilmentStatus.CANCELLED:
                    uow.collect(FulfilmentOrderCancelled(when, fo.id, order.id))
                self._deliver_if_complete(uow, fo)
        order.cancel(
            number,
            unallocated=take_unallocated,
            backordered=took_backordered,
            committed=took_committed,
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

        def body(uow: UnitOfWork) -> Order:
            order = self._order_for_update(uow, order_id)
            ln = order.line(line)
            self._location(uow, location)
            order.record_return(line, units)
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
            uow.collect(UnitsReturned(when, order.id, line, location, units, restock))
            return self._snapshot(order)

        payload = (order_id, line, qty, location, restock, reason, at)
        return self._run("return_units", payload, idempotency_key, body)

    # == fulfilment orders ==================================================================

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
            fo = self._fulfilment_for_update(uow, fulfilment_order_id)
            fo.accept()
            uow.fulfilment_orders.save(fo)
            uow.collect(FulfilmentOrderAccepted(when, fo.id, fo.order_id, fo.location))
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
            fo = self._fulfilment_for_update(uow, fulfilment_order_id)
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
            fo.reject(reason)
            uow.fulfilment_orders.save(fo)
            uow.collect(FulfilmentOrderRejected(when, fo.id, fo.order_id, fo.location, reason))
            order.excluded_locations.add(fo.location)
            self._apply_plan(uow, order, self._plan(uow, order, when), when)
            uow.orders.save(order)
            return self._snapshot(order)

        return self._run("reject", (fulfilment_order_id, reason), idempotency_key, body)

    def hold_fulfilment(
        self, fulfilment_order_id: str, *, reason: str, at: datetime | None = None
    ) -> FulfilmentOrder:
        """Put a fulfilment order on hold with a reason."""
        when = self._now(at)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidIdentifier("a hold needs a reason")

        def body(uow: UnitOfWork) -> FulfilmentOrder:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id)
            fo.hold(reason)
            uow.fulfilment_orders.save(fo)
            uow.collect(FulfilmentOrderHeld(when, fo.id, fo.order_id, reason))
            return copy.deepcopy(fo)

        return self._run("hold_fulfilment", (fulfilment_order_id, reason), None, body)

    def release_fulfilment(
        self, fulfilment_order_id: str, *, at: datetime | None = None
    ) -> FulfilmentOrder:
        """Release a fulfilment order from hold."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> FulfilmentOrder:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id)
            fo.release()
            uow.fulfilment_orders.save(fo)
            uow.collect(FulfilmentOrderReleased(when, fo.id, fo.order_id))
            return copy.deepcopy(fo)

        return self._run("release_fulfilment", (fulfilment_order_id,), None, body)

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

        def body(uow: UnitOfWork) -> Shipment:
            fo = self._fulfilment_for_update(uow, fulfilment_order_id)
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
        return self._run("ship", payload, idempotency_key, body)

    def deliver(
        self, shipment_id: str, *, at: datetime | None = None, idempotency_key: str | None = None
    ) -> Shipment:
        """A parcel reached the customer; the fulfilment order is DELIVERED with its last."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> Shipment:
            shipment = uow.shipments.get_for_update(shipment_id)
            if shipment is None:
                raise UnknownShipment(f"no shipment {shipment_id!r}")
            shipment.deliver(when)
            order = self._order_for_update(uow, shipment.order_id)
            for number, _sku, n in shipment.lines:
                order.deliver(number, n)
            fo = self._fulfilment_for_update(uow, shipment.fulfilment_order_id)
            self._deliver_if_complete(uow, fo)
            uow.shipments.save(shipment)
            uow.fulfilment_orders.save(fo)
            uow.orders.save(order)
            uow.collect(ShipmentDelivered(when, shipment.id, order.id))
            return copy.deepcopy(shipment)

        return self._run("deliver", (shipment_id,), idempotency_key, body)

    # == queries ================================================================================

    def stock(
        self, sku: str, location: str | None = None, *, as_of: datetime | None = None
    ) -> StockLevel:
        """Every bucket of a position, or of a SKU across the network (``location=None``).

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> oms.stock("TSHIRT-M").on_hand
        10
        """
        with self._uow() as uow:
            if location is None:
                return uow.ledger.network_balance(sku, as_of)
            return uow.ledger.balance(sku, location, as_of)

    def available(self, sku: str, location: str | None = None) -> int:
        """Units that can be promised now, at one location or across the network."""
        return self.stock(sku, location).available

    def incoming(self, sku: str, location: str | None = None) -> list[IncomingSupply]:
        """Expected supply and transfers in transit for ``sku``, by ETA."""
        with self._uow() as uow:
            return uow.ledger.incoming_schedule(sku, location)

    def entries(
        self,
        *,
        sku: str | None = None,
        location: str | None = None,
        kind: EntryKind | None = None,
        reference: str | None = None,
        since: int = 0,
    ) -> list[LedgerEntry]:
        """Ledger entries in sequence order, filtered."""
        with self._uow() as uow:
            return uow.ledger.entries(
                sku=sku, location=location, kind=kind, reference=reference, since=since
            )

    def order(self, order_id: str) -> Order:
        """A copy of an order as it stands (``UnknownOrder`` if there is none)."""
        with self._uow() as uow:
            order = uow.orders.get(order_id)
            if order is None:
                raise UnknownOrder(f"no order {order_id!r}")
            return self._snapshot(order)

    def orders(self) -> list[Order]:
        """Copies of every order, in the order they were placed."""
        with self._uow() as uow:
            return [self._snapshot(o) for o in uow.orders.list()]

    def fulfilment_orders(self, order_id: str) -> list[FulfilmentOrder]:
        """Copies of an order's fulfilment orders, oldest first."""
        with self._uow() as uow:
            if uow.orders.get(order_id) is None:
                raise UnknownOrder(f"no order {order_id!r}")
            return [copy.deepcopy(fo) for fo in uow.fulfilment_orders.for_order(order_id)]

    def fulfilment_order(self, fulfilment_order_id: str) -> FulfilmentOrder:
        """A copy of one fulfilment order."""
        with self._uow() as uow:
            fo = uow.fulfilment_orders.get(fulfilment_order_id)
            if fo is None:
                raise UnknownFulfilmentOrder(f"no fulfilment order {fulfilment_order_id!r}")
            return copy.deepcopy(fo)

    def shipments(self, order_id: str) -> list[Shipment]:
        """Copies of an order's shipments, oldest first."""
        with self._uow() as uow:
            return [copy.deepcopy(s) for s in uow.shipments.for_order(order_id)]

    def location(self, location_id: str) -> Location:
        """A location by id."""
        with self._uow() as uow:
            return self._location(uow, location_id)

    def locations(self) -> list[Location]:
        """Every location, in the order they were added."""
        with self._uow() as uow:
            return list(uow.locations.list())

    def reservation(self, reservation_id: str) -> Reservation:
        """A reservation by id."""
        with self._uow() as uow:
            return uow.ledger.reservation(reservation_id)

    def skus(self) -> list[str]:
        """Every SKU the network knows, in the order it became known."""
        with self._uow() as uow:
            return list(uow.ledger.skus)

    def positions(self) -> list[tuple[str, str]]:
        """Every (sku, location) that has a position in the ledger."""
        with self._uow() as uow:
            return list(uow.ledger.positions())

    def reservations(self, *, active_only: bool = True) -> list[Reservation]:
        """Reservations in creation order (only active ones unless told otherwise)."""
        with self._uow() as uow:
            return uow.ledger.reservations(active_only=active_only)

    def supply_line(self, supply_id: str) -> SupplyLine:
        """An expected supply line by id."""
        with self._uow() as uow:
            return uow.ledger.supply_line(supply_id)

    def transfer_by_id(self, transfer_id: str) -> Transfer:
        """A transfer by id."""
        with self._uow() as uow:
            return uow.ledger.transfer_by_id(transfer_id)

    def backorder_queue(self, sku: str, location: str) -> list[tuple[str, int]]:
        """The backorders waiting at a position, oldest first: (fulfilment line, units)."""
        with self._uow() as uow:
            return uow.ledger.backorder_queue(sku, location)

    def plan_order(
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
        >>> print(oms.plan_order([("TSHIRT-M", 2)]).explanation)
        priority: candidates in order: berlin-dc
          line 1 (TSHIRT-M): 1 from berlin-dc on hand
          line 1 (TSHIRT-M): 1 unfilled: no eligible location has it or takes backorders
        """
        when = self._now(at)
        destination = ShipTo(point=ship_to) if isinstance(ship_to, GeoPoint) else ship_to
        order = Order.new(order_id, lines, placed_at=when, channel=channel, ship_to=destination)
        with self._uow() as uow:
            for ln in order.lines:
                if not uow.ledger.has_sku(ln.sku):
                    raise UnknownSku(f"line {ln.number}: SKU {ln.sku!r} is not known")
            return self._plan(uow, order, when)

    def check_invariants(self) -> None:
        """Prove the ledger replays to its balances and agrees with every open order.

        Per position, committed equals the ready units and backordered the backordered
        units of the open fulfilment orders there; per order line, the counters add up
        to the fulfilment lines. Raises ``InvariantViolation``. Runtime: O(entries + orders).
        """
        with self._uow() as uow:
            uow.ledger.check_invariants()
            committed: dict[tuple[str, str], int] = {}
            backordered: dict[tuple[str, str], int] = {}
            for order in uow.orders.list():
                order.check_invariants()
                per_line: dict[int, list[int]] = {}
                for fo in uow.fulfilment_orders.for_order(order.id):
                    fo.check_invariants()
                    for fl in fo.lines:
                        k = (fl.sku, fo.location)
                        committed[k] = committed.get(k, 0) + fl.ready
                        backordered[k] = backordered.get(k, 0) + fl.backordered
                        c = per_line.setdefault(fl.line, [0, 0, 0])
                        c[0] += fl.ready
                        c[1] += fl.backordered
                        c[2] += fl.shipped
                for ln in order.lines:
                    c = per_line.get(ln.number, [0, 0, 0])
                    if (ln.committed, ln.backordered, ln.shipped) != tuple(c):
                        raise InvariantViolation(
                            f"order {order.id} line {ln.number}: committed/backordered/shipped "
                            f"{(ln.committed, ln.backordered, ln.shipped)} but fulfilment "
                            f"orders say {tuple(c)}"
                        )
            for sku, loc in uow.ledger.positions():
                level = uow.ledger.balance(sku, loc)
                if level.committed != committed.get((sku, loc), 0) or level.backordered != (
                    backordered.get((sku, loc), 0)
                ):
                    raise InvariantViolation(
                        f"{sku} at {loc}: ledger committed/backordered "
                        f"{(level.committed, level.backordered)} but fulfilment orders hold "
                        f"{(committed.get((sku, loc), 0), backordered.get((sku, loc), 0))}"
                    )

    # == internals ===============================================================================

    @staticmethod
    def _snapshot(order: Order | None) -> Order:
        assert order is not None  # noqa: S101 (callers looked it up)
        return order.copy()

    @staticmethod
    def _location(uow: UnitOfWork, location_id: str) -> Location:
        loc = uow.locations.get(location_id)
        if loc is None:
            raise UnknownLocation(f"location {location_id!r} was never added")
        return loc

    @staticmethod
    def _order_for_update(uow: UnitOfWork, order_id: str) -> Order:
        order = uow.orders.get_for_update(order_id)
        if order is None:
            raise UnknownOrder(f"no order {order_id!r}")
        return order

    @staticmethod
    def _fulfilment_for_update(uow: UnitOfWork, fulfilment_order_id: str) -> FulfilmentOrder:
        fo = uow.fulfilment_orders.get_for_update(fulfilment_order_id)
        if fo is None:
            raise UnknownFulfilmentOrder(f"no fulfilment order {fulfilment_order_id!r}")
        return fo

    def _plan(self, uow: UnitOfWork, order: Order, when: datetime) -> SourcingPlan:
        request = SourcingRequest(
            order.id,
            tuple(
                RequestLine(ln.number, ln.sku, ln.unallocated)
                for ln in order.lines
                if ln.unallocated
            ),
            when,
            None if order.ship_to is None else order.ship_to.coordinates,
            order.channel,
            frozenset(order.excluded_locations),
        )
        return self.strategy.plan(request, _LedgerInventory(uow))

    def _apply_plan(
        self, uow: UnitOfWork, order: Order, plan: SourcingPlan, when: datetime
    ) -> None:
        """Commit / backorder each allocation and group them into fulfilment orders."""
        by_location: dict[str, list[Allocation]] = {}
        per_line: dict[int, int] = {}
        for a in plan.allocations:
            self._check_allocation(uow, order, a)
            per_line[a.line] = per_line.get(a.line, 0) + a.quantity
            if per_line[a.line] > order.line(a.line).unallocated:
                raise InvalidPlan(
                    f"the plan for order {order.id} allocates {per_line[a.line]} units of line "
                    f"{a.line}, which has only {order.line(a.line).unallocated} to source"
                )
            by_location.setdefault(a.location, []).append(a)
        postings: list[tuple[Allocation, str]] = []
        for location, allocations in by_location.items():
            order.fulfilment_count += 1
            fo = FulfilmentOrder(
                f"{order.id}-F{order.fulfilment_count}", order.id, LocationId(location), [], when
            )
            merged: dict[int, FulfilmentLine] = {}
            for a in allocations:
                fl = merged.get(a.line)
                if fl is None:
                    fl = merged[a.line] = FulfilmentLine(a.line, a.sku, 0)
                    fo.lines.append(fl)
                fl.quantity += a.quantity
                if a.backorder:
                    fl.backordered += a.quantity
                    order.allocate(a.line, backordered=a.quantity)
                else:
                    order.allocate(a.line, committed=a.quantity)
                postings.append((a, line_reference(fo.id, a.line)))
            uow.fulfilment_orders.add(fo)
            uow.collect(
                FulfilmentOrderCreated(
                    when,
                    fo.id,
                    order.id,
                    location,
                    tuple((fl.line, fl.sku, fl.quantity, fl.backordered) for fl in fo.lines),
                )
            )
        # Stock first, backorders after: a backorder the ledger can fill at once (a strategy
        # backordering where stock is free) is then settled on fulfilment orders that exist.
        for a, ref in sorted(postings, key=lambda p: p[0].backorder):
            if a.backorder:
                posting = uow.ledger.backorder(
                    a.sku, a.location, a.quantity, at=when, reference=ref
                )
                self._settle(uow, posting, when)
            else:
                try:
                    uow.ledger.commit(a.sku, a.location, a.quantity, at=when, reference=ref)
                except InsufficientStock as exc:
                    raise InvalidPlan(
                        f"the plan for order {order.id} takes more than is available: {exc}"
                    ) from exc

    @staticmethod
    def _check_allocation(uow: UnitOfWork, order: Order, a: Allocation) -> None:
        if not isinstance(a, Allocation) or type(a.quantity) is not int or a.quantity <= 0:
            raise InvalidPlan(f"the plan for order {order.id} holds a bad allocation {a!r}")
        if not 1 <= a.line <= len(order.lines) or order.line(a.line).sku != a.sku:
            raise InvalidPlan(
                f"the plan for order {order.id} allocates a line it does not have: {a}"
            )
        if a.location in order.excluded_locations or uow.locations.get(a.location) is None:
            raise InvalidPlan(f"the plan for order {order.id} uses a location it may not: {a}")

    @staticmethod
    def _deliver_if_complete(uow: UnitOfWork, fo: FulfilmentOrder) -> None:
        """SHIPPED -> DELIVERED once every parcel of the fulfilment order has arrived."""
        if fo.status is FulfilmentStatus.SHIPPED and all(
            s.status is ShipmentStatus.DELIVERED
            for s in uow.shipments.for_order(fo.order_id)
            if s.fulfilment_order_id == fo.id
        ):
            fo.mark_delivered()

    def _settle(self, uow: UnitOfWork, posting: Posting, when: datetime) -> None:
        if posting.fills:
            self._apply_fills(uow, posting.fills, when)

    def _apply_fills(self, uow: UnitOfWork, fills: Sequence[BackorderFill], when: datetime) -> None:
        """Backorders the ledger filled: move their units to committed on the order side."""
        for fill in fills:
            fo_id, number = parse_line_reference(fill.reference)
            fo = self._fulfilment_for_update(uow, fo_id)
            order = self._order_for_update(uow, fo.order_id)
            fo.fill_backorder(number, fill.quantity)
            order.fill_backorder(number, fill.quantity)
            uow.fulfilment_orders.save(fo)
            uow.orders.save(order)
            uow.collect(
                BackorderFilled(when, order.id, fo.id, number, fill.location, fill.quantity)
            )
