"""Archiving: finished orders leave the live store for the archive, and stay readable there."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final, Protocol, cast

from omsims.domain.archive import ArchivedOrder, unfinished
from omsims.domain.copies import deep_copy
from omsims.domain.orders import Order
from omsims.errors import (
    IllegalTransition,
    InvalidIdentifier,
    InvalidQuantity,
    UnknownOrder,
    ValidationError,
)
from omsims.ports import OrderArchive, UnitOfWork
from omsims.service._core import ServiceCore, _id, placement_key

__all__ = ["MAX_ARCHIVE_BATCH", "ArchiveCommands"]

MAX_ARCHIVE_BATCH: Final = 100_000
"""The most orders one :meth:`ArchiveCommands.archive_many` moves."""


class _Removable(Protocol):
    """What archiving needs of a store's repositories beyond the ports (the in-memory store)."""

    def remove(self, key: str, /) -> None: ...

    def remove_for_order(self, order_id: str, /) -> None: ...


class ArchiveCommands(ServiceCore):
    """Moving finished orders to the archive port, and reading them back."""

    def archive(self, order_id: str) -> ArchivedOrder:
        """Move a finished order, its fulfilment orders and shipments to the archive.

        Finished: delivered, returned or cancelled, with no return request open and no
        payment operation due (else ``IllegalTransition`` says what is still open). The
        ledger keeps every entry. Afterwards queries and commands on the order raise
        ``UnknownOrder`` saying it is archived, :meth:`archived_order` reads it, and
        placing it again is recognised as before (the same contents return the archived
        order, other contents raise ``IdempotencyConflict``). Archiving an archived order
        again returns its record: the order id is the idempotency key.

        Needs ``Oms(archive=...)`` and the in-memory store.

        >>> from omsims import Oms, Location, MemoryArchive
        >>> oms = Oms(archive=MemoryArchive())
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("MUG", "berlin-dc", 5)
        >>> _ = oms.place_order("web-1", [("MUG", 2)])
        >>> fo = oms.accept(oms.fulfilment_orders("web-1")[0].id)
        >>> _ = oms.deliver(oms.ship(fo.id).id)
        >>> record = oms.archive("web-1")
        >>> record.order.status.value, len(record.shipments), oms.available("MUG")
        ('delivered', 1, 3)
        >>> oms.order("web-1")
        Traceback (most recent call last):
        omsims.errors.UnknownOrder: order 'web-1' is archived: read it with archived_order(); ...
        """
        archive = self._archive()
        oid = _id(order_id, "order id")
        when = self._now(None)

        def body(uow: UnitOfWork) -> ArchivedOrder:
            order = uow.orders.get(oid)
            if order is None:
                done = archive.get(oid)
                if done is not None:
                    return deep_copy(done)
                raise UnknownOrder(f"no order {order_id!r}")
            record = _record(uow, order, when)
            _move(uow, archive, record)
            return deep_copy(record)  # the caller's: changing it changes no archive

        return self._run("archive", (oid,), None, body)

    def archive_many(self, order_ids: Iterable[str]) -> list[str]:
        """Move many finished orders to the archive in one command; the ids it moved.

        What :meth:`archive` does to each, for a nightly job or a long simulation: one
        unit of work for the lot, and no records handed back (copying them costs as much
        as moving them; read one with :meth:`archived_order`). All or nothing: an
        unknown or unfinished order raises what :meth:`archive` would and nothing
        moves. Orders already archived, and repeated ids, are skipped, so running it
        again is harmless. At most :data:`MAX_ARCHIVE_BATCH` ids.

        >>> from omsims import Oms, Location, MemoryArchive
        >>> oms = Oms(archive=MemoryArchive())
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("MUG", "berlin-dc", 5)
        >>> for n in (1, 2):
        ...     _ = oms.place_order(f"web-{n}", [("MUG", 1)])
        ...     _ = oms.deliver(oms.ship(oms.accept(oms.fulfilment_orders(f"web-{n}")[0].id).id).id)
        >>> oms.archive_many(["web-1", "web-2", "web-1"])
        ['web-1', 'web-2']
        >>> oms.archive_many(["web-2"]), len(oms.orders())
        ([], 0)
        """
        archive = self._archive()
        if isinstance(order_ids, str):
            raise InvalidIdentifier(f"archive_many takes order ids, not one id: {order_ids!r}")
        ids = list(dict.fromkeys(_id(oid, "order id") for oid in order_ids))
        if len(ids) > MAX_ARCHIVE_BATCH:
            raise InvalidQuantity(
                f"archive at most {MAX_ARCHIVE_BATCH} orders at a time, got {len(ids)}"
            )
        if not ids:
            return []
        when = self._now(None)

        def body(uow: UnitOfWork) -> list[str]:
            records = []
            for oid in ids:  # every order is checked before any moves
                order = uow.orders.get(oid)
                if order is not None:
                    records.append(_record(uow, order, when))
                elif archive.get(oid) is None:
                    raise UnknownOrder(f"no order {oid!r}")
            for record in records:
                _move(uow, archive, record)
            return [record.id for record in records]

        return self._run("archive_many", tuple(ids), None, body)

    def archived_order(self, order_id: str) -> ArchivedOrder:
        """A copy of an archived order's record (``UnknownOrder`` if it was never archived)."""
        record = self._archive().get(_id(order_id, "order id"))
        if record is None:
            raise UnknownOrder(f"order {order_id!r} is not archived")
        return deep_copy(record)

    def _archive(self) -> OrderArchive:
        if self.archive_port is None:
            raise ValidationError("this Oms has no archive: build it with Oms(archive=...)")
        return self.archive_port


def _record(uow: UnitOfWork, order: Order, when: datetime) -> ArchivedOrder:
    """The archive record of a finished order (``IllegalTransition`` if it is not)."""
    fulfilment_orders = uow.fulfilment_orders.for_order(order.id)
    why = unfinished(order, fulfilment_orders)
    if why is not None:
        raise IllegalTransition(f"cannot archive order {order.id}: {why}")
    placed = uow.idempotency.get(placement_key(order.id))
    # The store's own objects, not copies: they leave the store here and nothing changes
    # them after (a rollback puts them back as they are).
    return ArchivedOrder(
        order,
        tuple(fulfilment_orders),
        tuple(uow.shipments.for_order(order.id)),
        None if placed is None else placed[0],
        when,
    )


def _move(uow: UnitOfWork, archive: OrderArchive, record: ArchivedOrder) -> None:
    """Take the order out of the store and hand its record to the archive."""
    oid = record.id
    cast("_Removable", uow.orders).remove(oid)
    cast("_Removable", uow.fulfilment_orders).remove_for_order(oid)
    cast("_Removable", uow.shipments).remove_for_order(oid)
    cast("_Removable", uow.idempotency).remove(placement_key(oid))
    archive.put(record)  # last: if the archive refuses, the command rolls back
