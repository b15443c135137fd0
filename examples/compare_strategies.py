"""Compare sourcing strategies on the same orders: shipments, shipping cost, delivery.

Each strategy gets a fresh copy of the example network (examples/network.py) and the
demo's eight orders; the same table-rate carrier prices every parcel and gives its
transit days, so the figures are comparable. A first taste of what the simulator will
do at scale.

Run it from the repository root: ``python examples/compare_strategies.py``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

if (_HERE := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _HERE)

from demo import ORDERS
from network import CITIES, build_oms

from omsims import Money, SourcingStrategy
from omsims.adapters.carriers import TableRateCarrier
from omsims.sourcing import (
    EarliestDelivery,
    LowestCost,
    MinimizeSplits,
    Nearest,
    PriorityStrategy,
)

CARRIER = TableRateCarrier(
    "parcels",
    currency="EUR",
    distance_bands_km=(150, 400, 900),
    weight_bands_kg=(Decimal(2), Decimal(10), Decimal("31.5")),
    rates=(("4.50", "6.90", "9.90"), ("5.50", "7.90", "11.90"), ("6.50", "8.90", "13.90")),
    transit_days=(1, 2, 3),
)
WEIGHTS = {
    "TSHIRT-M": Decimal("0.25"),
    "HOODIE-L": Decimal("0.8"),
    "SNEAKER-42": Decimal("1.4"),
    "CAP-BLK": Decimal("0.15"),
    "MUG-WHT": Decimal("0.45"),
}
PER_SHIPMENT = Money("1.50", "EUR")  # pick, pack and label, wherever it ships from

STRATEGIES: list[SourcingStrategy] = [
    PriorityStrategy(),
    Nearest(),
    MinimizeSplits(),
    LowestCost(CARRIER, weights=WEIGHTS, per_shipment=PER_SHIPMENT),
    EarliestDelivery(CARRIER),
]


def measure(strategy: SourcingStrategy) -> dict[str, object]:
    """Place every order with ``strategy`` on a fresh network; add up what it cost."""
    oms = build_oms(strategy=strategy)
    now = oms.clock.now()
    shipments, cost, backordered = 0, Decimal(0), 0
    unit_days: list[float] = []  # per unit shipped: days from now to its delivery
    for order_id, channel, city, lines in ORDERS:
        order = oms.place_order(order_id, lines, channel=channel, ship_to=CITIES[city])
        for fo in oms.fulfilment_orders(order.id):
            shipments += 1
            origin = oms.location(fo.location)
            kg = sum((fl.quantity * WEIGHTS[fl.sku] for fl in fo.lines), Decimal(0))
            quote = CARRIER.quote(origin, CITIES[city], kg)
            if quote is None:
                continue
            cost += quote.cost.amount + PER_SHIPMENT.amount
            for fl in fo.lines:
                # On hand: leaves now. Backordered: leaves when its supply is due.
                for units, ready in ((fl.ready, now), (fl.backordered, fl.promised or now)):
                    arrives = ready + timedelta(days=quote.transit_days)
                    unit_days += [(arrives - now) / timedelta(days=1)] * units
            backordered += sum(fl.backordered for fl in fo.lines)
    oms.check_invariants()
    return {
        "shipments": shipments,
        "cost": cost,
        "backordered": backordered,
        "days": sum(unit_days) / len(unit_days),
    }


def main() -> None:
    """Print one row per strategy."""
    print(f"{len(ORDERS)} orders on the example network, one carrier, 1.50 EUR a shipment")
    print()
    print(f"{'strategy':<18} {'shipments':>9} {'cost EUR':>9} {'backordered':>11} {'days':>5}")
    for strategy in STRATEGIES:
        row = measure(strategy)
        print(
            f"{strategy.name:<18} {row['shipments']:>9} {row['cost']:>9} "
            f"{row['backordered']:>11} {row['days']:>5.2f}"
        )
    print()
    print("days: mean days from now until a unit is delivered (backorders: after their supply)")


if __name__ == "__main__":
    main()
