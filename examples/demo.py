"""The omsims demo (``make demo``): source eight orders across a German network.

It builds the example network (examples/network.py), places orders from different
cities, prints where every line ships from and why, shows the stock per position,
accepts, ships and delivers fulfilment orders, lets a purchase order fill a backorder,
and ends by proving the ledger and the orders agree (``check_invariants``).

Run it from the repository root: ``python examples/demo.py``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

# `network` sits beside this file; make it importable however the demo is started.
if (_HERE := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _HERE)

from network import CITIES, SKUS, START, SUPPLY_ETA, build_oms

from omsims import (
    FulfilmentStatus,
    InventoryView,
    ManualClock,
    Oms,
    Order,
    PriorityStrategy,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
    events,
)

ORDERS: list[tuple[str, str, str, list[tuple[str, int]]]] = [
    # (order id, channel, ship-to city, lines)
    ("web-1001", "web", "munich", [("TSHIRT-M", 2)]),
    ("web-1002", "web", "cologne", [("TSHIRT-M", 1), ("MUG-WHT", 2)]),
    ("web-1003", "web", "hamburg", [("HOODIE-L", 5)]),
    ("web-1004", "web", "leipzig", [("SNEAKER-42", 1)]),
    ("web-1005", "web", "bremen", [("SNEAKER-42", 2)]),
    ("mkt-2001", "marketplace", "stuttgart", [("CAP-BLK", 4)]),
    ("b2b-3001", "b2b", "frankfurt", [("TSHIRT-M", 20)]),
    ("web-1006", "web", "nuremberg", [("MUG-WHT", 1), ("HOODIE-L", 1)]),
]

TABLE_HEADER = (
    f"{'order':<9} {'channel':<11} {'ship to':<10} {'line':>4}  {'sku':<10} {'qty':>4}  "
    f"{'ships from':<14} {'km':>5}  how"
)
INVARIANTS_OK = (
    "All invariants hold: the ledger replays to its balances and agrees with every order."
)


class KeepPlans:
    """A strategy that delegates to another and keeps each order's latest plan.

    ``place_order`` returns the order, not the plan; wrapping the strategy is how a
    caller keeps the plan's explanation (any object with ``name`` and ``plan`` will do).
    """

    def __init__(self, inner: SourcingStrategy) -> None:
        self.inner = inner
        self.name = inner.name
        self.plans: dict[str, SourcingPlan] = {}

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        plan = self.inner.plan(request, inventory)
        self.plans[request.order_id] = plan
        return plan


def section(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def distance(oms: Oms, order: Order, location_id: str) -> str:
    to = order.ship_to.coordinates if order.ship_to is not None else None
    at = oms.location(location_id).coordinates
    return "-" if to is None or at is None else f"{to.distance_km(at):.0f}"


def sourcing_table(oms: Oms, orders: list[Order]) -> None:
    """One row per (order line, location): on hand, backordered, or unfilled."""
    cities = {order_id: city for order_id, _, city, _ in ORDERS}
    print(TABLE_HEADER)
    print("-" * len(TABLE_HEADER))
    for order in orders:
        head = f"{order.id:<9} {order.channel:<11} {cities[order.id]:<10}"
        for line in order.lines:
            rows: list[tuple[int, str, str]] = []
            for fo in oms.fulfilment_orders(order.id):
                fl = fo.line(line.number)
                if fl is None or fo.status is FulfilmentStatus.REJECTED:
                    continue
                if fl.quantity - fl.backordered:
                    rows.append((fl.quantity - fl.backordered, fo.location, "on hand"))
                if fl.backordered:
                    rows.append((fl.backordered, fo.location, "backorder"))
            if line.unallocated:
                rows.append((line.unallocated, "-", "unfilled"))
            for units, location, how in rows:
                km = "-" if location == "-" else distance(oms, order, location)
                print(
                    f"{head} {line.number:>4}  {line.sku:<10} {units:>4}  "
                    f"{location:<14} {km:>5}  {how}"
                )
                head = " " * len(head)


def stock_table(oms: Oms) -> None:
    header = (
        f"{'sku':<10} {'location':<16} {'on_hand':>7} {'committed':>9} {'reserved':>8} "
        f"{'unavail':>7} {'safety':>6} {'incoming':>8} {'backord':>7} {'available':>9}"
    )
    print(header)
    print("-" * len(header))
    for sku in SKUS:
        for loc in oms.locations():
            s = oms.stock(sku, loc.id)
            if not (s.on_hand or s.incoming or s.backordered or s.committed):
                continue
            print(
                f"{sku:<10} {loc.id:<16} {s.on_hand:>7} {s.committed:>9} {s.reserved:>8} "
                f"{s.unavailable:>7} {s.safety_stock:>6} {s.incoming:>8} {s.backordered:>7} "
                f"{s.available:>9}"
            )


def ship_everything_ready(oms: Oms, order_id: str, *, deliver: bool) -> None:
    """Accept each open fulfilment order of an order and ship what is ready."""
    for fo in oms.fulfilment_orders(order_id):
        if fo.status is FulfilmentStatus.OPEN:
            oms.accept(fo.id)
        ready = sum(fl.ready for fl in fo.lines)
        if not ready:
            print(f"  {fo.id:<13} at {fo.location:<14} nothing ready yet (backordered)")
            continue
        shipment = oms.ship(fo.id, carrier="DHL", service="parcel")
        print(f"  {fo.id:<13} at {fo.location:<14} shipped {ready} unit(s) as {shipment.id}")
        if deliver:
            oms.deliver(shipment.id)


def main() -> None:
    clock = ManualClock(START)
    strategy = KeepPlans(PriorityStrategy())
    oms = build_oms(clock, strategy=strategy)
    print(
        f"omsims demo: {len(oms.locations())} locations, {len(SKUS)} SKUs, "
        f"opening stock received {START:%a %Y-%m-%d %H:%M} UTC"
    )

    section(f"1. Sourcing {len(ORDERS)} orders with the {strategy.name} strategy")
    orders = []
    for order_id, channel, city, lines in ORDERS:
        clock.advance(minutes=7)
        orders.append(oms.place_order(order_id, lines, ship_to=CITIES[city], channel=channel))
    sourcing_table(oms, orders)
    print(
        "\nThe priority strategy tries warehouses before stores, whatever the distance: "
        "b2b-3001 ships\nfrom Berlin to Frankfurt. examples/custom_strategy.py sources by "
        "distance instead."
    )

    section("2. Why mkt-2001 is sourced the way it is")
    for line in str(strategy.plans["mkt-2001"].explanation).splitlines():
        print(textwrap.fill(line, width=96, subsequent_indent="    "))

    section("3. Stock per position after sourcing")
    stock_table(oms)
    for event in oms.published_events:
        if isinstance(event, events.LowStock):
            print(
                f"\nLow-stock alert: {event.sku} at {event.location} is down to "
                f"{event.available} available (threshold {event.threshold})."
            )

    section("4. Accept, ship, deliver")
    clock.set(START.replace(hour=14))
    print(f"{clock.now():%a %Y-%m-%d %H:%M}: the locations accept and ship")
    for order_id in ("web-1001", "web-1002", "web-1003", "web-1005"):
        ship_everything_ready(oms, order_id, deliver=order_id != "web-1003")
    clock.set(START + SUPPLY_ETA)
    supply = oms.incoming("SNEAKER-42", "hamburg-dc")[0]
    posting = oms.receive_expected(supply.source)
    print(
        f"{clock.now():%a %Y-%m-%d %H:%M}: {supply.quantity} SNEAKER-42 arrive at "
        f"hamburg-dc ({supply.source}); backorders come first:"
    )
    for fill in posting.fills:
        print(f"  fulfilment line {fill.reference}: {fill.quantity} unit(s) now committed")
    ship_everything_ready(oms, "web-1005", deliver=True)

    section("5. Where the orders stand")
    for order in oms.orders():
        totals = order.totals()
        print(
            f"{order.id:<9} {order.status.value:<20} ordered {totals['quantity']:>2}  "
            f"shipped {totals['shipped']:>2}  delivered {totals['delivered']:>2}  "
            f"unallocated {totals['unallocated']:>2}"
        )
    print()
    print(oms.stock("SNEAKER-42"))

    oms.check_invariants()
    print()
    print(INVARIANTS_OK)


if __name__ == "__main__":
    main()
