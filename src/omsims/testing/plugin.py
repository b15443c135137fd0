"""The omsims pytest plugin: fixtures for testing code built on omsims.

pytest loads it in every test run once omsims is installed (the ``pytest11`` entry
point), so it imports nothing heavy and needs nothing beyond omsims itself; each
fixture imports what it uses when a test asks for it.

- ``manual_clock``: a :class:`~omsims.ManualClock` at :data:`T0`, moved by the test;
- ``small_network``: a :class:`~omsims.testing.network.Network` of two warehouses and
  a store, with stock of two SKUs (``SMALL_STOCK``);
- ``oms``: an in-memory :class:`~omsims.Oms` on ``manual_clock`` holding that network
  and its stock.

A test module's or conftest's own fixture of the same name takes precedence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from omsims.adapters.clock import ManualClock
    from omsims.oms import Oms
    from omsims.testing.network import Network

__all__ = ["SMALL_STOCK", "T0", "manual_clock", "oms", "small_network"]

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
"""When ``manual_clock`` starts: a Monday morning."""

SMALL_STOCK = {
    ("TEE-M", "berlin-dc"): 10,
    ("TEE-M", "munich-store"): 2,
    ("MUG", "hamburg-dc"): 5,
}
"""The stock of ``small_network`` and ``oms``: ``(sku, location) -> units``."""


@pytest.fixture
def manual_clock() -> ManualClock:
    """A manual clock at ``T0``; advance it with ``manual_clock.advance(hours=2)``."""
    from omsims.adapters.clock import ManualClock

    return ManualClock(T0)


@pytest.fixture
def small_network() -> Network:
    """Two warehouses and a store across Germany, with ``SMALL_STOCK``."""
    from omsims.domain.locations import Location, LocationKind
    from omsims.domain.values import GeoPoint
    from omsims.testing.network import Network

    return Network(
        [
            Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40), country="DE", priority=1),
            Location("hamburg-dc", coordinates=GeoPoint(53.55, 9.99), country="DE", priority=2),
            Location(
                "munich-store",
                kind=LocationKind.STORE,
                coordinates=GeoPoint(48.14, 11.58),
                country="DE",
                priority=3,
                can_pickup=True,
            ),
        ],
        SMALL_STOCK,
    )


@pytest.fixture
def oms(manual_clock: ManualClock, small_network: Network) -> Oms:
    """An in-memory Oms on ``manual_clock`` with ``small_network``'s locations and stock."""
    from omsims.oms import Oms

    system = Oms(clock=manual_clock)
    for location in small_network.locations():
        system.add_location(location)
    for (sku, where), units in sorted(small_network.stock.items()):
        system.receive(sku, where, units)
    return system
