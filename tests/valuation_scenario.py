"""A shop's stock history with costs, run on any Oms, for valuation tests on every store.

Receipts at two costs, a purchase order received in parts, an order split over two
locations and shipped, a transfer, a return by request and one by hand, a write-off and
a receipt without a cost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omsims import Inspection, Location, LocationKind, ManualClock, Money, Oms

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def clock() -> ManualClock:
    return ManualClock(T0)


def run_shop(oms: Oms) -> None:
    """Post the history on ``oms`` (whose clock starts at ``T0``), an hour a step."""
    assert isinstance(oms.clock, ManualClock)
    tick = oms.clock.advance
    oms.add_location(Location("dc", priority=1))
    oms.add_location(Location("store", kind=LocationKind.STORE, priority=2))
    oms.receive("MUG", "dc", 10, unit_cost=eur("2.00"))
    oms.receive("MUG", "dc", 10, unit_cost=eur("3.00"))
    oms.receive("MUG", "store", 4, unit_cost=eur("4.00"))
    po = oms.expect("TEE", "dc", 6, eta=T0 + timedelta(days=2), unit_cost=eur("5.00"))
    tick(hours=1)
    oms.receive_expected(po.id, 4)
    oms.receive("CAP", "store", 3)  # no cost known
    tick(hours=1)
    oms.place_order("web-1", [("MUG", 22), ("TEE", 2), ("CAP", 1)])  # MUG: 20 dc, 2 store
    for fo in oms.fulfilment_orders("web-1"):
        oms.accept(fo.id)
        tick(hours=1)
        oms.deliver(oms.ship(fo.id).id)
    tick(hours=1)
    t = oms.transfer("TEE", "dc", "store", 1, eta=T0 + timedelta(days=3))
    oms.receive_transfer(t.id)
    oms.receive_expected(po.id)
    tick(hours=1)
    request = oms.request_return("web-1", {1: 2}, reason="too big", method="store", store="store")
    oms.approve_return(request.id)
    oms.receive_return(request.id, [Inspection(1, "restock", units=2)])
    tick(hours=1)
    oms.return_units("web-1", 2, 1, location="dc", restock=False, reason="stained")
    oms.write_off("MUG", "store", 1, reason="broken")
