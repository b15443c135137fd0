"""Stock reports as data: value, days of cover, slow-moving and excess stock, risk, turnover.

One row per position, summed per location and for the network. Every figure comes from
the ledger: balances now, and a :class:`~omsims.replenishment.history.DemandHistory`
(units shipped per day, stock-out days, units on hand per day) over a window::

    daily demand   = units shipped / days the position had something to sell
    days of cover  = inventory position / daily demand        (None without demand)
    idle days      = days since the last day with a shipment (None: none in the window)
    slow moving    = units on hand, and idle for slow_days or more (or no sale at all)
    excess         = more than excess_days of cover (or units on hand and no demand)
    stock-out risk = P(demand over the lead time > inventory position), demand taken
                     as normal with the daily mean and deviation of the window
    turnover       = units shipped / average units on hand, per year (365 days)

>>> from datetime import date
>>> from omsims import StockLevel
>>> from omsims.replenishment import DemandHistory
>>> history = DemandHistory(
...     date(2026, 1, 1), 10,
...     units={("MUG", "dc"): [2] * 10, ("CAP", "dc"): [0] * 10},
...     stockouts={}, on_hand_days={("MUG", "dc"): 400, ("CAP", "dc"): 300},
... )
>>> stock = [StockLevel("MUG", "dc", on_hand=40), StockLevel("CAP", "dc", on_hand=30)]
>>> report = stock_report(stock, history, limits=ReviewLimits(slow_days=5, excess_days=15))
>>> print(report)
sku  location  on_hand  demand/day  cover_days  idle_days  risk  turnover  flags
CAP  dc             30        0.00           -          -  0.00      0.00  slow, excess
MUG  dc             40        2.00        20.0          0  0.00     18.25  excess
>>> report.network.on_hand, report.network.slow_moving_units, report.network.excess_units
(70, 30, 70)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import attrs

from omsims.domain.stock import StockLevel
from omsims.errors import InvalidParameter
from omsims.replenishment.history import DemandHistory
from omsims.replenishment.policies import LeadTime
from omsims.replenishment.proposals import inventory_position

__all__ = ["PositionReport", "ReviewLimits", "StockReport", "Summary", "stock_report"]

Position = tuple[str, str]
_YEAR = 365


def _positive_days(_instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 10**5:
        raise InvalidParameter(f"{attribute.name} must be a number of days above 0, not {value!r}")


@attrs.frozen
class ReviewLimits:
    """When a position counts as slow-moving or excess, and the lead time risk is over."""

    slow_days: int = attrs.field(default=90, validator=_positive_days)
    """Units on hand with no shipment for this many days are slow-moving."""
    excess_days: float = attrs.field(default=180, validator=_positive_days)
    """More cover than this many days of demand is excess."""
    lead_time: LeadTime = attrs.field(factory=lambda: LeadTime(7))
    """The horizon of the stock-out risk: how long new supply would take."""


@attrs.frozen
class PositionReport:
    """One position's figures (see the module's formulas)."""

    sku: str
    location: str
    on_hand: int
    available: int
    inventory_position: int
    daily_demand: float
    days_of_cover: float | None
    idle_days: int | None
    slow_moving: bool
    excess: bool
    stockout_risk: float
    turnover: float
    shipped: int
    """Units shipped over the window."""
    average_on_hand: float
    """Units on hand at the end of a day, averaged over the window."""
    value: Decimal | None = None
    """The stock's value, when the report was given one (see ``values``)."""


@attrs.frozen
class Summary:
    """Figures summed over several positions (a location, or the network)."""

    positions: int
    on_hand: int
    value: Decimal | None
    daily_demand: float
    days_of_cover: float | None
    slow_moving_units: int
    excess_units: int
    at_risk: int
    """Positions whose stock-out risk is 50 % or more."""
    turnover: float


