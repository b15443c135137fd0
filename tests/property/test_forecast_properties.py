"""Forecasts on any non-negative history: finite, exact on constants, scale-equivariant.

The fast paths of Croston and TSB (which step only through days with demand, summing the
days without in closed form) are checked against plain day-by-day references, and the
moving average against the statistics module.
"""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims.replenishment import (
    TSB,
    Croston,
    DemandClass,
    Forecast,
    Holt,
    MovingAverage,
    SimpleExponentialSmoothing,
    backtest,
    classify,
)

smoothing = st.floats(0.01, 1.0)
forecasters = st.one_of(
    st.builds(MovingAverage, st.integers(1, 60)),
    st.builds(SimpleExponentialSmoothing, smoothing),
    st.builds(Holt, smoothing, smoothing, st.floats(0.5, 1.0)),
    st.builds(Croston, smoothing, sba=st.booleans()),
    st.builds(TSB, smoothing, smoothing),
)
# Zeros often (intermittent demand), small counts, and now and then a big one.
demand = st.one_of(st.just(0), st.integers(0, 20), st.integers(0, 10**6))
histories = st.lists(demand, min_size=1, max_size=80)
intermittent = st.lists(
    st.one_of(st.just(0), st.just(0), st.integers(1, 30)), min_size=1, max_size=80
)


def close(a, b, scale):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale)


@given(forecasters, histories)
def test_forecasts_are_finite_and_not_negative(forecaster, history):
    f = forecaster.forecast(history)
    assert f.method == forecaster.name
    assert 0 <= f.level < math.inf
    assert 0 <= f.sigma < math.inf
    assert math.isfinite(f.trend)
    for days in (1, 7, 30.5):
        assert 0 <= f.rate(math.ceil(days)) < math.inf
        assert 0 <= f.demand(days) < math.inf
        assert 0 <= f.deviation(days) < math.inf


@given(forecasters, st.integers(0, 10**6), st.integers(1, 80))
def test_a_constant_history_forecasts_that_constant_with_no_spread(forecaster, c, n):
    if isinstance(forecaster, Croston) and forecaster.sba and c:
        # The SBA correction deliberately forecasts (1 - alpha/2) of Croston's rate.
        forecaster = Croston(forecaster.alpha)
    f = forecaster.forecast([c] * n)
    assert (f.level, f.trend, f.sigma) == (c, 0.0, 0.0)
    assert f.demand(n) == c * n


@given(forecasters, histories, st.integers(2, 1000))
def test_forecasts_scale_with_the_history(forecaster, history, k):
    f = forecaster.forecast(history)
    g = forecaster.forecast([k * y for y in history])
    scale = k * max(history)
    assert close(g.level, k * f.level, scale)
    assert close(g.trend, k * f.trend, scale)
    assert close(g.sigma, k * f.sigma, scale)


by_hand = st.builds(
    Forecast,
    st.just("given"),
    st.floats(0, 1e6),
    st.one_of(st.just(0.0), st.floats(-1e4, 1e4)),
    st.floats(0, 1e4),
    st.floats(0.01, 1.0),
)


@given(
    st.one_of(by_hand, st.builds(lambda f, h: f.forecast(h), forecasters, histories)),
    st.lists(st.floats(0, 400), min_size=2, max_size=10),
)
def test_demand_never_falls_as_the_days_grow(f, days):
    demands = [f.demand(d) for d in sorted(days)]
    assert demands == sorted(demands)
    deviations = [f.deviation(d) for d in sorted(days)]
    assert deviations == sorted(deviations)


@given(by_hand, st.integers(0, 100))
def test_demand_is_the_sum_of_the_rates(f, days):
    expected = math.fsum(f.rate(d) for d in range(1, days + 1))
    assert close(f.demand(days), expected, f.level + abs(f.trend) * days + 1)
    assert f.demand(days + 0.5) >= f.demand(days)


