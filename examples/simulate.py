"""Script a simulation: compare strategies on the bundled tiny network, then sweep.

Every strategy faces the same demand (the scenario's seed); the sweep asks how the
on-time rate moves with the hours a location takes to ship. Run it from the repository
root: ``python examples/simulate.py``. The ``omsims`` command does the same from a shell.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from omsims.simulation import compare, load_scenario, sweep


def main() -> None:
    """Compare three strategies, then sweep the shipping delay for the best of them."""
    scenario = load_scenario("tiny")
    comparison = compare(scenario, ["priority", "nearest", "minimize-splits"], keep_events=False)
    print(comparison.summary.render())
    cheapest = min(comparison.results.values(), key=lambda r: r.kpis.cost_per_order)
    print(f"\ncheapest per order: {cheapest.strategy}\n")
    with ProcessPoolExecutor(max_workers=2) as pool:
        result = sweep(
            scenario,
            {"operations.ship_hours": [6, 18, 30]},
            strategies=[cheapest.strategy],
            executor=pool,
        )
    for hours, on_time in zip(
        result.table.column("operations.ship_hours"),
        result.table.column("on_time_rate"),
        strict=True,
    ):
        print(f"ship within {hours:>2} h: {on_time:.1%} of orders on time")


if __name__ == "__main__":
    main()
