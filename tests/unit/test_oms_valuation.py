"""Valuation through the Oms: the ledger read in a unit of work, orders' shipped cost."""

from datetime import timedelta
from decimal import Decimal

import pytest

from omsims import Location, ManualClock, Money, Oms
from omsims.errors import InvalidParameter, UnknownOrder
from omsims.replenishment.valuation import CostMethod, StockValue, value_stock
from valuation_scenario import T0, clock, eur, run_shop


@pytest.fixture
def shop():
    oms = Oms(clock=clock())
    run_shop(oms)
    return oms


def test_the_shop_is_valued_position_by_position(shop):
    v = shop.valuation()
    v.check_invariants()
    assert {k: p.stock for k, p in v.positions.items()} == {
        ("MUG", "dc"): StockValue(0, Decimal("0.00")),
        # 1 left @ 4.00, and 2 returned at what the order's mugs cost: 58.00 / 22 each
        ("MUG", "store"): StockValue(3, Decimal("9.272727272727272727")),
        ("TEE", "dc"): StockValue(4, Decimal("20.00")),  # 3 @ 5.00 + 1 returned @ 5.00
        ("TEE", "store"): StockValue(1, Decimal("5.00")),  # carried by the transfer
        ("CAP", "store"): StockValue(2, Decimal(0), 2),  # received without a cost
    }
    for sku, loc in shop.positions():
        assert v.position(sku, loc).units == shop.stock(sku, loc).on_hand
    assert v.money(v.total.value) == eur("34.27")
    assert v.unvalued_units == 2
    assert (
        str(v).splitlines()[-1] == "  network: 10 units, 34.27 EUR, 2 of them without a known cost"
    )


def test_the_shipped_cost_of_each_line_of_an_order(shop):
    assert shop.shipped_cost("web-1") == {1: eur("58.00"), 2: eur("10.00"), 3: None}
    average = shop.shipped_cost("web-1", method=CostMethod.MOVING_AVERAGE)
    assert average == {1: eur("58.00"), 2: eur("10.00"), 3: None}  # nothing was left to average


def test_methods_per_sku_and_as_of_a_time(shop):
    v = shop.valuation(method=CostMethod.MOVING_AVERAGE, methods={"TEE": CostMethod.FIFO})
    assert v.position("MUG", "store").method is CostMethod.MOVING_AVERAGE
    assert v.position("TEE", "dc").method is CostMethod.FIFO
    before_the_order = shop.valuation(as_of=T0 + timedelta(hours=1))
    assert before_the_order.by_sku() == {
        "MUG": StockValue(24, Decimal("66.00")),
        "TEE": StockValue(4, Decimal("20.00")),
        "CAP": StockValue(3, Decimal(0), 3),
    }
    assert before_the_order.shipped == {}


def test_a_valuation_is_what_the_pure_function_makes_of_the_entries(shop):
    entries = shop.entries()
    mapped = {
        "web-1": ["web-1-F1#1", "web-1-F1#2", "web-1-F2#1", "web-1-F2#3"],
        "web-1-R1": ["web-1-F1#1", "web-1-F1#2", "web-1-F2#1", "web-1-F2#3"],
    }
    assert shop.valuation() == value_stock(entries, returned_from=mapped)


def test_lines_not_shipped_are_left_out_and_an_unknown_order_is_refused():
    oms = Oms(clock=ManualClock(T0))
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5, unit_cost=Money("1.10", "EUR"))
    oms.place_order("o1", [("X", 2), ("X", 2)])
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    oms.ship(fo.id, {2: 1})
    assert oms.shipped_cost("o1") == {2: eur("1.10")}
    oms.ship(fo.id, {2: 1})
    assert oms.shipped_cost("o1") == {2: eur("2.20")}  # two parcels of one line
    with pytest.raises(UnknownOrder):
        oms.shipped_cost("nope")
    with pytest.raises(InvalidParameter):
        oms.valuation(method="fifo")


def test_a_shop_without_costs_values_nothing_and_invents_nothing():
    oms = Oms(clock=ManualClock(T0))
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    oms.place_order("o1", [("X", 2)])
    oms.ship(oms.accept("o1-F1").id)
    v = oms.valuation()
    assert (v.currency, v.total) == (None, StockValue(3, Decimal(0), 3))
    assert oms.shipped_cost("o1") == {1: None}
