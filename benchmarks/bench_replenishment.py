"""Replenishment: a forecast + policy + proposals run over 100,000 positions.

The network: 1,000 SKUs x 100 locations = 100,000 positions, each with 365 days of daily
demand history (seeded; a third smooth around 1-20 units a day, a third intermittent, a
third lumpy; 20,000 distinct series, each shared by five positions to keep generation
short), and seeded balances (on hand 0-120, some committed, incoming and backordered).
Rules: min/max computed from a 28-day moving average, a 95 % service level, a supplier
with a 5 +- 1 day lead time and packs of 6, transfers on.

1. The whole run: ``plan_replenishment(stock, history, rules, now=...)`` (forecast every
   position, set its levels, propose transfers and purchases). Target: under 60 s.
2. The forecasting step alone, against a plain-loop baseline over the same arrays: per
   series, a Python ``for`` loop over the last 28 values summing them and their
   squares, then the mean and standard deviation (what a moving-average forecast and
   its deviation need). Target: ours within 3x of it (ratio >= 0.33).
3. The other forecasters over the same series, against the same baseline (reported, no
   target): they run over the whole 365-day history, not a 28-day window.

Run alone: ``.venv/bin/python benchmarks/bench_replenishment.py [--quick]``.
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime

from _harness import Row, run_alone

from omsims import StockLevel
from omsims.replenishment import (
    TSB,
    Croston,
    Holt,
    LeadTime,
    MinMax,
    MovingAverage,
    Rule,
    SimpleExponentialSmoothing,
    Supplier,
    plan_replenishment,
)

SEED = 20261122
NOW = datetime(2026, 11, 22, 6, tzinfo=UTC)
DAYS = 365
WINDOW = 28
MAX_SECONDS = 60.0
MIN_RATIO = 1 / 3


def series(rng: random.Random, n: int) -> list[list[int]]:
    """``n`` daily demand series of ``DAYS`` days: smooth, intermittent and lumpy."""
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            rate = rng.uniform(1, 20)
            spread = max(1, int(rate))
            low = max(0, int(rate) - spread // 2)
            population = list(range(low, low + spread + 1))
        elif kind == 1:
            population = [0] * 8 + [1, 2]
        else:
            population = [0] * 12 + [5, 10, 30]
        out.append(rng.choices(population, k=DAYS))
    return out


def network(quick: bool) -> tuple[list[StockLevel], dict[tuple[str, str], list[int]]]:
    rng = random.Random(SEED)
    skus, locations = (200, 50) if quick else (1_000, 100)
    distinct = series(rng, skus * locations // 5)
    stock, history = [], {}
    for s in range(skus):
        for loc in range(locations):
            key = (f"SKU-{s:04d}", f"LOC-{loc:03d}")
            on_hand = rng.randint(0, 120)
            committed = rng.randint(0, on_hand // 4)
            stock.append(
                StockLevel(
                    key[0],
                    key[1],
                    on_hand=on_hand,
                    committed=committed,
                    incoming=rng.choice((0, 0, 0, 12, 24)),
                    backordered=rng.choice((0,) * 9 + (3,)),
                )
            )
            history[key] = distinct[(s * locations + loc) % len(distinct)]
    return stock, history


def baseline(histories: list[list[int]]) -> list[tuple[float, float]]:
    """The plain loop: mean and standard deviation of each series' last 28 days."""
    out = []
    for h in histories:
        window = h[-WINDOW:]
        n = len(window)
        total = 0
        squares = 0
        for x in window:
            total += x
            squares += x * x
        mean = total / n
        var = squares / n - mean * mean
        out.append((mean, math.sqrt(var) if var > 0 else 0.0))
    return out


def timed(fn, *args, repeats: int):  # type: ignore[no-untyped-def]
    best = math.inf
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, result


def run(*, quick: bool = False) -> list[Row]:
    t0 = time.perf_counter()
    stock, history = network(quick)
    built = time.perf_counter() - t0
    n = len(stock)
    histories = list(history.values())
    repeats = 2 if quick else 3
    base_s, base = timed(baseline, histories, repeats=repeats)
    ma = MovingAverage(WINDOW)
    ours_s, ours = timed(lambda hs: [ma.forecast(h) for h in hs], histories, repeats=repeats)
    # The same numbers, or the comparison means nothing.
    for (mean, _), f in zip(base[:1000], ours[:1000], strict=True):
        assert math.isclose(mean, f.level, abs_tol=1e-9)
    rule = Rule(MinMax(cover_days=14), Supplier("acme", LeadTime(5, sd=1), multiple=6), ma)
    run_s, plan = timed(lambda: plan_replenishment(stock, history, rule, now=NOW), repeats=1)
    detail = {
        "positions": n,
        "days": DAYS,
        "proposals": len(plan.proposals),
        "transfers": len(plan.transfers),
        "skipped": len(plan.skipped),
        "generate_s": round(built, 1),
        "run_s": round(run_s, 2),
        "forecast_s": round(ours_s, 3),
        "baseline_s": round(base_s, 3),
    }
    forecast = Row.throughput(
        "replenishment",
        f"forecast: MovingAverage({WINDOW}) vs plain loop ({n:,} x {DAYS} d)",
        "positions/s",
        n / ours_s,
        n / base_s,
        min_ratio=MIN_RATIO,
        detail=detail,
    )
    rows = [
        Row(
            "replenishment",
            f"run: forecast + min/max + proposals ({n:,} positions x {DAYS} d)",
            "s",
            run_s,
            target=f"< {MAX_SECONDS:.0f} s" if not quick else None,
            passed=run_s < MAX_SECONDS if not quick else None,
            detail=detail,
        ),
        forecast,
    ]
    sample = histories if quick else histories[: n // 5]
    base_sample_s, _ = timed(baseline, sample, repeats=repeats)
    for forecaster in (SimpleExponentialSmoothing(), Holt(), Croston(), TSB()):
        fs, _ = timed(lambda hs, f=forecaster: [f.forecast(h) for h in hs], sample, repeats=1)
        rows.append(
            Row.throughput(
                "replenishment",
                f"forecast: {forecaster.name} over {DAYS} d vs plain 28-d loop ({len(sample):,})",
                "positions/s",
                len(sample) / fs,
                len(sample) / base_sample_s,
            )
        )
    return rows


if __name__ == "__main__":
    run_alone(run)
