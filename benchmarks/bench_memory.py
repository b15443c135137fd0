"""Memory per position of a Ledger holding 1,000,000 positions, one posting each.

10,000 SKUs x 100 locations, each position created by one ``Ledger.receive`` of 1 unit.
The SKU and location strings and the business time are built before tracing starts
(they are the caller's objects, shared, not the ledger's).

Measured with tracemalloc, by taking the ledger apart after it is built:

1. ``total``: traced memory after building the ledger, minus before;
2. the as-of index: set every position's ``history`` list aside and measure what is freed;
3. the entries: drop the ``_entries`` list (the last reference to every ``LedgerEntry``)
   and measure what is freed: the list, the entry tuples and what only they hold (their
   sequence ints);
4. positions: what remains (the positions dict and its key tuples, the ``_Position``
   objects, the per-SKU location lists, the ledger itself).

Reported: bytes/position for positions (target <= 300), bytes/entry for entries and
bytes/position for the as-of index. tracemalloc counts the bytes Python asks its
allocators for, which excludes allocator slack; peak RSS is in the JSON for reference.
Takes well under a minute and about 1 GB here (tracemalloc's own bookkeeping included).

Run alone: ``.venv/bin/python benchmarks/bench_memory.py``.
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from _harness import Row, run_alone

from omsims.domain.ledger import Ledger

MAX_POSITION_BYTES = 300
SKUS, LOCATIONS = 10_000, 100  # 1,000,000 positions


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure(skus: int = SKUS, locations: int = LOCATIONS) -> dict[str, Any]:
    sku_names = [f"SKU-{i:05d}" for i in range(skus)]
    loc_names = [f"LOC-{j:03d}" for j in range(locations)]
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    n = skus * locations

    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        start = _traced()
        ledger = Ledger()
        for loc in loc_names:
            ledger.add_location(loc)
        receive = ledger.receive
        for s in sku_names:
            for loc in loc_names:
                receive(s, loc, 1, at=at)
        built = _traced()
        peak = tracemalloc.get_traced_memory()[1] - start
        assert ledger.last_sequence == n
        assert sum(1 for _ in ledger.positions()) == n

        for pos in ledger._positions.values():  # noqa: SLF001 (measuring the internals)
            pos.history = None  # type: ignore[assignment]
        no_index = _traced()
        ledger._entries = []  # noqa: SLF001
        no_entries = _traced()
        tracing_overhead = tracemalloc.get_tracemalloc_memory()
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - t0
    del ledger

    total = built - start
    index = built - no_index
    entries = no_index - no_entries
    positions = no_entries - start
    return {
        "positions": n,
        "entries": n,
        "total_bytes": total,
        "peak_traced_bytes": peak,
        "positions_bytes": positions,
        "entries_bytes": entries,
        "as_of_index_bytes": index,
        "bytes_per_position": positions / n,
        "bytes_per_entry": entries / n,
        "index_bytes_per_position": index / n,
        "total_bytes_per_position": total / n,
        "tracemalloc_overhead_bytes": tracing_overhead,
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "seconds": seconds,
    }


def run(*, quick: bool = False) -> list[Row]:
    m = measure(SKUS // 10 if quick else SKUS, LOCATIONS)
    n = f"{m['positions']:,} positions"
    return [
        Row(
            "memory",
            f"positions ({n}, excl. entries and as-of index)",
            "B/position",
            m["bytes_per_position"],
            target=f"<= {MAX_POSITION_BYTES} B/position",
            passed=m["bytes_per_position"] <= MAX_POSITION_BYTES,
            detail=m,
        ),
        Row("memory", f"entries ({m['entries']:,})", "B/entry", m["bytes_per_entry"]),
        Row(
            "memory",
            "as-of index (per-position history lists)",
            "B/position",
            m["index_bytes_per_position"],
        ),
        Row("memory", "total traced / positions", "B/position", m["total_bytes_per_position"]),
        Row(
            "memory", "peak RSS of the process (incl. tracemalloc)", "MB", m["max_rss_bytes"] / 1e6
        ),
        Row("memory", "time to build and measure", "s", m["seconds"]),
    ]


if __name__ == "__main__":
    run_alone(run)
