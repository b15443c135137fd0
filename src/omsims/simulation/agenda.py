"""The simulator's future events, due in (time, kind, sequence) order.

Most events come due a fixed delay after the moment they are scheduled: a fulfilment
order is accepted ``accept_hours`` after it is sent, shipped ``ship_hours`` after that,
delivered a quote's whole days later. The simulated clock only moves forward, so events
of one kind scheduled with one delay come due in the order they were scheduled. The
agenda keeps a first-in-first-out lane per (kind, delay) and a heap of the lanes' first
events. Taking the next event compares a handful of lane heads, where one heap of every
pending event sifts through all of them: a million-order run holds a hundred thousand,
scattered over memory. The order is exactly the one heap's.

>>> from datetime import datetime, timedelta, UTC
>>> start = datetime(2026, 12, 1, tzinfo=UTC)
>>> agenda = Agenda()
>>> agenda.push(start, start + timedelta(hours=6), 2, 1, "ship A")
>>> agenda.push(start, start + timedelta(hours=1), 1, 2, "accept B")
>>> agenda.push(start, start + timedelta(hours=6), 2, 3, "ship C")
>>> [agenda.pop()[3] for _ in range(len(agenda))]
['accept B', 'ship A', 'ship C']
"""

from __future__ import annotations

import heapq
from collections import deque
from datetime import datetime
from typing import Any

__all__ = ["Agenda", "Due"]

Due = tuple[datetime, int, int, Any]
"""(when, kind, sequence, payload): sequence numbers are unique and break ties."""


class Agenda:
    """Events by (when, kind, sequence), taken earliest first; see the module docstring."""

    __slots__ = ("_heads", "_lanes", "_size")

    def __init__(self) -> None:
        """An empty agenda."""
        self._lanes: dict[Any, deque[Due]] = {}
        # Each lane's first event, keyed for the heap; a lane's key rides last (the unique
        # sequence number before it means the key itself is never compared).
        self._heads: list[tuple[datetime, int, int, Any]] = []
        self._size = 0

    def __len__(self) -> int:
        """How many events are pending."""
        return self._size

    def push(self, now: datetime, when: datetime, kind: int, sequence: int, payload: Any) -> None:
        """Schedule ``payload`` at ``when``; ``now`` is the clock's time (for the delay).

        ``sequence`` must grow from one push to the next.
        """
        key: Any = (kind, when - now)
        lane = self._lanes.get(key)
        event = (when, kind, sequence, payload)
        if lane is not None and lane[-1][0] > when:
            # Only if the clock went back: this event may not queue behind that one.
            key, lane = (kind, when - now, sequence), None
        if lane is None:
            self._lanes[key] = deque((event,))
            heapq.heappush(self._heads, (when, kind, sequence, key))
        else:
            lane.append(event)
        self._size += 1

    def pop(self) -> Due:
        """The earliest pending event, taken off the agenda. ``IndexError`` if none."""
        heads = self._heads
        key = heads[0][3]
        lane = self._lanes[key]
        event = lane.popleft()
        if lane:
            when, kind, sequence, _payload = lane[0]
            heapq.heapreplace(heads, (when, kind, sequence, key))
        else:
            heapq.heappop(heads)
            del self._lanes[key]
        self._size -= 1
        return event
