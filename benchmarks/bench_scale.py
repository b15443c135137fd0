"""One million orders through the real core in one process: wall time and peak memory.

The scenario is the bundled example grown: its 10 warehouses and the first 90 stores
(100 locations), 10,000 Zipf SKUs, 20,000 orders a day for 50 days (about a million),
every warehouse topped up to 8 days of cover each week, capacities scaled with demand.
The run is ``simulate(scenario, "priority", keep_events=False, archive=...)``: every
order placed, accepted or rejected, shipped, delivered or collected, some returned,
through ``Oms``; each order is archived through ``Oms.archive_many`` once finished.
The archive here keeps only the ids (a benchmark needs the KPIs, not the records); a
shop would pass a ``JsonLinesArchive`` and pay its writing too (measured on the tiny
scenario at about 0.4 ms an order).

It runs in a child process so its peak resident memory (``ru_maxrss``) is its own.
Targets: under 10 minutes and under 4 GiB. No baseline: a million-order plain-dict
loop answers nothing about this target; the throughput ratio is ``bench_simulation``'s.

Run alone (takes its time): ``.venv/bin/python benchmarks/bench_scale.py [--quick]``
(``--quick``: 2 days, about 40,000 orders).
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from typing import Any

from _harness import Row, run_alone

from omsims.domain.archive import ArchivedOrder
from omsims.simulation import Scenario, load_scenario, parse_scenario, simulate

MAX_SECONDS = 600
MAX_BYTES = 4 * 2**30
ORDERS_PER_DAY = 20_000
DAYS = 50
SKUS = 10_000


class _IdsOnly:
    """An OrderArchive that remembers which orders it took, not what they were."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def put(self, record: ArchivedOrder, /) -> None:
        self.ids.add(record.id)

    def get(self, order_id: str, /) -> ArchivedOrder | None:  # noqa: ARG002 (the port)
        return None  # the records are dropped; nothing in a simulation places twice


def scale_scenario(days: int) -> Scenario:
    """The example, grown to 100 locations, 10,000 SKUs and 20,000 orders a day."""
    raw: dict[str, Any] = load_scenario("example").to_dict()
    factor = ORDERS_PER_DAY / raw["demand"]["orders_per_day"]
    raw["name"] = "scale"
    raw["horizon_days"] = days
    raw["locations"] = raw["locations"][:100]
    for loc in raw["locations"]:
        if loc.get("daily_capacity"):
            loc["daily_capacity"] = round(loc["daily_capacity"] * factor)
    raw["catalogue"] = {
        "generate": {
            "count": SKUS,
            "prefix": "SKU",
            "price": ["4.99", "149.00"],
            "weight": ["0.1", "4.0"],
            "zipf": 1.0,
        }
    }
    raw["demand"]["orders_per_day"] = ORDERS_PER_DAY
    warehouses = [loc["id"] for loc in raw["locations"] if loc["kind"] == "warehouse"]
    raw["supply"] = {
        "receipts": [
            {"day": day, "location": w, "cover_days": 8.0}
            for day in range(7, days, 7)
            for w in warehouses
        ]
    }
    return parse_scenario(raw)


def _child(days: int, out: Any) -> None:
    scenario = scale_scenario(days)
    archive = _IdsOnly()
    t0 = time.perf_counter()
    result = simulate(scenario, "priority", keep_events=False, archive=archive)
    seconds = time.perf_counter() - t0
    k = result.kpis
    out.put(
        {
            "seconds": seconds,
            "orders": k.orders,
            "shipments": k.shipments,
            "deliveries": k.orders_delivered,
            "units_returned": k.units_returned,
            "fill_rate": k.fill_rate,
            "archived": len(archive.ids),
        }
    )


def run(*, quick: bool = False) -> list[Row]:
    days = 2 if quick else DAYS
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_child, args=(days, out))
    child.start()
    done = out.get()
    child.join()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    orders = done["orders"]
    case = f"{orders:,} orders, 100 locations, {SKUS:,} SKUs, {days} days"
    return [
        Row(
            "scale",
            case,
            "s",
            done["seconds"],
            target=f"<= {MAX_SECONDS} s" if not quick else None,
            passed=done["seconds"] <= MAX_SECONDS if not quick else None,
            detail={**done, "orders_per_s": orders / done["seconds"]},
        ),
        Row(
            "scale",
            case + ": peak resident memory",
            "GiB",
            peak / 2**30,
            target="<= 4 GiB" if not quick else None,
            passed=peak <= MAX_BYTES if not quick else None,
            detail={"peak_bytes": peak},
        ),
    ]


if __name__ == "__main__":
    run_alone(run)
