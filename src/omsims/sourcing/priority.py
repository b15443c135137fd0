"""The default strategy: fill greedily by location priority, whatever the channel."""

from __future__ import annotations

from omsims.sourcing.composed import Strategy
from omsims.sourcing.rules import Priority

__all__ = ["PriorityStrategy"]


class PriorityStrategy(Strategy):
    """Fill each line from the locations in priority order, then backorder where allowed.

    Locations are ranked by ``(priority, id)``: lower priority numbers first, ties broken
    by id, so the plan is deterministic. Lines are sourced in line order; a SKU on
    several lines draws on one shared pool, so two lines never promise the same unit.
    Units no location has on hand are backordered at the first location (in the same
    order) that allows backorders and has room; the rest stay unfilled.

    Locations that cannot ship, are inactive or are excluded by the request are dropped;
    unlike :class:`~omsims.sourcing.Ranked` it applies no channel filter. It is the
    :class:`~omsims.sourcing.Strategy` with no filters and the priority ranker, so it
    memoises its ranking of the network and probes only each SKU's holders.

    >>> from datetime import datetime, UTC
    >>> from omsims import Location
    >>> from omsims.sourcing.plan import RequestLine, SourcingRequest
    >>> class View:
    ...     def locations(self): return [Location("b", priority=2), Location("a", priority=1)]
    ...     def available(self, sku, location): return {"a": 1, "b": 5}[location]
    ...     def backorder_room(self, sku, location): return 0
    >>> request = SourcingRequest("o1", (RequestLine(1, "X", 3),), datetime(2026, 1, 1, tzinfo=UTC))
    >>> plan = PriorityStrategy().plan(request, View())
    >>> [(a.location, a.quantity) for a in plan.allocations]
    [('a', 1), ('b', 2)]

    Runtime complexity: O(n h) per order for n lines and h holders per SKU, once the
    network's O(L log L) ranking is memoised.
    """

    def __init__(self) -> None:
        """The priority ranking, no filters, the default greedy fill."""
        super().__init__(name="priority", filters=(), rankers=(Priority(),))
