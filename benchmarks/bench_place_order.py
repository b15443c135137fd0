"""Oms.place_order end to end, in memory: orders/s, absolute and against a plain-dict baseline.

The network: 50 locations (priorities 1..50, so the priority strategy ranks them in a
fixed order) and 2,000 SKUs, each stocked at exactly one "home" location (SKU i at
location i mod 50) with more than the run needs, so no line is ever short. Every order
has 3 lines of 3 different SKUs, 1-3 units each, picked so that a third of the orders
source from 1 location, a third from 2 and a third from 3 (checked after the warm-up).

Measured: ``Oms().place_order(order_id, lines)`` with every default (in-memory store,
system clock, priority strategy, null notifier, events kept), i.e. validation, a unit of
work with its savepoint, sourcing, one commit posting per line, fulfilment orders, events
and the copy returned to the caller. A fresh Oms per repeat; its 50 locations and 2,000
receives are the untimed setup.

Baseline (``baseline.place_orders``): per order, 3 dict decrements at the very
(sku, location) keys omsims sources from, and one tuple appended to a list.

Run alone: ``.venv/bin/python benchmarks/bench_place_order.py [--quick]``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import baseline
from _harness import Row, race, run_alone

from omsims import Location, Oms, OrderStatus

MIN_ORDERS_PER_S = 10_000
LOCATIONS, SKUS, LINES = 50, 2_000, 3
SEED = 20260302

Lines = list[tuple[str, int]]
BaseOrder = tuple[str, tuple[str, str], int, tuple[str, str], int, tuple[str, str], int]


def build(n: int, rng: random.Random) -> dict[str, Any]:
    """The network and ``n`` orders; everything both sides need, built before any timing."""
    locations = [f"LOC-{j:02d}" for j in range(LOCATIONS)]
    skus = [f"SKU-{i:05d}" for i in range(SKUS)]
    home = {s: locations[i % LOCATIONS] for i, s in enumerate(skus)}
    by_location: dict[str, list[str]] = {loc: [] for loc in locations}
    for s in skus:
        by_location[home[s]].append(s)

    orders: list[tuple[str, Lines]] = []
    base_orders: list[BaseOrder] = []
    spread: list[int] = []
    for j in range(n):
        k = j % 3 + 1  # locations this order sources from
        at = rng.sample(locations, k)
        line_locations = (at * LINES)[:LINES]
        rng.shuffle(line_locations)
        chosen: list[str] = []
        for loc in line_locations:
            pool = [s for s in by_location[loc] if s not in chosen]
            chosen.append(rng.choice(pool))
        lines = [(s, rng.randint(1, 3)) for s in chosen]
        oid = f"WEB-{j:07d}"
        orders.append((oid, lines))
        (s1, q1), (s2, q2), (s3, q3) = lines
        base_orders.append((oid, (s1, home[s1]), q1, (s2, home[s2]), q2, (s3, home[s3]), q3))
        spread.append(k)

    need = Counter[str]()
    for _, lines in orders:
        for s, q in lines:
            need[s] += q
    stock = {s: need[s] + 100 for s in skus}  # never short: every line commits in full
    return {
        "locations": [Location(loc, priority=j + 1) for j, loc in enumerate(locations)],
        "stock": [(s, home[s], q) for s, q in stock.items()],
        "orders": orders,
        "base_orders": base_orders,
        "spread": spread,
    }


def _new_oms(net: dict[str, Any]) -> Oms:
    oms = Oms()
    for loc in net["locations"]:
        oms.add_location(loc)
    for sku, loc, qty in net["stock"]:
        oms.receive(sku, loc, qty)
    return oms


def place_all(oms: Oms, orders: Sequence[tuple[str, Lines]]) -> None:
    place = oms.place_order
    for order_id, lines in orders:
        place(order_id, lines)


def _verifier(net: dict[str, Any]) -> Any:
    def verify(oms: Oms, state: tuple[dict[tuple[str, str], int], list[Any]]) -> None:
        stock, log = state
        assert len(log) == len(net["orders"])
        for (oid, _), k in zip(net["orders"], net["spread"], strict=True):
            order = oms.order(oid)
            assert order.status is OrderStatus.ALLOCATED, (oid, order.status)
            assert order.fulfilment_count == k, (oid, order.fulfilment_count, k)
        for (sku, loc), left in stock.items():
            assert oms.available(sku, loc) == left, (sku, loc)
        oms.check_invariants()

    return verify


def run(*, quick: bool = False) -> list[Row]:
    n = 5_000 if quick else 20_000
    repeats = 2 if quick else 5
    net = build(n, random.Random(SEED))
    orders, base_orders = net["orders"], net["base_orders"]

    def setup_base() -> tuple[dict[tuple[str, str], int], list[Any]]:
        return {(s, loc): q for s, loc, q in net["stock"]}, []

    t_oms, t_base = race(
        (lambda: _new_oms(net), lambda oms: place_all(oms, orders)),
        (setup_base, lambda st: baseline.place_orders(st[0], st[1], base_orders)),
        repeats=repeats,
        verify=_verifier(net),
    )
    shares = Counter(net["spread"])
    mix = "/".join(f"{shares[k] * 100 // n}%" for k in (1, 2, 3))
    return [
        Row.throughput(
            "place_order",
            f"3 lines, 50 locations, 1/2/3 locations: {mix}",
            "orders/s",
            n / t_oms,
            n / t_base,
            min_value=MIN_ORDERS_PER_S,
            detail={
                "orders": n,
                "repeats": repeats,
                "best_seconds": t_oms,
                "baseline_best_seconds": t_base,
                "locations_per_order": {k: shares[k] for k in (1, 2, 3)},
            },
        )
    ]


if __name__ == "__main__":
    run_alone(run)
