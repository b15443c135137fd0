"""Available to promise (ATP) by date: what can still be promised for each day.

ATP on a day is what is available now plus the supply due by the end of that day that no
waiting backorder has claimed (arrivals fill backorders first-in-first-out, so the claims
come off the earliest arrivals)::

    ATP(day) = available now + unclaimed supply due on or before day

It never falls as days pass when nothing new is promised, and it never exceeds stock
plus supply. A network's ATP is the sum over its locations.

>>> from datetime import UTC, date, datetime
>>> atp = AvailableToPromise.build(
...     "MUG", "dc", available=4,
...     arrivals=[(datetime(2026, 3, 4, 9, tzinfo=UTC), 10)],
...     start=date(2026, 3, 1), days=5,
... )
>>> print(atp)
ATP of MUG at dc
2026-03-01      4
2026-03-02      4
2026-03-03      4
2026-03-04     14
2026-03-05     14
>>> atp.earliest(12), atp.earliest(20)
(datetime.date(2026, 3, 4), None)
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import accumulate
from typing import Final

import attrs

from omsims.domain.values import quantity
from omsims.errors import InvalidParameter

__all__ = ["MAX_ATP_DAYS", "AvailableToPromise"]

MAX_ATP_DAYS: Final = 3660
"""The longest horizon an ATP schedule covers (ten years)."""


@attrs.frozen
class AvailableToPromise:
    """ATP of a SKU at a location (or the network, ``location=None``) for each day.

    ``arrivals`` are (day, units) of unclaimed supply, merged per day and sorted; supply
    already late (due before ``start``) counts from ``start``.
    """

    sku: str
    location: str | None
    start: date
    days: int
    available: int
    """What can be promised today from stock on hand."""
    arrivals: tuple[tuple[date, int], ...]

    @classmethod
    def build(
        cls,
        sku: str,
        location: str | None,
        *,
        available: int,
        arrivals: Iterable[tuple[datetime, int]],
        start: date,
        days: int,
        tz: tzinfo = UTC,
    ) -> AvailableToPromise:
        """Make a schedule from what is available now and the unclaimed arrivals.

        Arrival times are turned into calendar days in ``tz`` (UTC by default).
        """
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_ATP_DAYS:
            raise InvalidParameter(f"ATP covers 1 to {MAX_ATP_DAYS} days, not {days!r}")
        if isinstance(available, bool) or not isinstance(available, int) or available < 0:
            raise InvalidParameter(f"available must be a whole number >= 0, not {available!r}")
        per_day: dict[date, int] = {}
        for eta, units in arrivals:
            day = max(eta.astimezone(tz).date(), start)
            per_day[day] = per_day.get(day, 0) + quantity(units)
        return cls(sku, location, start, days, available, tuple(sorted(per_day.items())))

    @property
    def end(self) -> date:
        """The last day covered."""
        return self.start + timedelta(days=self.days - 1)

    def on(self, day: date) -> int:
        """What can be promised for delivery on ``day`` (0 before ``start``).

        Runtime complexity: O(a) for a days with arrivals.
        """
        if day < self.start:
            return 0
        i = bisect_right(self.arrivals, (day, float("inf")))
        return self.available + sum(n for _, n in self.arrivals[:i])

    def rows(self) -> list[tuple[date, int]]:
        """(day, ATP) for every day from ``start`` to ``end``."""
        out = []
        atp = self.available
        arrivals = iter(self.arrivals)
        nxt = next(arrivals, None)
        for i in range(self.days):
            day = self.start + timedelta(days=i)
            while nxt is not None and nxt[0] <= day:
                atp += nxt[1]
                nxt = next(arrivals, None)
            out.append((day, atp))
        return out

    def earliest(self, units: int) -> date | None:
        """The first day ``units`` can be promised, within the horizon (``None``: not by then)."""
        need = quantity(units)
        if self.available >= need:
            return self.start
        cumulative = accumulate(n for _, n in self.arrivals)
        for (day, _), total in zip(self.arrivals, cumulative, strict=True):
            if day > self.end:
                return None
            if self.available + total >= need:
                return day
        return None

    def claim(self, units: int) -> AvailableToPromise:
        """The schedule after ``units`` more are claimed from the earliest arrivals.

        Backorders that their own location's supply will not cover are filled by the
        next arrivals anywhere in the network (the Oms sources them again when supply
        lands), so a network's ATP gives them those arrivals first.

        >>> from datetime import UTC, date, datetime
        >>> def on(day):
        ...     return datetime(2026, 3, day, tzinfo=UTC)
        >>> atp = AvailableToPromise.build(
        ...     "A", None, available=2, start=date(2026, 3, 1), days=3,
        ...     arrivals=[(on(2), 3), (on(3), 4)],
        ... )
        >>> [n for _, n in atp.claim(5).rows()]
        [2, 2, 4]
        """
        left = units
        arrivals = []
        for day, n in self.arrivals:
            take = min(n, left)
            left -= take
            if n - take:
                arrivals.append((day, n - take))
        return attrs.evolve(self, arrivals=tuple(arrivals))

    @property
    def total(self) -> int:
        """Everything this schedule can ever promise: available plus every arrival."""
        return self.available + sum(n for _, n in self.arrivals)

    def __add__(self, other: AvailableToPromise) -> AvailableToPromise:
        """Two schedules of one SKU over the same days, summed (for a network)."""
        if (self.sku, self.start, self.days) != (other.sku, other.start, other.days):
            raise InvalidParameter("only ATP of one SKU over the same days can be added")
        merged: dict[date, int] = dict(self.arrivals)
        for day, n in other.arrivals:
            merged[day] = merged.get(day, 0) + n
        where = self.location if self.location == other.location else None
        return AvailableToPromise(
            self.sku,
            where,
            self.start,
            self.days,
            self.available + other.available,
            tuple(sorted(merged.items())),
        )

    def __str__(self) -> str:
        """A two-column table: each day and its ATP."""
        where = "the network" if self.location is None else self.location
        lines = [f"ATP of {self.sku} at {where}"]
        lines += [f"{day:%Y-%m-%d} {atp:6d}" for day, atp in self.rows()]
        return "\n".join(lines)
