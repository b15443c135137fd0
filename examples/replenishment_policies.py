"""Compare three replenishment policies on the same demand: fill rate against stock held.

The bundled ``replenishment`` scenario is the tiny network for three weeks with no
scheduled receipts: each morning the simulator plans replenishment for the warehouses
through the Oms, approves every proposal and receives it when it arrives. Each policy
faces the same orders and, for a proposal they both make, the same lead time.

- an (s, Q) reorder point at a 90% service level, ordering two weeks of demand;
- an (s, S) min-max at 99%;
- an (R, S) periodic review every three days at 95%, forecast by exponential smoothing.

Run it from the repository root: ``python examples/replenishment_policies.py``. The
command line compares policies by name, and writes the files and the plots (fill rate
against stock held, stock over time)::

    omsims compare replenishment --policies reorder-point@0.9,min-max@0.99 --out policies/
"""

from __future__ import annotations

from omsims.replenishment import MinMax, PeriodicReview, ReorderPoint, SimpleExponentialSmoothing
from omsims.simulation import PolicySpec, compare_policies, load_scenario


def main() -> None:
    """Run the three policies under the nearest-location strategy and print the table."""
    scenario = load_scenario("replenishment")
    comparison = compare_policies(
        scenario,
        {
            "reorder point 90%": ReorderPoint(cover_days=14, service_level=0.9),
            "min-max 99%": MinMax(service_level=0.99),
            "review every 3 days": PolicySpec(
                PeriodicReview(review_days=3, service_level=0.95),
                SimpleExponentialSmoothing(alpha=0.2),
            ),
        },
        strategy="nearest",
        keep_events=False,
    )
    demanded = {r.kpis.units_demanded for r in comparison.results.values()}
    print(f"{scenario.name}: {scenario.horizon_days} days, {demanded.pop()} units demanded")
    print()
    print(comparison.summary.render())
    print()
    full = [name for name, r in comparison.results.items() if r.kpis.units_lost == 0]
    leanest = min(comparison.results.items(), key=lambda kv: kv[1].kpis.average_stock_units)
    print(f"lost no sale: {', '.join(full) or 'none'}; held the least: {leanest[0]}")


if __name__ == "__main__":
    main()
