"""Stock alerts through the notifier: out of stock, back in stock, low stock."""

from __future__ import annotations

import pytest

from omsims import Location, Oms
from omsims.errors import UnknownSku


def names(oms: Oms) -> list[str]:
    return [e.name for e in oms.published_events]


def alerts(oms: Oms) -> list[tuple[str, str, str]]:
    return [
        (e.name, e.sku, e.location)  # type: ignore[attr-defined]
        for e in oms.published_events
        if e.name in {"OutOfStock", "BackInStock", "LowStock"}
    ]


def make() -> Oms:
    oms = Oms()
    oms.add_location(Location("dc"))
    oms.add_location(Location("store"))
    return oms


def test_selling_the_last_unit_says_out_of_stock_once():
    oms = make()
    oms.receive("MUG", "dc", 2)
    oms.place_order("o1", [("MUG", 1)])
    assert alerts(oms) == [("BackInStock", "MUG", "dc")]
    oms.place_order("o2", [("MUG", 1)])
    assert alerts(oms)[-1] == ("OutOfStock", "MUG", "dc")
    out = [e for e in oms.published_events if e.name == "OutOfStock"]
    assert len(out) == 1
    assert out[0].on_hand == 2  # type: ignore[attr-defined] (both committed, not shipped yet)


def test_a_receipt_after_a_stock_out_says_back_in_stock_with_what_is_available():
    oms = make()
    oms.receive("MUG", "dc", 1)
    oms.place_order("o1", [("MUG", 1)])
    oms.receive("MUG", "dc", 5)
    back = [e for e in oms.published_events if e.name == "BackInStock"]
    assert [(e.available) for e in back] == [1, 5]  # type: ignore[attr-defined]


def test_a_receipt_into_a_position_that_has_stock_is_no_alert():
    oms = make()
    oms.receive("MUG", "dc", 1)
    before = len(alerts(oms))
    oms.receive("MUG", "dc", 5)
    assert len(alerts(oms)) == before


def test_safety_stock_counts_a_position_with_only_kept_back_units_as_out():
    oms = make()
    oms.receive("MUG", "dc", 3)
    oms.configure_position("MUG", "dc", safety_stock=2)
    oms.place_order("o1", [("MUG", 1)])
    assert alerts(oms)[-1] == ("OutOfStock", "MUG", "dc")
    oms.adjust("MUG", "dc", 1, reason="found")
    assert alerts(oms)[-1] == ("BackInStock", "MUG", "dc")


def test_a_refused_command_publishes_no_alert():
    oms = make()
    oms.receive("MUG", "dc", 1)
    before = len(oms.published_events)
    with pytest.raises(UnknownSku):
        oms.place_order("o1", [("MUG", 1), ("NOPE", 1)])
    assert len(oms.published_events) == before
    assert oms.available("MUG", "dc") == 1
