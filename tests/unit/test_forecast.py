"""Forecasters, demand classes and the backtest, on numbers worked out by hand."""

import math

import pytest

from omsims.errors import InsufficientHistory, InvalidParameter
from omsims.replenishment import (
    TSB,
    BacktestReport,
    BacktestRow,
    Croston,
    DemandClass,
    Forecast,
    Holt,
    MovingAverage,
    SimpleExponentialSmoothing,
    backtest,
    classify,
)
from omsims.replenishment import forecast as forecast_module
from omsims.replenishment import selection as selection_module

ALL = [MovingAverage(), SimpleExponentialSmoothing(), Holt(), Croston(), TSB()]


# --- Forecast -----------------------------------------------------------------------------


def test_a_flat_forecast_is_its_level_every_day():
    f = Forecast("given", 2.5, sigma=1.5)
    assert [f.rate(d) for d in (1, 2, 30)] == [2.5, 2.5, 2.5]
    assert f.demand(0) == 0
    assert f.demand(4) == 10.0
    assert f.demand(2.5) == 6.25
    assert f.deviation(9) == 4.5
    assert f.deviation(0) == 0


def test_a_rising_trend_adds_up_day_by_day():
    f = Forecast("given", 10.0, trend=2.0)
    assert [f.rate(d) for d in (1, 2, 3)] == [10.0, 12.0, 14.0]
    assert f.demand(3) == 36.0
    assert f.demand(2.5) == 10 + 12 + 0.5 * 14


def test_a_falling_trend_stops_at_zero():
    f = Forecast("given", 5.0, trend=-2.0)
    assert [f.rate(d) for d in (1, 2, 3, 4, 10)] == [5.0, 3.0, 1.0, 0.0, 0.0]
    assert f.demand(2) == 8.0
    assert f.demand(3.5) == 9.0
    assert f.demand(100) == 9.0


def test_a_damped_trend_shrinks_by_the_damping_each_day():
    f = Forecast("given", 10.0, trend=4.0, damping=0.5)
    assert [f.rate(d) for d in (1, 2, 3, 4)] == [10.0, 14.0, 16.0, 17.0]
    assert f.demand(4) == 57.0
    assert f.rate(60) == pytest.approx(18.0)


def test_a_forecast_can_be_built_by_hand_positionally():
    f = Forecast("given", 10.0, 0.5, 2.0)
    assert (f.method, f.level, f.trend, f.sigma, f.damping) == ("given", 10.0, 0.5, 2.0, 1.0)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"level": -1.0}, "level must be finite and >= 0, not -1.0"),
        ({"level": math.inf}, "level must be finite"),
        ({"level": math.nan}, "level must be finite"),
        ({"level": "3"}, "level must be finite and >= 0, not '3'"),
        ({"level": 1.0, "sigma": -0.1}, "sigma must be finite and >= 0"),
        ({"level": 1.0, "trend": math.nan}, "trend must be finite"),
        ({"level": 1.0, "damping": 0.0}, r"damping must be in \(0, 1\]"),
        ({"level": 1.0, "damping": 1.5}, r"damping must be in \(0, 1\]"),
    ],
)
def test_a_forecast_out_of_range_is_refused(fields, match):
    with pytest.raises(InvalidParameter, match=match):
        Forecast("given", **fields)


@pytest.mark.parametrize(("call", "argument"), [("rate", 0), ("demand", -1), ("deviation", -0.5)])
def test_days_before_tomorrow_are_refused(call, argument):
    with pytest.raises(InvalidParameter, match=r"not -|from 1"):
        getattr(Forecast("given", 1.0), call)(argument)


def test_a_forecast_refuses_infinite_or_nan_days():
    f = Forecast("given", 1.0, trend=1.0)
    for days in (math.inf, math.nan):
        with pytest.raises(InvalidParameter):
            f.demand(days)
        with pytest.raises(InvalidParameter):
            f.deviation(days)


# --- MovingAverage ------------------------------------------------------------------------


def test_moving_average_takes_the_last_window_days():
    f = MovingAverage(4).forecast([9, 1, 2, 4, 6, 4])
    assert f.method == "moving-average(4)"
    assert f.level == 4.0
    # sample variance 8/3, times 1 + 1/4
    assert f.sigma == pytest.approx(math.sqrt(8 / 3 * 5 / 4))
    assert f.trend == 0.0


