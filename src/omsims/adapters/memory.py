"""In-memory adapters: the default storage, and the reference for every other adapter.

One :class:`MemoryStore` holds the state; each command gets a :class:`MemoryUnitOfWork`
over it. A unit of work holds the store's lock for its whole life, so commands run one
at a time (threads may call the Oms freely), and keeps an undo journal, so a command
that fails half-way is rolled back to exactly where it started.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable, Sequence
from contextlib import AbstractContextManager
from datetime import date
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast

from omsims.domain.copies import deep_copy
from omsims.domain.events import Event
from omsims.domain.fulfilment import FulfilmentOrder, Shipment
from omsims.domain.ledger import Ledger, Savepoint, SequenceSource
from omsims.domain.locations import Location
from omsims.domain.orders import Order

__all__ = ["MemoryStore", "MemoryUnitOfWork"]

_V = TypeVar("_V")
_MISSING: Any = object()


class _Journal:
    """Undo records for one unit of work: (table, key, previous value or _MISSING)."""

    def __init__(self) -> None:
        self.records: list[tuple[dict[Any, Any], Any, Any]] = []
        self.seen: set[tuple[int, Any]] = set()
        # Ids appended to an order's index: undone one by one, so entries appended
        # meanwhile by a durable store reading rows it lacked survive a rollback.
        self.appended: list[tuple[dict[Any, list[Any]], Any, Any]] = []

    def remember(self, table: dict[Any, Any], key: object) -> None:
        """Note what ``key`` holds in ``table`` now, once (before a new value replaces it)."""
        mark = (id(table), key)
        if mark in self.seen:
            return
        self.seen.add(mark)
        self.records.append((table, key, table.get(key, _MISSING)))

    def keep_copy(self, table: dict[Any, Any], key: object, value: object) -> None:
        """``remember`` a copy of ``value``, the row of ``key`` that the caller just read.

        The same marks as ``remember``, written out: the hottest path of the journal
        (every row a command changes), where a shared helper cost 0.3 % of a simulation.
        """
        mark = (id(table), key)
        if mark not in self.seen:
            self.seen.add(mark)
            self.records.append((table, key, deep_copy(value)))

    def take(self, table: dict[Any, Any], key: object) -> Any:
        """Remove ``key`` from ``table`` and note what it held; the value, or ``_MISSING``.

        Archiving's path, a handful of rows per order. No mark is needed: undo applies the
        newest record first, so a key noted more than once still ends at its first value,
        and the value taken out needs no copy, since nothing in the store can reach it.
        """
        old = table.pop(key, _MISSING)
        if old is not _MISSING:
            self.records.append((table, key, old))
        return old

    def undo(self) -> None:
        for index, key, value in reversed(self.appended):
            listed = index.get(key)
            if listed is not None and value in listed:
                listed.remove(value)
                if not listed:
                    del index[key]
        for table, key, old in reversed(self.records):
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        self.clear()

    def clear(self) -> None:
        self.records.clear()
        self.seen.clear()
        self.appended.clear()


class _Table(Generic[_V]):
    """A dict-backed repository whose changes are journaled while a unit of work is open.

    A durable store's cache may hold a row only as "in the database, not read yet"
    (another process wrote it): a miss asks the store to read it first (``ensure``).
    """

    def __init__(
        self, rows: dict[str, _V], journal: _Journal, store: MemoryStore, name: str
    ) -> None:
        self._rows = rows
        self._journal = journal
        self._store = store
        self._name = name

    def get(self, key: str) -> _V | None:
        value = self._rows.get(key)
        if value is None:
            self._store.ensure(self._name, key)
            value = self._rows.get(key)
        return value

    def get_for_update(self, key: str) -> _V | None:
        value = self.get(key)
        if value is not None:
            # Callers change the object in place; keep a copy to put back on rollback.
            self._journal.keep_copy(self._rows, key, value)
        return value

    def add(self, value: _V) -> None:
        key = value.id  # type: ignore[attr-defined]
        self._journal.remember(self._rows, key)
        self._rows[key] = value

    def save(self, value: _V) -> None:
        """Changes made in place are already visible in memory; nothing to write."""

    def list(self) -> list[_V]:
        self._store.ensure_all(self._name)
        return list(self._rows.values())

    def remove(self, key: str) -> None:
        """Forget a row (archiving); put back if the unit of work rolls back."""
        self._journal.take(self._rows, key)


class _ByOrder(_Table[_V]):
    """A table also indexed by order id (fulfilment orders, shipments)."""

    def __init__(
        self,
        rows: dict[str, _V],
        index: dict[str, list[str]],
        journal: _Journal,
        store: MemoryStore,
        name: str,
    ) -> None:
        super().__init__(rows, journal, store, name)
        self._index = index

    def add(self, value: _V) -> None:
        super().add(value)
        order_id = value.order_id  # type: ignore[attr-defined]
        self._journal.appended.append((self._index, order_id, value.id))  # type: ignore[attr-defined]
        self._index.setdefault(order_id, []).append(value.id)  # type: ignore[attr-defined]

    def for_order(self, order_id: str) -> list[_V]:
        self._store.ensure_for_order(self._name, order_id)
        return [self._rows[i] for i in self._index.get(order_id, ())]

    def remove_for_order(self, order_id: str) -> None:
        """Forget every row of one order, and the order's index entry."""
        journal, rows = self._journal, self._rows
        ids = journal.take(self._index, order_id)
        if ids is not _MISSING:
            for key in ids:
                journal.take(rows, key)


