"""What the durable stores share: their tables, the rows a command wrote, and reading back.

A durable store keeps the whole state in memory (:class:`~omsims.adapters.memory.MemoryStore`)
as a cache of its database. Both SQLite and PostgreSQL lay the database out the same way,
so the code that turns a command's changes into rows, and rows back into the cache, lives
here once; each store adds its own SQL, transactions and concurrency control.
"""

from __future__ import annotations

import abc
import functools
import itertools
import os
import secrets
import weakref
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Final, cast

import attrs

from omsims.adapters.codec import decode, encode, time_text
from omsims.adapters.memory import MemoryStore, MemoryUnitOfWork
from omsims.domain.events import Event
from omsims.domain.ledger import LEDGER_TABLES, Ledger, LedgerChanges, SequenceSource
from omsims.domain.locations import PositionSettings
from omsims.domain.stock import EntryKind, LedgerEntry
from omsims.domain.values import Money, non_negative_quantity
from omsims.errors import ValidationError

__all__ = [
    "COLUMNS",
    "ENTRY_COLUMNS",
    "KEYS",
    "CachedStore",
    "StoredOutbox",
    "entry_row",
    "hashable_key",
    "logged_keys",
    "written_rows",
]

KEYS: Final[dict[str, tuple[str, ...]]] = {
    "ledger_locations": ("id",),
    "skus": ("sku",),
    "positions": ("sku", "location"),
    "ledger_rows": ("tbl", "key"),
    "locations": ("id",),
    "orders": ("id",),
    "fulfilment_orders": ("id",),
    "shipments": ("id",),
    "idempotency": ("key",),
    "capacity": ("location", "day"),
}
"""The versioned tables, in the order a command writes (and locks) them, and their keys."""

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "ledger_locations": (),
    "skus": (),
    "positions": (
        *("on_hand", "committed", "reserved", "unavailable", "incoming", "backordered"),
        *("settings", "queue"),
    ),
    "ledger_rows": ("body",),
    "locations": ("body",),
    "orders": ("body",),
    "fulfilment_orders": ("order_id", "body"),
    "shipments": ("order_id", "body"),
    "idempotency": ("fingerprint", "result"),
    "capacity": ("used",),
}
"""Each versioned table's columns besides its key (and its ``version``)."""

ENTRY_COLUMNS: Final = (
    "sequence, at, sku, location, kind, quantity, reference, reason, key, "
    "unit_cost, unit_cost_currency"
)
"""The ``entries`` table's columns, in order. A unit cost is two columns, its amount as
exact decimal text (SQLite) or ``numeric`` (PostgreSQL) and its currency, both NULL for
entries without one (and for every entry written before schema version 2)."""

Row = tuple[Any, ...]
Keys = dict[str, list[Any]] | None  # per table, the keys to read (None: every row)


def entry_row(e: LedgerEntry) -> Row:
    """A ledger entry as the ``entries`` table stores it (see :data:`ENTRY_COLUMNS`)."""
    cost = e.unit_cost
    return (
        e.sequence,
        time_text(e.at),  # one command's entries share a time: its text is kept
        e.sku,
        e.location,
        e.kind.value,
        e.quantity,
        e.reference,
        e.reason,
        e.key,
        None if cost is None else str(cost.amount),
        None if cost is None else cost.currency,
    )


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        row[0],
        datetime.fromisoformat(row[1]),
        row[2],
        row[3],
        EntryKind(row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
        None if row[9] is None else Money(row[9], row[10]),
    )


