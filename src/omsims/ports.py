"""The ports: what the Oms needs from the world, as ``typing.Protocol`` classes.

An embedding shop implements these without inheriting from anything of ours. The
bundled implementations live in :mod:`omsims.adapters`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from omsims.domain.events import Event
from omsims.domain.fulfilment import FulfilmentOrder, Shipment
from omsims.domain.ledger import Ledger
from omsims.domain.locations import Location
from omsims.domain.orders import Order

__all__ = [
    "Clock",
    "FulfilmentOrderRepository",
    "IdempotencyStore",
    "LocationRepository",
    "Notifier",
    "OrderRepository",
    "ShipmentRepository",
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
    """Receives events after the command that recorded them has committed."""

    def publish(self, event: Event) -> None:
        """Deliver one event; raising means "not delivered, try again later"."""
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


class UnitOfWork(Protocol):
    """One transaction over every repository and the ledger.

    Used as a context manager; leaving the block without ``commit()`` rolls back, so a
    command that raises half-way leaves no trace. Events recorded with ``collect`` are
    handed out by ``committed_events`` after commit, never before.
    """

    @property
    def ledger(self) -> Ledger:
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
