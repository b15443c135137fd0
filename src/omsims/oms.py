"""The composition root: :class:`Oms`, wired with in-memory defaults.

Nothing is built at import time; every ``Oms()`` gets its own store.
"""

from __future__ import annotations

from omsims.adapters.clock import SystemClock
from omsims.adapters.memory import MemoryStore
from omsims.adapters.notifiers import NullNotifier
from omsims.ports import Clock, Notifier, UnitOfWorkFactory
from omsims.service import OmsService
from omsims.sourcing.plan import SourcingStrategy
from omsims.sourcing.priority import PriorityStrategy

__all__ = ["Oms"]


class Oms(OmsService):
    """The order- and inventory-management system, ready to use.

    Every argument is optional: in-memory storage, the system clock, a notifier that
    drops events (the latest 10,000 are kept in :attr:`published_events`) and priority
    sourcing.

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
        keep_events: int = 10_000,
    ) -> None:
        """Build an Oms; see the class docstring for the defaults."""
        super().__init__(
            unit_of_work if unit_of_work is not None else MemoryStore(),
            clock=clock if clock is not None else SystemClock(),
            notifier=notifier if notifier is not None else NullNotifier(),
            strategy=strategy if strategy is not None else PriorityStrategy(),
            keep_events=keep_events,
        )
