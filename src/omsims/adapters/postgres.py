"""PostgreSQL storage: many processes on many machines, one database, and no global lock.

Needs the ``postgres`` extra (``pip install omsims[postgres]``: psycopg 3)::

    from omsims import Oms
    oms = Oms.postgres("postgresql://shop@db.internal/shop")

How it works. Like the SQLite store, each process keeps the whole state in memory as a
cache of the database (:class:`~omsims.adapters._stored.CachedStore`), and a command runs
on the cache. Unlike SQLite, writers do not queue on one lock. Concurrency control is
optimistic with ordered row locks:

1. Before a command, the process reads what other processes committed since it last
   looked (each commit logs the keys it wrote, with its transaction id; see
   :meth:`PostgresStore.refresh`).
2. The command runs on the cache, outside any database transaction.
3. At commit, one transaction locks every row the command writes with ``SELECT ... FOR
   UPDATE``, table by table in a fixed order and by key within a table, so two commands
   never wait for each other in a cycle. Every row carries a version; if a locked row's
   version is not the one the cache read (another process wrote it meanwhile), or a row
   the cache thought new exists, nothing is written and the command fails with
   :class:`~omsims.errors.StaleRead`. The Oms then runs it again on fresh state, a
   bounded number of times (``attempts``).
4. Otherwise it writes the changed rows, the new ledger entries (append-only: a trigger
   refuses updates and deletes), the events (the outbox), and the log row; and commits.

So two orders for different stock never wait for each other, and two orders for the
same last unit cannot both commit: the second finds the position's version moved.
Ledger entries are numbered from a shared sequence in blocks per process (see
:class:`~omsims.domain.ledger.SequenceSource`). Every table lives in the ``omsims``
schema; :func:`migrate` creates and upgrades it (``omsims db migrate postgresql://...``).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, cast

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

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
from omsims.adapters.codec import decode, encode
from omsims.adapters.memory import MemoryUnitOfWork
from omsims.domain.events import Event
from omsims.errors import ConflictError, PersistenceError, StaleRead, ValidationError

__all__ = ["SCHEMA_VERSION", "PostgresStore", "PostgresUnitOfWork", "migrate"]

_VERSIONED: Final = ", version bigint NOT NULL, created bigint GENERATED ALWAYS AS IDENTITY"

_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the first schema. Keys compare bytewise (COLLATE "C"), as Python sorts them,
    # so every process locks rows in the same order.
    f"""
    CREATE TABLE omsims.meta (key text PRIMARY KEY, value text NOT NULL);
    INSERT INTO omsims.meta VALUES ('pruned_below', '0');
    CREATE TABLE omsims.ledger_locations (id text COLLATE "C" PRIMARY KEY{_VERSIONED});
    CREATE TABLE omsims.skus (sku text COLLATE "C" PRIMARY KEY{_VERSIONED});
    CREATE TABLE omsims.positions (
        sku text COLLATE "C" NOT NULL, location text COLLATE "C" NOT NULL,
        on_hand bigint NOT NULL, committed bigint NOT NULL, reserved bigint NOT NULL,
        unavailable bigint NOT NULL, incoming bigint NOT NULL, backordered bigint NOT NULL,
        settings text NOT NULL, queue text NOT NULL{_VERSIONED},
        PRIMARY KEY (sku, location)
    );
    CREATE TABLE omsims.ledger_rows (
        tbl text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, body text NOT NULL
        {_VERSIONED}, PRIMARY KEY (tbl, key)
    );
    CREATE TABLE omsims.ids (id int PRIMARY KEY CHECK (id = 1), body text NOT NULL,
        version bigint NOT NULL);
    CREATE TABLE omsims.locations (id text COLLATE "C" PRIMARY KEY, body text NOT NULL
        {_VERSIONED});
    CREATE TABLE omsims.orders (id text COLLATE "C" PRIMARY KEY, body text NOT NULL
        {_VERSIONED});
    CREATE TABLE omsims.fulfilment_orders (
        id text COLLATE "C" PRIMARY KEY, order_id text NOT NULL, body text NOT NULL
        {_VERSIONED}
    );
    CREATE INDEX fulfilment_orders_by_order ON omsims.fulfilment_orders (order_id);
    CREATE TABLE omsims.shipments (
        id text COLLATE "C" PRIMARY KEY, order_id text NOT NULL, body text NOT NULL
        {_VERSIONED}
    );
    CREATE INDEX shipments_by_order ON omsims.shipments (order_id);
    CREATE TABLE omsims.idempotency (
        key text COLLATE "C" PRIMARY KEY, fingerprint text NOT NULL, result text NOT NULL
        {_VERSIONED}
    );
    CREATE TABLE omsims.capacity (
        location text COLLATE "C" NOT NULL, day text COLLATE "C" NOT NULL,
        used bigint NOT NULL{_VERSIONED}, PRIMARY KEY (location, day)
    );
    CREATE TABLE omsims.entries (
        sequence bigint PRIMARY KEY, at text NOT NULL, sku text NOT NULL,
        location text NOT NULL, kind text NOT NULL, quantity bigint NOT NULL,
        reference text, reason text, key text
    );
    CREATE FUNCTION omsims.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$;
    CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON omsims.entries
        FOR EACH ROW EXECUTE FUNCTION omsims.append_only();
    CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON omsims.entries
        FOR EACH STATEMENT EXECUTE FUNCTION omsims.append_only();
    -- Entry numbers come in blocks of 1,000 per process (see SequenceSource).
    CREATE SEQUENCE omsims.entry_blocks;
    CREATE SEQUENCE omsims.outbox_ids;
    CREATE TABLE omsims.outbox (
        id bigint PRIMARY KEY, name text NOT NULL, body text NOT NULL,
        delivered boolean NOT NULL DEFAULT false
    );
    CREATE INDEX outbox_pending ON omsims.outbox (id) WHERE NOT delivered;
    -- One row per commit: its transaction id, a random stamp and the keys it wrote, so
    -- other processes read back exactly those rows (see PostgresStore.refresh).
    CREATE TABLE omsims.changes (xid bigint NOT NULL, stamp text NOT NULL, keys text NOT NULL);
    CREATE INDEX changes_by_xid ON omsims.changes (xid);
    """,  # noqa: S608 (fixed text)
    # 2: what a unit cost on a receipt (valuation): an exact numeric and its currency.
    # Nullable, without a default: PostgreSQL adds them without rewriting the table.
    """
    ALTER TABLE omsims.entries ADD COLUMN unit_cost numeric,
        ADD COLUMN unit_cost_currency text;
    """,
)

SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this code writes; :func:`migrate` brings a database up to it."""

