"""SQLite storage: durable, embedded, safe for several processes sharing one file.

>>> import tempfile, pathlib
>>> from omsims import Oms, Location
>>> path = pathlib.Path(tempfile.mkdtemp()) / "shop.db"
>>> oms = Oms(SqliteStore(path))
>>> _ = oms.add_location(Location("berlin-dc"))
>>> _ = oms.receive("MUG", "berlin-dc", 5)
>>> oms.close()
>>> Oms(SqliteStore(path)).available("MUG", "berlin-dc")  # a new process sees it
5

How it works. Each process keeps the whole state in memory (the in-memory adapter,
:class:`~omsims.adapters.memory.MemoryStore`) as a cache of the database. A command is
one SQLite transaction begun with ``BEGIN IMMEDIATE``, so writers queue on the file's
lock (with a busy timeout) instead of failing: inside it, the process first brings its
cache up to date with whatever other processes committed (every row carries the
version of the commit that wrote it), runs the command on the cache, then writes what
the command changed (new ledger entries, changed balances and rows, orders, events) and
commits. A command that fails writes nothing, in memory or on disk. The file is in WAL
mode with ``synchronous=FULL`` by default (``NORMAL`` is faster and loses at most the
last commits on power loss, never consistency).

Ledger entries are append-only in the database too: triggers refuse updates and deletes.
Values are stored as typed JSON (:mod:`omsims.adapters.codec`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from omsims.adapters._stored import (
    COLUMNS,
    KEYS,
    CachedStore,
    Read,
    Row,
    entry_row,
    hashable_key,
    logged_keys,
    new_stamp,
    written_rows,
)
from omsims.adapters.codec import dumps, encode
from omsims.adapters.memory import MemoryUnitOfWork
from omsims.domain.events import Event
from omsims.errors import ConflictError, PersistenceError, ValidationError

__all__ = ["SCHEMA_VERSION", "SqliteStore", "SqliteUnitOfWork", "migrate"]


_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE ledger_locations (id TEXT PRIMARY KEY, version INTEGER NOT NULL);
    CREATE TABLE skus (sku TEXT PRIMARY KEY, version INTEGER NOT NULL);
    CREATE TABLE positions (
        sku TEXT NOT NULL, location TEXT NOT NULL,
        on_hand INTEGER NOT NULL, committed INTEGER NOT NULL, reserved INTEGER NOT NULL,
        unavailable INTEGER NOT NULL, incoming INTEGER NOT NULL, backordered INTEGER NOT NULL,
        settings TEXT NOT NULL, queue TEXT NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (sku, location)
    );
    CREATE TABLE entries (
        sequence INTEGER PRIMARY KEY, at TEXT NOT NULL, sku TEXT NOT NULL,
        location TEXT NOT NULL, kind TEXT NOT NULL, quantity INTEGER NOT NULL,
        reference TEXT, reason TEXT, key TEXT
    );
    CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
    CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
    CREATE TABLE ledger_rows (
        tbl TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (tbl, key)
    );
    CREATE TABLE locations (id TEXT PRIMARY KEY, body TEXT NOT NULL, version INTEGER NOT NULL);
    CREATE TABLE orders (id TEXT PRIMARY KEY, body TEXT NOT NULL, version INTEGER NOT NULL);
    CREATE TABLE fulfilment_orders (
        id TEXT PRIMARY KEY, order_id TEXT NOT NULL, body TEXT NOT NULL,
        version INTEGER NOT NULL
    );
    CREATE TABLE shipments (
        id TEXT PRIMARY KEY, order_id TEXT NOT NULL, body TEXT NOT NULL,
        version INTEGER NOT NULL
    );
    CREATE TABLE idempotency (
        key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, result TEXT NOT NULL,
        version INTEGER NOT NULL
    );
    CREATE TABLE capacity (
        location TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL,
        version INTEGER NOT NULL, PRIMARY KEY (location, day)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, body TEXT NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE delivered = 0;
    -- One row per commit: its random stamp and the keys it wrote, so other processes
    -- read back exactly those rows (old rows are pruned; a cache older than the oldest
    -- left is rebuilt whole).
    CREATE TABLE changes (version INTEGER PRIMARY KEY, stamp TEXT NOT NULL, keys TEXT NOT NULL);
    INSERT INTO meta VALUES ('version', '0'), ('ids', 'null');
    """,
    # 2: what a unit cost on a receipt (valuation): its exact decimal text and currency.
    """
    ALTER TABLE entries ADD COLUMN unit_cost TEXT;
    ALTER TABLE entries ADD COLUMN unit_cost_currency TEXT;
    """,
)

SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this code writes; older files are migrated when opened."""

_SYNCHRONOUS: Final = ("OFF", "NORMAL", "FULL", "EXTRA")


def migrate(connection: sqlite3.Connection) -> int:
    """Bring a database up to :data:`SCHEMA_VERSION`; returns the version it was at.

    Each migration runs in its own transaction, recorded in ``PRAGMA user_version``.
    """
    found: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise PersistenceError(
            f"the database has schema version {found}, newer than this omsims ({SCHEMA_VERSION})"
        )
    for number in range(found, SCHEMA_VERSION):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(_MIGRATIONS[number]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script (triggers keep their inner semicolons)."""
    buffer = ""
    for line in script.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""


class SqliteStore(CachedStore):
    """A SQLite database file, with this process's cache of it; call it for a unit of work.

    Args:
        path: the database file (created, and its schema migrated, if needed).
        synchronous: ``"FULL"`` (default: a commit survives power loss) or ``"NORMAL"``
            (faster; in WAL mode the last commits may be lost on power loss, never the
            database's consistency).
        busy_timeout: seconds a command waits for another process's write to finish
            before failing with ``PersistenceError``.
        connection: an open ``sqlite3`` connection to use instead (for a host that runs
            omsims inside its own transaction: omsims then neither begins, commits nor
            closes it; see docs/storage.md).
        cached_orders: at most this many orders (and idempotency keys) kept in memory;
            older ones are read back from the file when asked for (see
            :meth:`~omsims.adapters._stored.CachedStore.trim`). ``None`` (default): all.
    """

    # A local read; and files written by omsims before commits logged "ids" exist.
    always_read_ids = True

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 30.0,
        connection: sqlite3.Connection | None = None,
        cached_orders: int | None = None,
    ) -> None:
        """Open (or create) the database and load it; see the class docstring."""
        super().__init__(cached_orders=cached_orders)
        if (path is None) == (connection is None):
            raise ValidationError("give SqliteStore a path or a connection, not both")
        if synchronous not in _SYNCHRONOUS:
            raise ValidationError(f"synchronous must be one of {_SYNCHRONOUS}, got {synchronous!r}")
        self.owns_connection = connection is None
        self.host_commits = not self.owns_connection  # the host's commit makes ours final
        try:
            if connection is None:
                connection = sqlite3.connect(
                    str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(f"PRAGMA synchronous={synchronous}")
            self.connection = connection
            self.synchronous = synchronous
            if self.owns_connection:
                migrate(connection)
            self.version = 0
            self.stamp = ""
            with self.lock, self._snapshot():
                self.refresh()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def __call__(self) -> SqliteUnitOfWork:
        """A new unit of work: one SQLite transaction."""
        return SqliteUnitOfWork(self)

    @contextmanager
    def read(self) -> Iterator[MemoryUnitOfWork]:
        """A unit of work to read in: a snapshot of the file, without the write lock.

        Other processes keep writing meanwhile (WAL); this process's cache catches up
        first, so a query sees every commit made before it began.
        """
        with self.lock:
            try:
                with self._snapshot():
                    self.refresh()
                    yield MemoryUnitOfWork(self)
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """A read transaction of our own, unless a host's is open (then read in that)."""
        if not self.owns_connection and self.connection.in_transaction:
            yield
            return
        # Ours writes nothing, so committing it commits nothing of a host's; the rows
        # read inside it belong together.
        self.connection.execute("BEGIN")
        try:
            yield
        finally:
            self.connection.execute("COMMIT")

    def close(self) -> None:
        """Write the outstanding delivery marks, then close the connection if ours."""
        self.outbox.flush()
        if self.owns_connection:
            self.connection.close()

    # -- the outbox's storage ---------------------------------------------------------------

    def _outbox_rows(self, limit: int) -> list[Row]:
        try:
            return self.connection.execute(
                "SELECT id, body FROM outbox WHERE delivered = 0 ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _write_marks(self) -> int:
        count = len(self.delivered)
        if count:
            self.connection.executemany(
                "UPDATE outbox SET delivered = 1 WHERE id = ?", ((i,) for i in self.delivered)
            )
        return count

    def _flush_marks(self) -> None:
        if not self.owns_connection and not self.connection.in_transaction:
            return  # the host's next transaction with omsims in it writes them
        try:
            with self._transaction():
                marks = self._write_marks()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        del self.delivered[:marks]

    def _delete_delivered(self, keep: int) -> int:
        try:
            with self._transaction():
                cursor = self.connection.execute(
                    "DELETE FROM outbox WHERE delivered = 1 AND id <= "
                    "(SELECT COALESCE(MAX(id), 0) FROM outbox) - ?",
                    (keep,),
                )
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        return cursor.rowcount

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write transaction of our own, or (on a host's connection) a savepoint in theirs."""
        self.begin()
        try:
            yield
        except BaseException:
            self.end(commit=False)
            raise
        self.end(commit=True)

    def begin(self) -> None:
        """Begin a write transaction (or a savepoint on a host's connection)."""
        if self.owns_connection:
            self.connection.execute("BEGIN IMMEDIATE")
            return
        if not self.connection.in_transaction:
            # A savepoint outside a transaction would begin one that its release commits:
            # omsims never commits a connection it did not open.
            raise PersistenceError(
                "the host's connection has no open transaction: begin one first (omsims "
                "runs inside it and leaves committing to the host)"
            )
        self.connection.execute("SAVEPOINT omsims")

    def end(self, *, commit: bool) -> None:
        """Commit or roll back what :meth:`begin` began."""
        conn = self.connection
        if self.owns_connection:
            if commit:
                conn.execute("COMMIT")
            elif conn.in_transaction:  # a dropped connection may have ended it already
                conn.execute("ROLLBACK")
        elif commit:
            conn.execute("RELEASE omsims")
        else:
            conn.execute("ROLLBACK TO omsims")
            conn.execute("RELEASE omsims")

    # -- reading the database into the cache -----------------------------------------------

    def refresh(self) -> None:
        """Bring the cache up to date with every commit since the last one it saw.

        Each commit logs the keys it wrote; the cache reads back just those rows. If the
        commit the cache last saw is no longer there (a host rolled back the transaction
        it ran omsims in, or the log was pruned past it), the cache is rebuilt whole.
        """
        conn = self.connection
        version = int(conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0])
        if version == self.version and self.owns_connection:
            return  # on our own connection a commit, once made, stays
        log = conn.execute(
            "SELECT version, stamp, keys FROM changes WHERE version >= ? ORDER BY version",
            (self.version,),
        ).fetchall()
        if self.version and (not log or log[0][0] != self.version or log[0][1] != self.stamp):
            self.forget()
            self.delivered.clear()  # marks for rows the host's rollback took away
        if version == self.version:
            return
        if not self.version:  # everything
            self._load(None)
        else:
            keys: dict[str, list[Any]] = {}
            for _, _, text in log[1:]:
                for table, written in json.loads(text).items():
                    keys.setdefault(table, []).extend(written)
            self._load(
                {table: list(dict.fromkeys(map(hashable_key, k))) for table, k in keys.items()}
            )
        self.location_list = None
        self.version = version
        self.stamp = conn.execute(
            "SELECT stamp FROM changes WHERE version = ?", (version,)
        ).fetchone()[0]

    def forget(self) -> None:
        """Drop the cache: the next refresh reads the whole database again."""
        self.clear()
        self.version, self.stamp = 0, ""

    def _select(self, table: str, columns: str, keys: list[Any] | None) -> Iterator[Row]:
        """Rows of ``table`` (all, or those with these keys), in rowid (creation) order."""
        conn = self.connection
        if keys is None:
            yield from conn.execute(f"SELECT {columns} FROM {table} ORDER BY rowid")  # noqa: S608
            return
        key = ", ".join(KEYS[table])
        width = len(KEYS[table])
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            if width == 1:
                marks = ", ".join("?" * len(chunk))
                params: list[Any] = list(chunk)
            else:
                marks = "VALUES " + ", ".join("(" + ", ".join("?" * width) + ")" for _ in chunk)
                params = [part for k in chunk for part in k]
            yield from conn.execute(
                f"SELECT {columns} FROM {table} WHERE ({key}) IN ({marks}) ORDER BY rowid",  # noqa: S608
                params,
            )

    def _read_unloaded(self, table: str, keys: list[Any]) -> None:
        try:
            super()._read_unloaded(table, keys)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _creation_order(self, table: str) -> list[Any]:
        try:
            rows = self.connection.execute(
                f"SELECT {KEYS[table][0]} FROM {table} ORDER BY rowid"  # noqa: S608 (fixed names)
            )
            return [key for (key,) in rows]
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _fetch(self, reads: list[Read]) -> list[list[Row]]:
        """Each read in turn.

        Entries: every one after the cache's last (the write lock makes sequences
        contiguous, so commits do not log their entries here).
        """
        conn = self.connection
        fetched: list[list[Row]] = []
        for table, columns, keys in reads:
            if table == "entries":
                fetched.append(
                    conn.execute(
                        f"SELECT {columns} FROM entries WHERE sequence > ? ORDER BY sequence",  # noqa: S608
                        (self.ledger.last_sequence,),
                    ).fetchall()
                )
            elif table == "ids":
                fetched.append(conn.execute("SELECT value FROM meta WHERE key='ids'").fetchall())
            else:
                fetched.append(list(self._select(table, columns, keys)))
        return fetched


class SqliteUnitOfWork(MemoryUnitOfWork):
    """One command: a SQLite write transaction around a unit of work on the cache."""

    def __init__(self, store: SqliteStore) -> None:
        """Prepare a unit of work; it begins when entered."""
        super().__init__(store)
        self.sqlite = store
        self._stored: list[Event] = []
        self._written = False  # the file's transaction committed

    def __enter__(self) -> Self:
        """Lock, begin the write transaction, catch up with other processes, then journal."""
        store = self.sqlite
        store.lock.acquire()
        try:
            store.begin()
            try:
                store.refresh()
                self._savepoint = self.ledger.savepoint()
            except BaseException:
                store.end(commit=False)
                raise
        except sqlite3.Error as exc:
            store.lock.release()
            raise _translate(exc) from exc
        except BaseException:
            store.lock.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed (in the file and the cache), then unlock."""
        store = self.sqlite
        try:
            if self._savepoint is not None:
                try:
                    if not self._written:
                        store.end(commit=False)
                finally:
                    self.rollback()
                    if self._written:
                        # Interrupted between the file's commit and the cache's: the file
                        # is right, so rebuild the cache from it on the next command.
                        store.forget()
        finally:
            store.lock.release()

    def commit(self) -> None:
        """Write what changed, commit the SQLite transaction, then keep the cache's changes."""
        store = self.sqlite
        assert self._savepoint is not None  # noqa: S101 (commit only inside the block)
        try:
            version = store.version + 1
            logged: dict[str, list[Any]] = {}
            self._write(version, logged)
            self._stored = self._write_outbox()
            marks = store._write_marks()  # noqa: SLF001 (same module)
            stamp = new_stamp()
            conn = store.connection
            conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(version),))
            conn.execute(
                "INSERT INTO changes VALUES (?, ?, ?)",
                (version, stamp, dumps(logged)),
            )
            if version % _PRUNE_EVERY == 0:
                conn.execute("DELETE FROM changes WHERE version <= ?", (version - _KEEP_CHANGES,))
            store.end(commit=True)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        self._written = True
        del store.delivered[:marks]
        store.version, store.stamp = version, stamp
        super().commit()
        self._committed = self._stored
        store.trim()

    # -- writing --------------------------------------------------------------------------

    def _write(self, version: int, logged: dict[str, list[Any]]) -> None:
        """Write what the command changed, and note each key in ``logged`` for the log."""
        assert self._savepoint is not None  # noqa: S101
        conn = self.sqlite.connection
        changes = self.ledger.changes(self._savepoint)
        for table, rows in written_rows(self, changes).items():
            if not rows:  # most commands touch few tables
                continue
            logged[table] = logged_keys(table, rows)
            conn.executemany(_UPSERTS[table], [(*row, version) for row in rows])
        if changes.entries:
            conn.executemany(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [entry_row(e) for e in changes.entries],
            )
        if changes.ids is not None:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'ids'", (encode(changes.ids),))
            logged["ids"] = [1]

    def _write_outbox(self) -> list[Event]:
        """The events, written to the outbox in this transaction, each with its row's id."""
        if not self._events:
            return []
        conn = self.sqlite.connection
        # The write lock is ours until commit: number the rows ourselves, one insert for all.
        last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        first = (last[0] if last else 0) + 1
        rows = []
        for n, event in enumerate(self._events, first):
            # Numbered in place: the events were made by this command and nobody else
            # holds them yet (attrs itself sets frozen fields this way).
            object.__setattr__(event, "id", f"evt-{n}")
            rows.append((n, event.name, encode(event)))
        conn.executemany("INSERT INTO outbox (id, name, body) VALUES (?, ?, ?)", rows)
        return list(self._events)


_KEEP_CHANGES: Final = 100_000  # commits kept in the change log; an older cache reloads
_PRUNE_EVERY: Final = 1_000


def _upsert(table: str) -> str:
    """An insert that updates a row in place (keeping its rowid, so creation order)."""
    key, columns = KEYS[table], COLUMNS[table]
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*columns, "version"))
    marks = ", ".join("?" * (len(key) + len(columns) + 1))
    return (
        f"INSERT INTO {table} VALUES ({marks}) "  # noqa: S608 (fixed names only)
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


_UPSERTS: Final = {table: _upsert(table) for table in KEYS}


def _translate(exc: sqlite3.Error) -> Exception:
    """The omsims error for a driver error: what failed, in the library's terms."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return PersistenceError(f"the database stayed locked by another writer: {text}")
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"the database refused a write as inconsistent: {text}")
    return PersistenceError(f"SQLite failed: {type(exc).__name__}: {text}")