def test_moving_average_over_a_shorter_history_uses_what_there_is():
    f = MovingAverage(28).forecast([2, 4])
    assert f.level == 3.0
    assert f.sigma == pytest.approx(math.sqrt(2 * 1.5))


def test_moving_average_of_one_day_has_no_spread():
    assert MovingAverage(7).forecast([5]) == Forecast("moving-average(7)", 5.0)


def test_moving_average_of_a_constant_has_exactly_no_spread():
    f = MovingAverage(3).forecast([7] * 10)
    assert (f.level, f.sigma) == (7.0, 0.0)


def test_moving_average_reads_and_checks_only_its_window():
    assert MovingAverage(2).forecast([-5, 1.5, 3, 3]).level == 3.0
    with pytest.raises(InvalidParameter, match=r"moving-average\(2\).*>= 0.*not -1"):
        MovingAverage(2).forecast([3, -1])
    with pytest.raises(InvalidParameter, match=r"whole units \(ints\), not 1.5"):
        MovingAverage(2).forecast([3, 1.5])


# --- SimpleExponentialSmoothing -----------------------------------------------------------


def test_ses_by_hand():
    # level 10; error 2 -> 11; error -3 -> 9.5
    f = SimpleExponentialSmoothing(0.5).forecast([10, 12, 8])
    assert f.method == "ses(0.5)"
    assert f.level == 9.5
    assert f.sigma == pytest.approx(math.sqrt((4 + 9) / 2))


def test_ses_with_alpha_one_is_the_naive_forecast():
    f = SimpleExponentialSmoothing(1).forecast([3, 9, 4])
    assert f.level == 4.0
    assert f.sigma == pytest.approx(math.sqrt((36 + 25) / 2))


def test_ses_of_one_day_is_that_day():
    assert SimpleExponentialSmoothing().forecast([6]) == Forecast("ses(0.2)", 6.0)


# --- Holt ---------------------------------------------------------------------------------


def test_holt_follows_a_linear_trend_exactly():
    f = Holt(0.5, 0.5).forecast([3, 5, 7, 9])
    assert (f.method, f.level, f.trend, f.sigma) == ("holt(0.5,0.5)", 11.0, 2.0, 0.0)
    assert [f.rate(d) for d in (1, 2, 3)] == [11.0, 13.0, 15.0]
    assert f.demand(3) == 39.0
    long = Holt().forecast([100 + 3 * t for t in range(365)])
    assert long.level == pytest.approx(100 + 3 * 365)
    assert long.trend == pytest.approx(3.0)


def test_holt_by_hand():
    # level 12, trend 2; f 14, e -3 -> level 12.5, trend 1.25; f 13.75, e 1.25 -> 14.375, 1.5625
    f = Holt(0.5, 0.5).forecast([10, 12, 11, 15])
    assert f.level == 14.375 + 1.5625
    assert f.trend == 1.5625
    assert f.sigma == pytest.approx(math.sqrt((9 + 1.5625) / 2))


def test_damped_holt_by_hand():
    # level 5, trend 2; f 6, e 1 -> 6.5, 1.25; f 7.125, e 1.875 -> 8.0625, 1.09375
    f = Holt(0.5, 0.5, phi=0.5).forecast([3, 5, 7, 9])
    assert f.method == "holt(0.5,0.5,0.5)"
    assert f.level == 8.0625 + 0.5 * 1.09375
    assert f.trend == 0.25 * 1.09375
    assert f.damping == 0.5
    assert f.rate(3) == pytest.approx(8.0625 + 1.09375 * (0.5 + 0.25 + 0.125))
    assert f.sigma == pytest.approx(math.sqrt((1 + 1.875**2) / 2))


def test_holt_on_a_falling_line_forecasts_zero_after_it_crosses():
    f = Holt(0.5, 0.5).forecast([21, 16, 11, 6])
    assert (f.level, f.trend) == (1.0, -5.0)
    assert f.demand(5) == 1.0
    gone = Holt(0.5, 0.5).forecast([20, 10, 0])
    assert gone.level == 0.0
    assert gone.demand(30) == 0.0


def test_holt_on_one_or_two_days():
    assert Holt().forecast([4]) == Forecast("holt(0.2,0.1)", 4.0)
    f = Holt().forecast([4, 6])
    assert (f.level, f.trend, f.sigma) == (8.0, 2.0, 0.0)


# --- Croston and TSB ----------------------------------------------------------------------


