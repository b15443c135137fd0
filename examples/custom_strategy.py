"""A user-written sourcing strategy: ship from the nearest location that has the stock.

Any object with a ``name`` and a ``plan(request, inventory) -> SourcingPlan`` method is a
``SourcingStrategy``; no base class is needed. A strategy must be pure and deterministic:
the same request and inventory always give the same plan, which is what makes it easy to
test on its own (see ``check_with_a_fake_inventory`` below) and to compare in simulations.

Run it: ``python examples/custom_strategy.py``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs

if (_HERE := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _HERE)

from network import CITIES, build_oms

from omsims import (
    Allocation,
    Explanation,
    GeoPoint,
    InventoryView,
    Location,
    Oms,
    OrderStatus,
    PriorityStrategy,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)
from omsims.domain.values import Sku


class NearestFirst:
    """Fill each line from the nearest locations first, then backorder at the nearest.

    Locations are ranked by great-circle distance to the destination; ties (and orders
    without a destination, and locations without coordinates, which go last) fall back to
    ``(priority, id)``, so the plan is deterministic.
    """

    name = "nearest-first"

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        why = Explanation(self.name)
        ranked = self._rank(request, inventory.locations(), why)
        # Units already planned per (sku, location, backorder?): lines share one pool.
        taken: dict[tuple[str, str, bool], int] = {}
        allocations: list[Allocation] = []
        unfilled: list[tuple[int, int]] = []
        for rl in request.lines:
            left = rl.quantity
            for backorder in (False, True):
                for loc in ranked:
                    if left == 0:
                        break
                    k = (rl.sku, loc.id, backorder)
                    if backorder:
                        have = inventory.backorder_room(rl.sku, loc.id)
                    else:
                        have = inventory.available(rl.sku, loc.id)
                    n = min(left, have - taken.get(k, 0))
                    if n <= 0:
                        continue
                    taken[k] = taken.get(k, 0) + n
                    allocations.append(Allocation(rl.line, rl.sku, loc.id, n, backorder=backorder))
                    why.took(rl.line, rl.sku, loc.id, n, backorder=backorder)
                    left -= n
            if left:
                unfilled.append((rl.line, left))
                why.unfilled(rl.line, rl.sku, left, "no eligible location has it")
        return SourcingPlan(tuple(allocations), tuple(unfilled), why)

    @staticmethod
    def _rank(
        request: SourcingRequest, locations: Sequence[Location], why: Explanation
    ) -> list[Location]:
        kept = []
        for loc in locations:
            if loc.id in request.excluded_locations:
                why.dropped(loc.id, "excluded (it rejected this order before)")
            elif not loc.can_ship:
                why.dropped(loc.id, "cannot ship")
            else:
                kept.append(loc)

        def distance(loc: Location) -> float:
            if request.destination is None or loc.coordinates is None:
                return math.inf
            return request.destination.distance_km(loc.coordinates)

        kept.sort(key=lambda loc: (distance(loc), loc.priority, loc.id))
        why.candidates([f"{loc.id} ({distance(loc):.0f} km)" for loc in kept])
        return kept


def check_with_a_fake_inventory() -> None:
    """A strategy is a pure function: test it with a hand-written inventory view."""

    class FakeInventory:
        """Two locations with the stock and backorder room given per (sku, location)."""

        def __init__(
            self,
            stock: dict[tuple[str, str], int],
            backorders: dict[tuple[str, str], int] | None = None,
        ) -> None:
            self.stock = stock
            self.backorders = backorders or {}

        def locations(self) -> Sequence[Location]:
            return [
                Location("berlin-dc", coordinates=CITIES["berlin"], priority=1),
                Location("munich-store", coordinates=CITIES["munich"], priority=9),
            ]

        def available(self, sku: str, location: str) -> int:
            return self.stock.get((sku, location), 0)

        def backorder_room(self, sku: str, location: str) -> int:
            return self.backorders.get((sku, location), 0)

    request = SourcingRequest(
        "o-1",
        (RequestLine(1, Sku("TSHIRT-M"), 3),),
        datetime(2026, 3, 2, 9, tzinfo=UTC),
        destination=CITIES["munich"],
    )
    inventory = FakeInventory({("TSHIRT-M", "berlin-dc"): 10, ("TSHIRT-M", "munich-store"): 1})
    assert isinstance(inventory, InventoryView)
    plan = NearestFirst().plan(request, inventory)
    assert [(a.location, a.quantity) for a in plan.allocations] == [
        ("munich-store", 1),
        ("berlin-dc", 2),
    ]
    assert plan.is_complete
    assert plan.shipments == 2
    # Beyond what is on hand, the nearest location with backorder room takes the rest.
    big = attrs.evolve(request, lines=(RequestLine(1, Sku("TSHIRT-M"), 13),))
    backorders = FakeInventory(inventory.stock, {("TSHIRT-M", "munich-store"): 5})
    plan_13 = NearestFirst().plan(big, backorders)
    assert [(a.location, a.quantity, a.backorder) for a in plan_13.allocations] == [
        ("munich-store", 1, False),
        ("berlin-dc", 10, False),
        ("munich-store", 2, True),
    ]
    # Deterministic: the same question gives the same answer (plans compare without
    # their explanation).
    assert NearestFirst().plan(request, inventory) == plan


def compare_on_a_small_network() -> None:
    """The same order, sourced by the built-in priority strategy and by NearestFirst."""
    munich = GeoPoint(48.14, 11.58)
    chosen = {}
    for strategy in (PriorityStrategy(), NearestFirst()):
        assert isinstance(strategy, SourcingStrategy)
        oms = Oms(strategy=strategy)
        oms.add_location(Location("berlin-dc", coordinates=CITIES["berlin"], priority=1))
        oms.add_location(Location("munich-store", coordinates=CITIES["munich"], priority=9))
        oms.receive("TSHIRT-M", "berlin-dc", 10)
        oms.receive("TSHIRT-M", "munich-store", 5)
        order = oms.place_order("web-1001", [("TSHIRT-M", 2)], ship_to=munich)
        assert order.status is OrderStatus.ALLOCATED
        [fulfilment_order] = oms.fulfilment_orders("web-1001")
        chosen[strategy.name] = fulfilment_order.location
        oms.check_invariants()
    assert chosen == {"priority": "berlin-dc", "nearest-first": "munich-store"}
    print(f"Munich order of 2 TSHIRT-M: {chosen}")


def on_the_example_network() -> None:
    """The demo's b2b order, sourced nearest-first on the bundled network.

    Nearest-first ships from Frankfurt itself but needs four parcels where the priority
    strategy needed two: which is better is what simulations are for.
    """
    sourced = {}
    for strategy in (PriorityStrategy(), NearestFirst()):
        oms = build_oms(strategy=strategy)
        oms.place_order("b2b-3001", [("TSHIRT-M", 20)], ship_to=CITIES["frankfurt"])
        where = {fo.location: fo.lines[0].quantity for fo in oms.fulfilment_orders("b2b-3001")}
        print(f"b2b-3001, 20 TSHIRT-M to Frankfurt, {strategy.name}: {where}")
        sourced[strategy.name] = where
        oms.check_invariants()
    assert sourced["priority"] == {"berlin-dc": 18, "frankfurt-dc": 2}
    assert sourced["nearest-first"] == {
        "frankfurt-dc": 10,
        "cologne-store": 2,
        "munich-store": 3,
        "hamburg-dc": 5,
    }


if __name__ == "__main__":
    check_with_a_fake_inventory()
    compare_on_a_small_network()
    on_the_example_network()
    print("custom_strategy.py: all checks passed")
