"""The ports: what the Oms needs from the world, as ``typing.Protocol`` classes.

An embedding shop implements these without inheriting from anything of ours. The
bundled implementations live in :mod:`omsims.adapters`.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterator, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from omsims.domain.archive import ArchivedOrder
from omsims.domain.events import Event
from omsims.domain.fulfilment import FulfilmentOrder, Shipment
from omsims.domain.locations import Location, PositionSettings
from omsims.domain.orders import Order
from omsims.domain.shipping import Label, Parcel
from omsims.domain.stock import EntryKind, LedgerEntry, Posting, StockLevel
from omsims.domain.supply import IncomingSupply, Reservation, SupplyLine, Transfer
from omsims.domain.values import LocationId, Money, Sku
from omsims.sourcing.carriers import Carrier

__all__ = [
    "CapacityRepository",
    "Clock",
    "FulfilmentOrderRepository",
    "IdempotencyStore",
    "LocationRepository",
    "Notifier",
    "OrderArchive",
    "OrderRepository",
    "Outbox",
    "PaymentGateway",
    "ShipmentRepository",
    "ShippingCarrier",
    "StockLedger",
    "UnitOfWork",
    "UnitOfWorkFactory",
]


@runtime_checkable
class Clock(Protocol):
    """Tells business time. Inject a manual clock in tests and simulations."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Receives events after the command that recorded them has committed.

    A notifier may also have a ``topics`` attribute, a collection of event classes: it
    then subscribes to those alone, and the Oms records no other event (not built where
    finding it costs work, not written to an outbox, not delivered). Without it (or
    with ``None``) a notifier hears every event.
    """

    def publish(self, event: Event) -> None:
        """Deliver one event; raising means "not delivered, try again later"."""
        ...


@runtime_checkable
class OrderArchive(Protocol):
    """Where finished orders go, so the live store keeps only those still moving.

    :meth:`Oms.archive <omsims.Oms.archive>` puts an order here, then removes it from the
    store in the same command; if the store's commit then fails, the order is put again
    next time: ``put`` must accept the same order twice.
    """

    def put(self, record: ArchivedOrder, /) -> None:
        """Keep ``record`` (raise to refuse: the order then stays in the store)."""
        ...

    def get(self, order_id: str, /) -> ArchivedOrder | None:
        """The archived order, or None if this archive never took it."""
        ...


@runtime_checkable
class PaymentGateway(Protocol):
    """Moves an order's money: authorise at placement, then capture, void and refund.

    Every call carries an idempotency key: the gateway must treat a second call with a
    key it has seen as the first one (return the same id, move nothing), as Stripe,
    Adyen and Braintree do. omsims retries with the same key after a crash or an
    outage, so money never moves twice. Raise ``PaymentDeclined`` for a refusal that a
    retry will not change, ``PaymentUnavailable`` (or any other exception) for one it
    might. omsims never calls a gateway inside a transaction it opened; in a host's
    transaction, captures, voids and refunds wait for ``settle_payments()`` after the
    host commits.
    """

    def authorise(self, order_id: str, amount: Money, *, key: str) -> str:
        """Hold ``amount`` for the order; the authorisation's id."""
        ...

    def capture(self, authorisation: str, amount: Money, *, key: str) -> str:
        """Take ``amount`` of an authorisation (partial captures allowed); the capture's id."""
        ...

    def void(self, authorisation: str, amount: Money, *, key: str) -> str:
        """Release ``amount`` of an authorisation that will never be captured."""
        ...

    def refund(self, authorisation: str, amount: Money, *, key: str) -> str:
        """Give back ``amount`` of what was captured under an authorisation."""
        ...


@runtime_checkable
class ShippingCarrier(Carrier, Protocol):
    """A carrier omsims buys labels from: quotes (for sourcing), labels, cancellations.

    Tracking comes back the other way: feed the carrier's updates (webhooks, polling)
    to ``Oms.track``. Like payments, label calls carry an idempotency key (one per
    attempt to ship: a failed attempt cancels its label), and are never made inside a
    transaction omsims opened.
    Raise ``CarrierUnavailable`` (or any exception) when no label can be had.
    """

    def create_shipment(self, parcel: Parcel, *, key: str) -> Label:
        """Buy a label for the parcel."""
        ...

    def cancel_label(self, label: Label, *, key: str) -> None:
        """Cancel a label that will not be used (the shipment was not recorded)."""
        ...


