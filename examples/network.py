"""A small example network across Germany: three warehouses, four stores, five SKUs.

Import it from the other examples (``from network import build_oms``) or copy it as the
start of your own scenario. The numbers are chosen so that the demo shows one thing per
order: a plain order, a split, a backorder against incoming supply, a line that cannot be
fully sourced. Run it on its own to list the network.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from omsims import GeoPoint, Location, LocationKind, ManualClock, Oms, SourcingStrategy
from omsims.ports import Clock

__all__ = ["CITIES", "LOCATIONS", "SKUS", "START", "STOCK", "SUPPLY_ETA", "build_oms"]

START: Final = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
"""Business time of the opening stock (a Monday morning) when no clock is given."""

SUPPLY_ETA: Final = timedelta(days=3)
"""How long after the opening the purchase order PO-4711 is due at the Hamburg DC."""

CITIES: Final = {
    "berlin": GeoPoint(52.5200, 13.4050),
    "hamburg": GeoPoint(53.5511, 9.9937),
    "frankfurt": GeoPoint(50.1109, 8.6821),
    "munich": GeoPoint(48.1351, 11.5820),
    "cologne": GeoPoint(50.9375, 6.9603),
    "stuttgart": GeoPoint(48.7758, 9.1829),
    "dresden": GeoPoint(51.0504, 13.7373),
    "leipzig": GeoPoint(51.3397, 12.3731),
    "bremen": GeoPoint(53.0793, 8.8017),
    "nuremberg": GeoPoint(49.4521, 11.0767),
}
"""City centres (WGS 84), for locations and for customers' ship-to points."""


def _warehouse(location_id: str, name: str, city: str, priority: int) -> Location:
    return Location(
        location_id, name=name, coordinates=CITIES[city], country="DE", priority=priority
    )


def _store(location_id: str, name: str, city: str, priority: int) -> Location:
    return Location(
        location_id,
        name=name,
        kind=LocationKind.STORE,
        coordinates=CITIES[city],
        country="DE",
        can_pickup=True,
        priority=priority,
    )


LOCATIONS: Final = (
    # Lower priority numbers are tried first by PriorityStrategy: warehouses, then stores.
    _warehouse("berlin-dc", "Berlin DC", "berlin", 10),
    _warehouse("frankfurt-dc", "Frankfurt DC", "frankfurt", 20),
    _warehouse("hamburg-dc", "Hamburg DC", "hamburg", 30),
    _store("munich-store", "Munich store", "munich", 50),
    _store("cologne-store", "Cologne store", "cologne", 50),
    _store("dresden-store", "Dresden store", "dresden", 60),
    _store("stuttgart-store", "Stuttgart store", "stuttgart", 60),
)

SKUS: Final = ("TSHIRT-M", "HOODIE-L", "SNEAKER-42", "CAP-BLK", "MUG-WHT")

STOCK: Final = {
    "TSHIRT-M": {
        "berlin-dc": 20,
        "frankfurt-dc": 10,
        "hamburg-dc": 5,
        "munich-store": 3,
        "cologne-store": 2,
    },
    "HOODIE-L": {"berlin-dc": 3, "frankfurt-dc": 4, "stuttgart-store": 1},
    "SNEAKER-42": {"dresden-store": 1},
    "CAP-BLK": {"cologne-store": 2, "munich-store": 1},
    "MUG-WHT": {"frankfurt-dc": 12, "dresden-store": 4},
}
"""Opening stock on hand per SKU and location."""


def build_oms(clock: Clock | None = None, *, strategy: SourcingStrategy | None = None) -> Oms:
    """Build an in-memory Oms holding the example network and its opening stock.

    Args:
        clock: business time; by default a ``ManualClock`` at :data:`START`, so every
            run is the same. The opening stock is received at the clock's now.
        strategy: the sourcing strategy (default: ``PriorityStrategy``).

    Besides :data:`STOCK`: the Berlin DC keeps a safety stock of 2 ``TSHIRT-M`` (and
    reports low stock at 5 or fewer), and the Hamburg DC holds no ``SNEAKER-42`` but takes
    up to 10 backorders for them against purchase order PO-4711 of 12 pairs, due
    :data:`SUPPLY_ETA` after the opening.

    >>> oms = build_oms()
    >>> oms.stock("TSHIRT-M").on_hand, oms.available("TSHIRT-M", "berlin-dc")
    (40, 18)
    >>> print(oms.stock("SNEAKER-42", "hamburg-dc"))
    SNEAKER-42 @ hamburg-dc: on_hand=0 committed=0 reserved=0 unavailable=0 safety_stock=0
    incoming=12 backordered=0 available=0
    """
    clock = clock if clock is not None else ManualClock(START)
    oms = Oms(clock=clock, strategy=strategy)
    for location in LOCATIONS:
        oms.add_location(location)
    for sku in SKUS:
        oms.add_sku(sku)
    for sku, per_location in STOCK.items():
        for location_id, units in per_location.items():
            oms.receive(sku, location_id, units, reference="opening-stock")
    oms.configure_position("TSHIRT-M", "berlin-dc", safety_stock=2, low_stock_threshold=5)
    oms.configure_position("SNEAKER-42", "hamburg-dc", allow_backorders=True, backorder_limit=10)
    oms.expect("SNEAKER-42", "hamburg-dc", 12, eta=clock.now() + SUPPLY_ETA, reference="PO-4711")
    return oms


if __name__ == "__main__":
    network = build_oms()
    print(f"{'location':<16} {'kind':<10} {'priority':>8}  coordinates")
    for loc in network.locations():
        where = loc.coordinates
        assert where is not None
        print(
            f"{loc.id:<16} {loc.kind.value:<10} {loc.priority:>8}  "
            f"{where.latitude:.4f}, {where.longitude:.4f}"
        )
