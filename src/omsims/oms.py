"""The composition root: :class:`Oms`, wired with in-memory defaults.

Nothing is built at import time; every ``Oms()`` gets its own store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omsims.adapters.clock import SystemClock
from omsims.adapters.memory import MemoryStore
from omsims.adapters.notifiers import NullNotifier
from omsims.domain.channels import SalesChannel
from omsims.domain.pickup import PickupPolicy
from omsims.domain.returns import RefundPolicy
from omsims.errors import ValidationError
from omsims.ports import (
    Clock,
    Notifier,
    OrderArchive,
    PaymentGateway,
    ShippingCarrier,
    UnitOfWorkFactory,
)
from omsims.service import OmsService
from omsims.sourcing.plan import SourcingStrategy
from omsims.sourcing.priority import PriorityStrategy
from omsims.sourcing.returns import ReturnRouting

__all__ = ["Oms"]


class Oms(OmsService):
    """The order- and inventory-management system, ready to use.

    Every argument is optional: in-memory storage, the system clock, a notifier that
    drops events (the latest 10,000 are kept in :attr:`published_events`), priority
    sourcing, no payment gateway, no carriers to buy labels from, returns routed by
    ``DefaultReturnRouting`` and refunded by ``RefundPolicy()``, pickups promised and
    held by ``PickupPolicy()``, no sales channels with SKU mappings or feeds, and no
    archive (every order stays in the store; see :meth:`archive`).

    >>> from omsims import Oms, Location, GeoPoint
    >>> oms = Oms()
    >>> _ = oms.add_location(Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40), priority=1))
    >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
    >>> _ = oms.place_order("web-1001", [("TSHIRT-M", 2)], ship_to=GeoPoint(48.14, 11.58))
    >>> print(oms.stock("TSHIRT-M", "berlin-dc"))
    TSHIRT-M @ berlin-dc: on_hand=10 committed=2 reserved=0 unavailable=0 safety_stock=0
    incoming=0 backordered=0 available=8
    """

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory | None = None,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        strategy: SourcingStrategy | None = None,
        payments: PaymentGateway | None = None,
        carriers: Sequence[ShippingCarrier] = (),
        return_routing: ReturnRouting | None = None,
        refund_policy: RefundPolicy | None = None,
        pickup: PickupPolicy | None = None,
        channels: Sequence[SalesChannel] = (),
        keep_events: int = 10_000,
        archive: OrderArchive | None = None,
    ) -> None:
        """Build an Oms; see the class docstring for the defaults."""
        super().__init__(
            unit_of_work if unit_of_work is not None else MemoryStore(),
            clock=clock if clock is not None else SystemClock(),
            notifier=notifier if notifier is not None else NullNotifier(),
            strategy=strategy if strategy is not None else PriorityStrategy(),
            payments=payments,
            carriers=carriers,
            return_routing=return_routing,
            refund_policy=refund_policy,
            pickup=pickup,
            channels=channels,
            keep_events=keep_events,
            archive=archive,
        )

    @classmethod
    def sqlite(
        cls,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 30.0,
        cached_orders: int | None = None,
        **options: Any,
    ) -> Oms:
        """An Oms stored in the SQLite file at ``path`` (created if missing).

        Several processes may open the same file; see :class:`~omsims.adapters.sqlite.
        SqliteStore` for ``synchronous``, ``busy_timeout`` and ``cached_orders`` (how
        many orders a long-running process keeps in memory). ``options`` are the other
        arguments of :class:`Oms` (clock, notifier, strategy, payments, carriers,
        keep_events). Needs the ``sqlite`` extra (``pip install omsims[sqlite]``).
        """
        from omsims.adapters.sqlite import SqliteStore

        store = SqliteStore(
            path, synchronous=synchronous, busy_timeout=busy_timeout, cached_orders=cached_orders
        )
        return cls(store, **options)

    @classmethod
    def postgres(
        cls,
        conninfo: str,
        *,
        attempts: int = 30,
        lock_timeout: float = 30.0,
        cached_orders: int | None = None,
        **options: Any,
    ) -> Oms:
        """An Oms stored in the PostgreSQL database at ``conninfo`` (a URL or libpq string).

        Many processes on many machines may share the database; the schema is created or
        upgraded on opening. See :class:`~omsims.adapters.postgres.PostgresStore` for
        ``attempts``, ``lock_timeout`` and ``cached_orders``; ``options`` are the other arguments of
        :class:`Oms`. Needs the ``postgres`` extra (``pip install omsims[postgres]``).
        """
        from omsims.adapters.postgres import PostgresStore

        store = PostgresStore(
            conninfo, attempts=attempts, lock_timeout=lock_timeout, cached_orders=cached_orders
        )
        return cls(store, **options)

    @classmethod
    def from_environment(cls, unit_of_work: UnitOfWorkFactory | None = None, **options: Any) -> Oms:
        """An Oms on the storage named by ``OMSIMS_DATABASE_URL``, if the caller gives none.

        Opt-in: ``Oms()`` never reads the environment. An explicit ``unit_of_work`` wins;
        without one, ``sqlite:///path/to/file.db`` opens that file,
        ``postgresql://user@host/db`` (or ``postgres://``) that database, an unset or
        empty variable means in-memory storage, and anything else is refused.
        """
        if unit_of_work is not None:
            return cls(unit_of_work, **options)
        url = os.environ.get("OMSIMS_DATABASE_URL", "")
        if not url:
            return cls(**options)
        if url.startswith("sqlite:///"):
            return cls.sqlite(url.removeprefix("sqlite:///"), **options)
        if url.startswith(("postgresql://", "postgres://")):
            return cls.postgres(url, **options)
        scheme = url.split(":", 1)[0]
        raise ValidationError(
            f"OMSIMS_DATABASE_URL: no storage for {scheme!r} URLs "
            "(supported: sqlite:///path, postgresql://...)"
        )
