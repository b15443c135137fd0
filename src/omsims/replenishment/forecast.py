"""Demand forecasts: five forecasters, from a moving average to TSB.

A history is a position's daily units demanded, oldest first (non-negative ints, e.g.
365 of them). A forecaster turns it into a :class:`Forecast`, the expected daily demand
from tomorrow on and the spread of one day's forecast error::

    MovingAverage(28)                  the mean of the last 28 days
    SimpleExponentialSmoothing(0.2)    a level that learns 20 % of each day's error
    Holt(0.2, 0.1)                     a level and a trend (damped with ``phi`` < 1)
    Croston(0.1)                       demand size / interval between demands (SBA option)
    TSB(0.1, 0.1)                      demand size x probability of demand on a day

>>> MovingAverage(3).forecast([4, 6, 5, 7]).level
6.0

To choose a forecaster per demand class, see :mod:`omsims.replenishment.selection`.
Everything here is pure arithmetic on the numbers given: histories come from
:mod:`omsims.replenishment.history`, forecasts go to the policies.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from itertools import compress, islice
from operator import mul
from typing import Final, Protocol

import attrs

from omsims.errors import InsufficientHistory, InvalidParameter

__all__ = [
    "TSB",
    "Croston",
    "Forecast",
    "Forecaster",
    "Holt",
    "MovingAverage",
    "SimpleExponentialSmoothing",
    "check_history",
]

_sqrt: Final = math.sqrt


# --- validation ---------------------------------------------------------------------------


def _fraction(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    """Check a smoothing parameter (or a damping) is in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise InvalidParameter(
            f"{type(instance).__name__}: {attribute.name} must lie in (0, 1], not {value!r}"
        )


def check_history(history: Sequence[int], who: str) -> int:
    """The history's length, once it is known to be non-empty, whole and non-negative."""
    n = len(history)
    if not n:
        raise InsufficientHistory(f"{who}: the history is empty; give at least one day")
    # C-speed passes: a float anywhere makes the sum a float; min finds a negative.
    if type(sum(history)) is not int:
        raise InvalidParameter(f"{who}: a history holds whole units (ints), not {_odd(history)!r}")
    low = min(history)
    if low < 0:
        raise InvalidParameter(f"{who}: a history holds units demanded (>= 0), not {low}")
    return n


def _demands(history: Sequence[int], who: str) -> tuple[int, list[int], list[int]]:
    """The history's length, its days with demand (numbered from 1) and their demands."""
    n = len(history)
    if not n:
        raise InsufficientHistory(f"{who}: the history is empty; give at least one day")
    # C-speed passes; only the days with demand can hold a negative or a fraction (a
    # fractional 0.0 does no harm and goes through).
    days = list(compress(range(1, n + 1), history))
    sizes = list(filter(None, history))
    if sizes and (type(sum(sizes)) is not int or min(sizes) < 0):
        check_history(sizes, who)
    return n, days, sizes


def _odd(values: Sequence[int]) -> object:
    return next((v for v in values if type(v) is not int and type(v) is not bool), None)


# --- the forecast -------------------------------------------------------------------------


_INF: Final = math.inf


def _refuse(forecast: Forecast) -> None:
    """Raise ``InvalidParameter`` naming the first field of ``forecast`` out of range."""
    checks = (
        ("level", forecast.level, "finite and >= 0", lambda v: 0 <= v < _INF),
        ("trend", forecast.trend, "finite", math.isfinite),
        ("sigma", forecast.sigma, "finite and >= 0", lambda v: 0 <= v < _INF),
        ("damping", forecast.damping, "in (0, 1]", lambda v: 0 < v <= 1),
    )
    for name, value, rule, ok in checks:
        if not isinstance(value, int | float) or not ok(value):
            raise InvalidParameter(f"a forecast's {name} must be {rule}, not {value!r}")