def written_rows(uow: MemoryUnitOfWork, changes: LedgerChanges) -> dict[str, list[Row]]:
    """Per versioned table, the rows a command changed: key columns, then the others.

    Rows come in the order the command first touched them (so rows are created in
    creation order). ``changes`` is the ledger's part (``Ledger.changes``).
    """
    ledger: Ledger = uow.ledger
    rows: dict[str, list[Row]] = {
        # Sets, so sorted: every process writes them in the same order.
        "ledger_locations": [(loc,) for loc in sorted(changes.locations)],
        "skus": [(sku,) for sku in sorted(changes.skus)],
        "positions": [_position_row(ledger, k) for k in sorted(changes.positions)],
        "ledger_rows": [
            (name, key, encode(ledger.row(name, key)))
            for name, keys in sorted(changes.rows.items())
            for key in sorted(keys)
        ],
    }
    store = uow.store
    touched: dict[int, dict[Any, None]] = {}
    for table, key, _old in uow.journal_records():
        touched.setdefault(id(table), {})[key] = None

    def keys(table: dict[Any, Any]) -> Iterable[Any]:
        return touched.get(id(table), ())

    rows["locations"] = [(k, encode(store.locations[k])) for k in keys(store.locations)]
    rows["orders"] = [(k, encode(store.orders[k])) for k in keys(store.orders)]
    for name, table in (
        ("fulfilment_orders", store.fulfilment_orders),
        ("shipments", store.shipments),
    ):
        rows[name] = [(k, table[k].order_id, encode(table[k])) for k in keys(table)]
    rows["idempotency"] = [
        (k, encode(store.idempotency[k][0]), encode(store.idempotency[k][1]))
        for k in keys(store.idempotency)
    ]
    rows["capacity"] = [
        (loc, day.isoformat(), store.capacity[(loc, day)]) for loc, day in keys(store.capacity)
    ]
    return rows


_EMPTY_QUEUE: Final = encode([])  # most positions have none: written once


@functools.lru_cache(maxsize=4096)
def _settings_text(settings: PositionSettings) -> str:
    return encode(settings)  # few distinct settings: each encoded once


def _position_row(ledger: Ledger, k: tuple[str, str]) -> Row:
    buckets, settings, queue = ledger.position_state(*k)
    queue_text = encode(queue) if queue else _EMPTY_QUEUE
    return (*k, *buckets, _settings_text(settings), queue_text)


