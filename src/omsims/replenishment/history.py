"""Demand history from the ledger: units shipped per position per day.

Forecasts need what customers asked for, but a ledger only knows what left: on a day a
position had nothing free to sell, demand was *censored* (sales were lost, or waited as
backorders). :func:`demand_history` therefore flags every such day (nothing free after
some entry that day, or all day long), and
:meth:`DemandHistory.series` leaves them out unless asked not to, so a stock-out does
not teach the forecast that nobody wants the SKU.

>>> from datetime import UTC, date, datetime
>>> from omsims import Ledger
>>> ledger = Ledger()
>>> ledger.add_location("dc")
>>> def day(n):
...     return datetime(2026, 3, n, 12, tzinfo=UTC)
>>> _ = ledger.receive("MUG", "dc", 3, at=day(1))
>>> for n, units in [(1, 1), (2, 2)]:
...     _ = ledger.commit("MUG", "dc", units, at=day(n), reference=f"o{n}/1")
...     _ = ledger.ship("MUG", "dc", units, at=day(n), reference=f"o{n}/1")
>>> history = demand_history(ledger.entries(), start=date(2026, 3, 1), days=4)
>>> history.units[("MUG", "dc")], sorted(history.stockouts[("MUG", "dc")])
([1, 2, 0, 0], [1, 2, 3])
>>> history.series("MUG", "dc")
[1]
>>> history.average_on_hand("MUG", "dc")  # days end with 2, 0, 0, 0 on hand
0.5
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from operator import attrgetter
from typing import Final

import attrs

from omsims.domain.stock import FREE_SIGNS, SIGNS, EntryKind, LedgerEntry
from omsims.errors import InvalidParameter

__all__ = ["MAX_HISTORY_DAYS", "DemandHistory", "check_days", "demand_history"]

MAX_HISTORY_DAYS: Final = 3660
"""The longest window a demand history covers (ten years)."""

Position = tuple[str, str]


@attrs.frozen
class DemandHistory:
    """Units demanded per position per day over ``days`` days from ``start``.

    ``units[position][i]`` is what the position shipped on day ``start + i``;
    ``stockouts[position]`` holds the day indexes on which it had nothing free to sell:
    after any entry that day, or all day long on a day without entries.
    """

    start: date
    days: int
    units: Mapping[Position, list[int]]
    stockouts: Mapping[Position, frozenset[int]]
    on_hand_days: Mapping[Position, int] = attrs.field(factory=dict)
    """Per position, the sum over the window's days of the units on hand at each day's end."""

    def average_on_hand(self, sku: str, location: str) -> float:
        """Units on hand at the end of a day, averaged over the window."""
        return self.on_hand_days.get((sku, location), 0) / self.days

    def series(self, sku: str, location: str, *, skip_stockouts: bool = True) -> list[int]:
        """A position's daily units, oldest first, without its stock-out days.

        With every day a stock-out day (or ``skip_stockouts=False``) it is the whole
        window: there is nothing better to go on. A position without entries has none.
        """
        units = self.units.get((sku, location))
        if units is None:
            return [0] * self.days
        out = self.stockouts.get((sku, location))
        if not skip_stockouts or not out or len(out) >= self.days:
            return list(units)
        return [n for i, n in enumerate(units) if i not in out]

    def demand(self, *, skip_stockouts: bool = True) -> dict[Position, list[int]]:
        """Every position's series (see :meth:`series`), ready for forecasting."""
        return {k: self.series(k[0], k[1], skip_stockouts=skip_stockouts) for k in self.units}

    def total(self, sku: str, location: str) -> int:
        """Units a position shipped over the window."""
        return sum(self.units.get((sku, location), ()))

    def days_since_demand(self, sku: str, location: str) -> int | None:
        """Days from the last day with demand to the end of the window (``None``: none)."""
        units = self.units.get((sku, location), ())
        for i in range(len(units) - 1, -1, -1):
            if units[i]:
                return self.days - 1 - i
        return None


_ORDER = attrgetter("at", "sequence")


def check_days(days: object) -> int:
    """``days`` if it is a whole number of days a history may cover, else ``InvalidParameter``."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_HISTORY_DAYS:
        raise InvalidParameter(
            f"a demand history covers 1 to {MAX_HISTORY_DAYS} days, not {days!r}"
        )
    return days


def demand_history(  # noqa: C901 (one pass over the entries, kept in one loop for speed)
    entries: Iterable[LedgerEntry], *, start: date, days: int, tz: tzinfo = UTC
) -> DemandHistory:
    """Replay ledger entries into daily units shipped and stock-out days per position.

    Days are calendar days in ``tz`` (UTC by default). Every entry is replayed, also
    those before ``start``, so the balances on the first day are right; only shipments
    inside the window count as demand. Positions with no entry at all are left out.

    Runtime complexity: O(e log e) for e entries (they are put in business-time order),
    plus O(p * days) for p positions.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_HISTORY_DAYS:
        raise InvalidParameter(
            f"a demand history covers 1 to {MAX_HISTORY_DAYS} days, not {days!r}"
        )
    if not isinstance(start, date) or isinstance(start, datetime):
        raise InvalidParameter(f"a demand history starts on a date, not {start!r}")
    first = start.toordinal()
    units: dict[Position, list[int]] = {}
    out: dict[Position, set[int]] = {}
    free: dict[Position, int] = {}
    held: dict[Position, int] = {}  # units on hand
    held_days: dict[Position, int] = {}
    seen: dict[Position, int] = {}  # position -> the last day index it was looked at
    shipped = EntryKind.SHIPPED
    for e in sorted(entries, key=_ORDER):
        key: Position = (e.sku, e.location)
        i = e.at.astimezone(tz).date().toordinal() - first
        if key not in units:
            units[key] = [0] * days
            out[key] = set()
            free[key] = held[key] = held_days[key] = 0
            seen[key] = min(i, 0) - 1
        last = seen[key]
        if i > last:
            if free[key] <= 0:  # the days since `last` passed with nothing free
                out[key].update(range(max(last + 1, 0), min(i, days)))
            # Days `last` to i - 1 ended with what it holds now.
            held_days[key] += held[key] * max(0, min(i - 1, days - 1) - max(last, 0) + 1)
            seen[key] = i
        free[key] += FREE_SIGNS[e.kind] * e.quantity
        held[key] += SIGNS[e.kind][0] * e.quantity
        if 0 <= i < days:
            if e.kind is shipped:
                units[key][i] += e.quantity
            if free[key] <= 0:
                out[key].add(i)
    for key, last in seen.items():
        if free[key] <= 0 and last + 1 < days:
            out[key].update(range(max(last + 1, 0), days))
        held_days[key] += held[key] * max(0, days - max(last, 0))
    stockouts = {k: frozenset(v) for k, v in out.items()}
    return DemandHistory(start, days, units, stockouts, held_days)