@given(
    st.lists(forecasters, min_size=1, max_size=4, unique_by=lambda f: f.name),
    st.integers(0, 10**6),
    st.integers(1, 7),
    st.integers(1, 4),
    st.integers(0, 20),
)
def test_the_backtest_of_a_constant_series_has_no_error(chosen, c, horizon, origins, extra):
    chosen = [Croston(f.alpha) if isinstance(f, Croston) and f.sba and c else f for f in chosen]
    chosen = list({f.name: f for f in chosen}.values())
    history = [c] * (horizon * origins + 2 + extra)
    report = backtest({"k": history}, chosen, horizon=horizon, origins=origins)
    assert [(r.mae, r.bias, r.mase) for r in report.rows] == [(0.0, 0.0, None)] * len(chosen)
    assert {r.mape for r in report.rows} == ({0.0} if c else {None})
    assert {r.demand_class for r in report.rows} == {
        DemandClass.SMOOTH if c else DemandClass.NO_DEMAND
    }
    assert report.best() == {"k": chosen[0].name}


@given(
    st.lists(forecasters, min_size=1, max_size=3, unique_by=lambda f: f.name),
    st.lists(demand, min_size=6, max_size=80),
)
def test_every_key_gets_a_best_forecaster(chosen, history):
    report = backtest({"a": history, "b": history[::-1]}, chosen, horizon=2, origins=2)
    names = {f.name for f in chosen}
    assert set(report.best().values()) <= names
    assert set(report.best().keys()) == {"a", "b"}
    for means in report.by_class("mae").values():
        assert set(means) == names
    assert set(report.recommend("mae").values()) <= names


@given(histories, st.integers(1, 1000))
def test_the_demand_class_does_not_depend_on_the_unit(history, k):
    assert classify([k * y for y in history]) is classify(history)


# --- the fast paths against plain references ----------------------------------------------


def croston_by_day(history, alpha, factor):
    started, gap, squares, count, rate = False, 0, 0.0, 0, 0.0
    size = interval = 0.0
    for y in history:
        gap += 1
        if started:
            squares += (y - rate) ** 2
            count += 1
        if y:
            if started:
                size += alpha * (y - size)
                interval += alpha * (gap - interval)
            else:
                size, interval, started = float(y), float(gap), True
            rate, gap = factor * size / interval, 0
    return rate, math.sqrt(squares / count) if count else 0.0


def tsb_by_day(history, alpha, beta):
    started, squares, count, rate = False, 0.0, 0, 0.0
    size = probability = 0.0
    for day, y in enumerate(history, 1):
        if started:
            squares += (y - rate) ** 2
            count += 1
            if y:
                probability += beta * (1 - probability)
                size += alpha * (y - size)
            else:
                probability -= beta * probability
            rate = probability * size
        elif y:
            size, probability, started = float(y), 1 / day, True
            rate = probability * size
    return rate, math.sqrt(squares / count) if count else 0.0


@given(smoothing, st.booleans(), intermittent)
def test_croston_matches_a_day_by_day_reference(alpha, sba, history):
    f = Croston(alpha, sba=sba).forecast(history)
    rate, sigma = croston_by_day(history, alpha, 1 - alpha / 2 if sba else 1.0)
    assert f.level == pytest.approx(rate, rel=1e-9)
    assert f.sigma == pytest.approx(sigma, rel=1e-9)


@given(smoothing, st.one_of(smoothing, st.just(1e-9)), intermittent)
def test_tsb_matches_a_day_by_day_reference(alpha, beta, history):
    f = TSB(alpha, beta).forecast(history)
    rate, sigma = tsb_by_day(history, alpha, beta)
    assert f.level == pytest.approx(rate, rel=1e-9, abs=1e-12)
    assert f.sigma == pytest.approx(sigma, rel=1e-9)


@given(st.integers(1, 60), histories)
def test_the_moving_average_matches_the_statistics_module(window, history):
    f = MovingAverage(window).forecast(history)
    days = history[-window:]
    assert f.level == pytest.approx(statistics.fmean(days), rel=1e-12)
    n = len(days)
    spread = statistics.stdev(days) * math.sqrt(1 + 1 / n) if n > 1 else 0.0
    assert f.sigma == pytest.approx(spread, rel=1e-9, abs=1e-9)
