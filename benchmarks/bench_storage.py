"""Oms.place_order on SQLite: orders/s and p50/p99 latency, against a raw-driver baseline.

The network and orders are bench_place_order's (50 locations, 2,000 SKUs, 3-line orders
sourcing from 1, 2 or 3 locations). Measured: ``Oms(SqliteStore(file)).place_order`` for
every order, one process, each order its own transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``), in WAL mode with ``synchronous=NORMAL`` (the row with ``FULL`` is reported
too), SQLite's default autocheckpoint. The file and its 50 locations and 2,000 receives
are the untimed setup; a fresh file per repeat.

Baseline: the raw ``sqlite3`` driver on the same schema and settings, doing per order the
writes omsims does, with values prepared before timing: the version check, ``BEGIN
IMMEDIATE``, one upsert per position the order takes stock from, one insert per ledger
entry, the order row, one row per fulfilment order, the events into the outbox (as many
as omsims writes, of the same size), the version and commit stamp, ``COMMIT``; and the
delivery marks of the previous order's events. No validation, no domain objects, no JSON
encoding.

Targets: at least 2,000 orders/s with ``synchronous=NORMAL``, and within 2x of the
baseline (ratio >= 0.50). PostgreSQL is not measured yet (no PostgreSQL adapter yet).

Run alone: ``.venv/bin/python benchmarks/bench_storage.py [--quick]``.
"""

from __future__ import annotations

import gc
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import Row, run_alone
from _raw_rows import Padding, entry_rows, fulfilment_ids
from bench_place_order import SEED, build

from omsims import Oms
from omsims.adapters.sqlite import SqliteStore, migrate

MIN_ORDERS_PER_S = 2_000
MIN_RATIO = 0.50


def _fresh_oms(net: dict[str, Any], place: Path, synchronous: str) -> Oms:
    oms = Oms(SqliteStore(place / "shop.db", synchronous=synchronous))
    for loc in net["locations"]:
        oms.add_location(loc)
    for sku, loc, qty in net["stock"]:
        oms.receive(sku, loc, qty)
    return oms


def _measure_oms(net: dict[str, Any], synchronous: str) -> tuple[float, list[float], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        oms = _fresh_oms(net, Path(tmp), synchronous)
        rows = oms._uow.connection  # noqa: SLF001 (to count what was written)
        before = rows.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        latencies = []
        gc.collect()  # as the harness does: not the previous repeat's garbage, timed here
        t0 = time.perf_counter()
        for order_id, lines in net["orders"]:
            s = time.perf_counter()
            oms.place_order(order_id, lines)
            latencies.append(time.perf_counter() - s)
        seconds = time.perf_counter() - t0
        shape = {
            "events_per_order": (rows.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] - before)
            / len(net["orders"]),
            "fulfilment_orders": rows.execute("SELECT COUNT(*) FROM fulfilment_orders").fetchone()[
                0
            ],
            "order_body": rows.execute("SELECT AVG(LENGTH(body)) FROM orders").fetchone()[0],
            "fo_body": rows.execute("SELECT AVG(LENGTH(body)) FROM fulfilment_orders").fetchone()[
                0
            ],
            "event_body": rows.execute("SELECT AVG(LENGTH(body)) FROM outbox").fetchone()[0],
            "key_body": rows.execute(
                "SELECT AVG(LENGTH(fingerprint)) FROM idempotency WHERE key LIKE 'order:%'"
            ).fetchone()[0],
            "changes_body": rows.execute(
                "SELECT AVG(LENGTH(keys)) FROM changes WHERE keys LIKE '%orders%'"
            ).fetchone()[0],
        }
        oms.close()
    return seconds, latencies, shape