@attrs.frozen
class Forecast:
    """Expected daily demand from tomorrow on.

    ``rate(d) = max(0, level + trend * (1 + damping + ... + damping**(d - 2)))``: the
    level is tomorrow's rate, the trend how much the rate changes from tomorrow to the
    day after, and each later day's change is ``damping`` times the one before (1: a
    straight line). ``sigma`` is the standard deviation of one day's forecast error.

    >>> f = Forecast("given", level=10.0, trend=-3.0, sigma=2.0)
    >>> [f.rate(d) for d in (1, 2, 3, 4, 5)]
    [10.0, 7.0, 4.0, 1.0, 0.0]
    >>> f.demand(3), f.demand(3.5), f.demand(30), f.deviation(4)
    (21.0, 21.5, 22.0, 4.0)
    >>> Forecast("given", -1.0)
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidParameter: a forecast's level must be finite and >= 0, not -1.0
    """

    method: str
    """Which forecaster made it, with its parameters: ``"ses(0.2)"``; ``"given"`` by hand."""
    level: float
    """Expected units per day for the next day (>= 0)."""
    trend: float = 0.0
    """Change of the daily rate per day (Holt only; 0 otherwise)."""
    sigma: float = 0.0
    """Standard deviation of one day's forecast error (>= 0)."""
    damping: float = 1.0
    """How much of each day's trend carries to the next (damped Holt; 1 otherwise)."""

    def __attrs_post_init__(self) -> None:
        """Check the numbers are in range (see the fields)."""
        # One chained check rather than a validator per field: forecasters build
        # forecasts by the hundred thousand, and this is most of a forecast's cost.
        try:
            valid = (
                0 <= self.level < _INF
                and 0 <= self.sigma < _INF
                and -_INF < self.trend < _INF
                and 0 < self.damping <= 1
            )
        except TypeError:
            valid = False
        if not valid:
            _refuse(self)

    def rate(self, day: int) -> float:
        """Expected units on day ``day`` ahead (1 = tomorrow), never below 0.

        Runtime complexity: O(1).
        """
        if not day >= 1:
            raise InvalidParameter(f"a forecast's day ahead counts from 1 (tomorrow), not {day}")
        trend = self.trend
        if not trend:
            return self.level
        phi = self.damping
        steps = day - 1 if phi == 1 else (1.0 - phi ** (day - 1)) / (1.0 - phi)
        rate = self.level + trend * steps
        return rate if rate > 0 else 0.0

    def demand(self, days: float) -> float:
        """Expected units over the next ``days`` days, never below 0.

        The sum of the daily rates; a fractional day prorates the last one. The result
        never falls as ``days`` grows.

        Runtime complexity: O(1) without a trend, O(days) with one.
        """
        if not 0 <= days < math.inf:
            raise InvalidParameter(f"a forecast covers 0 or more days, not {days!r}")
        step = self.trend
        if not step:
            return self.level * days
        # Summing the (clamped) rates one by one keeps the total monotone in floats; a
        # closed form can lose that to rounding near the day the rate reaches 0.
        phi = self.damping
        rate = self.level
        total = 0.0
        whole = int(days)
        for _ in range(whole):
            if rate > 0:
                total += rate
            elif step <= 0:
                return total
            rate += step
            step *= phi
        rest = days - whole
        if rest and rate > 0:
            total += rest * rate
        return total

    def deviation(self, days: float) -> float:
        """``sigma * sqrt(days)``: the standard deviation of demand over ``days`` days.

        Days' errors are taken as independent. Runtime complexity: O(1).
        """
        if not 0 <= days < math.inf:
            raise InvalidParameter(f"a forecast covers 0 or more days, not {days!r}")
        return self.sigma * _sqrt(days)


class Forecaster(Protocol):
    """Turns a history into a :class:`Forecast` (the port a replenishment rule names)."""

    @property
    def name(self) -> str:
        """The method and its parameters, e.g. ``"ses(0.2)"`` (unique within a backtest)."""
        ...

    def forecast(self, history: Sequence[int]) -> Forecast:
        """The forecast from a history of daily units demanded, oldest first."""
        ...


