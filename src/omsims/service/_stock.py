"""Stock commands: locations, positions, receipts, adjustments, supply, transfers, reservations."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs

from omsims.domain.events import LowStock, StockChanged
from omsims.domain.locations import Location, PositionSettings
from omsims.domain.stock import BackorderFill, EntryKind, Posting
from omsims.domain.supply import Reservation, SupplyLine, Transfer
from omsims.domain.values import Money
from omsims.errors import (
    AlreadyExists,
    InvalidIdentifier,
    InvalidQuantity,
    NotFoundError,
    UnknownSku,
    ValidationError,
)
from omsims.ports import StockLedger, UnitOfWork
from omsims.service._core import ServiceCore, _id

__all__ = ["MAX_RECEIPT_LINES", "StockCommands"]

_R = TypeVar("_R")


MAX_RECEIPT_LINES: Final = 100_000
"""The most lines one :meth:`StockCommands.receive_many` takes."""


_ReceiptLine = tuple[str, str, int] | tuple[str, str, int, Money | None]
"""A line of :meth:`StockCommands.receive_many`: ``(sku, location, qty)``, or with a unit cost."""


def _receipt_lines(lines: object, unit_cost: Money | None) -> tuple[tuple[Any, ...], ...]:
    """The lines of a delivery as tuples, or ``ValidationError`` naming the bad one.

    A line is ``(sku, location, qty)`` when it has no unit cost (its own or ``unit_cost``),
    else ``(sku, location, qty, cost)``: deliveries without costs keep the payload they
    always had, so their idempotency keys still match.
    """
    if isinstance(lines, str | bytes) or not isinstance(lines, Sequence):
        raise ValidationError(f"lines must be a list of (sku, location, qty), got {lines!r}")
    if len(lines) > MAX_RECEIPT_LINES:
        raise InvalidQuantity(f"a delivery has at most {MAX_RECEIPT_LINES} lines, got {len(lines)}")
    checked: list[tuple[Any, ...]] = []
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, tuple | list) or len(line) not in (3, 4):
            raise ValidationError(
                f"line {n} must be (sku, location, qty) or (sku, location, qty, unit_cost), "
                f"got {line!r}"
            )
        cost = line[3] if len(line) == 4 and line[3] is not None else unit_cost
        if cost is None:
            checked.append((line[0], line[1], line[2]))
        else:
            checked.append((line[0], line[1], line[2], cost))
    return tuple(checked)


class _Unchanged:
    """The default of settings that a call leaves as they are."""

    def __repr__(self) -> str:
        return "<unchanged>"


_UNSET: Any = _Unchanged()


class StockCommands(ServiceCore):
    """The commands that move stock without an order."""

    def add_location(self, location: Location, *, idempotency_key: str | None = None) -> Location:
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

        return self._run("add_location", (location,), idempotency_key, body)

    def update_location(
        self, location: Location, *, idempotency_key: str | None = None
    ) -> Location:
        """Replace an existing location's details (``UnknownLocation`` if there is none)."""
        if not isinstance(location, Location):
            raise InvalidIdentifier(f"update_location takes a Location, got {location!r}")

        def body(uow: UnitOfWork) -> Location:
            self._location(uow, location.id)
            uow.locations.put(location)
            return location

        return self._run("update_location", (location,), idempotency_key, body)

    def add_sku(self, sku: str, *, idempotency_key: str | None = None) -> None:
        """Make a SKU known before any stock of it exists (so it can be backordered)."""

        def body(uow: UnitOfWork) -> None:
            uow.ledger.add_sku(sku)

        self._run("add_sku", (sku,), idempotency_key, body)

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
        idempotency_key: str | None = None,
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
            if not uow.ledger.has_sku(_id(sku, "SKU")):
                raise UnknownSku(f"SKU {sku!r} is not known: add_sku or receive it first")
            settings = attrs.evolve(uow.ledger.settings(sku, location), **changes)
            _, before = uow.ledger.on_hand_and_available(sku, location)
            posting = uow.ledger.configure(sku, location, settings, at=when)
            self._settle(uow, posting, when)
            on_hand, after = uow.ledger.on_hand_and_available(sku, location)
            # Settings write no ledger entry, yet a new safety stock moves available: say so.
            if after != before and not posting.fills:
                self._emit(uow, StockChanged(when, sku, location, on_hand, after))
            threshold = settings.low_stock_threshold
            if threshold is not None and after <= threshold < before:
                self._emit(uow, LowStock(when, sku, location, after, threshold))
            return settings

        return self._run(
            "configure_position",
            (sku, location, tuple(sorted(changes.items())), at),
            idempotency_key,
            body,
        )

    # == stock commands ================================================================

    def receive(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        at: datetime | None = None,
        reference: str | None = None,
        unit_cost: Money | None = None,
        idempotency_key: str | None = None,
    ) -> Posting:
        """Receive units at a location; waiting backorders there are filled first.

        ``unit_cost`` is what one unit cost (a ``Money`` of at least zero; ``None``: not
        known); the entry keeps it, and :meth:`valuation` values the units by it.

        >>> from omsims import Oms, Location, Money
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> oms.receive("TSHIRT-M", "berlin-dc", 10).entries[0].kind
        <EntryKind.RECEIVED: 'received'>
        >>> posting = oms.receive("TSHIRT-M", "berlin-dc", 5, unit_cost=Money("4.20", "EUR"))
        >>> posting.entries[0].unit_cost
        Money(amount=Decimal('4.20'), currency='EUR')
        """
        payload: tuple[Hashable, ...] = (sku, location, qty, at, reference)
        return self._ledger_command(
            "receive",
            payload if unit_cost is None else (*payload, unit_cost),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.receive(
                sku, location, qty, at=when, key=key, reference=reference, unit_cost=unit_cost
            ),
        )

    def receive_many(
        self,
        lines: Sequence[_ReceiptLine],
        *,
        at: datetime | None = None,
        reference: str | None = None,
        unit_cost: Money | None = None,
        idempotency_key: str | None = None,
    ) -> list[Posting]:
        """Receive a delivery of many lines, ``(sku, location, qty)``, as one command.

        All or nothing: a bad line (unknown location, bad quantity) raises its error and
        no line is received. Each line fills waiting backorders as :meth:`receive` does.
        At most :data:`MAX_RECEIPT_LINES` lines. A line may carry its own unit cost as a
        fourth item, ``(sku, location, qty, unit_cost)``; ``unit_cost`` is the cost of
        every line that gives none (``None``: not known).

        >>> from omsims import Oms, Location, Money
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> postings = oms.receive_many([("MUG", "berlin-dc", 10), ("TEE", "berlin-dc", 4)])
        >>> [p.entries[0].quantity for p in postings], oms.available("TEE", "berlin-dc")
        ([10, 4], 4)
        >>> postings = oms.receive_many(
        ...     [("MUG", "berlin-dc", 2, Money("3.10", "EUR")), ("TEE", "berlin-dc", 1)],
        ...     unit_cost=Money("5.00", "EUR"),
        ... )
        >>> [str(p.entries[0].unit_cost) for p in postings]
        ['3.10 EUR', '5.00 EUR']
        """
        checked = _receipt_lines(lines, unit_cost)
        when = self._now(at)

        def body(uow: UnitOfWork) -> list[Posting]:
            postings = []
            for n, (sku, location, qty, *cost) in enumerate(checked, start=1):
                # One ledger key per line, so every unit still traces to the command.
                key = None if idempotency_key is None else f"{idempotency_key}#{n}"
                try:
                    posting = uow.ledger.receive(
                        sku,
                        location,
                        qty,
                        at=when,
                        key=key,
                        reference=reference,
                        unit_cost=cost[0] if cost else None,
                    )
                except (ValidationError, NotFoundError) as error:
                    # The same type, saying which line: the unit of work undoes the rest.
                    raise type(error)(f"line {n}: {error}") from error
                self._settle(uow, posting, when)
                postings.append(posting)
            return postings

        return self._run("receive_many", (checked, at, reference), idempotency_key, body)

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
        unit_cost: Money | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> SupplyLine:
        """Record supply due at a location by ``eta``; it counts as incoming until received.

        ``unit_cost`` is what one unit costs (``None``: not known): the supply line keeps
        it, and every receipt of the line (:meth:`receive_expected`) carries it.

        >>> from datetime import datetime, UTC
        >>> from omsims import Oms, Location, Money
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> line = oms.expect("MUG", "berlin-dc", 20, eta=datetime(2030, 1, 1, tzinfo=UTC),
        ...                   unit_cost=Money("1.80", "EUR"))
        >>> oms.receive_expected(line.id, 5).entries[0].unit_cost
        Money(amount=Decimal('1.80'), currency='EUR')
        """
        payload: tuple[Hashable, ...] = (sku, location, qty, eta, reference, at)
        return self._ledger_command(
            "expect",
            payload if unit_cost is None else (*payload, unit_cost),
            idempotency_key,
            at,
            lambda ledger, when, key: ledger.expect(
                sku,
                location,
                qty,
                eta=eta,
                at=when,
                key=key,
                reference=reference,
                unit_cost=unit_cost,
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

    def expire_reservations(
        self, *, at: datetime | None = None, idempotency_key: str | None = None
    ) -> list[Reservation]:
        """Expire every reservation whose expiry has passed; returns them."""
        when = self._now(at)

        def body(uow: UnitOfWork) -> list[Reservation]:
            before = uow.ledger.cursor
            expired = uow.ledger.expire_due(at=when)
            fills = [
                BackorderFill(e.sku, e.location, e.reference, e.quantity)
                for e in uow.ledger.entries_from(before)
                if e.kind is EntryKind.BACKORDER_FILLED and e.reference is not None
            ]
            self._apply_fills(uow, fills, when)
            return expired

        return self._run("expire_reservations", (at,), idempotency_key, body)

    def _ledger_command(
        self,
        name: str,
        payload: tuple[Hashable, ...],
        key: str | None,
        at: datetime | None,
        post: Callable[[StockLedger, datetime, str | None], _R],
    ) -> _R:
        when = self._now(at)

        def body(uow: UnitOfWork) -> _R:
            # The key also goes on the ledger entries, so every unit traces to its command.
            result = post(uow.ledger, when, key)
            if isinstance(result, Posting):
                self._settle(uow, result, when)
            return result

        return self._run(name, payload, key, body)
