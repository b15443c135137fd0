"""What the durable stores share: their tables, the rows a command wrote, and reading back.

A durable store keeps the whole state in memory (:class:`~omsims.adapters.memory.MemoryStore`)
as a cache of its database. Both SQLite and PostgreSQL lay the database out the same way,
so the code that turns a command's changes into rows, and rows back into the cache, lives
here once; each store adds its own SQL, transactions and concurrency control.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any, Final

from omsims.adapters.codec import decode, encode
from omsims.adapters.memory import MemoryStore, MemoryUnitOfWork
from omsims.domain.ledger import LEDGER_TABLES, Ledger, LedgerChanges
from omsims.domain.locations import PositionSettings
from omsims.domain.stock import EntryKind, LedgerEntry

__all__ = ["COLUMNS", "ENTRY_COLUMNS", "KEYS", "CachedStore", "entry_row", "written_rows"]

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

ENTRY_COLUMNS: Final = "sequence, at, sku, location, kind, quantity, reference, reason, key"

Row = tuple[Any, ...]
Keys = dict[str, list[Any]] | None  # per table, the keys to read (None: every row)


def entry_row(e: LedgerEntry) -> Row:
    """A ledger entry as the ``entries`` table stores it."""
    return (
        e.sequence,
        e.at.isoformat(),
        e.sku,
        e.location,
        e.kind.value,
        e.quantity,
        e.reference,
        e.reason,
        e.key,
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


_EMPTY_QUEUE: Final = encode([])


@functools.lru_cache(maxsize=4096)
def _settings_text(settings: PositionSettings) -> str:
    return encode(settings)  # few distinct settings: each encoded once


def _position_row(ledger: Ledger, k: tuple[str, str]) -> Row:
    buckets, settings, queue = ledger.position_state(*k)
    queue_text = encode(queue) if queue else _EMPTY_QUEUE
    return (*k, *buckets, _settings_text(settings), queue_text)


class CachedStore(MemoryStore):
    """The in-memory store as the cache of a database laid out as :data:`KEYS` says.

    Subclasses say how to read rows (:meth:`_select`, :meth:`_select_entries`,
    :meth:`_select_ids`); :meth:`_load` reads them into the cache.
    """

    def _select(self, table: str, columns: str, keys: list[Any] | None) -> Iterator[Row]:
        """Rows of ``table`` (every row, or those with these keys), in creation order."""
        raise NotImplementedError

    def _select_entries(self, sequences: list[Any] | None) -> Iterator[Row]:
        """Ledger entries: exactly these ``sequences``, or (None) every one the cache lacks."""
        raise NotImplementedError

    def _select_ids(self) -> Any:
        """The ledger's id counters, as encoded text (or None if never written)."""
        raise NotImplementedError

    def _load(self, keys: Keys) -> None:
        """Read rows into the cache: every row (``keys`` None) or just these keys."""

        def only(table: str) -> list[Any] | None:
            return None if keys is None else keys.get(table, [])

        def wanted(table: str) -> bool:
            return keys is None or bool(keys.get(table))

        self._load_ledger(only, wanted, keys)
        self._load_tables(only, wanted)

    def _load_tables(
        self, only: Callable[[str], list[Any] | None], wanted: Callable[[str], bool]
    ) -> None:
        """Locations, orders, fulfilment orders, shipments, idempotency keys, capacity."""
        for name, rows in (("locations", self.locations), ("orders", self.orders)):
            if wanted(name):
                for (body,) in self._select(name, "body", only(name)):
                    row = decode(body)
                    rows[row.id] = row
        for table, index, name in (
            (self.fulfilment_orders, self.fulfilment_by_order, "fulfilment_orders"),
            (self.shipments, self.shipments_by_order, "shipments"),
        ):
            if wanted(name):
                for (body,) in self._select(name, "body", only(name)):
                    row = decode(body)
                    if row.id not in table:
                        index.setdefault(row.order_id, []).append(row.id)
                    table[row.id] = row
        self._load_keys_and_capacity(only, wanted)
        self.location_list = None

    def _load_keys_and_capacity(
        self, only: Callable[[str], list[Any] | None], wanted: Callable[[str], bool]
    ) -> None:
        if wanted("idempotency"):
            for key, fingerprint, result in self._select(
                "idempotency", "key, fingerprint, result", only("idempotency")
            ):
                self.idempotency[key] = (decode(fingerprint), decode(result))
        if wanted("capacity"):
            for location, day, used in self._select(
                "capacity", "location, day, used", only("capacity")
            ):
                self.capacity[(location, date.fromisoformat(day))] = used

    def _load_ledger(
        self,
        only: Callable[[str], list[Any] | None],
        wanted: Callable[[str], bool],
        keys: Keys,
    ) -> None:
        def keys_of(table: str) -> list[Any]:
            if not wanted(table):
                return []
            return [r[0] for r in self._select(table, KEYS[table][0], only(table))]

        # Entries are append-only: a store that does not log which ones a commit wrote
        # (no "entries" key) reads every entry the cache lacks. Read before positions:
        # in separate statements (a host's READ COMMITTED transaction) every entry then
        # finds its position.
        logged = None if keys is None else keys.get("entries")
        entries = [_entry(row) for row in self._select_entries(logged)]
        positions = {}
        if wanted("positions"):
            columns = ", ".join((*KEYS["positions"], *COLUMNS["positions"]))
            for row in self._select("positions", columns, only("positions")):
                positions[(row[0], row[1])] = (row[2:8], decode(row[8]), decode(row[9]))
        rows: dict[str, dict[str, Any]] = {name: {} for name in LEDGER_TABLES}
        if wanted("ledger_rows"):
            for tbl, key, body in self._select(
                "ledger_rows", "tbl, key, body", only("ledger_rows")
            ):
                rows[tbl][key] = decode(body)
        ids = self._select_ids()
        self.ledger.install(
            locations=keys_of("ledger_locations"),
            skus=keys_of("skus"),
            positions=positions,
            entries=entries,
            rows=rows,
            ids=decode(ids) if ids else None,
        )