class _Locations:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._store = store
        self._rows = store.locations
        self._journal = journal

    def get(self, location_id: str) -> Location | None:
        return self._rows.get(location_id)

    def put(self, location: Location) -> None:
        self._journal.remember(self._rows, location.id)
        self._rows[location.id] = location
        self._store.location_list = None

    def list(self) -> tuple[Location, ...]:
        # The same tuple while nothing changes, so strategies can memoise their ranking.
        cached = self._store.location_list
        if cached is None:
            cached = self._store.location_list = tuple(self._rows.values())
        return cached


class _Idempotency:
    def __init__(
        self, rows: dict[str, tuple[Hashable, Any]], journal: _Journal, store: MemoryStore
    ) -> None:
        self._rows = rows
        self._journal = journal
        self._store = store

    def get(self, key: str) -> tuple[Hashable, Any] | None:
        rows = self._rows
        if key not in rows:
            self._store.ensure("idempotency", key)
        return rows.get(key)

    def put(self, key: str, fingerprint: Hashable, result: object) -> None:
        self._journal.remember(self._rows, key)
        self._rows[key] = (fingerprint, result)

    def remove(self, key: str) -> None:
        """Forget a key (archiving moves an order's placement to the archive)."""
        self._journal.take(self._rows, key)


class _Capacity:
    def __init__(self, rows: dict[tuple[str, date], int], journal: _Journal) -> None:
        self._rows = rows
        self._journal = journal

    def used(self, location: str, day: date) -> int:
        return self._rows.get((location, day), 0)

    def consume(self, location: str, day: date) -> None:
        self._journal.remember(self._rows, (location, day))
        self._rows[(location, day)] = self._rows.get((location, day), 0) + 1


class MemoryStore:
    """Everything the in-memory adapters keep, shared by the units of work made from it.

    Call the store to get a unit of work: it is a ``UnitOfWorkFactory``.
    """

    archives = True
    """Whether finished orders may be moved out of it (:meth:`Oms.archive`)."""

    attempts = 1
    """How often a command may run before ``StaleRead`` stands: once (this store holds
    one lock for a whole command, so no commit is ever refused as stale)."""

    def __init__(self, sequences: SequenceSource | None = None) -> None:
        """Create an empty store (``sequences``: see :class:`~omsims.domain.ledger.Ledger`)."""
        self.sequences = sequences
        self.ledger = Ledger(sequences)
        self.orders: dict[str, Order] = {}
        self.fulfilment_orders: dict[str, FulfilmentOrder] = {}
        self.fulfilment_by_order: dict[str, list[str]] = {}
        self.shipments: dict[str, Shipment] = {}
        self.shipments_by_order: dict[str, list[str]] = {}
        self.locations: dict[str, Location] = {}
        self.location_list: tuple[Location, ...] | None = None
        self.idempotency: dict[str, tuple[Hashable, Any]] = {}
        self.capacity: dict[tuple[str, date], int] = {}
        self.lock = threading.RLock()
        self._reader: MemoryUnitOfWork | None = None
        self._spare: list[MemoryUnitOfWork] = []  # see __call__

    def __call__(self) -> MemoryUnitOfWork:
        """A unit of work over this store.

        The last one that finished, if it is free: a unit of work is eight objects to
        build, and a simulation runs a dozen commands an order (the pop is atomic, so two
        threads never share one). A spare holds the store weakly, so a dropped store is
        freed by reference counting, not left to the cyclic collector.
        """
        try:
            return self._spare.pop()
        except IndexError:
            return MemoryUnitOfWork(cast("MemoryStore", weakref.proxy(self)), spare=self._spare)

    def read(self) -> AbstractContextManager[MemoryUnitOfWork]:
        """A unit of work to read in: the store's lock, no journal (nothing may change).

        One reader serves every query: nothing is written through it, so it has no state
        of its own to start afresh.
        """
        return _Reading(self)

    def ensure(self, table: str, key: object) -> None:
        """Read a row the cache knows of but has not read (here: every row is in memory)."""

    def ensure_all(self, table: str) -> None:
        """Read every such row of ``table`` (here: nothing to do)."""

    def ensure_for_order(self, table: str, order_id: str) -> None:
        """Read such fulfilment orders or shipments of one order (here: nothing to do)."""

    def clear(self) -> None:
        """Forget everything, keeping the same containers (units of work hold them)."""
        self.ledger.__init__(self.sequences)  # type: ignore[misc]
        for table in (
            self.orders,
            self.fulfilment_orders,
            self.fulfilment_by_order,
            self.shipments,
            self.shipments_by_order,
            self.locations,
            self.idempotency,
            self.capacity,
        ):
            table.clear()
        self.location_list = None