_MIGRATION_LOCK: Final = 0x6F6D73696D73  # "omsims": one migrator at a time
_BLOCK: Final = 1_000  # entry numbers a process takes at once
_KEEP_CHANGES: Final = 100_000  # commits kept in the change log; an older cache reloads
_PRUNE_EVERY: Final = 1_000  # own commits between prunings of the change log


def migrate(connection: psycopg.Connection[Any]) -> int:
    """Create or upgrade the ``omsims`` schema to :data:`SCHEMA_VERSION`; returns the old version.

    Each migration is one transaction; an advisory lock keeps two processes that start at
    once from migrating together. The connection must not be inside a transaction.
    """
    try:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            connection.execute("CREATE SCHEMA IF NOT EXISTS omsims")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS omsims.schema_version (version int NOT NULL)"
            )
            row = connection.execute("SELECT version FROM omsims.schema_version").fetchone()
            if row is None:
                connection.execute("INSERT INTO omsims.schema_version VALUES (0)")
            found: int = 0 if row is None else row[0]
            if found > SCHEMA_VERSION:
                raise PersistenceError(
                    f"the database has omsims schema version {found}, newer than this "
                    f"omsims ({SCHEMA_VERSION})"
                )
            for number in range(found, SCHEMA_VERSION):
                connection.execute(_MIGRATIONS[number].encode())
                connection.execute("UPDATE omsims.schema_version SET version = %s", (number + 1,))
    except psycopg.Error as exc:
        raise _translate(exc) from exc
    return found


def schema_version(connection: psycopg.Connection[Any]) -> int:
    """The omsims schema version of a database (0 if it has none)."""
    try:
        row = connection.execute(
            "SELECT to_regclass('omsims.schema_version') IS NOT NULL"
        ).fetchone()
        if not row or not row[0]:
            return 0
        found = connection.execute("SELECT version FROM omsims.schema_version").fetchone()
    except psycopg.Error as exc:
        raise _translate(exc) from exc
    return 0 if found is None else int(found[0])


class _Blocks:
    """Entry numbers for this process: a block of 1,000 at a time from a shared sequence.

    Blocks only grow, so a fresh block is above every number any process took before it;
    when a position's newest entry is above the current block, a fresh block is taken.
    """

    def __init__(self, store: PostgresStore) -> None:
        self._store = cast("PostgresStore", weakref.proxy(store))  # the store holds the blocks
        self._next = 1
        self._end = 0  # the block is [next, end]

    def next_after(self, floor: int) -> int:
        if self._next <= floor or self._next > self._end:
            try:
                block: int = self._store.connection.execute(
                    "SELECT nextval('omsims.entry_blocks')"
                ).fetchone()[0]  # type: ignore[index]
            except psycopg.Error as exc:
                raise _translate(exc) from exc
            self._next, self._end = (block - 1) * _BLOCK + 1, block * _BLOCK
            if self._next <= floor:  # a floor from a block we have not seen: impossible
                msg = f"entry block {block} starts at or below {floor}"
                raise PersistenceError(msg)
        n = self._next
        self._next += 1
        return n


