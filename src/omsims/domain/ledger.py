"""The stock ledger: an append-only log of entries and the balances it implies.

>>> from datetime import datetime, UTC
>>> t = datetime(2026, 3, 1, 9, tzinfo=UTC)
>>> ledger = Ledger()
>>> ledger.add_location("berlin-dc")
>>> _ = ledger.receive("TSHIRT-M", "berlin-dc", 10, at=t)
>>> _ = ledger.commit("TSHIRT-M", "berlin-dc", 2, at=t, reference="web-1001/1")
>>> print(ledger.balance("TSHIRT-M", "berlin-dc"))
TSHIRT-M @ berlin-dc: on_hand=10 committed=2 reserved=0 unavailable=0 safety_stock=0
incoming=0 backordered=0 available=8
>>> ledger.check_invariants()

Every posting validates its input and checks its rule *before* it changes anything, so a
refused posting writes nothing. Balances are cached per position and updated in O(1) per
posting; :meth:`Ledger.check_invariants` proves the cache equals a replay of the entries.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, Final, NamedTuple, Protocol, TypeVar

import attrs

from omsims.domain.idempotency import same_payload
from omsims.domain.locations import DEFAULT_SETTINGS, PositionSettings
from omsims.domain.stock import (
    SIGNS,
    BackorderFill,
    EntryKind,
    LedgerEntry,
    Posting,
    StockLevel,
    rule_violation,
)
from omsims.domain.supply import (
    IncomingSupply,
    Reservation,
    ReservationStatus,
    SupplyLine,
    Transfer,
)
from omsims.domain.values import (
    MAX_QUANTITY,
    LocationId,
    Money,
    Sku,
    as_location_id,
    as_sku,
    aware,
    quantity,
    signed_quantity,
)
from omsims.errors import (
    BackdatedPostingRejected,
    BackorderNotAllowed,
    IdempotencyConflict,
    InsufficientStock,
    InvalidIdentifier,
    InvalidMoney,
    InvalidTime,
    InvariantViolation,
    UnknownLocation,
    UnknownReservation,
    UnknownSku,
    UnknownSupplyLine,
    UnknownTransfer,
)

__all__ = ["LEDGER_TABLES", "Ledger", "LedgerChanges", "Savepoint", "SequenceSource"]

LEDGER_TABLES: Final = ("reservations", "supply", "transfers", "keys")
"""The ledger's tables of rows besides positions and entries: reservations, supply lines,
transfers, and its idempotency keys (key -> (fingerprint, result))."""
_TABLES = LEDGER_TABLES
_EMPTY: Final[Mapping[Any, Any]] = {}
_NOTHING: Final[frozenset[Any]] = frozenset()


class LedgerChanges(NamedTuple):
    """What one transaction changed in a ledger: what a durable adapter writes at commit."""

    entries: tuple[LedgerEntry, ...]
    """The entries appended, in sequence order."""
    positions: frozenset[tuple[str, str]]
    """Positions whose buckets, settings or backorder queue changed (or that are new)."""
    rows: dict[str, frozenset[str]]
    """Per table of :data:`LEDGER_TABLES`, the keys written (read each with ``row``)."""
    skus: frozenset[str]
    locations: frozenset[str]
    ids: dict[str, int] | None
    """The id counters, if any moved."""


class SequenceSource(Protocol):
    """Where a ledger shared by several processes gets its entries' sequence numbers.

    A ledger on its own numbers entries 1, 2, 3, ... in the order they were written. When
    several processes write one database at once without a global lock (PostgreSQL), no
    process can know the next number: a source hands out numbers that are unique across
    every process sharing it. Numbers may leave gaps, and need not follow commit order
    across positions; within one position they always grow (the ledger asks for a number
    above the position's newest), which is what replaying a position needs.
    """

    def next_after(self, floor: int) -> int:
        """A number greater than ``floor``, never handed out before by any process."""
        ...


_K = EntryKind
_at = attrgetter("at")
_MISSING: Final = object()
_NO_FILLS: tuple[BackorderFill, ...] = ()
_NO_LOCATIONS: Collection[str] = ()
_T = TypeVar("_T")


class _Position:
    """The cached balances and settings of one position. Internal and mutable."""

    __slots__ = (
        "backordered",
        "committed",
        "history",
        "incoming",
        "on_hand",
        "reserved",
        "settings",
        "top",
        "unavailable",
    )

    def __init__(self) -> None:
        self.on_hand = 0
        self.committed = 0
        self.reserved = 0
        self.unavailable = 0
        self.incoming = 0
        self.backordered = 0
        self.settings: PositionSettings = DEFAULT_SETTINGS
        # The as-of index: this position's entries in (business time, sequence) order.
        self.history: list[LedgerEntry] = []
        self.top = 0  # the highest sequence number in history

    def buckets(self) -> tuple[int, int, int, int, int, int]:
        return (
            self.on_hand,
            self.committed,
            self.reserved,
            self.unavailable,
            self.incoming,
            self.backordered,
        )

    def restore(self, buckets: tuple[int, ...], settings: PositionSettings) -> None:
        (
            self.on_hand,
            self.committed,
            self.reserved,
            self.unavailable,
            self.incoming,
            self.backordered,
        ) = buckets
        self.settings = settings

    def free(self) -> int:
        return self.on_hand - self.committed - self.reserved - self.unavailable

    def available(self) -> int:
        a = self.on_hand - self.committed - self.reserved - self.unavailable
        a -= self.settings.safety_stock
        return max(0, a)


class Savepoint(NamedTuple):
    """A mark to roll the ledger back to; returned by :meth:`Ledger.savepoint`.

    A named tuple rather than an attrs class: every command makes one, and a tuple is
    built in under half the time.
    """

    cursor: int
    """How many entries the ledger held (see :attr:`Ledger.cursor`)."""
    top: int = 0
    """The highest sequence number it held."""


class Ledger:
    """The stock ledger of a network: positions, entries, reservations, supply and transfers.

    All state lives in memory; durable adapters persist it. Postings take a business
    time ``at`` (timezone-aware) and an optional idempotency ``key``: the same key with the
    same payload returns the first result and writes nothing; with another payload it
    raises ``IdempotencyConflict``.

    Runtime complexity: a posting is O(1) (amortised) unless it is backdated, when it is
    O(k) in the entries of the position that follow it; filling backorders adds O(f) for f
    filled claims.
    """

    def __init__(self, sequences: SequenceSource | None = None) -> None:
        """Create an empty ledger; ``sequences`` numbers its entries when it is shared.

        Without a source (the default) entries are numbered 1, 2, 3, ... With one (see
        :class:`SequenceSource`), numbers are unique among every ledger sharing it.
        """
        self._sequences = sequences
        self._top = 0  # the highest sequence number held
        self._positions: dict[tuple[str, str], _Position] = {}
        self._entries: list[LedgerEntry] = []
        self._locations: dict[str, None] = {}
        # sku -> the locations with a position for it, in order (a dict used as an ordered set)
        self._skus: dict[str, dict[str, None]] = {}
        # sku -> tuple(self._skus[sku]), made on demand and dropped when positions change:
        # sourcing asks for it on every order line, and keeps rankings per tuple.
        self._stocking: dict[str, tuple[str, ...]] = {}
        # (sku, location) -> ids of every supply line and transfer sent there: an index for
        # incoming_schedule that only grows (rows are checked when read, so a rollback that
        # removes a line needs no undo here).
        self._inbound: dict[tuple[str, str], dict[str, None]] = {}
        self._reservations: dict[str, Reservation] = {}
        self._supply: dict[str, SupplyLine] = {}
        self._transfers: dict[str, Transfer] = {}
        # Per position, the backorders waiting for supply, oldest first: (reference, units).
        self._queues: dict[tuple[str, str], deque[tuple[str, int]]] = {}
        self._keys: dict[str, tuple[tuple[Hashable, ...], Any]] = {}
        self._ids = {"RSV": 0, "SUP": 0, "TRF": 0}
        self._journal: list[tuple[Any, ...]] | None = None
        self._touched: set[int] = set()
        self._pending: tuple[Hashable, ...] = ()

    # -- registration ---------------------------------------------------------------

    def add_location(self, location: str) -> None:
        """Make a location known to the ledger so postings may name it.

        Runtime complexity: O(1).
        """
        loc = as_location_id(location)
        if loc not in self._locations:
            self._locations[loc] = None
            self._log("location", loc)

    def add_sku(self, sku: str) -> None:
        """Make a SKU known without stock (it is also learnt from its first posting)."""
        s = as_sku(sku)
        if s not in self._skus:
            self._skus[s] = {}
            self._log("sku", s)

    def has_location(self, location: str) -> bool:
        """Whether the location was added."""
        return location in self._locations

    def has_sku(self, sku: str) -> bool:
        """Whether the SKU is known (added, or named by a posting)."""
        return sku in self._skus

    @property
    def skus(self) -> list[Sku]:
        """Every known SKU, in the order they became known."""
        return [Sku(s) for s in self._skus]

    @property
    def locations(self) -> list[LocationId]:
        """Every known location, in the order they were added."""
        return [LocationId(loc) for loc in self._locations]

    def configure(
        self, sku: str, location: str, settings: PositionSettings, *, at: datetime
    ) -> Posting:
        """Set a position's settings (safety stock, backorders, low-stock threshold).

        Refused with ``BackorderNotAllowed`` if the position already holds more backorders
        than the new settings allow. A lower safety stock may fill waiting backorders, at
        ``at``; the returned posting lists them.
        """
        if not isinstance(settings, PositionSettings):
            raise InvalidIdentifier("settings must be a PositionSettings")
        _when(at)
        pos = self._position(sku, location, create=True)
        if pos.backordered and settings.backorder_room(0) < pos.backordered:
            raise BackorderNotAllowed(
                f"{sku} at {location} has {pos.backordered} units backordered; the new "
                "settings would not allow them: cancel or fill them first"
            )
        self._touch(pos, (sku, location))
        pos.settings = settings
        return Posting((), self._fill_backorders(sku, location, pos, at))

    def settings(self, sku: str, location: str) -> PositionSettings:
        """The settings of a position (the defaults if it has none)."""
        pos = self._positions.get((sku, location))
        return DEFAULT_SETTINGS if pos is None else pos.settings

    # -- postings: stock on hand ------------------------------------------------------

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
        """Receive units into on hand; fills waiting backorders first-in-first-out.

        ``unit_cost`` is what one unit cost (a ``Money`` of at least zero), kept on the
        entry for valuation; ``None`` if not known.
        """
        if reference is not None:
            _reference(reference)
        if unit_cost is not None:
            _unit_cost(unit_cost)
        if key is not None and (
            hit := self._seen(
                key,
                ("receive", sku, location, qty, at, reference)
                if unit_cost is None
                else ("receive", sku, location, qty, at, reference, unit_cost),
            )
        ):
            return hit  # type: ignore[no-any-return]
        # The hot path: the same checks as quantity() and _when(), inlined.
        q = qty if type(qty) is int and 0 < qty <= MAX_QUANTITY else quantity(qty)
        if type(at) is not datetime or at.tzinfo is None:
            aware(at)
        pos = self._positions.get((sku, location)) if type(sku) is type(location) is str else None
        if pos is None:
            pos = self._position(sku, location, create=True)
        entry = self._post(pos, sku, location, _K.RECEIVED, q, at, reference, None, key, unit_cost)
        pos.on_hand += q
        fills = self._fill_backorders(sku, location, pos, at) if self._queues else _NO_FILLS
        result = _new_posting(Posting, ((entry,), fills))
        return result if key is None else self._done(key, result)

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
        """Correct on hand by a signed ``delta`` (a stock count, a found or lost unit).

        A reason is required. A decrease may take only free units (not committed,
        reserved or unavailable): uncommit or release first.
        """
        if reference is not None:
            _reference(reference)
        if key is not None and (
            hit := self._seen(key, ("adjust", sku, location, delta, reason, at, reference))
        ):
            return hit  # type: ignore[no-any-return]
        d = signed_quantity(delta, "adjustment")
        why = _reason(reason)
        _when(at)
        pos = self._position(sku, location, create=d > 0)
        if d < 0 and pos.free() < -d:
            raise InsufficientStock(
                f"cannot adjust {sku} at {location} by {d}: only {pos.free()} units are free "
                "(release reservations or uncommit first)"
            )
        entry = self._post(pos, sku, location, _K.ADJUSTED, d, at, reference, why, key)
        pos.on_hand += d
        fills = self._fill_backorders(sku, location, pos, at) if d > 0 else _NO_FILLS
        return self._done(key, Posting((entry,), fills))

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
        if key is not None and (hit := self._seen(key, ("hold", sku, location, qty, reason, at))):
            return hit  # type: ignore[no-any-return]
        q, why = quantity(qty), _reason(reason)
        _when(at)
        pos = self._position(sku, location)
        self._need(pos.free(), q, "free", sku, location)
        entry = self._post(pos, sku, location, _K.HELD, q, at, None, why, key)
        pos.unavailable += q
        return self._done(key, Posting((entry,)))

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
        if key is not None and (
            hit := self._seen(key, ("release_hold", sku, location, qty, reason, at))
        ):
            return hit  # type: ignore[no-any-return]
        q, why = quantity(qty), _reason(reason)
        _when(at)
        pos = self._position(sku, location)
        self._need(pos.unavailable, q, "unavailable", sku, location)
        entry = self._post(pos, sku, location, _K.HOLD_RELEASED, q, at, None, why, key)
        pos.unavailable -= q
        fills = self._fill_backorders(sku, location, pos, at)
        return self._done(key, Posting((entry,), fills))

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
        if key is not None and (
            hit := self._seen(key, ("write_off", sku, location, qty, reason, at, from_unavailable))
        ):
            return hit  # type: ignore[no-any-return]
        q, why = quantity(qty), _reason(reason)
        _when(at)
        if type(from_unavailable) is not bool:
            raise InvalidIdentifier(
                f"from_unavailable must be True or False, got {from_unavailable!r}"
            )
        pos = self._position(sku, location)
        if from_unavailable:
            self._need(pos.unavailable, q, "unavailable", sku, location)
            entry = self._post(
                pos, sku, location, _K.WRITTEN_OFF_UNAVAILABLE, q, at, None, why, key
            )
            pos.unavailable -= q
        else:
            self._need(pos.free(), q, "free", sku, location)
            entry = self._post(pos, sku, location, _K.WRITTEN_OFF, q, at, None, why, key)
        pos.on_hand -= q
        return self._done(key, Posting((entry,)))

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
        if reference is not None:
            _reference(reference)
        payload = ("return", sku, location, qty, at, unavailable_reason, reference)
        if key is not None and (hit := self._seen(key, payload)):
            return hit  # type: ignore[no-any-return]
        q = quantity(qty)
        _when(at)
        why = None if unavailable_reason is None else _reason(unavailable_reason)
        pos = self._position(sku, location, create=True)
        if why is None:
            entry = self._post(pos, sku, location, _K.RETURNED, q, at, reference, None, key)
            pos.on_hand += q
            fills = self._fill_backorders(sku, location, pos, at)
            return self._done(key, Posting((entry,), fills))
        entry = self._post(pos, sku, location, _K.RETURNED_UNAVAILABLE, q, at, reference, why, key)
        pos.on_hand += q
        pos.unavailable += q
        return self._done(key, Posting((entry,)))

    # -- postings: promises -------------------------------------------------------------

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
        if reference is not None:
            _reference(reference)
        if key is not None and (
            hit := self._seen(key, ("reserve", sku, location, qty, at, expires_at, reference))
        ):
            return hit  # type: ignore[no-any-return]
        q = qty if type(qty) is int and 0 < qty <= MAX_QUANTITY else quantity(qty)
        if type(at) is not datetime or at.tzinfo is None:
            aware(at)
        if expires_at is not None and aware(expires_at, "expires_at") <= at:
            raise InvalidTime(f"expires_at {expires_at} must be after the reservation time {at}")
        pos = self._positions.get((sku, location)) if type(sku) is type(location) is str else None
        if pos is None:
            pos = self._position(sku, location)
        if pos.available() < q:
            self._need(pos.available(), q, "available", sku, location)
        if pos.history and at < pos.history[-1].at:
            self._precheck(pos, sku, location, _K.RESERVED, q, at)
        rid = self._next_id("RSV")
        self._post(pos, sku, location, _K.RESERVED, q, at, rid, None, key)
        pos.reserved += q
        res = Reservation(rid, Sku(sku), LocationId(location), q, q, at, expires_at, reference)
        self._put(self._reservations, rid, res)
        return res if key is None else self._done(key, res)

    def release(
        self,
        reservation_id: str,
        qty: int | None = None,
        *,
        at: datetime,
        key: str | None = None,
    ) -> Posting:
        """Release all (or ``qty``) of what a reservation still holds."""
        return self._end_reservation(reservation_id, qty, at, key, expired=False)

    def expire(self, reservation_id: str, *, at: datetime) -> Posting:
        """Release what an active reservation holds, recording that it expired."""
        return self._end_reservation(reservation_id, None, at, None, expired=True)

    def expire_due(self, *, at: datetime) -> list[Reservation]:
        """Expire every active reservation whose ``expires_at`` is at or before ``at``.

        Runtime complexity: O(r) in the active reservations.
        """
        aware(at)
        due = [
            r
            for r in self._reservations.values()
            if r.status is ReservationStatus.ACTIVE
            and r.expires_at is not None
            and r.expires_at <= at
        ]
        due.sort(key=lambda r: (r.expires_at, _made(r.id)))  # ties: as made
        for r in due:
            self._end_reservation(r.id, None, at, None, expired=True)
        return [self._reservations[r.id] for r in due]

    def _end_reservation(
        self, rid: str, qty: int | None, at: datetime, key: str | None, *, expired: bool
    ) -> Posting:
        if key is not None and (hit := self._seen(key, ("release", rid, qty, at))):
            return hit  # type: ignore[no-any-return]
        if type(at) is not datetime or at.tzinfo is None:
            aware(at)
        res = self.reservation(rid)
        if res.status is not ReservationStatus.ACTIVE:
            raise InsufficientStock(f"reservation {rid} is {res.status.value}, not active")
        q = res.remaining if qty is None else quantity(qty)
        if q > res.remaining:
            raise InsufficientStock(f"reservation {rid} holds only {res.remaining}, not {q}")
        if at < res.created_at:
            _not_before(res.created_at, at, f"reservation {rid}")
        pos = self._positions[(res.sku, res.location)]
        kind = _K.EXPIRED if expired else _K.RELEASED
        entry = self._post(pos, res.sku, res.location, kind, q, at, rid, None, key)
        pos.reserved -= q
        left = res.remaining - q
        status = ReservationStatus.ACTIVE
        if left == 0:
            status = ReservationStatus.EXPIRED if expired else ReservationStatus.RELEASED
        # The constructor, not attrs.evolve: this runs once per release, and evolve costs 3x.
        ended = Reservation(
            rid,
            res.sku,
            res.location,
            res.quantity,
            left,
            res.created_at,
            res.expires_at,
            res.reference,
            status,
        )
        self._put(self._reservations, rid, ended)
        fills = self._fill_backorders(res.sku, res.location, pos, at) if self._queues else _NO_FILLS
        result = _new_posting(Posting, ((entry,), fills))
        return result if key is None else self._done(key, result)

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
        """Promise available units to ``reference`` (an order line at this location).

        With ``reservation_id`` the units come out of that reservation instead of
        available stock (a checkout that held the units turns into an order).
        """
        if key is not None and (
            hit := self._seen(key, ("commit", sku, location, qty, at, reference, reservation_id))
        ):
            return hit  # type: ignore[no-any-return]
        q = qty if type(qty) is int and 0 < qty <= MAX_QUANTITY else quantity(qty)
        if type(at) is not datetime or at.tzinfo is None:
            aware(at)
        if type(reference) is not str or not 0 < len(reference) <= 200:
            _reference(reference)
        pos = self._positions.get((sku, location)) if type(sku) is type(location) is str else None
        if pos is None:
            pos = self._position(sku, location)
        if reservation_id is None:
            free = pos.on_hand - pos.committed - pos.reserved - pos.unavailable
            if free - pos.settings.safety_stock < q:  # pos.available(), inlined: hot path
                self._need(pos.available(), q, "available", sku, location)
            entry = self._post(pos, sku, location, _K.COMMITTED, q, at, reference, None, key)
            pos.committed += q
            result = _new_posting(Posting, ((entry,), _NO_FILLS))
            return result if key is None else self._done(key, result)
        res = self.reservation(reservation_id)
        if (res.sku, res.location) != (sku, location) or res.status is not ReservationStatus.ACTIVE:
            raise InsufficientStock(
                f"reservation {reservation_id} is not an active hold on {sku} at {location}"
            )
        self._need(res.remaining, q, f"held by {reservation_id}", sku, location)
        _not_before(res.created_at, at, f"reservation {reservation_id}")
        entry = self._post(
            pos, sku, location, _K.RESERVATION_COMMITTED, q, at, reference, reservation_id, key
        )
        pos.reserved -= q
        pos.committed += q
        left = res.remaining - q
        status = ReservationStatus.COMMITTED if left == 0 else ReservationStatus.ACTIVE
        self._put(self._reservations, res.id, attrs.evolve(res, remaining=left, status=status))
        return self._done(key, Posting((entry,)))

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
        if key is not None and (
            hit := self._seen(key, ("uncommit", sku, location, qty, at, reference))
        ):
            return hit  # type: ignore[no-any-return]
        q = quantity(qty)
        _when(at)
        _reference(reference)
        pos = self._position(sku, location)
        self._need(pos.committed, q, "committed", sku, location)
        entry = self._post(pos, sku, location, _K.UNCOMMITTED, q, at, reference, None, key)
        pos.committed -= q
        fills = self._fill_backorders(sku, location, pos, at)
        return self._done(key, Posting((entry,), fills))

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
        if key is not None and (
            hit := self._seen(key, ("ship", sku, location, qty, at, reference))
        ):
            return hit  # type: ignore[no-any-return]
        q = qty if type(qty) is int and 0 < qty <= MAX_QUANTITY else quantity(qty)
        if type(at) is not datetime or at.tzinfo is None:
            aware(at)
        if type(reference) is not str or not 0 < len(reference) <= 200:
            _reference(reference)
        pos = self._positions.get((sku, location)) if type(sku) is type(location) is str else None
        if pos is None:
            pos = self._position(sku, location)
        if pos.committed < q:
            self._need(pos.committed, q, "committed", sku, location)
        entry = self._post(pos, sku, location, _K.SHIPPED, q, at, reference, None, key)
        pos.on_hand -= q
        pos.committed -= q
        return self._done(key, Posting((entry,)))

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
        """Promise units the position does not have yet; ``reference`` joins its FIFO queue.

        Allowed only where the position's settings allow backorders, up to their limit.
        """
        if key is not None and (
            hit := self._seen(key, ("backorder", sku, location, qty, at, reference))
        ):
            return hit  # type: ignore[no-any-return]
        q = quantity(qty)
        _when(at)
        _reference(reference)
        pos = self._position(sku, location)
        room = pos.settings.backorder_room(pos.backordered)
        if room < q:
            why = (
                "does not allow backorders"
                if not pos.settings.allow_backorders
                else (f"may backorder only {room} more")
            )
            raise BackorderNotAllowed(f"{sku} at {location} {why} (asked for {q})")
        self._precheck(pos, sku, location, _K.BACKORDERED, q, at)
        entry = self._post(pos, sku, location, _K.BACKORDERED, q, at, reference, None, key)
        pos.backordered += q
        k = (sku, location)
        queue = self._queues.get(k)
        if queue is None:
            queue = self._queues[k] = deque()
            self._log("queue-new", k)
        queue.append((reference, q))
        self._log("queue-append", k)
        # Backordered means "beyond what is on hand": units available now fill the claim at
        # once, so it can never wait behind a later commit that takes them.
        fills = self._fill_backorders(sku, location, pos, at)
        return self._done(key, Posting((entry,), fills))

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
        q = quantity(qty)
        _when(at)
        pos = self._position(sku, location)
        k = (sku, location)
        waiting = sum(n for ref, n in self._queues.get(k, ()) if ref == reference)
        if waiting < q:
            raise InsufficientStock(
                f"{reference} has {waiting} units backordered for {sku} at {location}, not {q}"
            )
        entry = self._post(pos, sku, location, _K.BACKORDER_CANCELLED, q, at, reference, None, None)
        pos.backordered -= q
        queue = self._queue_for_update(k)
        left = q
        # Take from the newest claims of this reference first: the oldest keep their place.
        for i in range(len(queue) - 1, -1, -1):
            ref, n = queue[i]
            if ref != reference or left == 0:
                continue
            take = min(n, left)
            left -= take
            if take == n:
                del queue[i]
            else:
                queue[i] = (ref, n - take)
        if not queue:
            del self._queues[k]
        return Posting((entry,))

    def backorders_of(self, sku: str) -> list[tuple[str, str, int]]:
        """Every waiting backorder of ``sku``, as (location, reference, units).

        Position by position in the order the positions were created, each queue oldest
        first. Runtime complexity: O(positions of the SKU + backorders).
        """
        if not self._queues:
            return []
        return [
            (loc, ref, n)
            for loc in self._skus.get(sku, ())
            for ref, n in self._queues.get((sku, loc), ())
        ]

    def backorder_queue(self, sku: str, location: str) -> list[tuple[str, int]]:
        """The waiting backorders of a position, oldest first, as (reference, units)."""
        return list(self._queues.get((sku, location), ()))

    # -- postings: incoming supply -------------------------------------------------------

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
        """Record supply expected at a position by ``eta`` (a purchase order line).

        ``unit_cost`` is what one unit costs (``None``: not known): the line keeps it, and
        its ``EXPECTED`` entry and every ``EXPECTED_RECEIVED`` entry carry it.
        """
        if reference is not None:
            _reference(reference)
        if unit_cost is not None:
            _unit_cost(unit_cost)
        payload: tuple[Hashable, ...] = ("expect", sku, location, qty, eta, at, reference)
        if unit_cost is not None:
            payload = (*payload, unit_cost)
        if key is not None and (hit := self._seen(key, payload)):
            return hit  # type: ignore[no-any-return]
        q = quantity(qty)
        aware(eta, "eta")
        _when(at)
        pos = self._position(sku, location, create=True)
        sid = self._next_id("SUP")
        self._post(pos, sku, location, _K.EXPECTED, q, at, sid, None, key, unit_cost)
        pos.incoming += q
        line = SupplyLine(
            sid, Sku(sku), LocationId(location), q, eta, at, reference, unit_cost=unit_cost
        )
        self._put(self._supply, sid, line)
        self._inbound.setdefault((sku, location), {})[sid] = None
        return self._done(key, line)

    def receive_expected(
        self, supply_id: str, qty: int | None = None, *, at: datetime, key: str | None = None
    ) -> Posting:
        """Receive all (or ``qty``) of what a supply line still expects."""
        return self._close_supply(supply_id, qty, at, key, received=True)

    def cancel_expected(
        self, supply_id: str, qty: int | None = None, *, at: datetime, key: str | None = None
    ) -> Posting:
        """Stop expecting all (or ``qty``) of what a supply line still expects."""
        return self._close_supply(supply_id, qty, at, key, received=False)

    def _close_supply(
        self, supply_id: str, qty: int | None, at: datetime, key: str | None, *, received: bool
    ) -> Posting:
        """Take units off a supply line: into on hand (received) or gone (cancelled)."""
        name = "receive_expected" if received else "cancel_expected"
        if key is not None and (hit := self._seen(key, (name, supply_id, qty, at))):
            return hit  # type: ignore[no-any-return]
        _when(at)
        line = self.supply_line(supply_id)
        q = line.open_quantity if qty is None else quantity(qty)
        # max(q, 1): with nothing left and no qty, there is nothing to receive or cancel.
        self._need(
            line.open_quantity, max(q, 1), f"still expected on {supply_id}", line.sku, line.location
        )
        _not_before(line.created_at, at, f"supply line {supply_id}")
        pos = self._positions[(line.sku, line.location)]
        kind = _K.EXPECTED_RECEIVED if received else _K.EXPECTED_CANCELLED
        cost = line.unit_cost if received else None
        entry = self._post(pos, line.sku, line.location, kind, q, at, supply_id, None, key, cost)
        pos.incoming -= q
        if received:
            pos.on_hand += q
            line = attrs.evolve(line, received=line.received + q)
        else:
            line = attrs.evolve(line, cancelled=line.cancelled + q)
        self._put(self._supply, supply_id, line)
        fills = self._fill_backorders(line.sku, line.location, pos, at) if received else _NO_FILLS
        return self._done(key, Posting((entry,), fills))

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
        """Send free units from one location to another.

        They leave the origin's on hand at once and count as incoming at the destination
        until :meth:`receive_transfer`, so units in transit are counted exactly once.
        With ``unavailable_reason`` the units sent are unavailable ones (damaged goods
        on their way to be refurbished): they arrive unavailable, with that reason, and
        no backorder is ever promised against them.
        """
        if reference is not None:
            _reference(reference)
        why = None if unavailable_reason is None else _reason(unavailable_reason)
        payload = ("transfer", sku, from_location, to_location, qty, eta, at, reference, why)
        if key is not None and (hit := self._seen(key, payload)):
            return hit  # type: ignore[no-any-return]
        q = quantity(qty)
        aware(eta, "eta")
        _when(at)
        if from_location == to_location:
            raise InvalidIdentifier(
                f"a transfer needs two different locations, got {from_location} twice"
            )
        origin = self._position(sku, from_location)
        destination = self._position(sku, to_location)
        out = _K.TRANSFERRED_OUT if why is None else _K.TRANSFERRED_OUT_UNAVAILABLE
        if why is None:
            self._need(origin.free(), q, "free", sku, from_location)
        else:
            self._need(origin.unavailable, q, "unavailable", sku, from_location)
        self._precheck(origin, sku, from_location, out, q, at)
        self._precheck(destination, sku, to_location, _K.TRANSFER_INCOMING, q, at)
        destination = self._position(sku, to_location, create=True)
        tid = self._next_id("TRF")
        self._post(origin, sku, from_location, out, q, at, tid, why, key)
        origin.on_hand -= q
        if why is not None:
            origin.unavailable -= q
        self._post(destination, sku, to_location, _K.TRANSFER_INCOMING, q, at, tid, None, key)
        destination.incoming += q
        t = Transfer(
            tid,
            Sku(sku),
            LocationId(from_location),
            LocationId(to_location),
            q,
            eta,
            at,
            reference,
            unavailable_reason=why,
        )
        self._put(self._transfers, tid, t)
        self._inbound.setdefault((sku, to_location), {})[tid] = None
        return self._done(key, t)

    def receive_transfer(
        self, transfer_id: str, qty: int | None = None, *, at: datetime, key: str | None = None
    ) -> Posting:
        """Receive all (or ``qty``) of a transfer's units in transit at its destination."""
        if key is not None and (hit := self._seen(key, ("receive_transfer", transfer_id, qty, at))):
            return hit  # type: ignore[no-any-return]
        _when(at)
        t = self.transfer_by_id(transfer_id)
        q = t.in_transit if qty is None else quantity(qty)
        self._need(t.in_transit, max(q, 1), f"in transit on {transfer_id}", t.sku, t.to_location)
        _not_before(t.created_at, at, f"transfer {transfer_id}")
        pos = self._positions[(t.sku, t.to_location)]
        why = t.unavailable_reason
        kind = _K.TRANSFERRED_IN if why is None else _K.TRANSFERRED_IN_UNAVAILABLE
        entry = self._post(pos, t.sku, t.to_location, kind, q, at, transfer_id, why, key)
        pos.incoming -= q
        pos.on_hand += q
        self._put(self._transfers, transfer_id, attrs.evolve(t, received=t.received + q))
        if why is not None:
            pos.unavailable += q
            return self._done(key, Posting((entry,)))
        fills = self._fill_backorders(t.sku, t.to_location, pos, at)
        return self._done(key, Posting((entry,), fills))

    def cancel_transfer(self, transfer_id: str, *, at: datetime, key: str | None = None) -> Posting:
        """Send what is still in transit back to the origin's on hand."""
        if key is not None and (hit := self._seen(key, ("cancel_transfer", transfer_id, at))):
            return hit  # type: ignore[no-any-return]
        _when(at)
        t = self.transfer_by_id(transfer_id)
        q = t.in_transit
        self._need(q, 1, f"in transit on {transfer_id}", t.sku, t.to_location)
        _not_before(t.created_at, at, f"transfer {transfer_id}")
        destination = self._positions[(t.sku, t.to_location)]
        origin = self._positions[(t.sku, t.from_location)]
        why = t.unavailable_reason
        back = _K.TRANSFER_RETURNED if why is None else _K.TRANSFER_RETURNED_UNAVAILABLE
        self._precheck(origin, t.sku, t.from_location, back, q, at)
        e1 = self._post(
            destination, t.sku, t.to_location, _K.TRANSFER_CANCELLED, q, at, transfer_id, None, key
        )
        destination.incoming -= q
        e2 = self._post(origin, t.sku, t.from_location, back, q, at, transfer_id, why, key)
        origin.on_hand += q
        self._put(self._transfers, transfer_id, attrs.evolve(t, cancelled=t.cancelled + q))
        if why is not None:
            origin.unavailable += q
            return self._done(key, Posting((e1, e2)))
        fills = self._fill_backorders(t.sku, t.from_location, origin, at)
        return self._done(key, Posting((e1, e2), fills))

    # -- queries ---------------------------------------------------------------------------

    def balance(self, sku: str, location: str, as_of: datetime | None = None) -> StockLevel:
        """The balances of one position, now or as of a business time.

        As of a past time every bucket is replayed from the entries; ``safety_stock``
        (and so ``available``) uses the position's current settings, which are not
        versioned.

        Runtime complexity: O(1) now; O(k) as of a past time, k the position's entries.
        """
        if as_of is not None:
            aware(as_of, "as_of")
        pos = self._lookup(sku, location)
        if pos is None:
            self._known(sku, location)
            return StockLevel(Sku(sku), LocationId(location))
        b = pos.buckets() if as_of is None else self._buckets_as_of(pos, as_of)
        return StockLevel(
            Sku(sku),
            LocationId(location),
            on_hand=b[0],
            committed=b[1],
            reserved=b[2],
            unavailable=b[3],
            safety_stock=pos.settings.safety_stock,
            incoming=b[4],
            backordered=b[5],
        )

    def network_balance(self, sku: str, as_of: datetime | None = None) -> StockLevel:
        """The balances of a SKU summed over every location (``location`` is ``None``).

        ``available`` is the sum of each position's available, so safety stock at one
        location never hides stock at another.
        """
        if as_of is not None:
            aware(as_of, "as_of")
        if type(sku) is not str or sku not in self._skus:
            as_sku(sku)
            raise UnknownSku(f"SKU {sku!r} is not known to the ledger")
        totals = [0] * 8
        for loc in self._skus[sku]:
            lvl = self.balance(sku, loc, as_of)
            for i, v in enumerate(
                (
                    lvl.on_hand,
                    lvl.committed,
                    lvl.reserved,
                    lvl.unavailable,
                    lvl.safety_stock,
                    lvl.incoming,
                    lvl.backordered,
                    lvl.available,
                )
            ):
                totals[i] += v
        return StockLevel(Sku(sku), None, *totals)

    def available(self, sku: str, location: str) -> int:
        """Units of a SKU at a location that can be promised now. Runtime complexity: O(1)."""
        pos = self._positions.get((sku, location))
        if pos is None:
            return 0
        a = pos.on_hand - pos.committed - pos.reserved - pos.unavailable - pos.settings.safety_stock
        return max(0, a)

    def stocking(self, sku: str) -> Collection[str]:
        """The locations that hold a position for ``sku``, in the order they were created.

        Sourcing uses it to skip locations that never had the SKU. The same tuple comes
        back until a position of the SKU is created or rolled back, so callers may cache
        what they derive from it by identity. Runtime: O(1) amortised.
        """
        held = self._stocking.get(sku)
        if held is None:
            locations = self._skus.get(sku)
            if locations is None:
                return _NO_LOCATIONS
            held = self._stocking[sku] = tuple(locations)
        return held

    def on_hand_and_available(self, sku: str, location: str) -> tuple[int, int]:
        """(on hand, available) of a position, without building a ``StockLevel``. O(1)."""
        pos = self._positions.get((sku, location))
        return (0, 0) if pos is None else (pos.on_hand, pos.available())

    def entries_since(self, sequence: int) -> list[LedgerEntry]:
        """The entries numbered after ``sequence``, in sequence order.

        Runtime: O(new entries), or O(n) for a ledger numbered by a ``SequenceSource``.
        """
        if self._sequences is None:
            return self._entries[sequence:]
        return sorted(
            (e for e in self._entries if e.sequence > sequence), key=attrgetter("sequence")
        )

    @property
    def cursor(self) -> int:
        """How many entries this ledger holds: pass it to :meth:`entries_from` later."""
        return len(self._entries)

    def entries_from(self, cursor: int) -> list[LedgerEntry]:
        """The entries this ledger took in after :attr:`cursor` was ``cursor``, in that order.

        What a command wrote, whatever numbers they got. Runtime: O(new entries).
        """
        return self._entries[cursor:]

    def locations_of(self, sku: str) -> list[LocationId]:
        """The locations that hold a position for ``sku``, in the order they were created."""
        return [LocationId(loc) for loc in self._skus.get(sku, ())]

    def positions(self) -> Iterator[tuple[Sku, LocationId]]:
        """Every (sku, location) that has a position."""
        for s, loc in self._positions:
            yield Sku(s), LocationId(loc)

    def entries(
        self,
        *,
        sku: str | None = None,
        location: str | None = None,
        kind: EntryKind | None = None,
        reference: str | None = None,
        since: int = 0,
    ) -> list[LedgerEntry]:
        """Ledger entries in sequence order, filtered; ``since`` skips sequences <= it.

        Runtime complexity: O(k) in the position's entries when both ``sku`` and
        ``location`` are given, else O(n) in all entries.
        """
        if sku is not None and location is not None:
            pos = self._positions.get((sku, location))
            source: Iterable[LedgerEntry] = sorted(
                pos.history if pos else (), key=attrgetter("sequence")
            )
        else:
            source = self._entries[since:] if since >= 0 else self._entries
            if self._sequences is not None:
                source = sorted(self._entries, key=attrgetter("sequence"))
        return [
            e
            for e in source
            if e.sequence > since
            and (sku is None or e.sku == sku)
            and (location is None or e.location == location)
            and (kind is None or e.kind is kind)
            and (reference is None or e.reference == reference)
        ]

    @property
    def last_sequence(self) -> int:
        """The highest sequence number of any entry (0 for an empty ledger)."""
        return self._top

    def reservation(self, reservation_id: str) -> Reservation:
        """A reservation by id (``UnknownReservation`` if there is none)."""
        try:
            return self._reservations[reservation_id]
        except (KeyError, TypeError):
            raise UnknownReservation(f"no reservation {reservation_id!r}") from None

    def reservations(self, *, active_only: bool = True) -> list[Reservation]:
        """Reservations in creation order; only active ones unless told otherwise."""
        return [
            r
            for r in self._reservations.values()
            if not active_only or r.status is ReservationStatus.ACTIVE
        ]

    def supply_line(self, supply_id: str) -> SupplyLine:
        """An expected supply line by id (``UnknownSupplyLine`` if there is none)."""
        try:
            return self._supply[supply_id]
        except (KeyError, TypeError):
            raise UnknownSupplyLine(f"no expected supply line {supply_id!r}") from None

    def transfer_by_id(self, transfer_id: str) -> Transfer:
        """A transfer by id (``UnknownTransfer`` if there is none)."""
        try:
            return self._transfers[transfer_id]
        except (KeyError, TypeError):
            raise UnknownTransfer(f"no transfer {transfer_id!r}") from None

    def incoming_schedule(self, sku: str, location: str | None = None) -> list[IncomingSupply]:
        """What is on its way for ``sku`` (to one location, or anywhere), by ETA.

        Runtime complexity: O(s log s) in the supply lines and transfers ever sent to the
        position (to every position of the SKU without ``location``).
        """
        positions = (
            [(sku, location)]
            if location is not None
            else [(sku, loc) for loc in self._skus.get(sku, ())]
        )
        rows = []
        for k in positions:
            for source in self._inbound.get(k, ()):
                # The index only grows: a rolled-back id may have been issued again for
                # another position, so every row is checked against the position.
                s = self._supply.get(source)
                if s is not None and (s.sku, s.location) == k and s.open_quantity:
                    rows.append(IncomingSupply(s.eta, s.sku, s.location, s.open_quantity, s.id))
                t = self._transfers.get(source)
                if t is not None and (t.sku, t.to_location) == k and t.in_transit:
                    rows.append(IncomingSupply(t.eta, t.sku, t.to_location, t.in_transit, t.id))
        rows.sort(key=lambda r: (r.eta, r.location, _made(r.source)))  # ties: as made
        return rows

    def unpromised_supply(self, sku: str, location: str) -> list[tuple[datetime, int]]:
        """Arrivals expected at a position that no waiting backorder has claimed yet.

        As ``(eta, units)``, earliest first: arrivals first restore the position's safety
        stock (and cover anything committed beyond what is on hand), then fill its waiting
        backorders first-in-first-out; what is left is what a new backorder can be
        promised against.

        >>> from datetime import datetime, UTC
        >>> t, eta = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)
        >>> ledger = Ledger()
        >>> ledger.add_location("hub")
        >>> _ = ledger.configure("X", "hub", PositionSettings(allow_backorders=True), at=t)
        >>> _ = ledger.expect("X", "hub", 10, eta=eta, at=t)
        >>> _ = ledger.backorder("X", "hub", 4, at=t, reference="o1/1")
        >>> ledger.unpromised_supply("X", "hub")
        [(datetime.datetime(2026, 3, 5, 0, 0, tzinfo=datetime.timezone.utc), 6)]

        Runtime complexity: O(s log s) in the open supply lines and transfers.
        """
        pos = self._positions.get((sku, location))
        if pos is None or not pos.incoming:
            return []
        claimed = self._claimed(pos)
        free = []
        for eta, units in self._promisable(sku, location):
            n = units - min(claimed, units)
            claimed -= units - n
            if n:
                free.append((eta, n))
        return free

    def uncovered_backorders(self, sku: str, location: str) -> int:
        """Units backordered at a position that its own promisable supply will not fill.

        They wait for supply elsewhere (the Oms sources them again when it lands), so a
        network's available-to-promise gives them the network's next arrivals.

        >>> from datetime import datetime, UTC
        >>> t, eta = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)
        >>> ledger = Ledger()
        >>> ledger.add_location("hub")
        >>> _ = ledger.configure("X", "hub", PositionSettings(allow_backorders=True), at=t)
        >>> _ = ledger.expect("X", "hub", 3, eta=eta, at=t)
        >>> _ = ledger.backorder("X", "hub", 4, at=t, reference="o1/1")
        >>> ledger.uncovered_backorders("X", "hub")
        1

        Runtime complexity: O(s log s) in the open supply lines and transfers.
        """
        pos = self._positions.get((sku, location))
        if pos is None or not pos.backordered:
            return 0
        coming = sum(units for _, units in self._promisable(sku, location))
        return min(pos.backordered, max(0, self._claimed(pos) - coming))

    @staticmethod
    def _claimed(pos: _Position) -> int:
        """Units of a position's arrivals already spoken for, earliest arrivals first.

        Arrivals first make good any shortfall below safety stock (what is committed,
        reserved or unavailable beyond what is on hand); only then do backorders fill.
        """
        shortfall = pos.settings.safety_stock + pos.committed + pos.reserved + pos.unavailable
        return pos.backordered + max(0, shortfall - pos.on_hand)

    def _promisable(self, sku: str, location: str) -> Iterator[tuple[datetime, int]]:
        """(eta, units) of arrivals due at a position that may be promised, by ETA."""
        for row in self.incoming_schedule(sku, location):
            t = self._transfers.get(row.source)
            if t is not None and t.unavailable_reason is not None:
                continue  # arrives unavailable: nothing can be promised against it
            yield row.eta, row.quantity

    # -- invariants --------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Prove the cached balances equal a replay of the entries, and every rule holds.

        Raises ``InvariantViolation`` naming the position and the broken invariant.
        Runtime complexity: O(n) in the entries.
        """
        replay: dict[tuple[str, str], list[int]] = {}
        self._check_numbering()
        for e in self._entries:
            b = replay.setdefault((e.sku, e.location), [0] * 6)
            for j, s in enumerate(SIGNS[e.kind]):
                b[j] += s * e.quantity
        for k, pos in self._positions.items():
            cached = pos.buckets()
            if tuple(replay.get(k, (0,) * 6)) != cached:
                raise InvariantViolation(
                    f"{k[0]} at {k[1]}: cached {cached} != replayed {tuple(replay.get(k, ()))}"
                )
            if (problem := rule_violation(cached)) is not None:
                raise InvariantViolation(f"{k[0]} at {k[1]}: {problem}")
            if sorted(pos.history, key=lambda e: (e.at, e.sequence)) != pos.history:
                raise InvariantViolation(f"{k[0]} at {k[1]}: the as-of index is out of order")
            self._check_history(k, pos)
            waiting = sum(n for _, n in self._queues.get(k, ()))
            if waiting != pos.backordered:
                raise InvariantViolation(
                    f"{k[0]} at {k[1]}: backorder queue holds {waiting}, balance {pos.backordered}"
                )
        if replay.keys() - self._positions.keys():
            raise InvariantViolation("entries name positions the ledger does not hold")
        self._check_entities()

    def _check_numbering(self) -> None:
        if self._sequences is None:
            for i, e in enumerate(self._entries, start=1):
                if e.sequence != i:
                    raise InvariantViolation(f"entry {i} has sequence {e.sequence}")
        elif len({e.sequence for e in self._entries}) != len(self._entries):
            raise InvariantViolation("two entries share a sequence number")
        if max((e.sequence for e in self._entries), default=0) != self._top:
            raise InvariantViolation(f"the highest sequence is not {self._top}")

    def _check_history(self, k: tuple[str, str], pos: _Position) -> None:
        running = [0] * 6
        if pos.top != max((e.sequence for e in pos.history), default=0):
            raise InvariantViolation(f"{k[0]} at {k[1]}: the highest sequence is not {pos.top}")
        for e in pos.history:
            for j, s in enumerate(SIGNS[e.kind]):
                running[j] += s * e.quantity
            if (problem := rule_violation(running)) is not None:
                raise InvariantViolation(f"{k[0]} at {k[1]} as of {e.at}: {problem}")

    def _check_entities(self) -> None:
        held: dict[tuple[str, str], int] = {}
        for r in self._reservations.values():
            held[(r.sku, r.location)] = held.get((r.sku, r.location), 0) + r.remaining
        for k, pos in self._positions.items():
            if held.get(k, 0) != pos.reserved:
                raise InvariantViolation(
                    f"{k[0]} at {k[1]}: reservations hold {held.get(k, 0)}, reserved {pos.reserved}"
                )
        expected: dict[tuple[str, str], int] = {}
        for s in self._supply.values():
            expected[(s.sku, s.location)] = expected.get((s.sku, s.location), 0) + s.open_quantity
        for t in self._transfers.values():
            k = (t.sku, t.to_location)
            expected[k] = expected.get(k, 0) + t.in_transit
        for k, pos in self._positions.items():
            if expected.get(k, 0) != pos.incoming:
                raise InvariantViolation(
                    f"{k[0]} at {k[1]}: open supply and transfers {expected.get(k, 0)}, "
                    f"incoming {pos.incoming}"
                )

    # -- persistence (for durable adapters) -------------------------------------------------

    def changes(self, savepoint: Savepoint) -> LedgerChanges:
        """What the transaction opened by ``savepoint`` changed, to write at commit.

        Call it before :meth:`release_savepoint`. Runtime: O(changes).
        """
        if self._journal is None:
            msg = "no savepoint is open: nothing has been recorded"
            raise RuntimeError(msg)
        positions: set[tuple[str, str]] = set()
        rows: dict[str, set[str]] = {}
        skus: set[str] = set()
        locations: set[str] = set()
        ids = False
        for record in self._journal:
            tag = record[0]
            if tag == "pos":
                positions.add(record[4])
            elif tag == "new-pos" or tag.startswith("queue"):
                positions.add(record[1])
            elif tag == "put":
                # Most commands (an order placed, shipped) put no row: look the tables up
                # only when one does.
                name = next(n for n, t in self._tables().items() if t is record[1])
                rows.setdefault(name, set()).add(record[2])
            elif tag == "sku":
                skus.add(record[1])
            elif tag == "location":
                locations.add(record[1])
            elif tag == "ids":
                ids = True
        return LedgerChanges(
            tuple(self._entries[savepoint.cursor :]),
            frozenset(positions),
            {name: frozenset(rows.get(name, ())) for name in _TABLES},
            frozenset(skus) if skus else _NOTHING,
            frozenset(locations) if locations else _NOTHING,
            dict(self._ids) if ids else None,
        )

    def position_state(
        self, sku: str, location: str
    ) -> tuple[tuple[int, ...], PositionSettings, list[tuple[str, int]]]:
        """A position's buckets, settings and backorder queue, as a durable adapter stores them."""
        pos = self._positions[(sku, location)]
        return pos.buckets(), pos.settings, list(self._queues.get((sku, location), ()))

    def row(self, table: str, key: str) -> Any:
        """A row of ``table`` (one of :data:`LEDGER_TABLES`), or ``None`` if it is gone."""
        return self._tables()[table].get(key)

    def install(
        self,
        *,
        locations: Iterable[str] = (),
        skus: Iterable[str] = (),
        positions: Mapping[
            tuple[str, str], tuple[Sequence[int], PositionSettings, Sequence[tuple[str, int]]]
        ] = _EMPTY,
        entries: Iterable[LedgerEntry] = (),
        rows: Mapping[str, Mapping[str, Any]] = _EMPTY,
        ids: Mapping[str, int] | None = None,
    ) -> None:
        """Bring in state a durable adapter read back: at start, or written by another process.

        ``positions`` maps a position to its buckets (on hand, committed, reserved,
        unavailable, incoming, backordered), settings and backorder queue; ``entries``
        continue the sequence (each the next number); ``rows`` maps a table of
        :data:`LEDGER_TABLES` to its changed rows (``None``: deleted). Nothing is checked
        against the rules: the state was valid when it was written. Not inside a savepoint.
        In a ledger numbered by a :class:`SequenceSource`, entries a position already
        holds are skipped, so installing what was read twice is harmless.
        """
        if self._journal is not None:
            msg = "install is not allowed while a savepoint is open"
            raise RuntimeError(msg)
        for loc in locations:
            self._locations[loc] = None
        for sku in skus:
            self._skus.setdefault(sku, {})
        for (sku, location), (buckets, settings, queue) in positions.items():
            self._install_position(sku, location, buckets, settings, queue)
        self._install_entries(entries)
        self._install_rows(rows)
        if ids is not None:
            self._ids.update(ids)

    def _install_entries(self, entries: Iterable[LedgerEntry]) -> None:
        for entry in entries:
            if self._sequences is None and entry.sequence != len(self._entries) + 1:
                msg = f"entry {entry.sequence} does not follow {len(self._entries)}"
                raise InvariantViolation(msg)
            pos = self._positions[(entry.sku, entry.location)]
            if self._sequences is not None and entry.sequence <= pos.top:
                # Held already: a position's numbers grow in commit order, so one at or
                # below its highest was installed before (reading again is harmless).
                continue
            self._entries.append(entry)
            insort(pos.history, entry, key=_order)
            pos.top = max(pos.top, entry.sequence)
            self._top = max(self._top, entry.sequence)

    def _install_rows(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        tables = self._tables()
        for name, changed in rows.items():
            # In the order they were made, whatever order a database reads them in (its
            # index puts RSV-10 before RSV-9): a table's order is its listing's order.
            for key, value in sorted(changed.items(), key=lambda row: _made(row[0])):
                if value is None:
                    tables[name].pop(key, None)
                    continue
                tables[name][key] = value
                if name == "supply":
                    self._inbound.setdefault((value.sku, value.location), {})[key] = None
                elif name == "transfers":
                    self._inbound.setdefault((value.sku, value.to_location), {})[key] = None

    def _install_position(
        self,
        sku: str,
        location: str,
        buckets: Sequence[int],
        settings: PositionSettings,
        queue: Sequence[tuple[str, int]],
    ) -> None:
        k = (sku, location)
        pos = self._positions.get(k)
        if pos is None:
            pos = self._positions[k] = _Position()
            self._skus.setdefault(sku, {})[location] = None
            self._stocking.pop(sku, None)
        pos.restore(tuple(buckets), settings)
        if queue:
            self._queues[k] = deque((ref, n) for ref, n in queue)
        else:
            self._queues.pop(k, None)

    def _tables(self) -> dict[str, dict[str, Any]]:
        return {
            "reservations": self._reservations,
            "supply": self._supply,
            "transfers": self._transfers,
            "keys": self._keys,
        }

    # -- savepoints (used by the in-memory unit of work) ------------------------------------

    def savepoint(self) -> Savepoint:
        """Start recording undo information; :meth:`rollback` returns to this point.

        Only one savepoint may be open at a time. Runtime complexity: O(1).
        """
        if self._journal is not None:
            msg = "a savepoint is already open"
            raise RuntimeError(msg)
        self._journal = []
        if self._touched:
            self._touched.clear()
        return Savepoint(len(self._entries), self._top)

    def release_savepoint(self, savepoint: Savepoint) -> None:
        """Keep everything written since ``savepoint`` and stop recording."""
        del savepoint
        self._journal = None
        if self._touched:
            self._touched.clear()

    def rollback(self, savepoint: Savepoint) -> None:
        """Undo everything written since ``savepoint``, leaving no trace of it."""
        if self._journal is None:
            # Without the journal only the entries could be cut back, not the balances.
            msg = "no savepoint is open: nothing to roll back to"
            raise RuntimeError(msg)
        journal = self._journal
        self._journal = None
        self._touched = set()
        added = {e.sequence for e in self._entries[savepoint.cursor :]}
        for record in reversed(journal):
            self._undo(record, added)
        del self._entries[savepoint.cursor :]
        self._top = savepoint.top

    def _undo(self, record: tuple[Any, ...], added: set[int]) -> None:
        tag = record[0]
        if tag == "pos":
            _, pos, buckets, settings, _k = record
            pos.restore(buckets, settings)
            if added:
                pos.history = [e for e in pos.history if e.sequence not in added]
                pos.top = max((e.sequence for e in pos.history), default=0)
        elif tag == "new-pos":
            _, k = record
            del self._positions[k]
            del self._skus[k[0]][k[1]]
            self._stocking.pop(k[0], None)
        elif tag == "put":
            _, table, key, old = record
            if old is _MISSING:
                del table[key]
            else:
                table[key] = old
        elif tag == "location":
            del self._locations[record[1]]
        elif tag == "sku":
            del self._skus[record[1]]
        elif tag == "ids":
            self._ids[record[1]] = record[2]
        elif tag.startswith("queue"):
            self._undo_queue(record)

    def _undo_queue(self, record: tuple[Any, ...]) -> None:
        tag, k, *rest = record
        if tag == "queue-new":
            del self._queues[k]
        elif tag == "queue-append":
            self._queues[k].pop()
        elif tag == "queue-popleft":
            self._queues[k].appendleft(rest[0])
        elif tag == "queue-head":
            self._queues[k][0] = rest[0]
        elif tag == "queue-del":
            self._queues[k] = rest[0]
        elif rest[0] is None:  # queue-copy of a queue that did not exist
            self._queues.pop(k, None)
        else:
            self._queues[k] = rest[0]

    # -- internals ----------------------------------------------------------------------------

    def _log(self, *record: Any) -> None:
        if self._journal is not None:
            self._journal.append(record)

    def _touch(self, pos: _Position, k: tuple[str, str]) -> None:
        if self._journal is not None and id(pos) not in self._touched:
            self._touched.add(id(pos))
            self._journal.append(("pos", pos, pos.buckets(), pos.settings, k))

    def _put(self, table: dict[str, Any], key: str, value: Any) -> None:
        if self._journal is not None:
            self._journal.append(("put", table, key, table.get(key, _MISSING)))
        table[key] = value

    def _queue_for_update(self, k: tuple[str, str]) -> deque[tuple[str, int]]:
        """The queue of ``k``, journaled whole: for rare edits in the middle of a queue."""
        old = self._queues.get(k)
        if self._journal is not None:
            self._journal.append(("queue-copy", k, None if old is None else deque(old)))
        if old is None:
            old = self._queues[k] = deque()
        return old

    def _next_id(self, prefix: str) -> str:
        n = self._ids[prefix]
        if self._journal is not None:
            self._journal.append(("ids", prefix, n))
        self._ids[prefix] = n + 1
        return f"{prefix}-{n + 1}"

    def _known(self, sku: str, location: str) -> None:
        if location not in self._locations:
            as_location_id(location)
            raise UnknownLocation(f"location {location!r} was never added")
        if sku not in self._skus:
            as_sku(sku)
            raise UnknownSku(f"SKU {sku!r} is not known: receive or expect it first")

    def _lookup(self, sku: str, location: str) -> _Position | None:
        try:
            return self._positions.get((sku, location))
        except TypeError:  # an unhashable id: say which one is malformed
            as_sku(sku)
            as_location_id(location)
            raise

    def _position(self, sku: str, location: str, *, create: bool = False) -> _Position:
        k = (sku, location)
        pos = self._lookup(sku, location)
        if pos is not None:
            return pos
        if location not in self._locations:
            self._known(sku, location)
        if not create:
            if sku not in self._skus:
                self._known(sku, location)
            # A known SKU with no position here yet: an empty position, so the caller's
            # rule check reports "0 available" rather than a lookup error.
            return _Position()
        if sku not in self._skus:
            as_sku(sku)
            self._skus[sku] = {}
            self._log("sku", sku)
        pos = self._positions[k] = _Position()
        self._skus[sku][location] = None
        self._stocking.pop(sku, None)
        if self._journal is not None:
            self._journal.append(("new-pos", k))
            # Undone by removing it whole: its buckets need no saving (see _touch).
            self._touched.add(id(pos))
        return pos

    def _post(
        self,
        pos: _Position,
        sku: str,
        location: str,
        kind: EntryKind,
        q: int,
        at: datetime,
        reference: str | None,
        reason: str | None,
        key: str | None,
        unit_cost: Money | None = None,
    ) -> LedgerEntry:
        """Append one entry for ``pos`` (whose buckets the caller updates next)."""
        history = pos.history
        if self._sequences is None:
            sequence = len(self._entries) + 1
        else:
            sequence = self._sequences.next_after(pos.top)
            if sequence <= pos.top:
                msg = f"the sequence source gave {sequence}, not above {pos.top}"
                raise InvariantViolation(msg)
        entry = _new_entry(
            LedgerEntry,
            (sequence, at, sku, location, kind, q, reference, reason, key, unit_cost),
        )
        if history and at < history[-1].at:
            self._check_backdated(pos, entry)
            if self._journal is not None and id(pos) not in self._touched:
                self._touch(pos, (sku, location))
            insort(history, entry, key=_order)
        else:
            if self._journal is not None and id(pos) not in self._touched:
                self._touch(pos, (sku, location))
            history.append(entry)
        self._entries.append(entry)
        pos.top = sequence
        if sequence > self._top:  # noqa: PLR1730 (hot path: no call)
            self._top = sequence
        return entry

    def _precheck(
        self, pos: _Position, sku: str, location: str, kind: EntryKind, q: int, at: datetime
    ) -> None:
        """Refuse a backdated posting before anything of a multi-entry command is written."""
        if pos.history and at < pos.history[-1].at:
            provisional = LedgerEntry(
                len(self._entries) + 1, at, Sku(sku), LocationId(location), kind, q
            )
            self._check_backdated(pos, provisional)

    def _check_backdated(self, pos: _Position, entry: LedgerEntry) -> None:
        history = pos.history
        cut = bisect_right(history, entry.at, key=_at)
        running = list(self._buckets_from(history[:cut]))
        for e in itertools.chain((entry,), history[cut:]):
            for j, s in enumerate(SIGNS[e.kind]):
                running[j] += s * e.quantity
            if (problem := rule_violation(running)) is not None:
                raise BackdatedPostingRejected(
                    f"a {entry.kind.value} of {entry.quantity} {entry.sku} at {entry.location} "
                    f"backdated to {entry.at} would break a rule as of {e.at}: {problem}"
                )

    @staticmethod
    def _buckets_from(entries: Iterable[LedgerEntry]) -> tuple[int, ...]:
        b = [0] * 6
        for e in entries:
            for j, s in enumerate(SIGNS[e.kind]):
                b[j] += s * e.quantity
        return tuple(b)

    def _buckets_as_of(self, pos: _Position, as_of: datetime) -> tuple[int, ...]:
        history = pos.history
        return self._buckets_from(history[: bisect_right(history, as_of, key=_at)])

    def _fill_backorders(
        self, sku: str, location: str, pos: _Position, at: datetime
    ) -> tuple[BackorderFill, ...]:
        k = (sku, location)
        queue = self._queues.get(k)
        if not queue or pos.available() <= 0:
            return _NO_FILLS
        fills: list[BackorderFill] = []
        # Supply fills a backorder when it is known, never in the past of the position.
        when = max(at, pos.history[-1].at) if pos.history else at
        # Each step journals only what it changed: O(filled claims), whatever waits behind.
        while queue and (free := pos.available()) > 0:
            ref, waiting = queue[0]
            take = min(free, waiting)
            self._post(pos, sku, location, _K.BACKORDER_FILLED, take, when, ref, None, None)
            pos.backordered -= take
            pos.committed += take
            if take == waiting:
                self._log("queue-popleft", k, queue.popleft())
            else:
                self._log("queue-head", k, queue[0])
                queue[0] = (ref, waiting - take)
            fills.append(BackorderFill(Sku(sku), LocationId(location), ref, take))
        if not queue:
            del self._queues[k]
            self._log("queue-del", k, queue)
        return tuple(fills)

    def _need(self, have: int, want: int, what: str, sku: str, location: str) -> None:
        if have < want:
            raise InsufficientStock(
                f"{sku} at {location}: {want} units needed but only {have} {what}"
            )

    def _seen(self, key: str, payload: tuple[Hashable, ...]) -> Any:
        if type(key) is not str or not key or len(key) > 200:
            raise InvalidIdentifier(f"an idempotency key must be a non-empty string, got {key!r}")
        hit = self._keys.get(key)
        if hit is None:
            self._pending = payload
            return None
        if not same_payload(hit[0], payload):
            raise IdempotencyConflict(
                f"idempotency key {key!r} was first used with other arguments: {hit[0]!r}"
            )
        return hit[1]

    def _done(self, key: str | None, result: _T) -> _T:
        if key is not None:
            self._log("put", self._keys, key, _MISSING)
            self._keys[key] = (self._pending, result)
        return result


def _not_before(created_at: datetime, at: datetime, what: str) -> None:
    # Balance rules alone cannot see this when other supply or holds at the position cover
    # the gap: the units would be in two places (or released unreserved) as of ``at``.
    if at < created_at:
        raise BackdatedPostingRejected(
            f"{what} was created at {created_at}: nothing can happen to it at {at}, "
            "before it existed"
        )


# Entries and postings are built from checked data on the hot path: tuple.__new__ skips the
# NamedTuple's Python-level __new__ (same object, a third of the cost).
_new_entry: Callable[[type[LedgerEntry], tuple[Any, ...]], LedgerEntry] = tuple.__new__
_new_posting: Callable[[type[Posting], tuple[Any, ...]], Posting] = tuple.__new__


def _made(key: str) -> tuple[str, int]:
    """Where a row stands in the order rows were made: ids are ``PREFIX-n`` (``_next_id``).

    Keys of other forms (the ``keys`` table's idempotency keys) sort by themselves.
    """
    prefix, _, n = key.rpartition("-")
    return (prefix, int(n)) if n.isdecimal() else (key, 0)


def _order(e: LedgerEntry) -> tuple[datetime, int]:
    return (e.at, e.sequence)


def _when(at: object) -> None:
    # The cheap test first: this runs on every posting.
    if type(at) is not datetime or at.tzinfo is None:
        aware(at)


def _reference(reference: object) -> None:
    if type(reference) is not str or not reference or len(reference) > 200:
        raise InvalidIdentifier(f"a reference must be a non-empty string, got {reference!r}")


def _unit_cost(cost: object) -> None:
    # Off the hot path: receive calls this only when a cost is given.
    if not isinstance(cost, Money):
        raise InvalidMoney(
            f"a unit cost must be a Money such as Money('2.50', 'EUR'), got "
            f"{type(cost).__name__} {cost!r}"
        )
    if cost.amount < 0:
        raise InvalidMoney(f"a unit cost must not be negative, got {cost}")


def _reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidIdentifier(
            f"a reason must be a non-empty string of at most 500 characters, got {reason!r}"
        )
    return reason