@attrs.frozen
class StockReport:
    """Per-position rows, per-location summaries and the network's."""

    rows: tuple[PositionReport, ...]
    by_location: Mapping[str, Summary]
    network: Summary
    days: int
    """The window the demand figures cover."""

    def row(self, sku: str, location: str) -> PositionReport:
        """The row of one position (``KeyError`` if the report has none)."""
        for r in self.rows:
            if (r.sku, r.location) == (sku, location):
                return r
        raise KeyError((sku, location))

    @property
    def slow_moving(self) -> list[PositionReport]:
        """The slow-moving rows."""
        return [r for r in self.rows if r.slow_moving]

    @property
    def excess(self) -> list[PositionReport]:
        """The rows with excess stock."""
        return [r for r in self.rows if r.excess]

    def __str__(self) -> str:
        """A table, one row per position."""
        head = ("sku", "location", "on_hand", "demand/day", "cover_days", "idle_days", "risk")
        table: list[tuple[str, ...]] = [(*head, "turnover", "flags")]
        for r in self.rows:
            flags = ", ".join(f for f, on in (("slow", r.slow_moving), ("excess", r.excess)) if on)
            table.append(
                (
                    r.sku,
                    r.location,
                    str(r.on_hand),
                    f"{r.daily_demand:.2f}",
                    "-" if r.days_of_cover is None else f"{r.days_of_cover:.1f}",
                    "-" if r.idle_days is None else str(r.idle_days),
                    f"{r.stockout_risk:.2f}",
                    f"{r.turnover:.2f}",
                    flags,
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines = []
        for row in table:
            cells = [
                c.ljust(w) if i in (0, 1, 8) else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)


def stock_report(
    stock: Iterable[StockLevel],
    history: DemandHistory,
    *,
    limits: ReviewLimits | None = None,
    values: Mapping[Position, Decimal] | None = None,
) -> StockReport:
    """Report on every position in ``stock`` over the window of ``history``.

    ``values`` (per position, e.g. from a valuation) fills the value columns; without
    it they are ``None``. Rows are in (SKU, location) order.

    Runtime complexity: O(p * d) for p positions and a window of d days.
    """
    limits = limits or ReviewLimits()
    rows = []
    for level in sorted(stock, key=lambda s: (s.sku, s.location or "")):
        if level.location is None:
            raise InvalidParameter(f"stock for {level.sku} must be per location")
        value = None if values is None else values.get((level.sku, level.location), Decimal(0))
        rows.append(_row(level, history, limits, value))
    per_location: dict[str, list[PositionReport]] = {}
    for r in rows:
        per_location.setdefault(r.location, []).append(r)
    return StockReport(
        tuple(rows),
        {loc: _summary(rs, values, history.days) for loc, rs in sorted(per_location.items())},
        _summary(rows, values, history.days),
        history.days,
    )


def _row(
    level: StockLevel, history: DemandHistory, limits: ReviewLimits, value: Decimal | None
) -> PositionReport:
    sku, loc = level.sku, level.location or ""
    series = history.series(sku, loc)
    n = len(series)
    mean = sum(series) / n if n else 0.0
    spread = math.sqrt(max(0.0, sum(x * x for x in series) / n - mean * mean)) if n else 0.0
    ip = inventory_position(level)
    cover = ip / mean if mean > 0 else None
    idle = history.days_since_demand(sku, loc)
    held = level.on_hand > 0
    slow = held and (idle is None or idle >= limits.slow_days)
    excess = held and (cover is None or cover > limits.excess_days)
    average = history.average_on_hand(sku, loc)
    shipped = history.total(sku, loc)
    turnover = shipped / average * _YEAR / history.days if average > 0 else 0.0
    return PositionReport(
        sku,
        loc,
        level.on_hand,
        level.available,
        ip,
        mean,
        cover,
        idle,
        slow,
        excess,
        _risk(ip, mean, spread, limits.lead_time),
        turnover,
        shipped,
        average,
        value,
    )


def _risk(position: int, mean: float, spread: float, lead: LeadTime) -> float:
    """P(demand over the lead time > inventory position), demand normal."""
    mu = mean * lead.days
    sd = math.sqrt(lead.days * spread * spread + (mean * lead.sd) ** 2)
    if sd == 0:
        return 1.0 if mu > position else 0.0
    return 1.0 - NormalDist(mu, sd).cdf(position)


def _summary(rows: list[PositionReport], values: object, days: int) -> Summary:
    on_hand = sum(r.on_hand for r in rows)
    demand = sum(r.daily_demand for r in rows)
    position = sum(r.inventory_position for r in rows)
    held = sum(r.average_on_hand for r in rows)
    valued = values is not None
    return Summary(
        positions=len(rows),
        on_hand=on_hand,
        value=sum((r.value or Decimal(0) for r in rows), Decimal(0)) if valued else None,
        daily_demand=demand,
        days_of_cover=position / demand if demand > 0 else None,
        slow_moving_units=sum(r.on_hand for r in rows if r.slow_moving),
        excess_units=sum(r.on_hand for r in rows if r.excess),
        at_risk=sum(1 for r in rows if r.stockout_risk >= 0.5),
        turnover=sum(r.shipped for r in rows) / held * _YEAR / days if held > 0 else 0.0,
    )
