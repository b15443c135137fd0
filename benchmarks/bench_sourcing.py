"""Sourcing: plan + ledger commit per built-in strategy, and MinimizeSplits latency.

1. Throughput. The network: 50 locations across Germany (seeded random coordinates,
   priorities 1..50) and 300 SKUs, each stocked at 5 random locations with more units
   than the run needs. Orders: 3 lines of 3 different SKUs, 1-3 units, a random German
   destination. Measured per strategy: ``strategy.plan(request, view)`` then one
   ``Ledger.commit`` per allocation (the strategy and the postings, not the whole
   place_order). The view is the one the Oms gives strategies (locations, ledger
   availability, the SKU's holders). Baseline: a plain-dict greedy reference doing the
   same decide-and-decrement: locations pre-sorted by priority, per line the first
   locations with stock, a dict decrement and a tuple appended per allocation; for
   Nearest, per line the SKU's holders sorted by great-circle distance instead.
   Targets: Ranked and Nearest at least 0.30x of it.
2. Latency. MinimizeSplits over 20 candidate locations, orders of 1-4 lines (uniform),
   1-5 units each, from 8 SKUs with 0-6 units per location (so covers of 1 to 4+
   locations all occur): the 99th percentile per order, explanations not rendered.
   Target: under 10 ms.

Run alone: ``.venv/bin/python benchmarks/bench_sourcing.py [--quick]``.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

from _harness import Row, race, render

from omsims import GeoPoint, Ledger, Location
from omsims.sourcing import (
    HighestStock,
    MinimizeSplits,
    Nearest,
    PriorityStrategy,
    Ranked,
    RequestLine,
    SourcingRequest,
)

SEED = 20261122
T = datetime(2026, 3, 1, tzinfo=UTC)
MIN_RATIO = 0.30
MAX_P99_MS = 10.0


class View:
    """The inventory view over a Ledger, as the Oms builds it."""

    def __init__(self, ledger: Ledger, locations: tuple[Location, ...]) -> None:
        self._locations = locations
        self.available = ledger.available
        self.stocking = ledger.stocking

    def locations(self) -> tuple[Location, ...]:
        return self._locations

    def backorder_room(self, sku: str, location: str) -> int:  # noqa: ARG002
        return 0


def network(rng: random.Random, n_locations: int, skus: list[str], holders: int, units: Any):
    locations = tuple(
        Location(
            f"LOC-{i:02d}",
            priority=i + 1,
            coordinates=GeoPoint(rng.uniform(47.5, 54.5), rng.uniform(6.5, 14.5)),
        )
        for i in range(n_locations)
    )
    stock = {}
    for sku in skus:
        for loc in rng.sample(locations, holders):
            stock[(sku, loc.id)] = units()
    return locations, stock


def fresh_ledger(locations, stock) -> Ledger:
    ledger = Ledger()
    for loc in locations:
        ledger.add_location(loc.id)
    for (sku, loc_id), n in stock.items():
        if n:
            ledger.receive(sku, loc_id, n, at=T)
    return ledger


def distance_reference(stock, requests, locations):
    """The plain-dict greedy reference for Nearest: per line, the SKU's holders by distance."""
    coords = {loc.id: loc.coordinates for loc in locations}
    holders: dict[str, list[str]] = {}
    for sku, loc_id in stock:
        holders.setdefault(sku, []).append(loc_id)

    def baseline_setup():
        return dict(stock), []

    def baseline_run(state):
        counts, log = state
        for req in requests:
            dest = req.destination
            for rl in req.lines:
                left = rl.quantity
                ranked = sorted(holders[rl.sku], key=lambda x: coords[x].distance_km(dest))
                for loc in ranked:
                    have = counts.get((rl.sku, loc), 0)
                    if have:
                        n = min(have, left)
                        counts[(rl.sku, loc)] = have - n
                        log.append((rl.sku, loc, n))
                        left -= n
                        if not left:
                            break

    return baseline_setup, baseline_run