def test_croston_by_hand():
    # first demand on day 2: size 4, interval 2; day 5: size 5, interval 2.5
    f = Croston(0.5).forecast([0, 4, 0, 0, 6, 0])
    assert f.method == "croston(0.5)"
    assert f.level == 2.0
    # one-step errors after day 2: -2, -2, 4, -2
    assert f.sigma == pytest.approx(math.sqrt(28 / 4))


def test_croston_with_the_sba_correction():
    f = Croston(0.5, sba=True).forecast([0, 4, 0, 0, 6, 0])
    assert (f.method, f.level) == ("croston-sba(0.5)", 1.5)


def test_croston_starts_from_the_days_before_the_first_demand():
    assert Croston().forecast([0, 0, 3]) == Forecast("croston(0.1)", 1.0)


def test_croston_keeps_its_rate_through_days_without_demand_and_tsb_decays():
    history = [5, 5, 5, 0, 0, 0]
    assert Croston(0.5).forecast(history).level == 5.0
    assert TSB(0.5, 0.5).forecast(history).level == 5 * 0.5**3


def test_tsb_by_hand():
    # first demand on day 2: size 4, probability 1/2, rate 2; day 3: probability 1/4, rate 1;
    # day 4: probability 5/8, size 5, rate 3.125
    f = TSB(0.5, 0.5).forecast([0, 4, 0, 6])
    assert f.method == "tsb(0.5,0.5)"
    assert f.level == 3.125
    assert f.sigma == pytest.approx(math.sqrt((4 + 25) / 2))


def test_tsb_with_beta_one_forgets_at_the_first_day_without_demand():
    f = TSB(0.5, 1.0).forecast([3, 3, 0, 0])
    assert f.level == 0.0
    assert f.sigma == pytest.approx(math.sqrt(9 / 3))


@pytest.mark.parametrize("forecaster", [Croston(), Croston(sba=True), TSB()])
def test_no_demand_at_all_forecasts_zero(forecaster):
    f = forecaster.forecast([0] * 30)
    assert (f.level, f.sigma, f.trend) == (0.0, 0.0, 0.0)


# --- the errors every forecaster shares ---------------------------------------------------


@pytest.mark.parametrize("forecaster", ALL, ids=lambda f: f.name)
def test_an_empty_history_is_insufficient(forecaster):
    with pytest.raises(InsufficientHistory, match="history is empty"):
        forecaster.forecast([])


@pytest.mark.parametrize("forecaster", ALL, ids=lambda f: f.name)
def test_a_negative_day_is_refused(forecaster):
    with pytest.raises(InvalidParameter, match=r"units demanded \(>= 0\), not -2"):
        forecaster.forecast([1, 2, -2, 3])


@pytest.mark.parametrize("forecaster", ALL, ids=lambda f: f.name)
def test_a_fractional_day_is_refused(forecaster):
    with pytest.raises(InvalidParameter, match=r"whole units \(ints\), not 2.5"):
        forecaster.forecast([1, 2, 2.5, 3])


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: MovingAverage(0), "window must be a whole number of days >= 1, not 0"),
        (lambda: MovingAverage(7.0), "not 7.0"),
        (lambda: MovingAverage(True), "not True"),
        (lambda: SimpleExponentialSmoothing(0), r"alpha must lie in \(0, 1\], not 0"),
        (lambda: SimpleExponentialSmoothing(1.01), "alpha"),
        (lambda: SimpleExponentialSmoothing(math.nan), "alpha"),
        (lambda: SimpleExponentialSmoothing("0.2"), "alpha"),
        (lambda: Holt(beta=0), "Holt: beta"),
        (lambda: Holt(phi=0), "Holt: phi"),
        (lambda: Holt(phi=1.1), "Holt: phi"),
        (lambda: Croston(-0.1), "Croston: alpha"),
        (lambda: Croston(sba=1), "Croston: sba is True or False, not 1"),
        (lambda: TSB(beta=2), "TSB: beta"),
    ],
)
def test_parameters_out_of_range_are_refused(build, match):
    with pytest.raises(InvalidParameter, match=match):
        build()


def test_forecasters_are_values():
    assert Holt(0.3, 0.1) == Holt(0.3, 0.1)
    assert hash(TSB()) == hash(TSB())
    assert Croston(0.1) != Croston(0.1, sba=True)
    assert repr(MovingAverage(7)) == "MovingAverage(window=7)"


