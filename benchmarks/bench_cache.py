"""A SQLite store's cache, unbounded against ``cached_orders``: memory held and speed.

The network and orders are bench_place_order's (50 locations, 2,000 SKUs, 3-line
orders). Measured twice, alternately, on a fresh file each time with synchronous=NORMAL:
``Oms(SqliteStore(file, cached_orders=...)).place_order`` for every order, once with the
default (every order stays cached) and once with ``cached_orders=2,000``. Reported: the
objects Python's cyclic collector tracks once the orders are placed (what the cache holds,
and what each full collection walks), and the bounded store's orders/s against the
unbounded one's (the baseline) in the same run. No target: the bound is for memory.

Run alone: ``.venv/bin/python benchmarks/bench_cache.py [--quick]``.
"""

from __future__ import annotations

import gc
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import Row, run_alone
from bench_place_order import SEED, build

from omsims import Oms
from omsims.adapters.sqlite import SqliteStore

BOUND = 2_000


def _measure(net: dict[str, Any], bound: int | None) -> tuple[float, int]:
    """Orders/s placing ``net``'s orders, and the tracked objects afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        oms = Oms(SqliteStore(Path(tmp) / "shop.db", synchronous="NORMAL", cached_orders=bound))
        for loc in net["locations"]:
            oms.add_location(loc)
        for sku, loc, qty in net["stock"]:
            oms.receive(sku, loc, qty)
        gc.collect()
        t0 = time.perf_counter()
        for order_id, lines in net["orders"]:
            oms.place_order(order_id, lines)
        rate = len(net["orders"]) / (time.perf_counter() - t0)
        gc.collect()
        tracked = len(gc.get_objects())
        cached = len(oms._uow.orders)  # noqa: SLF001 (what the cache holds)
        oms.close()
    assert bound is None or cached <= bound, cached
    return rate, tracked


def run(*, quick: bool = False) -> list[Row]:
    n = 5_000 if quick else 20_000
    net = build(n, random.Random(SEED))
    best: dict[int | None, float] = {None: 0.0, BOUND: 0.0}
    tracked: dict[int | None, int] = {}
    for _ in range(1 if quick else 2):  # alternate, keep the best rate of each
        for bound in (None, BOUND):
            rate, tracked[bound] = _measure(net, bound)
            best[bound] = max(best[bound], rate)
    return [
        Row.throughput(
            "cache",
            f"SQLite place_order, cached_orders={BOUND:,} vs unbounded ({n:,} orders)",
            "orders/s",
            best[BOUND],
            best[None],
        ),
        Row("cache", f"  tracked objects after {n:,} orders, unbounded", "objects", tracked[None]),
        Row(
            "cache",
            f"  tracked objects after {n:,} orders, cached_orders={BOUND:,}",
            "objects",
            tracked[BOUND],
        ),
    ]


if __name__ == "__main__":
    run_alone(run)