class CachedStore(MemoryStore, abc.ABC):
    """The in-memory store as the cache of a database laid out as :data:`KEYS` says.

    Subclasses say how to run a batch of reads (:meth:`_fetch`); :meth:`_load` decides
    what to read and puts it into the cache.

    Orders, fulfilment orders, shipments and idempotency keys that other processes wrote
    are not read when the cache catches up, only noted as unread (``unloaded``): a
    process reads another's order when a command or query asks for it. Catching up then
    costs what the ledger changed, not every order every process placed.
    """

    archives = False
    """Orders stay in the database: moving old ones out is the database's own business
    (partitions, a retention job), not :meth:`Oms.archive`'s, which needs removal from
    the cache and the rows alike and is not built for durable stores."""

    always_read_ids = False
    """Read the ledger's id counters on every catch-up, logged or not."""

    def __init__(
        self, sequences: SequenceSource | None = None, *, cached_orders: int | None = None
    ) -> None:
        """An empty cache (``sequences``: see :class:`~omsims.domain.ledger.Ledger`).

        ``cached_orders``: see :meth:`trim` (``None``: every order stays cached).
        """
        if cached_orders is not None and (
            type(cached_orders) is not int or not 10 <= cached_orders <= 10**9
        ):
            raise ValidationError(
                f"cached_orders must be None or an int from 10 to 10**9, got {cached_orders!r}"
            )
        super().__init__(sequences)
        self.cached_orders = cached_orders
        self.delivered: list[int] = []  # outbox rows delivered, marks not yet written
        self.outbox = StoredOutbox(self)
        self.unloaded: dict[str, set[Any]] = {table: set() for table in LAZY_TABLES}
        # Unread fulfilment orders and shipments whose order is not known (a key noted
        # without it): reading any order's reads these too.
        self.orderless: dict[str, set[Any]] = {table: set() for table in _BY_ORDER}

    def clear(self) -> None:
        """Forget everything, read or not."""
        super().clear()
        for keys in (*self.unloaded.values(), *self.orderless.values()):
            keys.clear()

    def trim(self) -> int:
        """Drop the oldest orders from the cache beyond ``cached_orders``; how many went.

        A long-running process would otherwise keep every order it ever placed or read.
        An order dropped goes with its fulfilment orders and shipments; idempotency keys
        are bounded the same way. What is dropped stays in the database and is noted as
        unread, exactly like a row another process wrote: a command or query that asks
        for it reads it back (one read per order). Only ids are kept of it. Oldest means
        first taken into the cache: placed earliest, or read back longest ago.

        The stores call this after each commit; it trims down to nine tenths of the
        bound, so the work comes in batches, once every tenth of the bound's orders.
        """
        limit = self.cached_orders
        if limit is None:
            return 0
        keep = limit - limit // 10
        dropped: list[str] = []
        if len(self.orders) > limit:
            dropped = list(itertools.islice(self.orders, len(self.orders) - keep))
            self._unload("orders", dropped)
            for table in _BY_ORDER:  # each logged with its order: its index entry stays
                index = self._index_of(table)
                self._unload(table, [(key, oid) for oid in dropped for key in index.get(oid, ())])
        if len(self.idempotency) > limit:
            self._unload(
                "idempotency",
                list(itertools.islice(self.idempotency, len(self.idempotency) - keep)),
            )
        return len(dropped)

    def _forget_version(self, table: str, key: Any) -> None:
        """A row left the cache (unread now): forget what the store noted of it."""

    def ensure_for_order(self, table: str, order_id: str) -> None:
        """Read the unread fulfilment orders (or shipments) of ``order_id``."""
        unread = self.unloaded[table]
        if not unread:
            return
        index = self._index_of(table)
        wanted = [key for key in index.get(order_id, ()) if key in unread]
        wanted += self.orderless[table]
        if wanted:
            self._read_unloaded(table, wanted)

    def ensure(self, table: str, key: object) -> None:
        """Read ``key`` of ``table`` if another process wrote it and the cache has not read it."""
        unread = self.unloaded.get(table)
        if unread and key in unread:
            self._read_unloaded(table, [key])

    def ensure_all(self, table: str) -> None:
        """Read every row of ``table`` the cache knows of but has not read.

        Rows read back go where the database made them, not after the cached ones, so a
        listing of every order is in the order they were placed.
        """
        unread = self.unloaded.get(table)
        if unread:
            self._read_unloaded(table, list(unread))
            rows: dict[Any, Any] = getattr(self, table)
            ordered = {key: rows[key] for key in self._creation_order(table) if key in rows}
            ordered.update(rows)  # rows the database lacks yet (this command's) come last
            rows.clear()
            rows.update(ordered)

    @abc.abstractmethod
    def _creation_order(self, table: str) -> list[Any]:
        """The keys of ``table`` (a lazily read one) in the order its rows were made."""

    def _read_unloaded(self, table: str, keys: list[Any]) -> None:
        columns = dict(_READ_ORDER)[table]
        [rows] = self._fetch([(table, columns, keys)])
        self._install_tables({table: rows})
        self.unloaded[table].difference_update(keys)
        if table in self.orderless:
            self.orderless[table].difference_update(keys)

    @abc.abstractmethod
    def _fetch(self, reads: list[Read]) -> list[list[Row]]:
        """The rows of each read ``(table, columns, keys)``, in order.

        ``keys`` None means every row (for ``entries``: every one the cache lacks); rows
        come in creation order, ``entries`` rows in sequence order; ``ids`` gives one row
        holding the encoded counters (or none).
        """

    # -- the outbox's storage (see StoredOutbox) --------------------------------------------

    @abc.abstractmethod
    def _outbox_rows(self, limit: int) -> list[Row]:
        """Up to ``limit`` undelivered outbox rows ``(id, body)``, oldest first."""

    @abc.abstractmethod
    def _write_marks(self) -> int:
        """Write the delivery marks in ``delivered``, inside the open transaction.

        Returns how many were written; the caller drops them from ``delivered`` once
        the transaction has committed (a failed commit keeps them for the next one).
        """

    @abc.abstractmethod
    def _flush_marks(self) -> None:
        """Write the delivery marks in a transaction of their own (if one may be begun)."""

    @abc.abstractmethod
    def _delete_delivered(self, keep: int) -> int:
        """Delete delivered rows older than the latest ``keep``; returns how many."""

    def _load(self, keys: Keys) -> None:
        """Read rows into the cache: every row (``keys`` None) or just these keys."""
        if keys is not None:
            keys = dict(keys)
            for table in LAZY_TABLES:
                self._unload(table, keys.pop(table, ()))
        reads = _reads(keys, always_ids=self.always_read_ids)
        rows = dict(zip((table for table, _, _ in reads), self._fetch(reads), strict=True))
        self._install_ledger(rows)
        self._install_tables(rows)

    def _unload(self, table: str, keys: Iterable[Any]) -> None:
        """Note rows as unread, dropping what the cache held of them (and their versions).

        Rows another process wrote, and rows :meth:`trim` dropped: a command or query that
        asks for one reads it back.

        A fulfilment order or shipment is logged with its order, ``(id, order id)``: it
        takes (or keeps) its place in that order's index, so reading one order's reads
        just its own. Noted without it, it is read with any order's.
        """
        rows: dict[Any, Any] = getattr(self, table)
        unread = self.unloaded[table]
        index = self._index_of(table) if table in _BY_ORDER else None
        for logged in keys:
            key = logged
            if index is not None:
                if isinstance(logged, tuple):
                    key, order_id = logged
                    listed = index.setdefault(order_id, [])
                    if key not in listed:
                        listed.append(key)
                else:
                    self.orderless[table].add(key)
            rows.pop(key, None)
            unread.add(key)
            self._forget_version(table, key)

    def _index_of(self, table: str) -> dict[str, list[str]]:
        """The order index of fulfilment orders or shipments."""
        if table == "fulfilment_orders":
            return self.fulfilment_by_order
        return self.shipments_by_order

    def _install_tables(self, fetched: dict[str, list[Row]]) -> None:
        """Locations, orders, fulfilment orders, shipments, idempotency keys, capacity."""
        for name, rows in (("locations", self.locations), ("orders", self.orders)):
            for (body,) in fetched.get(name, ()):
                row = decode(body)
                rows[row.id] = row
        for table, index, name in (
            (self.fulfilment_orders, self.fulfilment_by_order, "fulfilment_orders"),
            (self.shipments, self.shipments_by_order, "shipments"),
        ):
            for (body,) in fetched.get(name, ()):
                row = decode(body)
                listed = index.setdefault(row.order_id, [])
                if row.id not in listed:
                    listed.append(row.id)
                table[row.id] = row
        for key, fingerprint, result in fetched.get("idempotency", ()):
            self.idempotency[key] = (decode(fingerprint), decode(result))
        for location, day, used in fetched.get("capacity", ()):
            self.capacity[(location, date.fromisoformat(day))] = used
        self.location_list = None

    def _install_ledger(self, fetched: dict[str, list[Row]]) -> None:
        positions = {
            (row[0], row[1]): (row[2:8], _decode_settings(row[8]), decode(row[9]))
            for row in fetched.get("positions", ())
        }
        rows: dict[str, dict[str, Any]] = {name: {} for name in LEDGER_TABLES}
        for tbl, key, body in fetched.get("ledger_rows", ()):
            rows[tbl][key] = decode(body)
        ids = fetched.get("ids")
        self.ledger.install(
            locations=[r[0] for r in fetched.get("ledger_locations", ())],
            skus=[r[0] for r in fetched.get("skus", ())],
            positions=positions,
            entries=[_entry(row) for row in fetched.get("entries", ())],
            rows=rows,
            ids=decode(ids[0][0]) if ids and ids[0][0] else None,
        )


