"""Stock policies: when to reorder a position, and up to what.

Three classic policies, each reviewed per position (a SKU at a location) against its
*inventory position*: what it has free, plus what is on its way, less what it owes::

    inventory position = on_hand - committed - reserved - unavailable - kept safety stock
                         + incoming - backordered

- :class:`ReorderPoint`, **(s, Q)**: when the inventory position falls to the reorder
  point ``s`` or below, order ``Q`` (as many times ``Q`` as it takes to rise above ``s``).
- :class:`MinMax`, **(s, S)**: when it falls to ``s`` or below, order up to ``S``.
- :class:`PeriodicReview`, **(R, S)**: every ``R`` days, order up to ``S``.

Each level is either given or computed from a demand forecast, the lead time and a
target service level (the probability of not running out during a replenishment cycle)::

    safety stock  SS = z * sqrt(P * sigma_d**2 + d**2 * sigma_L**2)
    reorder point  s = d * L + SS            (P = L: the lead time protects)
    order-up-to    S = d * (R + L) + SS      (P = R + L for a periodic review)

with ``d`` the forecast demand per day, ``sigma_d`` the standard deviation of one day's
forecast error, ``L`` and ``sigma_L`` the lead time in days and its standard deviation,
and ``z`` the standard normal quantile of the service level (1.645 for 95 %).

>>> from omsims.replenishment.forecast import Forecast
>>> outlook = Forecast("given", level=10.0, sigma=3.0)
>>> levels = MinMax(cover_days=14).levels(outlook, LeadTime(5))
>>> levels.reorder_point, levels.order_up_to, levels.safety_stock
(62, 202, 12)
>>> MinMax(cover_days=14).raw_need(50, levels, day_number=0)
152

Everything here is pure arithmetic on the numbers given; the proposals module applies
the policies across a network (see :func:`omsims.replenishment.plan_replenishment`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache
from statistics import NormalDist
from typing import Any, Final, Protocol

import attrs

from omsims.domain.values import as_identifier, as_location_id
from omsims.errors import InvalidParameter

__all__ = [
    "MAX_DAYS",
    "LeadTime",
    "Levels",
    "MinMax",
    "Outlook",
    "PeriodicReview",
    "Policy",
    "ReorderPoint",
    "Supplier",
    "safety_stock",
    "service_factor",
]

MAX_DAYS: Final = 3650
"""The longest lead time, review period or cover a policy accepts (ten years)."""
_MAX_UNITS: Final = 10**9


class Outlook(Protocol):
    """What a policy needs of a forecast (a :class:`~omsims.replenishment.forecast.Forecast`)."""

    def demand(self, days: float) -> float:
        """Expected units over the next ``days`` days."""
        ...

    def deviation(self, days: float) -> float:
        """The standard deviation of demand over the next ``days`` days."""
        ...


_Check = Callable[[Any, Any, Any], None]


def _days(what: str, *, allow_zero: bool = True) -> _Check:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameter(f"{what} must be a number of days, not {value!r}")
        low_ok = value >= 0 if allow_zero else value > 0
        if not (math.isfinite(value) and low_ok and value <= MAX_DAYS):
            bound = "0" if allow_zero else "above 0"
            raise InvalidParameter(f"{what} must be from {bound} to {MAX_DAYS} days, not {value}")

    return check


def _units(what: str, *, minimum: int = 0, optional: bool = False) -> _Check:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameter(f"{what} must be a whole number of units, not {value!r}")
        if not minimum <= value <= _MAX_UNITS:
            raise InvalidParameter(f"{what} must be from {minimum} to {_MAX_UNITS}, not {value}")

    return check


def _level(_instance: Any, _attribute: Any, value: Any) -> None:
    service_factor(value)


@attrs.frozen
class LeadTime:
    """How long supply takes to arrive, in days, and how much that varies.

    >>> LeadTime(7, sd=1.5)
    LeadTime(days=7, sd=1.5)
    >>> LeadTime(-1)
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidParameter: a lead time must be from 0 to 3650 days, not -1
    """

    days: float = attrs.field(validator=_days("a lead time"))
    sd: float = attrs.field(default=0.0, validator=_days("a lead time's deviation"))


def _supplier_id(value: object) -> str:
    return as_identifier(value, "supplier id")


@attrs.frozen
class Supplier:
    """Who supplies a SKU: lead times (per receiving location if they differ) and order rules.

    ``minimum`` is the smallest order it takes, ``multiple`` the pack size every order is
    a multiple of (an order of 13 with a multiple of 6 becomes 18).

    >>> acme = Supplier("acme", LeadTime(7), lead_times={"store-1": LeadTime(9)}, multiple=6)
    >>> acme.lead_time_to("store-1").days, acme.lead_time_to("dc-1").days
    (9, 7)
    >>> acme.round(13), acme.round(13, cap=17)
    (18, 12)
    """

    id: str = attrs.field(converter=_supplier_id)
    lead_time: LeadTime = attrs.field(default=LeadTime(7))
    lead_times: Mapping[str, LeadTime] = attrs.field(factory=dict)
    minimum: int = attrs.field(default=1, validator=_units("an order minimum", minimum=1))
    multiple: int = attrs.field(default=1, validator=_units("an order multiple", minimum=1))

    def __attrs_post_init__(self) -> None:  # noqa: D105 (attrs hook)
        if not isinstance(self.lead_time, LeadTime):
            raise InvalidParameter(f"lead_time must be a LeadTime, not {self.lead_time!r}")
        for loc, lt in self.lead_times.items():
            as_location_id(loc)
            if not isinstance(lt, LeadTime):
                raise InvalidParameter(f"the lead time to {loc} must be a LeadTime, not {lt!r}")

    def lead_time_to(self, location: str) -> LeadTime:
        """The lead time to ``location`` (its own, or the supplier's default)."""
        return self.lead_times.get(location, self.lead_time)

    def round(self, units: int, *, cap: int | None = None) -> int:
        """The order this supplier takes for ``units``: at least the minimum, a multiple.

        With ``cap`` the order never exceeds it: rounded down to a multiple instead, and
        0 when that leaves less than the minimum.
        """
        if units <= 0:
            return 0
        q = max(units, self.minimum)
        q = -(-q // self.multiple) * self.multiple
        if cap is not None and q > cap:
            q = cap // self.multiple * self.multiple
            if q < self.minimum:
                return 0
        return q


@cache
def _z(level: float) -> float:
    return NormalDist().inv_cdf(level)


def service_factor(service_level: object) -> float:
    """The safety factor ``z`` for a cycle service level in (0, 1).

    >>> round(service_factor(0.95), 3)
    1.645
    >>> service_factor(1.0)
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidParameter: a service level must lie strictly between 0 and 1, not 1.0
    """
    if isinstance(service_level, bool) or not isinstance(service_level, int | float):
        raise InvalidParameter(f"a service level must be a number, not {service_level!r}")
    if not 0 < service_level < 1:
        raise InvalidParameter(
            f"a service level must lie strictly between 0 and 1, not {service_level}"
        )
    return _z(float(service_level))


def safety_stock(
    outlook: Outlook, lead_time: LeadTime, service_level: float, *, review_days: float = 0
) -> float:
    """Units kept for demand and lead time running above their forecast.

    ``z * sqrt(P * sigma_d**2 + d**2 * sigma_L**2)`` over the protection period
    ``P = lead time + review_days``; 0 when nothing varies. Fractional: policies round
    their levels up.

    >>> from omsims.replenishment.forecast import Forecast
    >>> round(safety_stock(Forecast("given", 10.0, sigma=3.0), LeadTime(4), 0.95), 2)
    9.87
    >>> round(safety_stock(Forecast("given", 10.0), LeadTime(4, sd=1.0), 0.95), 2)
    16.45
    """
    z = service_factor(service_level)
    period = lead_time.days + review_days
    if period <= 0:
        return 0.0
    rate = outlook.demand(period) / period
    spread = outlook.deviation(period)
    return max(0.0, z * math.sqrt(spread * spread + (rate * lead_time.sd) ** 2))


@attrs.frozen
class Levels:
    """The levels a policy set for one position, and the numbers they came from."""

    reorder_point: int | None
    """``s``: order when the inventory position is at or below it (``None``: on review days)."""
    order_up_to: int | None
    """``S``: the inventory position an order aims for (``None`` for (s, Q))."""
    quantity: int | None
    """``Q`` for (s, Q); ``None`` otherwise."""
    maximum: int | None
    """The most the inventory position may reach after ordering (``None``: no cap)."""
    safety_stock: int
    """The safety stock inside the levels, rounded up."""
    demand: float
    """Expected demand over the lead time (over review + lead time for (R, S))."""


def _ceil(x: float) -> int:
    return max(0, math.ceil(x - 1e-9))


@attrs.frozen
class ReorderPoint:
    """**(s, Q)**: at or below the reorder point ``s``, order the fixed quantity ``Q``.

    Leave ``reorder_point`` out to compute it (demand over the lead time plus safety
    stock), and ``quantity`` out to order ``cover_days`` of forecast demand. When the
    inventory position is far below ``s``, it orders ``n * Q``, the fewest that lift it
    above ``s`` (the (s, nQ) rule). ``maximum`` caps the position after ordering.

    >>> from omsims.replenishment.forecast import Forecast
    >>> policy = ReorderPoint(quantity=50, reorder_point=20)
    >>> levels = policy.levels(Forecast("given", 2.0), LeadTime(3))
    >>> policy.raw_need(21, levels, day_number=0), policy.raw_need(20, levels, day_number=0)
    (0, 50)
    >>> policy.raw_need(-40, levels, day_number=0)
    100
    """

    quantity: int | None = attrs.field(
        default=None, validator=_units("an order quantity", minimum=1, optional=True)
    )
    reorder_point: int | None = attrs.field(
        default=None, validator=_units("a reorder point", optional=True)
    )
    cover_days: float = attrs.field(default=14, validator=_days("cover", allow_zero=False))
    service_level: float = attrs.field(default=0.95, validator=_level)
    maximum: int | None = attrs.field(default=None, validator=_units("a maximum", optional=True))

    @property
    def name(self) -> str:
        """How reports name the policy."""
        return "(s, Q)"

    def levels(self, outlook: Outlook, lead_time: LeadTime) -> Levels:
        """The reorder point and order quantity for a position with this outlook."""
        demand = outlook.demand(lead_time.days)
        ss = _ceil(safety_stock(outlook, lead_time, self.service_level))
        s = self.reorder_point if self.reorder_point is not None else _ceil(demand + ss)
        q = (
            self.quantity
            if self.quantity is not None
            else max(1, _ceil(outlook.demand(self.cover_days)))
        )
        return Levels(s, None, q, self.maximum, ss, demand)

    def raw_need(self, position: int, levels: Levels, *, day_number: int) -> int:  # noqa: ARG002
        """Units to order at this inventory position, before the supplier's rounding.

        ``day_number`` (the day's ordinal) matters only to a periodic review.
        """
        s = levels.reorder_point
        if s is None or position > s:
            return 0
        q = levels.quantity or 1
        return (s - position) // q * q + q


@attrs.frozen
class MinMax:
    """**(s, S)**: at or below the minimum ``s``, order up to the maximum ``S``.

    Leave ``minimum`` out to compute it like a reorder point, and ``maximum`` out to set
    it ``cover_days`` of forecast demand above the minimum.

    >>> from omsims.replenishment.forecast import Forecast
    >>> policy = MinMax(minimum=10, maximum=40)
    >>> levels = policy.levels(Forecast("given", 1.0), LeadTime(2))
    >>> [policy.raw_need(p, levels, day_number=0) for p in (11, 10, -5)]
    [0, 30, 45]
    >>> MinMax(minimum=10, maximum=5)
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidParameter: a min/max policy needs minimum (10) below maximum (5)
    """

    minimum: int | None = attrs.field(default=None, validator=_units("a minimum", optional=True))
    maximum: int | None = attrs.field(
        default=None, validator=_units("a maximum", minimum=1, optional=True)
    )
    cover_days: float = attrs.field(default=14, validator=_days("cover", allow_zero=False))
    service_level: float = attrs.field(default=0.95, validator=_level)

    def __attrs_post_init__(self) -> None:  # noqa: D105 (attrs hook)
        if self.minimum is not None and self.maximum is not None and self.minimum >= self.maximum:
            raise InvalidParameter(
                f"a min/max policy needs minimum ({self.minimum}) below maximum ({self.maximum})"
            )

    @property
    def name(self) -> str:
        """How reports name the policy."""
        return "(s, S)"

    def levels(self, outlook: Outlook, lead_time: LeadTime) -> Levels:
        """The minimum and maximum for a position with this outlook."""
        demand = outlook.demand(lead_time.days)
        ss = _ceil(safety_stock(outlook, lead_time, self.service_level))
        s = self.minimum if self.minimum is not None else _ceil(demand + ss)
        if self.maximum is not None:
            big_s = max(self.maximum, s + 1)
        else:
            big_s = s + max(1, _ceil(outlook.demand(self.cover_days)))
        return Levels(s, big_s, None, big_s, ss, demand)

    def raw_need(self, position: int, levels: Levels, *, day_number: int) -> int:  # noqa: ARG002
        """Units to order at this inventory position, before the supplier's rounding.

        ``day_number`` (the day's ordinal) matters only to a periodic review.
        """
        s, big_s = levels.reorder_point, levels.order_up_to
        if s is None or big_s is None or position > s:
            return 0
        return big_s - position


@attrs.frozen
class PeriodicReview:
    """**(R, S)**: every ``review_days`` days, order up to ``S``.

    Reviews fall on the days whose ordinal (``date.toordinal()``) leaves ``offset`` when
    divided by ``review_days``: with the defaults, every seventh day. Leave ``up_to`` out
    to compute ``S`` as demand over review period plus lead time, plus safety stock over
    that period.

    >>> from omsims.replenishment.forecast import Forecast
    >>> policy = PeriodicReview(review_days=7, up_to=30)
    >>> levels = policy.levels(Forecast("given", 1.0), LeadTime(2))
    >>> policy.raw_need(12, levels, day_number=14), policy.raw_need(12, levels, day_number=15)
    (18, 0)
    """

    review_days: int = attrs.field(default=7, validator=_units("a review period", minimum=1))
    offset: int = attrs.field(default=0, validator=_units("a review offset"))
    up_to: int | None = attrs.field(
        default=None, validator=_units("an order-up-to level", minimum=1, optional=True)
    )
    service_level: float = attrs.field(default=0.95, validator=_level)

    def __attrs_post_init__(self) -> None:  # noqa: D105 (attrs hook)
        if self.review_days > MAX_DAYS:
            raise InvalidParameter(f"a review period must be at most {MAX_DAYS} days")

    @property
    def name(self) -> str:
        """How reports name the policy."""
        return "(R, S)"

    def reviews_on(self, day_number: int) -> bool:
        """Whether the day with this ordinal is a review day."""
        return day_number % self.review_days == self.offset % self.review_days

    def levels(self, outlook: Outlook, lead_time: LeadTime) -> Levels:
        """The order-up-to level for a position with this outlook."""
        period = lead_time.days + self.review_days
        demand = outlook.demand(period)
        ss = _ceil(
            safety_stock(outlook, lead_time, self.service_level, review_days=self.review_days)
        )
        big_s = self.up_to if self.up_to is not None else max(1, _ceil(demand + ss))
        return Levels(None, big_s, None, big_s, ss, demand)

    def raw_need(self, position: int, levels: Levels, *, day_number: int) -> int:
        """Units to order on this day at this inventory position, before rounding."""
        if not self.reviews_on(day_number) or levels.order_up_to is None:
            return 0
        return max(0, levels.order_up_to - position)


Policy = ReorderPoint | MinMax | PeriodicReview
"""Any of the three policies."""
