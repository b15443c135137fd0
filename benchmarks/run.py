"""Run every benchmark, print one table and write benchmarks/results/latest.json.

    .venv/bin/python benchmarks/run.py [--quick] [--only ledger,storage,...] [--strict]

``--quick`` runs smaller sizes and fewer repeats (a smoke test, not figures to quote);
``--strict`` exits with status 1 if any target fails (the default always exits 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import bench_cache
import bench_ledger
import bench_memory
import bench_place_order
import bench_postgres
import bench_replenishment
import bench_scale
import bench_simulation
import bench_sourcing
import bench_storage
from _harness import Row, machine, render

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"
# Memory last: its million positions should not sit in the heap of the throughput runs.
BENCHES = {
    "ledger": bench_ledger,
    "place_order": bench_place_order,
    "sourcing": bench_sourcing,
    "storage": bench_storage,
    "cache": bench_cache,
    "postgres": bench_postgres,
    "simulation": bench_simulation,
    "replenishment": bench_replenishment,
    "memory": bench_memory,
    "scale": bench_scale,
}
# Runs for about ten minutes: only when named (--only scale).
OPT_IN = {"scale"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument(
        "--only",
        default=",".join(b for b in BENCHES if b not in OPT_IN),
        help=f"comma-separated benchmarks (default: all but {', '.join(sorted(OPT_IN))})",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    if unknown := sorted(set(chosen) - BENCHES.keys()):
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHES)}")

    info = machine()
    print(
        f"machine: processor={info['processor'] or '(empty)'!r} cpu={info['cpu_model']!r} "
        f"cpus={info['cpu_count']} {info['machine']} | {info['implementation']} "
        f"{info['python']} | {info['platform']}"
    )
    started = datetime.now(UTC)
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    for name, bench in BENCHES.items():
        if name not in chosen:
            continue
        print(f"running {name} ...", flush=True)
        t0 = time.perf_counter()
        rows += bench.run(quick=args.quick)
        seconds[name] = round(time.perf_counter() - t0, 1)

    print()
    print(render(rows))
    failed = [r for r in rows if r.passed is False]
    checked = [r for r in rows if r.passed is not None]
    spent = ", ".join(f"{k} {v} s" for k, v in seconds.items())
    print(f"\n{len(checked) - len(failed)}/{len(checked)} targets met ({spent})")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "started": started.isoformat(timespec="seconds"),
                "quick": args.quick,
                "machine": info,
                "seconds": seconds,
                "rows": [asdict(r) for r in rows],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS.relative_to(HERE.parent)}")
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