class StoredOutbox:
    """The events committed to a durable store that no notifier has accepted yet.

    Delivery marks ride on the store's next command (or :meth:`flush`, or closing the
    store): a transaction of their own per delivery would double the cost of every
    command. A crash before they are written means those events come again, with the
    same ids (at least once).
    """

    def __init__(self, store: CachedStore) -> None:
        """The outbox of ``store`` (held weakly: the store holds its outbox)."""
        self._store = cast("CachedStore", weakref.proxy(store))

    def pending(self, limit: int = 1000) -> list[Event]:
        """Undelivered events, oldest first, each with its stable ``id``."""
        store = self._store
        with store.lock:
            done = set(store.delivered)
            rows = store._outbox_rows(limit + len(done))  # noqa: SLF001 (its store)
        return [
            attrs.evolve(decode(body), id=f"evt-{rowid}")
            for rowid, body in rows
            if rowid not in done
        ][:limit]

    def delivered(self, event_ids: Sequence[str]) -> None:
        """Mark events delivered, so they are not handed out again."""
        store = self._store
        with store.lock:
            store.delivered.extend(int(event_id.removeprefix("evt-")) for event_id in event_ids)
            if len(store.delivered) >= MAX_UNWRITTEN_MARKS:
                self.flush()

    def flush(self) -> None:
        """Write the delivery marks now (inside a host's open transaction, if it is theirs)."""
        store = self._store
        with store.lock:
            if store.delivered:
                store._flush_marks()  # noqa: SLF001 (its store)

    def prune(self, *, keep: int = 100_000) -> int:
        """Delete delivered events older than the latest ``keep`` events; returns how many.

        The outbox doubles as a log of recent events; run this now and then (from one
        process) so it does not grow without end. Undelivered events are kept.
        """
        keep = non_negative_quantity(keep, "keep")
        store = self._store
        with store.lock:
            self.flush()
            return store._delete_delivered(keep)  # noqa: SLF001 (its store)