def reference(stock, requests, by_priority):
    """The plain-dict greedy reference: decide by priority, decrement, log."""

    def baseline_setup():
        return dict(stock), []

    def baseline_run(state):
        counts, log = state
        for req in requests:
            for rl in req.lines:
                left = rl.quantity
                for loc in by_priority:
                    have = counts.get((rl.sku, loc), 0)
                    if have:
                        n = min(have, left)
                        counts[(rl.sku, loc)] = have - n
                        log.append((rl.sku, loc, n))
                        left -= n
                        if not left:
                            break

    return baseline_setup, baseline_run


def throughput(quick: bool) -> list[Row]:
    rng = random.Random(SEED)
    skus = [f"SKU-{i:03d}" for i in range(300)]
    n_orders = 1_000 if quick else 5_000
    locations, stock = network(rng, 50, skus, 5, lambda: 10 * n_orders)
    requests = [
        SourcingRequest(
            f"o{j}",
            tuple(
                RequestLine(i + 1, s, rng.randint(1, 3)) for i, s in enumerate(rng.sample(skus, 3))
            ),
            T,
            destination=GeoPoint(rng.uniform(47.5, 54.5), rng.uniform(6.5, 14.5)),
        )
        for j in range(n_orders)
    ]
    by_priority = [loc.id for loc in sorted(locations, key=lambda loc: loc.priority)]

    by_priority_reference = reference(stock, requests, by_priority)
    by_distance_reference = distance_reference(stock, requests, locations)
    rows = []
    for strategy in (PriorityStrategy(), Ranked(), Nearest(), HighestStock(), MinimizeSplits()):

        def setup(strategy=strategy):
            ledger = fresh_ledger(locations, stock)
            return strategy, ledger, View(ledger, locations)

        def run(state):
            strategy, ledger, view = state
            for req in requests:
                for a in strategy.plan(req, view).allocations:
                    ledger.commit(a.sku, a.location, a.quantity, at=T, reference=req.order_id)

        # Each strategy races the reference that makes the same kind of decision.
        ref = by_distance_reference if strategy.name == "nearest" else by_priority_reference
        seconds, base = race((setup, run), ref, repeats=2 if quick else 4)
        gated = strategy.name in ("ranked", "nearest")
        rows.append(
            Row.throughput(
                "sourcing",
                f"plan + commit, {strategy.name}, 3 lines, 50 locations"
                + (" (vs distance greedy)" if strategy.name == "nearest" else ""),
                "orders/s",
                n_orders / seconds,
                n_orders / base,
                min_ratio=MIN_RATIO if gated else None,
                detail={"orders": n_orders},
            )
        )
    return rows


def latency(quick: bool) -> Row:
    rng = random.Random(SEED + 1)
    skus = [f"SKU-{i}" for i in range(8)]
    locations, stock = network(rng, 20, skus, 20, lambda: rng.randint(0, 6))
    view = View(fresh_ledger(locations, stock), locations)
    strategy = MinimizeSplits()
    samples = []
    for j in range(300 if quick else 2_000):
        lines = tuple(
            RequestLine(i + 1, s, rng.randint(1, 5))
            for i, s in enumerate(rng.sample(skus, rng.randint(1, 4)))
        )
        request = SourcingRequest(f"o{j}", lines, T)
        t0 = time.perf_counter()
        strategy.plan(request, view)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    p99 = samples[int(0.99 * (len(samples) - 1))] * 1000
    return Row(
        "sourcing",
        "MinimizeSplits p99, 20 locations, 1-4 lines",
        "ms/order",
        p99,
        target=f"< {MAX_P99_MS} ms",
        passed=p99 < MAX_P99_MS,
        detail={"orders": len(samples), "median_ms": samples[len(samples) // 2] * 1000},
    )


def run(*, quick: bool = False) -> list[Row]:
    """All sourcing rows."""
    return [*throughput(quick), latency(quick)]


def main() -> None:
    print(render(run(quick="--quick" in sys.argv)))


if __name__ == "__main__":
    main()