class StockLedger(Protocol):
    """The stock ledger as the service uses it: postings, balances and their entities.

    :class:`omsims.Ledger` is the in-memory implementation, and its rules (the quantity
    model, backorder queues, backdating checks) are the reference any durable ledger
    store must reproduce; the shared contract tests will hold them to it. Reservations,
    expected supply lines and transfers are entities kept by the ledger of the unit of
    work, beside the entries they cause.
    """

    def add_location(self, location: str) -> None:
        """Make a location known to the ledger so postings may name it."""
        ...

    def add_sku(self, sku: str) -> None:
        """Make a SKU known without stock (it is also learnt from its first posting)."""
        ...

    def has_location(self, location: str) -> bool:
        """Whether the location was added."""
        ...

    def has_sku(self, sku: str) -> bool:
        """Whether the SKU is known (added, or named by a posting)."""
        ...

    @property
    def skus(self) -> list[Sku]:
        """Every known SKU, in the order they became known."""
        ...

    @property
    def locations(self) -> list[LocationId]:
        """Every known location, in the order they were added."""
        ...

    def configure(
        self, sku: str, location: str, settings: PositionSettings, *, at: datetime
    ) -> Posting:
        """Set a position's settings (safety stock, backorders, low-stock threshold)."""
        ...

    def settings(self, sku: str, location: str) -> PositionSettings:
        """The settings of a position (the defaults if it has none)."""
        ...

    def receive(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        reference: str | None = None,
        key: str | None = None,
        unit_cost: Money | None = None,
    ) -> Posting:
        """Receive units into on hand (at ``unit_cost`` each, if known); fills backorders."""
        ...

    def adjust(
        self,
        sku: str,
        location: str,
        delta: int,
        *,
        reason: str,
        at: datetime,
        reference: str | None = None,
        key: str | None = None,
    ) -> Posting:
        """Correct on hand by a signed ``delta`` (a stock count, a found or lost unit)."""
        ...

    def hold(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        reason: str,
        at: datetime,
        key: str | None = None,
    ) -> Posting:
        """Move free units to unavailable (damaged, quality hold) with a reason."""
        ...

    def release_hold(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        reason: str,
        at: datetime,
        key: str | None = None,
    ) -> Posting:
        """Return unavailable units to sale (the hold is lifted, the unit repaired)."""
        ...

    def write_off(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        reason: str,
        at: datetime,
        from_unavailable: bool = False,
        key: str | None = None,
    ) -> Posting:
        """Remove units from on hand for good: free units, or unavailable ones."""
        ...

    def return_stock(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        unavailable_reason: str | None = None,
        reference: str | None = None,
        key: str | None = None,
    ) -> Posting:
        """Take returned units back on hand: sellable, or unavailable with a reason."""
        ...

    def reserve(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        expires_at: datetime | None = None,
        reference: str | None = None,
        key: str | None = None,
    ) -> Reservation:
        """Hold available units, optionally until ``expires_at``; returns the reservation."""
        ...

    def release(
        self,
        reservation_id: str,
        qty: int | None = None,
        *,
        at: datetime,
        key: str | None = None,
    ) -> Posting:
        """Release all (or ``qty``) of what a reservation still holds."""
        ...

    def expire_due(self, *, at: datetime) -> list[Reservation]:
        """Expire every active reservation whose ``expires_at`` is at or before ``at``."""
        ...

    def commit(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        reference: str,
        reservation_id: str | None = None,
        key: str | None = None,
    ) -> Posting:
        """Promise available units to ``reference`` (an order line at this location)."""
        ...

    def uncommit(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        reference: str,
        key: str | None = None,
    ) -> Posting:
        """Take back a promise (a cancelled or re-sourced line); fills waiting backorders."""
        ...

    def ship(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        reference: str,
        key: str | None = None,
    ) -> Posting:
        """Ship committed units: they leave on hand and committed together."""
        ...

    def backorder(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        reference: str,
        key: str | None = None,
    ) -> Posting:
        """Promise units the position does not have yet; ``reference`` joins its FIFO queue."""
        ...

    def cancel_backorder(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime,
        reference: str,
    ) -> Posting:
        """Withdraw ``qty`` of the backorder queued under ``reference``."""
        ...

    def backorders_of(self, sku: str) -> list[tuple[str, str, int]]:
        """Every waiting backorder of ``sku``, as (location, reference, units)."""
        ...

    def backorder_queue(self, sku: str, location: str) -> list[tuple[str, int]]:
        """The waiting backorders of a position, oldest first, as (reference, units)."""
        ...

    def expect(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        eta: datetime,
        at: datetime,
        reference: str | None = None,
        key: str | None = None,
        unit_cost: Money | None = None,
    ) -> SupplyLine:
        """Record supply expected at a position by ``eta`` (a purchase order line)."""
        ...

    def receive_expected(
        self, supply_id: str, qty: int | None = None, *, at: datetime, key: str | None = None
    ) -> Posting:
        """Receive all (or ``qty``) of what a supply line still expects."""
        ...

    def cancel_expected(
        self, supply_id: str, qty: int | None = None, *, at: datetime, key: str | None = None
    ) -> Posting:
        """Stop expecting all (or ``qty``) of what a supply line still expects."""
        ...

    def transfer(
        self,
        sku: str,
        from_location: str,
        to_location: str,
        qty: int,
        *,
        eta: datetime,
        at: datetime,
        reference: str | None = None,
        unavailable_reason: str | None = None,
        key: str | None = None,
    ) -> Transfer:
        """Send free units from one location to another."""
        ...

    def receive_transfer(
        self, transfer_id: str, qty: int | None = None, *, at: datetime, key: str | None = None
    ) -> Posting:
        """Receive all (or ``qty``) of a transfer's units in transit at its destination."""
        ...

    def cancel_transfer(self, transfer_id: str, *, at: datetime, key: str | None = None) -> Posting:
        """Send what is still in transit back to the origin's on hand."""
        ...

    def balance(self, sku: str, location: str, as_of: datetime | None = None) -> StockLevel:
        """The balances of one position, now or as of a business time."""
        ...

    def network_balance(self, sku: str, as_of: datetime | None = None) -> StockLevel:
        """The balances of a SKU summed over every location (``location`` is ``None``)."""
        ...

    def available(self, sku: str, location: str) -> int:
        """Units of a SKU at a location that can be promised now. Runtime complexity: O(1)."""
        ...

    def stocking(self, sku: str) -> Collection[str]:
        """The locations that hold a position for ``sku`` (a read-only, ordered view)."""
        ...

    def on_hand_and_available(self, sku: str, location: str) -> tuple[int, int]:
        """(on hand, available) of a position, without building a ``StockLevel``. O(1)."""
        ...

    def entries_since(self, sequence: int) -> list[LedgerEntry]:
        """The entries numbered after ``sequence``, in sequence order."""
        ...

    @property
    def cursor(self) -> int:
        """How many entries the ledger holds: pass it to :meth:`entries_from` later."""
        ...

    def entries_from(self, cursor: int) -> list[LedgerEntry]:
        """The entries taken in after :attr:`cursor` was ``cursor``, in that order."""
        ...

    def positions(self) -> Iterator[tuple[Sku, LocationId]]:
        """Every (sku, location) that has a position."""
        ...

    def entries(
        self,
        *,
        sku: str | None = None,
        location: str | None = None,
        kind: EntryKind | None = None,
        reference: str | None = None,
        since: int = 0,
    ) -> list[LedgerEntry]:
        """Ledger entries in sequence order, filtered; ``since`` skips sequences <= it."""
        ...

    @property
    def last_sequence(self) -> int:
        """The highest sequence number of any entry (0 for an empty ledger)."""
        ...

    def reservation(self, reservation_id: str) -> Reservation:
        """A reservation by id (``UnknownReservation`` if there is none)."""
        ...

    def reservations(self, *, active_only: bool = True) -> list[Reservation]:
        """Reservations in creation order; only active ones unless told otherwise."""
        ...

    def supply_line(self, supply_id: str) -> SupplyLine:
        """An expected supply line by id (``UnknownSupplyLine`` if there is none)."""
        ...

    def transfer_by_id(self, transfer_id: str) -> Transfer:
        """A transfer by id (``UnknownTransfer`` if there is none)."""
        ...

    def incoming_schedule(self, sku: str, location: str | None = None) -> list[IncomingSupply]:
        """What is on its way for ``sku`` (to one location, or anywhere), by ETA."""
        ...

    def unpromised_supply(self, sku: str, location: str) -> list[tuple[datetime, int]]:
        """Arrivals due at a position that no waiting backorder has claimed, earliest first."""
        ...

    def uncovered_backorders(self, sku: str, location: str) -> int:
        """Units backordered at a position that its own promisable supply will not fill."""
        ...

    def check_invariants(self) -> None:
        """Prove the cached balances equal a replay of the entries, and every rule holds."""
        ...