MAX_UNWRITTEN_MARKS: Final = 1_000
"""Delivery marks a process keeps before writing them in a transaction of their own."""


def hashable_key(key: Any) -> Any:
    """A logged key as the cache holds it (composite keys are JSON lists)."""
    return tuple(key) if isinstance(key, list) else key


LAZY_TABLES: Final = ("orders", "fulfilment_orders", "shipments", "idempotency")
"""The tables whose rows other processes wrote are read only when asked for."""
_BY_ORDER: Final = ("fulfilment_orders", "shipments")


_stamps: tuple[int, str, Iterator[int]] = (0, "", iter(()))


def new_stamp() -> str:
    """A commit's stamp: unique across processes and commits, cheaper than a random token.

    A random prefix per process (drawn again after a fork) and a counter: the stamp tells a
    commit apart from another that reused its version after a rollback.
    """
    global _stamps  # noqa: PLW0603 (one counter per process, by design)
    pid, prefix, counter = _stamps
    if pid != os.getpid():
        pid, prefix, counter = os.getpid(), secrets.token_hex(6), itertools.count()
        _stamps = (pid, prefix, counter)
    return f"{prefix}{next(counter):x}"


def logged_keys(table: str, rows: Sequence[Row]) -> list[Any]:
    """How a commit logs the keys of the rows it wrote to ``table``.

    JSON has no tuples, so composite keys are lists. Fulfilment orders and shipments
    log ``[id, order id]``, so another process can note them under their order without
    reading them.
    """
    if table in _BY_ORDER:
        return [[row[0], row[1]] for row in rows]
    width = len(KEYS[table])
    if width == 1:
        return [row[0] for row in rows]
    return [list(row[:width]) for row in rows]


Read = tuple[str, str, list[Any] | None]
"""One read of :meth:`CachedStore._fetch`: (table, columns, keys or None for all)."""

_READ_ORDER: Final = (
    # Entries first and the names they refer to after them: read in separate statements
    # (a host's READ COMMITTED transaction), every entry then finds its position, and
    # every position its SKU and location.
    ("entries", ENTRY_COLUMNS),
    ("positions", ", ".join((*KEYS["positions"], *COLUMNS["positions"]))),
    ("ledger_rows", "tbl, key, body"),
    ("ledger_locations", "id"),
    ("skus", "sku"),
    ("ids", ""),
    ("locations", "body"),
    ("orders", "body"),
    ("fulfilment_orders", "body"),
    ("shipments", "body"),
    ("idempotency", "key, fingerprint, result"),
    ("capacity", "location, day, used"),
)


def _reads(keys: Keys, *, always_ids: bool = False) -> list[Read]:
    """What to read for these keys (None: everything), in :data:`_READ_ORDER`."""
    if keys is None:
        return [(table, columns, None) for table, columns in _READ_ORDER]
    reads: list[Read] = []
    for table, columns in _READ_ORDER:
        if table == "entries":
            # A store that does not log which entries a commit wrote (no "entries" key)
            # reads every entry the cache lacks: entries are append-only.
            reads.append((table, columns, keys.get("entries")))
        elif table == "ids":
            if always_ids or keys.get("ids"):  # a commit moving them logs "ids": [1]
                reads.append((table, columns, None))
        elif keys.get(table):
            reads.append((table, columns, keys[table]))
    return reads


@functools.lru_cache(maxsize=4096)
def _decode_settings(text: str) -> Any:
    return decode(text)  # few distinct settings: each decoded once (they are frozen)