class PostgresStore(CachedStore):
    """A PostgreSQL database, with this process's cache of it; call it for a unit of work.

    Args:
        conninfo: a libpq connection string or URL (``postgresql://user@host/db``). The
            schema is created or upgraded on opening (see :func:`migrate`).
        attempts: how many times the Oms runs a command that another process's commit
            made stale before it raises :class:`~omsims.errors.StaleRead`.
        lock_timeout: seconds a commit waits for a row another transaction holds before
            failing with ``PersistenceError``.
        connection: an open psycopg connection to use instead, for a host that runs
            omsims inside its own transaction: omsims then neither begins, commits nor
            closes it, and expects the schema to be migrated already (docs/storage.md).
        cached_orders: at most this many orders (and idempotency keys) kept in memory;
            older ones are read back from the database when asked for (see
            :meth:`~omsims.adapters._stored.CachedStore.trim`). ``None`` (default): all.

    Durability is PostgreSQL's: with ``synchronous_commit = on`` (the server's default)
    a command is on disk when it returns.
    """

    def __init__(
        self,
        conninfo: str | None = None,
        *,
        attempts: int = 30,
        lock_timeout: float = 30.0,
        connection: psycopg.Connection[Any] | None = None,
        cached_orders: int | None = None,
    ) -> None:
        """Connect (or take the host's connection) and load the database; see the class."""
        if (conninfo is None) == (connection is None):
            raise ValidationError("give PostgresStore a conninfo or a connection, not both")
        if type(attempts) is not int or not 1 <= attempts <= 1_000:
            raise ValidationError(f"attempts must be an int from 1 to 1000, got {attempts!r}")
        self.attempts = attempts
        self.lock_timeout = lock_timeout
        self.conninfo = conninfo
        self.owns_connection = connection is None
        self.host_commits = not self.owns_connection  # the host's commit makes ours final
        self.blocks = _Blocks(self)
        super().__init__(self.blocks, cached_orders=cached_orders)
        self.versions: dict[tuple[str, Any], int] = {}  # (table, key) -> version cached
        self.watermark = 0  # every transaction below this id had ended when last read
        self.seen: set[int] = set()  # commits at or above the watermark already read
        # Own commits inside a host's transaction, by xid: their stamps, until the host's
        # commit is seen (a rollback, even to a savepoint of the host's, means reloading).
        self.unconfirmed: dict[int, list[str]] = {}
        self.must_reload = False  # a commit found the cache holding a row that is gone
        self.stale: dict[str, set[Any]] = {}  # rows to read again (a commit found them moved)
        self.commits = 0
        if connection is None:
            connection = self._connect()
        self.connection = connection
        try:
            if self.owns_connection:
                migrate(connection)
            with self.lock:
                self.refresh()
        except BaseException:
            if self.owns_connection:
                connection.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        assert self.conninfo is not None  # noqa: S101 (only for a store that owns it)
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True)
            conn.execute(
                "SELECT set_config('lock_timeout', %s, false)",
                (f"{int(self.lock_timeout * 1000)}ms",),
            )
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        return conn

    def __call__(self) -> PostgresUnitOfWork:
        """A new unit of work: a command on the cache, committed in one transaction."""
        return PostgresUnitOfWork(self)

    @contextmanager
    def read(self) -> Iterator[MemoryUnitOfWork]:
        """A unit of work to read in: the cache, first brought up to date. Takes no locks."""
        with self.lock:
            self.refresh()
            yield MemoryUnitOfWork(self)

    def close(self) -> None:
        """Write outstanding delivery marks, then close the connection if it is ours."""
        try:
            self.outbox.flush()
        finally:
            if self.owns_connection:
                self.connection.close()

    def _forget_version(self, table: str, key: Any) -> None:
        """A row left the cache (unread now): reading it back notes its version anew."""
        self.versions.pop((table, key), None)

    def forget(self) -> None:
        """Drop the cache: the next refresh reads the whole database again.

        Own commits still waiting for a host's commit stay watched: if the host rolls
        back later, the reloaded cache (which read them in the host's transaction) is
        dropped again.
        """
        self.clear()
        self.versions.clear()
        self.watermark = 0
        self.seen.clear()
        self.stale.clear()
        self.must_reload = False

    # -- connections and transactions -------------------------------------------------------

    def usable(self) -> None:
        """Reconnect a connection of ours that broke (the cache is then read again)."""
        if self.owns_connection and self.connection.closed:
            self.forget()
            self.connection = self._connect()

    def broke(self, exc: psycopg.Error) -> Exception:
        """The omsims error for ``exc``.

        After a lost connection a commit may or may not have landed: only the database
        knows. :meth:`usable` then reconnects and reads the cache again whole.
        """
        return _translate(exc)

    def begin(self) -> None:
        """Begin a write transaction (a savepoint inside a host's)."""
        conn = self.connection
        if self.owns_connection:
            conn.execute("BEGIN")
        elif conn.autocommit and conn.info.transaction_status != TransactionStatus.INTRANS:
            # Each statement would commit on its own: omsims never commits a host's work.
            raise PersistenceError(
                "the host's connection is in autocommit mode with no open transaction: "
                "begin one first (omsims runs inside it and leaves committing to the host)"
            )
        else:  # on a psycopg connection out of autocommit, this begins the host's transaction
            conn.execute("SAVEPOINT omsims")

    def finish(self) -> None:
        """Commit what :meth:`begin` began (queued, inside a pipeline)."""
        self.connection.execute("COMMIT" if self.owns_connection else "RELEASE omsims")

    def end(self, *, commit: bool) -> None:
        """Commit or roll back what :meth:`begin` began (a no-op if it is already over)."""
        conn = self.connection
        if conn.closed:
            return
        if self.owns_connection:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("COMMIT" if commit else "ROLLBACK")
        elif commit:
            conn.execute("RELEASE omsims")
        elif conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK TO omsims")
            conn.execute("RELEASE omsims")

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """A repeatable-read snapshot of our own to read in (or the host's transaction)."""
        conn = self.connection
        if not self.owns_connection:
            if conn.info.transaction_status == TransactionStatus.INTRANS:
                yield  # read in the host's transaction, as the host sees the database
            else:
                with conn.transaction():  # ours, and it writes nothing
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    yield
            return
        # Our own: _refresh begins it, in one round trip with its first read, and
        # _fetch ends it with its last; whatever is left open is ended here.
        try:
            yield
        finally:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("COMMIT")

    # -- reading the database into the cache -----------------------------------------------

    def refresh(self) -> None:
        """Bring the cache up to date with every commit since it last looked.

        Commits log their transaction id (xid) and the keys they wrote. Ids are handed
        out when transactions start, not when they commit, so a reader cannot simply
        take "every id above the last one read": a transaction with a lower id may
        commit later. Instead the reader keeps the oldest transaction still running when
        it last looked (the snapshot's xmin, the watermark), reads every logged commit at
        or above it, and remembers which of those it has read already. A commit not yet
        visible is still running, so its id is at or above the new watermark and the
        next look finds it. A cache older than the pruned log is read again whole.
        """
        self.usable()
        if self.must_reload:
            self.forget()
        try:
            if self.owns_connection and self.watermark and not self.stale:
                # One statement sees one snapshot: usually nothing new, one round trip.
                row = self.connection.execute(
                    _HEAD, {"since": self.watermark, "keys": False}
                ).fetchone()
                assert row is not None  # noqa: S101
                xmin, pruned_below, logged, _ = row
                if self.watermark >= pruned_below and self.seen.issuperset(logged):
                    self.seen = {x for x in self.seen if x >= xmin}
                    self.watermark = xmin
                    return
            with self._snapshot():
                self._refresh()
        except BaseException as exc:
            # Half-read: which commits the cache holds is no longer known. Start over.
            self.forget()
            if isinstance(exc, psycopg.Error):
                raise self.broke(exc) from exc
            raise

    def _refresh(self) -> None:
        """Read the log, then the rows it names (or every row, for an empty cache).

        The log first: in a host's READ COMMITTED transaction each statement sees the
        database anew, so a commit that lands between the log and the rows is read
        again next time (reading is idempotent), never half-read and forgotten.
        """
        conn = self.connection
        with conn.pipeline():
            if self.owns_connection:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            head = conn.execute(_HEAD, {"since": self.watermark, "keys": bool(self.watermark)})
        row = head.fetchone()
        assert row is not None  # noqa: S101
        xmin, pruned_below, xids, texts = row
        if self.unconfirmed:
            self._confirm_own_commits()
        if self.watermark and self.watermark < pruned_below:
            self.forget()
        full = not self.watermark
        seen, keys = self._unread(xids, texts, xmin if full else None)
        for table, stale in self.stale.items():
            keys.setdefault(table, []).extend(stale)
        if full:
            self._load(None)
        elif len(keys) > 1 or keys["entries"]:
            self._load({t: list(dict.fromkeys(map(hashable_key, k))) for t, k in keys.items()})
        self.stale.clear()
        self.seen = {x for x in seen if x >= xmin}
        self.watermark = xmin

    def _unread(
        self, xids: list[int], texts: list[str | None] | None, full_from: int | None
    ) -> tuple[set[int], dict[str, list[Any]]]:
        """The commits seen once these are read, and the keys the unread ones wrote.

        For a full read (``full_from``: the snapshot's xmin) only which commits at or
        above it the read will include matters; the rows are read whole anyway.
        """
        seen = set(self.seen)
        keys: dict[str, list[Any]] = {"entries": []}
        for xid, text in zip(xids, texts or [None] * len(xids), strict=True):
            if xid in seen or xid in self.unconfirmed:
                continue
            if full_from is not None:
                if xid >= full_from:
                    seen.add(xid)
                continue
            seen.add(xid)
            if text is not None:  # always, for a read of what changed
                for table, written in decode(text).items():
                    keys.setdefault(table, []).extend(written)
        return seen, keys

    def _confirm_own_commits(self) -> None:
        """Inside a host's transactions: did the host commit what omsims wrote, or not?

        A host may roll back its whole transaction (the xid is aborted) or only to a
        savepoint of its own around omsims's work (the xid commits, but without the
        log rows omsims wrote): either way the cache holds what never happened.
        """
        conn = self.connection
        statuses = conn.execute(
            "SELECT x, pg_xact_status(x::text::xid8) FROM unnest(%s::bigint[]) AS x",
            (list(self.unconfirmed),),
        ).fetchall()
        stamps = [stamp for written in self.unconfirmed.values() for stamp in written]
        present = {
            stamp
            for (stamp,) in conn.execute(
                "SELECT stamp FROM omsims.changes WHERE stamp = ANY(%s)", (stamps,)
            )
        }
        undone = False
        for xid, status in statuses:
            if status == "aborted" or not present.issuperset(self.unconfirmed[xid]):
                del self.unconfirmed[xid]
                undone = True
            elif status != "in progress":  # committed (or too old to tell: long over)
                del self.unconfirmed[xid]
                self.seen.add(xid)
        if undone:
            self.forget()

    def _fetch(self, reads: list[Read]) -> list[list[Row]]:
        """Every read in one round trip (a pipeline); notes each row's version."""
        conn = self.connection
        # Inside the refresh's snapshot, the last read ends it; rows a command asks for
        # later are read outside any transaction (on our connection) or in the host's.
        ending = self.owns_connection and conn.info.transaction_status != TransactionStatus.IDLE
        with conn.pipeline() as pipeline:
            cursors = [self._query(table, columns, keys) for table, columns, keys in reads]
            if ending:
                conn.execute("COMMIT")
            pipeline.sync()
        fetched: list[list[Row]] = []
        versions = self.versions
        for (table, columns, _), cursor in zip(reads, cursors, strict=True):
            rows = cursor.fetchall() if cursor is not None else []
            if table == "entries":
                fetched.append(rows)
            elif table == "ids":
                for _body, version in rows:
                    versions[("ids", 1)] = version
                fetched.append([(body,) for body, _ in rows])
            else:
                width = len(KEYS[table])
                shown = len(columns.split(","))
                for row in rows:
                    versions[(table, row[-1] if width == 1 else tuple(row[-width:]))] = row[shown]
                fetched.append([row[:shown] for row in rows])
        return fetched

    def _query(
        self, table: str, columns: str, keys: list[Any] | None
    ) -> psycopg.Cursor[Any] | None:
        """Send one read (inside a pipeline); None when there is nothing to read."""
        conn = self.connection
        if keys is not None and not keys:
            return None
        if table == "entries":
            sql = f"SELECT {columns} FROM omsims.entries"  # noqa: S608
            if keys is None:
                return conn.execute(f"{sql} ORDER BY sequence")
            return conn.execute(f"{sql} WHERE sequence = ANY(%s) ORDER BY sequence", (keys,))
        if table == "ids":
            return conn.execute("SELECT body, version FROM omsims.ids")
        key = KEYS[table]
        sql = f"SELECT {columns}, version, {', '.join(key)} FROM omsims.{table}"  # noqa: S608
        if keys is None:
            return conn.execute(f"{sql} ORDER BY created")
        return conn.execute(
            f"{sql} WHERE {_matching(key)} ORDER BY created", _key_columns(key, keys)
        )

    def _read_unloaded(self, table: str, keys: list[Any]) -> None:
        try:
            super()._read_unloaded(table, keys)
        except psycopg.Error as exc:
            raise self.broke(exc) from exc

    def _creation_order(self, table: str) -> list[Any]:
        try:
            rows = self.connection.execute(
                f"SELECT {KEYS[table][0]} FROM omsims.{table} ORDER BY created"  # noqa: S608
            ).fetchall()
        except psycopg.Error as exc:
            raise self.broke(exc) from exc
        return [key for (key,) in rows]

    # -- the outbox's storage ---------------------------------------------------------------

    def _outbox_rows(self, limit: int) -> list[Row]:
        try:
            self.usable()
            return self.connection.execute(
                "SELECT id, body FROM omsims.outbox WHERE NOT delivered ORDER BY id LIMIT %s",
                (limit,),
            ).fetchall()
        except psycopg.Error as exc:
            raise self.broke(exc) from exc

    def _write_marks(self) -> int:
        # In id order, so two transactions marking the same rows never wait in a cycle.
        count = len(self.delivered)
        if count:
            self.connection.execute(
                "UPDATE omsims.outbox SET delivered = true WHERE id = ANY(%s)",
                (sorted(set(self.delivered)),),
            )
        return count

    def _flush_marks(self) -> None:
        conn = self.connection
        if not self.owns_connection and conn.info.transaction_status != TransactionStatus.INTRANS:
            return  # the host's next transaction with omsims in it writes them
        try:
            self.usable()
            self.begin()
            try:
                marks = self._write_marks()
                self.end(commit=True)
            except BaseException:
                self.end(commit=False)
                raise
        except psycopg.Error as exc:
            raise self.broke(exc) from exc
        del self.delivered[:marks]

    def _delete_delivered(self, keep: int) -> int:
        try:
            self.usable()
            cursor = self.connection.execute(
                "DELETE FROM omsims.outbox WHERE delivered AND id <= "
                "(SELECT COALESCE(MAX(id), 0) FROM omsims.outbox) - %s",
                (keep,),
            )
        except psycopg.Error as exc:
            raise self.broke(exc) from exc
        return cursor.rowcount


