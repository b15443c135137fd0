"""Choosing a forecaster: demand classes and a rolling-origin backtest.

:func:`classify` sorts a history into the Syntetos-Boylan classes (smooth, erratic,
intermittent, lumpy); :func:`backtest` scores forecasters on rolling origins per
position, so a planner can pick a forecaster per class::

    >>> from omsims.replenishment.forecast import Holt, MovingAverage
    >>> histories = {"rising": [2, 4, 6, 8, 10, 12, 14, 16, 18, 20], "flat": [5] * 10}
    >>> report = backtest(histories, [MovingAverage(3), Holt(0.5, 0.5)], horizon=2, origins=3)
    >>> report.best()
    {'rising': 'holt(0.5,0.5)', 'flat': 'moving-average(3)'}
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable, Mapping, Sequence
from operator import mul, sub
from typing import Final, Generic, TypeVar

import attrs

from omsims.errors import InsufficientHistory, InvalidParameter
from omsims.replenishment.forecast import Forecaster, check_history

__all__ = ["BacktestReport", "BacktestRow", "DemandClass", "backtest", "classify"]

K = TypeVar("K", bound=Hashable)

# --- demand classes -----------------------------------------------------------------------

_ADI_CUTOFF: Final = 1.32
_CV2_CUTOFF: Final = 0.49


class DemandClass(enum.Enum):
    """The Syntetos-Boylan demand classes, from how often and how evenly demand comes."""

    SMOOTH = "smooth"
    """Regular in time and size (ADI < 1.32, CV² < 0.49): the smoothing methods suit it."""
    ERRATIC = "erratic"
    """Regular in time, irregular in size (ADI < 1.32, CV² >= 0.49)."""
    INTERMITTENT = "intermittent"
    """Irregular in time, regular in size (ADI >= 1.32, CV² < 0.49): Croston, TSB."""
    LUMPY = "lumpy"
    """Irregular in time and size (ADI >= 1.32, CV² >= 0.49): hard to forecast at all."""
    NO_DEMAND = "no-demand"
    """No demand in the whole history."""


def classify(history: Sequence[int]) -> DemandClass:
    """The Syntetos-Boylan class of a history of daily units demanded.

    ``ADI`` is the average interval between demands, the days in the history over the
    days with demand; ``CV²`` the squared coefficient of variation of the non-zero
    demands (population variance over the squared mean). The cut-offs are ADI 1.32 and
    CV² 0.49; a value at a cut-off counts as above it.

    >>> classify([3, 4, 3, 5, 4, 3])
    <DemandClass.SMOOTH: 'smooth'>
    >>> classify([0, 0, 3, 0, 4, 0, 0, 3])
    <DemandClass.INTERMITTENT: 'intermittent'>

    Runtime complexity: O(n), in C-speed passes.
    """
    n = check_history(history, "classify")
    sizes = list(filter(None, history))
    k = len(sizes)
    if not k:
        return DemandClass.NO_DEMAND
    total = sum(sizes)
    cv2 = (k * sum(map(mul, sizes, sizes)) - total * total) / (total * total)
    if n / k < _ADI_CUTOFF:
        return DemandClass.SMOOTH if cv2 < _CV2_CUTOFF else DemandClass.ERRATIC
    return DemandClass.INTERMITTENT if cv2 < _CV2_CUTOFF else DemandClass.LUMPY


# --- backtest -----------------------------------------------------------------------------

_METRICS: Final = ("mae", "mase", "mape", "bias")


@attrs.frozen
class BacktestRow(Generic[K]):
    """How one forecaster did on one key's history, over every origin and day."""

    key: K
    """The key of the history (e.g. a ``(sku, location)`` position)."""
    forecaster: str
    """The forecaster's name."""
    demand_class: DemandClass
    """The class of the key's whole history."""
    mae: float
    """Mean absolute error, in units per day."""
    mase: float | None
    """MAE over the in-sample MAE of the naive forecast (yesterday's demand) on the days
    before the first origin; below 1 beats the naive forecast. ``None`` when that
    in-sample MAE is 0 (a constant history before the first origin)."""
    mape: float | None
    """Mean absolute percentage error, in percent; ``None`` when an actual is 0."""
    bias: float
    """Mean of forecast - actual: above 0 forecasts too much, below 0 too little."""

    def metric(self, metric: str) -> float | None:
        """The value of ``metric`` (``"mae"``, ``"mase"``, ``"mape"`` or ``"bias"``)."""
        value: float | None = getattr(self, _metric(metric))
        return value