def _measure_raw(net: dict[str, Any], shape: dict, synchronous: str) -> tuple[float, list[float]]:
    """The same writes through the bare driver: the least a SQLite store could do."""
    pad = Padding.of(shape)
    home = {sku: loc for sku, loc, _ in net["stock"]}
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        migrate(conn)
        conn.executemany(
            "INSERT INTO positions VALUES (?, ?, ?, 0, 0, 0, 0, 0, '{}', '[]', 0)",
            net["stock"],
        )
        sequence, event_id = 0, 0
        marks: list[tuple[int]] = []
        latencies = []
        gc.collect()
        t0 = time.perf_counter()
        for version, (order_id, lines) in enumerate(net["orders"], 1):
            s = time.perf_counter()
            conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE positions SET committed = committed + ?, version = ? "
                "WHERE sku = ? AND location = ?",
                [(q, version, sku, home[sku]) for sku, q in lines],
            )
            entries, sequence = entry_rows(order_id, lines, home, sequence)
            conn.executemany(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", entries
            )
            conn.execute("INSERT INTO orders VALUES (?, ?, ?)", (order_id, pad.order, version))
            conn.executemany(
                "INSERT INTO fulfilment_orders VALUES (?, ?, ?, ?)",
                [
                    (fo_id, order_id, pad.fulfilment_order, version)
                    for fo_id in fulfilment_ids(order_id, lines, home)
                ],
            )
            conn.execute(
                "INSERT INTO idempotency VALUES (?, ?, ?, ?)",
                (f"order:{order_id}", pad.key, f'"{order_id}"', version),
            )
            conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            rows = [(event_id + i + 1, "Event", pad.event) for i in range(pad.events)]
            event_id += pad.events
            conn.executemany("INSERT INTO outbox (id, name, body) VALUES (?, ?, ?)", rows)
            conn.executemany("UPDATE outbox SET delivered = 1 WHERE id = ?", marks)
            marks = [(r[0],) for r in rows]
            conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(version),))
            conn.execute(
                "INSERT INTO changes VALUES (?, ?, ?)", (version, "0123456789abcdef", pad.changes)
            )
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - s)
        seconds = time.perf_counter() - t0
        conn.close()
    return seconds, latencies


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[int(q * (len(ordered) - 1))] * 1000


def run(*, quick: bool = False) -> list[Row]:
    n = 1_000 if quick else 5_000
    repeats = 1 if quick else 3
    net = build(n, random.Random(SEED))
    rows = []
    for synchronous, gated in (("NORMAL", True), ("FULL", False)):
        best = base = float("inf")
        for _ in range(repeats):  # alternate, keep the best of each
            seconds, latencies, shape = _measure_oms(net, synchronous)
            raw_seconds, raw_latencies = _measure_raw(net, shape, synchronous)
            if seconds < best:
                best, best_lat = seconds, latencies
            if raw_seconds < base:
                base, base_lat = raw_seconds, raw_latencies
        row = Row.throughput(
            "storage",
            f"SQLite place_order, 1 process, WAL, synchronous={synchronous}",
            "orders/s",
            n / best,
            n / base,
            min_value=MIN_ORDERS_PER_S if gated else None,
            detail={
                "orders": n,
                "repeats": repeats,
                "p50_ms": _pct(best_lat, 0.5),
                "p99_ms": _pct(best_lat, 0.99),
                "baseline_p50_ms": _pct(base_lat, 0.5),
                "baseline_p99_ms": _pct(base_lat, 0.99),
                **shape,
            },
        )
        rows.append(row)
        if gated:
            rows.append(
                row.ratio_row(f"  ratio to the raw driver, synchronous={synchronous}", MIN_RATIO)
            )
        rows.append(
            Row(
                "storage",
                f"  p50 / p99 latency, synchronous={synchronous} (raw: "
                f"{_pct(base_lat, 0.5):.2f} / {_pct(base_lat, 0.99):.2f})",
                "ms",
                _pct(best_lat, 0.5),
                detail={"p99_ms": _pct(best_lat, 0.99)},
            )
        )
    return rows


if __name__ == "__main__":
    run_alone(run)