_HEAD: Final = (  # the snapshot's xmin, the prune mark, and the log since a watermark
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
    "(SELECT value::bigint FROM omsims.meta WHERE key = 'pruned_below'), "
    "array(SELECT xid FROM omsims.changes WHERE xid >= %(since)s ORDER BY xid, stamp), "
    "CASE WHEN %(keys)s THEN array(SELECT keys FROM omsims.changes "
    "WHERE xid >= %(since)s ORDER BY xid, stamp) END"
)


def _matching(key: tuple[str, ...]) -> str:
    """A WHERE clause matching rows whose key is in the array parameters."""
    if len(key) == 1:
        return f"{key[0]} = ANY(%s)"
    arrays = ", ".join("%s::text[]" for _ in key)
    return f"({', '.join(key)}) IN (SELECT * FROM unnest({arrays}))"  # noqa: S608


def _key_columns(key: tuple[str, ...], keys: Sequence[Any]) -> list[list[Any]]:
    """The array parameters of :func:`_matching`: one list per key column."""
    if len(key) == 1:
        return [list(keys)]
    return [list(column) for column in zip(*keys, strict=True)]


class PostgresUnitOfWork(MemoryUnitOfWork):
    """One command: run on the cache, then checked and written in one transaction."""

    def __init__(self, store: PostgresStore) -> None:
        """Prepare a unit of work; it begins when entered."""
        super().__init__(store)
        self.pg = store

    def _catch_up(self) -> None:
        """Read what other processes committed, under this process's lock."""
        self.pg.refresh()

    def commit(self) -> None:
        """Lock, check and write what the command changed; then keep the cache's changes."""
        store = self.pg
        assert self._savepoint is not None  # noqa: S101 (commit only inside the block)
        changes = self.ledger.changes(self._savepoint)
        # Rows are inserted in the order the command made them (creation order) and
        # locked in key order (the SELECT sorts them).
        rows = {t: r for t, r in written_rows(self, changes).items() if r}
        ids = None if changes.ids is None else encode(changes.ids)
        if not (rows or ids or changes.entries or self._events or store.delivered):
            super().commit()  # nothing to write (e.g. an order placed again): no transaction
            return
        expected = {
            t: [store.versions.get((t, _key(t, row))) for row in r] for t, r in rows.items()
        }
        stamp = new_stamp()
        try:
            try:
                written = self._write(
                    rows, expected, ids, [entry_row(e) for e in changes.entries], stamp
                )
            except BaseException:
                store.end(commit=False)
                raise
        except _Moved as moved:
            self._mark_stale(moved.rows)
            raise StaleRead(
                f"another process changed {moved.describe()} since this process read it"
            ) from None
        except psycopg.Error as exc:
            if isinstance(exc, pg_errors.UniqueViolation):
                # Rows the cache thought new exist: read them before the next attempt.
                self._mark_stale(
                    [
                        (t, _key(t, row))
                        for t, r in rows.items()
                        for row, v in zip(r, expected[t], strict=True)
                        if v is None
                    ]
                )
            raise store.broke(exc) from exc
        xid, stored, marks = written
        del store.delivered[:marks]
        store.versions.update(self._new_versions)
        if store.owns_connection:
            store.seen.add(xid)
        else:
            store.unconfirmed.setdefault(xid, []).append(stamp)
        store.commits += 1
        super().commit()
        self._committed = stored
        store.trim()

    def _mark_stale(self, rows: list[tuple[str, Any]]) -> None:
        """Rows to read again before the next attempt (another process wrote them)."""
        store = self.pg
        for table, key in rows:
            store.stale.setdefault(table, set()).add(key)

    def _write(
        self,
        rows: dict[str, list[Row]],
        expected: dict[str, list[int | None]],
        ids: str | None,
        entries: list[Row],
        stamp: str,
    ) -> tuple[int, list[Event], int]:
        """The transaction's body: lock and check, then write; returns (xid, events, marks)."""
        store, conn = self.pg, self.pg.connection
        with conn.pipeline() as pipeline:
            # Two round trips: begin, lock and read versions; then write and commit.
            store.begin()
            # Rows the cache holds are locked and their versions checked; a row the
            # cache thinks new needs no lock: if another process made it first, the
            # insert fails on the key (UniqueViolation, a StaleRead too).
            locks = {
                t: conn.execute(
                    f"SELECT {', '.join(KEYS[t])}, version FROM omsims.{t} "  # noqa: S608
                    f"WHERE {_matching(KEYS[t])} ORDER BY {', '.join(KEYS[t])} FOR UPDATE",
                    _key_columns(KEYS[t], held),
                )
                for t, r in rows.items()
                if (held := [_key(t, row) for row, v in zip(r, expected[t], strict=True) if v])
            }
            ids_lock = (
                conn.execute("SELECT version FROM omsims.ids FOR UPDATE")
                if ids is not None
                else None
            )
            numbers = (
                conn.execute(
                    "SELECT nextval('omsims.outbox_ids') FROM generate_series(1, %s)",
                    (len(self._events),),
                )
                if self._events
                else None
            )
            pipeline.sync()
            moved = self._check(rows, expected, locks, ids_lock)
            if moved:
                raise _Moved(moved)
            self._new_versions: dict[tuple[str, Any], int] = {}
            self._upsert(rows, expected, ids)
            if entries:
                conn.cursor().executemany(
                    "INSERT INTO omsims.entries VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::numeric, %s)",
                    entries,
                )
            stored = self._write_outbox(numbers.fetchall() if numbers is not None else [])
            marks = store._write_marks()  # noqa: SLF001 (same module)
            logged = {t: logged_keys(t, r) for t, r in rows.items()}
            logged["entries"] = [row[0] for row in entries]
            if ids is not None:
                logged["ids"] = [1]
            if store.commits % _PRUNE_EVERY == _PRUNE_EVERY - 1:
                _prune_changes(conn)
            log = conn.execute(
                "INSERT INTO omsims.changes VALUES "
                "(pg_current_xact_id()::text::bigint, %s, %s) RETURNING xid",
                (stamp, encode(logged)),
            )
            store.finish()
            pipeline.sync()
            xid: int = log.fetchone()[0]  # type: ignore[index]
        return xid, stored, marks

    def _check(
        self,
        rows: dict[str, list[Row]],
        expected: dict[str, list[int | None]],
        locks: dict[str, psycopg.Cursor[Any]],
        ids_lock: psycopg.Cursor[Any] | None,
    ) -> list[tuple[str, Any]]:
        """The rows whose version moved since the cache read them (none: go ahead)."""
        moved = []
        for t, cursor in locks.items():
            width = len(KEYS[t])
            found = {
                (row[0] if width == 1 else tuple(row[:width])): row[width]
                for row in cursor.fetchall()
            }
            for row, version in zip(rows[t], expected[t], strict=True):
                k = _key(t, row)
                if version is not None and found.get(k) != version:
                    moved.append((t, k))
                    if k not in found:  # the cache holds a row the database lacks
                        self.pg.must_reload = True
        if ids_lock is not None:
            found_ids = ids_lock.fetchone()
            if (None if found_ids is None else found_ids[0]) != self.pg.versions.get(("ids", 1)):
                moved.append(("ids", 1))
        return moved

    def _upsert(
        self, rows: dict[str, list[Row]], expected: dict[str, list[int | None]], ids: str | None
    ) -> None:
        """Update the rows that exist (locked and checked) and insert the new ones."""
        conn = self.pg.connection
        for t, r in rows.items():
            key, columns = KEYS[t], COLUMNS[t]
            width = len(key)
            inserts, updates = [], []
            for row, version in zip(r, expected[t], strict=True):
                self._new_versions[(t, _key(t, row))] = (version or 0) + 1
                if version is None:
                    inserts.append((*row, 1))
                elif columns:
                    updates.append((*row[width:], version + 1, *row[:width]))
            names = ", ".join((*key, *columns, "version"))
            marks = ", ".join(["%s"] * (width + len(columns) + 1))
            if inserts:
                conn.cursor().executemany(
                    f"INSERT INTO omsims.{t} ({names}) VALUES ({marks})",  # noqa: S608
                    inserts,
                )
            if updates:
                sets = ", ".join(f"{c} = %s" for c in (*columns, "version"))
                where = " AND ".join(f"{c} = %s" for c in key)
                conn.cursor().executemany(
                    f"UPDATE omsims.{t} SET {sets} WHERE {where}",  # noqa: S608
                    updates,
                )
        if ids is not None:
            version = self.pg.versions.get(("ids", 1))
            self._new_versions[("ids", 1)] = (version or 0) + 1
            if version is None:
                conn.execute("INSERT INTO omsims.ids VALUES (1, %s, 1)", (ids,))
            else:
                conn.execute("UPDATE omsims.ids SET body = %s, version = %s", (ids, version + 1))

    def _write_outbox(self, numbers: list[tuple[int]]) -> list[Event]:
        """The events, written to the outbox in this transaction, each with its row's id."""
        if not self._events:
            return []
        for (n,), event in zip(numbers, self._events, strict=True):
            # Numbered in place: the events were made by this command and nobody else
            # holds them yet (attrs itself sets frozen fields this way).
            object.__setattr__(event, "id", f"evt-{n}")
        self.pg.connection.cursor().executemany(
            "INSERT INTO omsims.outbox (id, name, body) VALUES (%s, %s, %s)",
            [(n, e.name, encode(e)) for (n,), e in zip(numbers, self._events, strict=True)],
        )
        return list(self._events)