def _metric(metric: str) -> str:
    if metric not in _METRICS:
        raise InvalidParameter(f"a backtest metric is one of {', '.join(_METRICS)}, not {metric!r}")
    return metric


def _score(value: float, metric: str) -> float:
    # Bias is best near 0 on either side; the other metrics, small.
    return abs(value) if metric == "bias" else value


@attrs.frozen
class BacktestReport(Generic[K]):
    """The rows of a :func:`backtest`: one per key and forecaster, keys in the order given.

    Every summary takes a ``metric``: ``"mase"`` (the default), ``"mae"``, ``"mape"``, or
    ``"bias"`` (ranked by its distance from 0). Ties go to the forecaster given first.
    """

    rows: tuple[BacktestRow[K], ...]

    def best(self, metric: str = "mase") -> dict[K, str]:
        """The best forecaster per key.

        A key whose metric is ``None`` (MASE over a constant stretch, MAPE with a zero
        actual) is ranked by MAE instead: MASE is MAE over a scale shared by every
        forecaster, so the ranking is the same.

        >>> from omsims.replenishment.forecast import Holt, MovingAverage
        >>> from omsims.replenishment.forecast import Holt, MovingAverage
        >>> pair = [MovingAverage(2), Holt(0.5, 0.5)]
        >>> report = backtest({"A": [1, 2, 3, 4, 5, 6]}, pair, horizon=2, origins=2)
        >>> report.best()
        {'A': 'holt(0.5,0.5)'}

        Runtime complexity: O(rows).
        """
        _metric(metric)
        best: dict[K, str] = {}
        for key, rows in self._by_key().items():
            scores = [_score(v, metric) for row in rows if (v := row.metric(metric)) is not None]
            if len(scores) < len(rows):
                scores = [row.mae for row in rows]
            # index(min()) finds the first of equal scores: the forecaster given first.
            best[key] = rows[scores.index(min(scores))].forecaster
        return best

    def by_class(self, metric: str = "mase") -> dict[DemandClass, dict[str, float]]:
        """The mean of ``metric`` per forecaster, per demand class.

        Keys whose metric is ``None`` do not count; a class with no key that has the
        metric is left out (with MASE and MAPE, that is usually NO_DEMAND). Classes come
        in the order of :class:`DemandClass`, forecasters in the order given.

        >>> from omsims.replenishment.forecast import Holt, MovingAverage
        >>> from omsims.replenishment.forecast import Holt, MovingAverage
        >>> pair = [MovingAverage(2), Holt(0.5, 0.5)]
        >>> report = backtest({"A": [1, 2, 3, 4, 5, 6]}, pair, horizon=2, origins=2)
        >>> report.by_class()
        {<DemandClass.SMOOTH: 'smooth'>: {'moving-average(2)': 2.0, 'holt(0.5,0.5)': 0.0}}

        Runtime complexity: O(rows).
        """
        _metric(metric)
        sums: dict[DemandClass, dict[str, list[float]]] = {c: {} for c in DemandClass}
        for row in self.rows:
            value = row.metric(metric)
            if value is not None:
                sums[row.demand_class].setdefault(row.forecaster, []).append(value)
        return {
            cls: {name: math.fsum(values) / len(values) for name, values in found.items()}
            for cls, found in sums.items()
            if found
        }

    def recommend(self, metric: str = "mase") -> dict[DemandClass, str]:
        """The forecaster with the best mean ``metric`` per demand class (see :meth:`by_class`).

        >>> from omsims.replenishment.forecast import Holt, MovingAverage
        >>> from omsims.replenishment.forecast import Holt, MovingAverage
        >>> pair = [MovingAverage(2), Holt(0.5, 0.5)]
        >>> report = backtest({"A": [1, 2, 3, 4, 5, 6]}, pair, horizon=2, origins=2)
        >>> report.recommend()
        {<DemandClass.SMOOTH: 'smooth'>: 'holt(0.5,0.5)'}

        Runtime complexity: O(rows).
        """
        return {
            cls: min(means, key=lambda name: _score(means[name], metric))
            for cls, means in self.by_class(metric).items()
        }

    def _by_key(self) -> dict[K, list[BacktestRow[K]]]:
        grouped: dict[K, list[BacktestRow[K]]] = {}
        for row in self.rows:
            grouped.setdefault(row.key, []).append(row)
        return grouped

    def __str__(self) -> str:
        """A table: one line per key and forecaster, the best per key (by MASE) starred."""
        best = self.best()
        header = ("key", "class", "forecaster", "MAE", "MASE", "MAPE %", "bias", "")
        lines = [header]
        lines.extend(
            (
                _key_text(row.key),
                row.demand_class.value,
                row.forecaster,
                f"{row.mae:.3f}",
                "-" if row.mase is None else f"{row.mase:.3f}",
                "-" if row.mape is None else f"{row.mape:.1f}",
                f"{row.bias:+.3f}",
                "*" if best[row.key] == row.forecaster else "",
            )
            for row in self.rows
        )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        left = 3  # key, class and forecaster read left to right; numbers align right
        return "\n".join(
            "  ".join(
                cell.ljust(width) if i < left else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
            for line in lines
        )


def _key_text(key: object) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


def backtest(
    histories: Mapping[K, Sequence[int]],
    forecasters: Sequence[Forecaster],
    *,
    horizon: int = 7,
    origins: int = 4,
) -> BacktestReport[K]:
    """Score forecasters on each history at rolling origins.

    The last ``horizon * origins`` days of each history are cut into ``origins`` test
    windows of ``horizon`` days. At each window's start (its *origin*), every forecaster
    is fitted on the history before it, and its rates for days ``1..horizon`` ahead are
    compared with what was demanded. Each row reports the errors over all windows: MAE,
    MASE, MAPE (``None`` when any actual in the windows is 0) and bias, plus the
    history's :class:`DemandClass`.

    >>> from omsims.replenishment.forecast import Holt, MovingAverage
    >>> pair = [MovingAverage(2), Holt(0.5, 0.5)]
    >>> report = backtest({"A": [1, 2, 3, 4, 5, 6]}, pair, horizon=2, origins=2)
    >>> row = report.rows[0]
    >>> row.forecaster, row.mae, row.mase, round(row.mape, 2), row.bias
    ('moving-average(2)', 2.0, 2.0, 46.04, -2.0)
    >>> print(report)
    key  class   forecaster         MAE   MASE  MAPE %    bias
    A    smooth  moving-average(2)  2.000  2.000    46.0  -2.000
    A    smooth  holt(0.5,0.5)      0.000  0.000     0.0  +0.000  *

    Raises:
        InsufficientHistory: a history shorter than ``horizon * origins + 2`` days (the
            forecasters need at least 2 days before the first origin), naming its key.
        InvalidParameter: no forecasters, two with the same name, ``horizon`` or
            ``origins`` below 1, or a history with a negative or fractional value.

    Runtime complexity: O(keys * forecasters * origins * (n + horizon)) for the
    forecasters here, which are O(n) in the history's length n.
    """
    for what, value in (("horizon", horizon), ("origins", origins)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidParameter(f"backtest: {what} must be a whole number >= 1, not {value!r}")
    names = [forecaster.name for forecaster in forecasters]
    if not names:
        raise InvalidParameter("backtest: give at least one forecaster")
    if len(set(names)) < len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise InvalidParameter(f"backtest: forecaster names must differ; given twice: {twice}")
    rows: list[BacktestRow[K]] = []
    for key, history in histories.items():
        n = len(history)
        if n < horizon * origins + 2:
            raise InsufficientHistory(
                f"backtest: the history of {key!r} has {n} days; {origins} origins of "
                f"{horizon} days need at least {horizon * origins + 2}"
            )
        rows.extend(_rows(key, history, forecasters, names, horizon, origins))
    return BacktestReport(tuple(rows))


def _rows(
    key: K,
    history: Sequence[int],
    forecasters: Sequence[Forecaster],
    names: Sequence[str],
    horizon: int,
    origins: int,
) -> list[BacktestRow[K]]:
    """One key's rows, one per forecaster (its history long enough)."""
    demand_class = classify(history)
    n = len(history)
    points = horizon * origins
    start = n - points
    before = history[:start]
    naive = sum(map(abs, map(sub, before[1:], before[:-1]))) / (start - 1)
    percentages = min(history[start:]) > 0
    rows = []
    for forecaster, name in zip(forecasters, names, strict=True):
        absolute = signed = relative = 0.0
        for origin in range(start, n, horizon):
            forecast = forecaster.forecast(history[:origin])
            for day, actual in enumerate(history[origin : origin + horizon], 1):
                error = forecast.rate(day) - actual
                signed += error
                absolute += abs(error)
                if percentages:
                    relative += abs(error) / actual
        mae = absolute / points
        rows.append(
            BacktestRow(
                key,
                name,
                demand_class,
                mae,
                mae / naive if naive else None,
                100.0 * relative / points if percentages else None,
                signed / points,
            )
        )
    return rows