class _Reading:
    """The context of :meth:`MemoryStore.read` (a class: cheaper than a generator)."""

    __slots__ = ("store",)

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def __enter__(self) -> MemoryUnitOfWork:
        store = self.store
        store.lock.acquire()
        reader = store._reader  # noqa: SLF001 (the store's own helper)
        if reader is None:
            # Kept by the store, so it holds the store weakly: a strong reference both ways
            # would leave a dropped store (and all it holds) to the cyclic collector.
            proxy = cast("MemoryStore", weakref.proxy(store))
            reader = store._reader = MemoryUnitOfWork(proxy)  # noqa: SLF001
        return reader

    def __exit__(self, *exc: object) -> None:
        self.store.lock.release()


class MemoryUnitOfWork:
    """A transaction over a :class:`MemoryStore`: all of a command, or none of it."""

    def __init__(self, store: MemoryStore, *, spare: list[MemoryUnitOfWork] | None = None) -> None:
        """Prepare a unit of work; it begins when entered.

        ``spare``: where to put this unit of work when it finishes, for the store to hand
        out again (:meth:`MemoryStore.__call__`).
        """
        self.store = store
        self.ledger = store.ledger
        self._lock = store.lock  # the store's own lock, not looked up through the proxy
        self._spare = spare
        self._journal = _Journal()
        self.orders: _Table[Order] = _Table(store.orders, self._journal, store, "orders")
        self.fulfilment_orders: _ByOrder[FulfilmentOrder] = _ByOrder(
            store.fulfilment_orders,
            store.fulfilment_by_order,
            self._journal,
            store,
            "fulfilment_orders",
        )
        self.shipments: _ByOrder[Shipment] = _ByOrder(
            store.shipments, store.shipments_by_order, self._journal, store, "shipments"
        )
        self.locations = _Locations(store, self._journal)
        self.idempotency = _Idempotency(store.idempotency, self._journal, store)
        self.capacity = _Capacity(store.capacity, self._journal)
        self._events: list[Event] = []
        self._committed: list[Event] = []
        self._savepoint: Savepoint | None = None

    def __enter__(self) -> Self:
        """Take the store's lock, let the store catch up, and start journaling."""
        self._lock.acquire()
        if self._committed:  # a spare, used again: its last command's events are told
            self._committed = []
        try:
            self._catch_up()
            self._savepoint = self.ledger.savepoint()
        except BaseException:
            self._lock.release()
            raise
        return self

    def _catch_up(self) -> None:
        """Bring the store up to date before the command (a durable cache: its database)."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed, then release the lock."""
        try:
            if self._savepoint is not None:
                self.rollback()
        finally:
            self._lock.release()
        spare = self._spare
        if spare is not None and not spare:
            # Free for the next command; what this one committed stays readable until then.
            spare.append(self)

    def commit(self) -> None:
        """Keep every change; the collected events become committed events."""
        if self._savepoint is not None:
            self.ledger.release_savepoint(self._savepoint)
            self._savepoint = None
        self._journal.clear()
        self._committed, self._events = self._events, []

    def rollback(self) -> None:
        """Undo every change since the unit of work began (or last committed)."""
        if self._savepoint is not None:
            self.ledger.rollback(self._savepoint)
            self._savepoint = None
        self._journal.undo()
        self.store.location_list = None
        self._events = []

    def journal_records(self) -> list[tuple[dict[Any, Any], Any, Any]]:
        """What this unit of work changed outside the ledger: (table, key, old value)."""
        return self._journal.records

    def collect(self, event: Event) -> None:
        """Record an event for after commit."""
        self._events.append(event)

    def committed_events(self) -> Sequence[Event]:
        """The events of the committed transaction."""
        return list(self._committed)