# --- classify -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([3, 4, 3, 5, 4, 3], DemandClass.SMOOTH),
        ([1, 10, 1, 10, 1, 10], DemandClass.ERRATIC),  # CV² 20.25 / 30.25
        ([0, 0, 3, 0, 4, 0, 0, 3], DemandClass.INTERMITTENT),  # ADI 8/3
        ([0, 0, 1, 0, 0, 10, 0, 0, 1, 0], DemandClass.LUMPY),  # ADI 10/3, CV² 18/16
        ([0, 0, 0], DemandClass.NO_DEMAND),
    ],
)
def test_classify_one_of_each(history, expected):
    assert classify(history) is expected


def test_classify_counts_a_value_at_a_cutoff_as_above_it():
    assert classify([2] * 25 + [0] * 8) is DemandClass.INTERMITTENT  # ADI 33/25 = 1.32
    assert classify([2] * 25 + [0] * 7) is DemandClass.SMOOTH  # ADI 32/25
    assert classify([3, 17]) is DemandClass.ERRATIC  # CV² 49/100


def test_classify_checks_the_history():
    with pytest.raises(InsufficientHistory):
        classify([])
    with pytest.raises(InvalidParameter):
        classify([1, -1])


# --- backtest -----------------------------------------------------------------------------

PAIR = [MovingAverage(2), Holt(0.5, 0.5)]


def test_backtest_by_hand():
    # origins at day 2 and day 4; the moving average says 1.5 then 3.5 for two days each
    report = backtest({"A": [1, 2, 3, 4, 5, 6]}, PAIR, horizon=2, origins=2)
    average, holt = report.rows
    assert average == BacktestRow(
        "A",
        "moving-average(2)",
        DemandClass.SMOOTH,
        mae=2.0,
        mase=2.0,  # the naive forecast misses by 1 a day before the first origin
        mape=pytest.approx(100 * (1.5 / 3 + 2.5 / 4 + 1.5 / 5 + 2.5 / 6) / 4),
        bias=-2.0,
    )
    assert (holt.forecaster, holt.mae, holt.mase, holt.mape, holt.bias) == (
        "holt(0.5,0.5)",
        0.0,
        0.0,
        0.0,
        0.0,
    )


def test_backtest_fits_only_on_the_days_before_each_origin():
    seen = []

    class Spy:
        name = "spy"

        def forecast(self, history):
            seen.append(list(history))
            return Forecast("spy", 0.0)

    backtest({"A": list(range(10))}, [Spy()], horizon=3, origins=2)
    assert seen == [list(range(4)), list(range(7))]


def test_a_forecaster_of_ones_own_needs_no_base_class():
    class Yesterday:
        name = "yesterday"

        def forecast(self, history):
            return Forecast(self.name, float(history[-1]))

    report = backtest({"A": [1, 2, 3, 4, 5, 6]}, [Yesterday()], horizon=1, origins=2)
    assert [(r.mae, r.bias) for r in report.rows] == [(1.0, -1.0)]


def test_mape_is_none_when_an_actual_is_zero_and_mase_when_the_naive_error_is():
    report = backtest({"A": [1, 2, 0, 2, 2, 2]}, PAIR, horizon=2, origins=2)
    assert {r.mape for r in report.rows} == {None}
    assert all(r.mase is not None for r in report.rows)
    report = backtest({"B": [2, 2, 2, 1, 2, 2]}, PAIR, horizon=2, origins=2)
    assert {r.mase for r in report.rows} == {None}
    assert all(r.mape is not None for r in report.rows)


def test_a_history_too_short_for_the_backtest_names_its_key():
    backtest({"ok": [1] * 30}, PAIR)  # 7 x 4 + 2
    with pytest.raises(InsufficientHistory, match=r"'short' has 29 days; 4 origins of 7 days"):
        backtest({"ok": [1] * 30, "short": [1] * 29}, PAIR)


@pytest.mark.parametrize(
    ("forecasters", "options", "match"),
    [
        ([], {}, "at least one forecaster"),
        ([MovingAverage(2), MovingAverage(2)], {}, r"given twice: \['moving-average\(2\)'\]"),
        (PAIR, {"horizon": 0}, "horizon must be a whole number >= 1, not 0"),
        (PAIR, {"origins": 1.5}, "origins"),
    ],
)
def test_backtest_parameters_are_checked(forecasters, options, match):
    with pytest.raises(InvalidParameter, match=match):
        backtest({"A": [1] * 40}, forecasters, **options)