class _Moved(Exception):
    def __init__(self, rows: list[tuple[str, Any]]) -> None:
        super().__init__(rows)
        self.rows = rows

    def describe(self) -> str:
        shown = ", ".join(f"{t} {k!r}" for t, k in self.rows[:3])
        more = f" and {len(self.rows) - 3} more" if len(self.rows) > 3 else ""
        return shown + more


def _key(table: str, row: Row) -> Any:
    width = len(KEYS[table])
    return row[0] if width == 1 else tuple(row[:width])


def _prune_changes(conn: psycopg.Connection[Any]) -> None:
    """Drop all but the newest log rows; a cache older than that reloads whole."""
    conn.execute(
        "WITH cut AS (SELECT xid FROM omsims.changes ORDER BY xid DESC OFFSET %s LIMIT 1), "
        "gone AS (DELETE FROM omsims.changes WHERE xid < (SELECT xid FROM cut)) "
        "UPDATE omsims.meta SET value = GREATEST(value::bigint, (SELECT xid FROM cut))::text "
        "WHERE key = 'pruned_below' AND EXISTS (SELECT 1 FROM cut)",
        (_KEEP_CHANGES,),
    )


def _translate(exc: psycopg.Error) -> Exception:
    """The omsims error for a driver error: what failed, in the library's terms."""
    text = str(exc).strip()
    if isinstance(
        exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected | pg_errors.UniqueViolation
    ):
        return StaleRead(f"another process wrote the same rows first: {text}")
    if isinstance(exc, pg_errors.LockNotAvailable):
        return PersistenceError(f"a row stayed locked by another transaction: {text}")
    if isinstance(exc, pg_errors.IntegrityError | pg_errors.RaiseException):
        return ConflictError(f"the database refused a write as inconsistent: {text}")
    if isinstance(exc, psycopg.OperationalError):
        return PersistenceError(f"lost the connection to PostgreSQL: {text}")
    return PersistenceError(f"PostgreSQL failed: {type(exc).__name__}: {text}")