class OrderRepository(Protocol):
    """Orders by external id."""

    def get(self, order_id: str, /) -> Order | None:
        """The order, for reading, or ``None``."""
        ...

    def get_for_update(self, order_id: str, /) -> Order | None:
        """The order, locked for change in this unit of work, or ``None``."""
        ...

    def add(self, order: Order, /) -> None:
        """Store a new order."""
        ...

    def save(self, order: Order, /) -> None:
        """Persist changes to an order obtained with ``get_for_update``."""
        ...

    def list(self) -> Sequence[Order]:
        """Every order, in the order they were placed."""
        ...


class FulfilmentOrderRepository(Protocol):
    """Fulfilment orders by id, and by the order they belong to."""

    def get(self, fulfilment_order_id: str, /) -> FulfilmentOrder | None:
        """The fulfilment order, for reading, or ``None``."""
        ...

    def get_for_update(self, fulfilment_order_id: str, /) -> FulfilmentOrder | None:
        """The fulfilment order, locked for change, or ``None``."""
        ...

    def add(self, fulfilment_order: FulfilmentOrder, /) -> None:
        """Store a new fulfilment order."""
        ...

    def save(self, fulfilment_order: FulfilmentOrder, /) -> None:
        """Persist changes to a fulfilment order obtained with ``get_for_update``."""
        ...

    def for_order(self, order_id: str, /) -> Sequence[FulfilmentOrder]:
        """An order's fulfilment orders, oldest first."""
        ...