# --- the forecasters ----------------------------------------------------------------------


def _flag(instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if type(value) is not bool:
        raise InvalidParameter(
            f"{type(instance).__name__}: {attribute.name} is True or False, not {value!r}"
        )


def _window(_instance: object, _attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameter(
            f"MovingAverage: the window must be a whole number of days >= 1, not {value!r}"
        )


@attrs.frozen
class _Named(abc.ABC):
    """A forecaster's name, made once when its parameters are known to be valid.

    Names key backtest reports and appear in proposals' reasons, so each forecaster
    writes its own from its parameters (:meth:`_label`).
    """

    _name: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Name it (attrs has run the validators)."""
        object.__setattr__(self, "_name", self._label())

    @abc.abstractmethod
    def _label(self) -> str:
        """The name, from the forecaster's own parameters."""

    @property
    def name(self) -> str:
        """The forecaster and its parameters, e.g. ``"ses(0.2)"``."""
        return self._name


@attrs.frozen
class MovingAverage(_Named):
    """The mean of the last ``window`` days.

    ``level = mean(y[-w:])``; ``sigma = s * sqrt(1 + 1/w)``, with ``s`` the sample
    standard deviation of the same days: the error variance of a mean of ``w`` days used
    as the next day's forecast. A history shorter than the window uses all it has; one
    day gives ``sigma`` 0 (nothing to measure a spread with). Only the days in the
    window are read, so only they are checked (for negative or fractional units).

    >>> f = MovingAverage(4).forecast([9, 1, 2, 4, 6, 4])
    >>> f.level, round(f.sigma, 3)
    (4.0, 1.826)

    Runtime complexity: O(window), in C-speed passes (sum, min, a dot product).
    """

    window: int = attrs.field(default=28, validator=_window)

    def _label(self) -> str:
        """``"moving-average(window)"``."""
        return f"moving-average({self.window})"

    def forecast(self, history: Sequence[int]) -> Forecast:
        """The mean and spread of the last ``window`` days."""
        days = history[-self.window :]
        if not days:
            raise InsufficientHistory(f"{self._name}: the history is empty; give at least one day")
        total = sum(days)
        # A float anywhere makes the sum a float; min() finds a negative at C speed.
        if type(total) is not int or min(days) < 0:
            check_history(days, self._name)
        n = len(days)
        if n == 1:
            return Forecast(self._name, float(total))
        # Exact integer moments: a constant window has exactly 0 spread.
        spread = (n * sum(map(mul, days, days)) - total * total) * (n + 1)
        return Forecast(self._name, total / n, 0.0, _sqrt(spread / (n * n * (n - 1))))


@attrs.frozen
class SimpleExponentialSmoothing(_Named):
    """A level that moves ``alpha`` of the way to each day's demand.

    ``level[t] = level[t-1] + alpha * (y[t] - level[t-1])``, starting from the first
    day (``level[1] = y[1]``). ``sigma`` is the root mean squared one-step error
    ``y[t] - level[t-1]`` over days 2 to n (0 for one day).

    >>> f = SimpleExponentialSmoothing(0.5).forecast([10, 12, 8])
    >>> f.level, round(f.sigma, 4)
    (9.5, 2.5495)

    Runtime complexity: O(n), one pass.
    """

    alpha: float = attrs.field(default=0.2, validator=_fraction)

    def _label(self) -> str:
        """``"ses(alpha)"``."""
        return f"ses({self.alpha:g})"

    def forecast(self, history: Sequence[int]) -> Forecast:
        """The smoothed level after the last day."""
        n = check_history(history, self._name)
        alpha = self.alpha
        days = iter(history)
        level = float(next(days))
        squares = 0.0
        for y in days:
            error = y - level
            squares += error * error
            level += alpha * error
        return Forecast(self._name, level, sigma=_sqrt(squares / (n - 1)) if n > 1 else 0.0)


@attrs.frozen
class Holt(_Named):
    """Holt's linear trend, additive, optionally damped (``phi`` < 1).

    In error-correction form, with the one-step forecast ``f = level + phi * trend``
    and error ``e = y[t] - f``::

        level[t] = f + alpha * e
        trend[t] = phi * trend[t-1] + alpha * beta * e

    It starts from the first two days: ``level[2] = y[2]``, ``trend[2] = y[2] - y[1]``
    (one day: that day's level, no trend). The forecast's rate for ``h`` days ahead is
    ``level + (phi + ... + phi**h) * trend``, floored at 0 (a fitted line below zero
    tomorrow starts the forecast from zero with its trend). ``sigma`` is the root mean
    squared one-step error over days 3 to n (0 for two days or fewer).

    >>> f = Holt(0.5, 0.5).forecast([3, 5, 7, 9])
    >>> f.level, f.trend, f.sigma, f.rate(3)
    (11.0, 2.0, 0.0, 15.0)

    Runtime complexity: O(n), one pass.
    """

    alpha: float = attrs.field(default=0.2, validator=_fraction)
    beta: float = attrs.field(default=0.1, validator=_fraction)
    phi: float = attrs.field(default=1.0, validator=_fraction)

    def _label(self) -> str:
        """``"holt(alpha,beta)"``, or ``"holt(alpha,beta,phi)"`` when damped."""
        damped = "" if self.phi == 1 else f",{self.phi:g}"
        return f"holt({self.alpha:g},{self.beta:g}{damped})"

    def forecast(self, history: Sequence[int]) -> Forecast:
        """The level and trend after the last day."""
        n = check_history(history, self._name)
        if n == 1:
            return Forecast(self._name, float(history[0]))
        alpha, phi = self.alpha, self.phi
        gain = alpha * self.beta
        days = iter(history)
        first = next(days)
        level = float(next(days))
        trend = level - first
        squares = 0.0
        if phi == 1:  # the same loop without the damping: a fifth faster
            for y in days:
                expected = level + trend
                error = y - expected
                squares += error * error
                level = expected + alpha * error
                trend += gain * error
        else:
            for y in days:
                expected = level + phi * trend
                error = y - expected
                squares += error * error
                level = expected + alpha * error
                trend = phi * trend + gain * error
        tomorrow = level + phi * trend
        return Forecast(
            self._name,
            tomorrow if tomorrow > 0 else 0.0,
            trend=phi * phi * trend,
            sigma=_sqrt(squares / (n - 2)) if n > 2 else 0.0,
            damping=phi,
        )


@attrs.frozen
class Croston(_Named):
    """Croston's method for intermittent demand: demand size over demand interval.

    On each day with demand ``y``, ``q`` days after the previous one::

        size     z = z + alpha * (y - z)
        interval p = p + alpha * (q - p)
        rate       = z / p          (times 1 - alpha/2 with sba=True)

    and nothing changes on a day without demand. It starts at the first day with demand:
    ``z`` its demand, ``p`` its day number (the days since the history began). No demand
    at all forecasts 0. ``sba=True`` applies the Syntetos-Boylan approximation, which
    removes Croston's upward bias. ``sigma`` is the root mean squared one-step error
    over the days after the first demand.

    >>> f = Croston(0.5).forecast([0, 4, 0, 0, 6, 0])
    >>> f.level, round(f.sigma, 4)
    (2.0, 2.6458)
    >>> Croston(0.5, sba=True).forecast([0, 4, 0, 0, 6, 0]).level
    1.5

    Runtime complexity: O(n): C-speed passes find the days with demand, then one
    Python step per day with demand.
    """

    alpha: float = attrs.field(default=0.1, validator=_fraction)
    sba: bool = attrs.field(default=False, kw_only=True, validator=_flag)

    def _label(self) -> str:
        """``"croston(alpha)"``, or ``"croston-sba(alpha)"``."""
        return f"{'croston-sba' if self.sba else 'croston'}({self.alpha:g})"

    def forecast(self, history: Sequence[int]) -> Forecast:
        """Smoothed size over smoothed interval after the last day."""
        n, days, sizes = _demands(history, self._name)
        if not days:
            return Forecast(self._name, 0.0)
        alpha = self.alpha
        factor = 1.0 - alpha / 2 if self.sba else 1.0
        first = last = days[0]
        size, interval = float(sizes[0]), float(first)
        rate = factor * size / interval
        squares = 0.0
        for day, y in zip(islice(days, 1, None), islice(sizes, 1, None), strict=True):
            gap = day - last
            last = day
            error = y - rate
            squares += error * error
            if gap > 1:  # the days between, each missed by the whole rate
                squares += (gap - 1) * rate * rate
            size += alpha * (y - size)
            interval += alpha * (gap - interval)
            rate = factor * size / interval
        squares += (n - last) * rate * rate
        return Forecast(self._name, rate, sigma=_sqrt(squares / (n - first)) if n > first else 0.0)


@attrs.frozen
class TSB(_Named):
    """Teunter-Syntetos-Babai: demand size times the probability of demand on a day.

    Every day, with ``d`` 1 on a day with demand and 0 otherwise::

        probability pi = pi + beta * (d - pi)
        size         z = z + alpha * (y - z)     (only on a day with demand)
        rate           = pi * z

    Unlike Croston's, the rate decays through a run of days without demand, so an item
    going obsolete forecasts less and less. It starts at the first day with demand:
    ``z`` its demand, ``pi`` 1 over its day number. No demand at all forecasts 0.
    ``sigma`` is the root mean squared one-step error over the days after the first
    demand.

    >>> f = TSB(0.5, 0.5).forecast([0, 4, 0, 6])
    >>> f.level, round(f.sigma, 4)
    (3.125, 3.8079)

    Runtime complexity: O(n): C-speed passes find the days with demand, then one
    Python step per day with demand.
    """

    alpha: float = attrs.field(default=0.1, validator=_fraction)
    beta: float = attrs.field(default=0.1, validator=_fraction)

    def _label(self) -> str:
        """``"tsb(alpha,beta)"``."""
        return f"tsb({self.alpha:g},{self.beta:g})"

    def forecast(self, history: Sequence[int]) -> Forecast:
        """Smoothed probability times smoothed size after the last day."""
        n, days, sizes = _demands(history, self._name)
        if not days:
            return Forecast(self._name, 0.0)
        alpha, beta = self.alpha, self.beta
        # Through a run of z days without demand the probability shrinks by `keep` a day,
        # and the squared errors (the rate itself) sum to a geometric series:
        # rate**2 * (1 - keep**(2z)) / (1 - keep**2), with expm1/log1p for precision.
        expm1 = math.expm1
        keep = 1.0 - beta
        log_keep2 = 2.0 * math.log1p(-beta) if beta < 1 else -_INF
        whole = -math.expm1(log_keep2)
        first = last = days[0]
        size, probability = float(sizes[0]), 1.0 / first
        rate = probability * size
        squares = 0.0
        for day, y in zip(islice(days, 1, None), islice(sizes, 1, None), strict=True):
            zeros = day - last - 1
            last = day
            if zeros:
                squares += rate * rate * -expm1(zeros * log_keep2) / whole
                probability *= keep**zeros
                rate = probability * size
            error = y - rate
            squares += error * error
            probability += beta * (1.0 - probability)
            size += alpha * (y - size)
            rate = probability * size
        zeros = n - last
        if zeros:
            squares += rate * rate * -expm1(zeros * log_keep2) / whole
            rate *= keep**zeros
        return Forecast(self._name, rate, sigma=_sqrt(squares / (n - first)) if n > first else 0.0)