def test_backtest_checks_the_histories():
    with pytest.raises(InvalidParameter, match="not -1"):
        backtest({"A": [1] * 39 + [-1]}, PAIR)


def test_best_picks_the_lowest_metric_per_key():
    histories = {"rising": [2 * t for t in range(12)], "flat": [5] * 12}
    report = backtest(histories, PAIR, horizon=2, origins=3)
    assert report.best() == {"rising": "holt(0.5,0.5)", "flat": "moving-average(2)"}


def test_best_breaks_ties_by_the_order_forecasters_were_given():
    flat = {"flat": [5] * 12}
    assert backtest(flat, PAIR, horizon=2, origins=3).best() == {"flat": "moving-average(2)"}
    assert backtest(flat, PAIR[::-1], horizon=2, origins=3).best() == {"flat": "holt(0.5,0.5)"}


def row(key, forecaster, demand_class, mae, *, mase=None, mape=None, bias=0.0):
    return BacktestRow(key, forecaster, demand_class, mae, mase, mape, bias)


SMOOTH, LUMPY = DemandClass.SMOOTH, DemandClass.LUMPY
REPORT = BacktestReport(
    (
        row("a", "ma", SMOOTH, 1.0, mase=0.5, mape=10.0, bias=0.4),
        row("a", "ses", SMOOTH, 2.0, mase=1.0, mape=5.0, bias=-0.1),
        row("b", "ma", SMOOTH, 3.0, mase=1.5, bias=-2.0),
        row("b", "ses", SMOOTH, 1.0, mase=0.5, bias=1.0),
        row("c", "ma", LUMPY, 1.0, bias=0.5),
        row("c", "ses", LUMPY, 2.0, bias=-0.5),
    )
)


def test_best_by_each_metric():
    assert REPORT.best() == {"a": "ma", "b": "ses", "c": "ma"}  # c: no MASE, so MAE
    assert REPORT.best("mape") == {"a": "ses", "b": "ses", "c": "ma"}
    assert REPORT.best("bias") == {"a": "ses", "b": "ses", "c": "ma"}  # closest to 0


def test_by_class_averages_the_keys_that_have_the_metric():
    assert REPORT.by_class() == {SMOOTH: {"ma": 1.0, "ses": 0.75}}
    assert REPORT.by_class("mae") == {
        SMOOTH: {"ma": 2.0, "ses": 1.5},
        LUMPY: {"ma": 1.0, "ses": 2.0},
    }
    assert REPORT.by_class("mape") == {SMOOTH: {"ma": 10.0, "ses": 5.0}}
    assert REPORT.by_class("bias") == {
        SMOOTH: {"ma": -0.8, "ses": 0.45},
        LUMPY: {"ma": 0.5, "ses": -0.5},
    }


def test_recommend_picks_the_best_mean_per_class():
    assert REPORT.recommend() == {SMOOTH: "ses"}
    assert REPORT.recommend("mae") == {SMOOTH: "ses", LUMPY: "ma"}
    assert REPORT.recommend("bias") == {SMOOTH: "ses", LUMPY: "ma"}  # |0.45| < |-0.8|; a tie


def test_an_unknown_metric_is_refused():
    for summary in (REPORT.best, REPORT.by_class, REPORT.recommend):
        with pytest.raises(InvalidParameter, match="one of mae, mase, mape, bias, not 'rmse'"):
            summary("rmse")


def test_the_report_prints_as_a_table():
    histories = {("TSHIRT-M", "WH1"): [1, 2, 3, 4, 5, 6], ("MUG", "WH1"): [0, 0, 2, 2, 0, 2]}
    text = str(backtest(histories, PAIR, horizon=2, origins=2))
    lines = text.splitlines()
    assert lines[0].split() == ["key", "class", "forecaster", "MAE", "MASE", "MAPE", "%", "bias"]
    assert len(lines) == 5
    assert lines[1].split()[:3] == ["TSHIRT-M/WH1", "smooth", "moving-average(2)"]
    assert lines[2].endswith("*")  # Holt is best for the T-shirt
    assert lines[3].split()[5] == "-"  # no MAPE with a zero actual
    assert str(BacktestReport(())).split() == [
        "key",
        "class",
        "forecaster",
        "MAE",
        "MASE",
        "MAPE",
        "%",
        "bias",
    ]


# --- the module ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", [forecast_module, selection_module])
def test_the_module_exports_exactly_its_public_names_each_documented(module):
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
        and name != "K"
    }
    assert public == set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name).__doc__, name