class ShipmentRepository(Protocol):
    """Shipments by id, and by order."""

    def get(self, shipment_id: str, /) -> Shipment | None:
        """The shipment, for reading, or ``None``."""
        ...

    def get_for_update(self, shipment_id: str, /) -> Shipment | None:
        """The shipment, locked for change, or ``None``."""
        ...

    def add(self, shipment: Shipment, /) -> None:
        """Store a new shipment."""
        ...

    def save(self, shipment: Shipment, /) -> None:
        """Persist changes to a shipment obtained with ``get_for_update``."""
        ...

    def for_order(self, order_id: str, /) -> Sequence[Shipment]:
        """An order's shipments, oldest first."""
        ...


class LocationRepository(Protocol):
    """Locations by id."""

    def get(self, location_id: str, /) -> Location | None:
        """The location or ``None``."""
        ...

    def put(self, location: Location, /) -> None:
        """Add or replace a location."""
        ...

    def list(self) -> Sequence[Location]:
        """Every location, in the order they were first added."""
        ...


class IdempotencyStore(Protocol):
    """Remembers what each keyed command produced."""

    def get(self, key: str, /) -> tuple[Hashable, Any] | None:
        """(payload fingerprint, result) stored under ``key``, or ``None``."""
        ...

    def put(self, key: str, fingerprint: Hashable, result: object, /) -> None:
        """Remember a command's fingerprint and result under ``key``."""
        ...


class CapacityRepository(Protocol):
    """How much of each location's daily capacity is used, per business day.

    Capacity is counted in fulfilment orders: accepting one uses one unit of its
    location's ``daily_capacity`` on the day it is accepted (UTC date).
    """

    def used(self, location: str, day: date, /) -> int:
        """Fulfilment orders accepted at ``location`` on ``day``."""
        ...

    def consume(self, location: str, day: date, /) -> None:
        """Count one more accepted fulfilment order."""
        ...


@runtime_checkable
class Outbox(Protocol):
    """Committed events no notifier has accepted yet, kept by a durable store.

    A store that has one (as ``store.outbox``) writes each command's events in the
    command's own transaction and gives each a stable ``id``; the Oms hands them to the
    notifier oldest first and marks each delivered once it is accepted. Delivery is at
    least once: an event may come again (after a crash, or from two processes relaying
    at once), with the same id.
    """

    def pending(self, limit: int) -> list[Event]:
        """Up to ``limit`` undelivered events, oldest first."""
        ...

    def delivered(self, event_ids: Sequence[str]) -> None:
        """Record that the notifier accepted the events with ``event_ids``."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository and the ledger.

    Used as a context manager; leaving the block without ``commit()`` rolls back, so a
    command that raises half-way leaves no trace. Events recorded with ``collect`` are
    handed out by ``committed_events`` after commit, never before.
    """

    @property
    def ledger(self) -> StockLedger:
        """The ledger of this transaction."""
        ...

    @property
    def orders(self) -> OrderRepository:
        """The orders of this transaction."""
        ...

    @property
    def fulfilment_orders(self) -> FulfilmentOrderRepository:
        """The fulfilment orders of this transaction."""
        ...

    @property
    def shipments(self) -> ShipmentRepository:
        """The shipments of this transaction."""
        ...

    @property
    def locations(self) -> LocationRepository:
        """The locations of this transaction."""
        ...

    @property
    def capacity(self) -> CapacityRepository:
        """The capacity use of this transaction."""
        ...

    @property
    def idempotency(self) -> IdempotencyStore:
        """The idempotency of this transaction."""
        ...

    def __enter__(self) -> Self:
        """Begin the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End it: roll back unless committed."""
        ...

    def commit(self) -> None:
        """Make everything done in this unit of work permanent."""
        ...

    def rollback(self) -> None:
        """Undo everything done in this unit of work."""
        ...

    def collect(self, event: Event) -> None:
        """Record an event to publish once the transaction commits."""
        ...

    def committed_events(self) -> Sequence[Event]:
        """The events of the committed transaction, in the order they were recorded."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a new unit of work for each command."""

    def __call__(self) -> UnitOfWork:
        """A fresh unit of work."""
        ...
