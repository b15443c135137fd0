"""Stock valuation, pure: worked numbers for FIFO and moving average, and every rule."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omsims import EntryKind, Ledger, Money
from omsims.errors import InvalidMoney, InvalidParameter, InvariantViolation
from omsims.replenishment.valuation import (
    CostLayer,
    CostMethod,
    PositionValue,
    ShippedCost,
    StockValue,
    Valuation,
    ValueFlows,
    value_stock,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
FIFO, AVERAGE = CostMethod.FIFO, CostMethod.MOVING_AVERAGE


def eur(amount):
    return Money(amount, "EUR")


def d(text):
    return Decimal(text)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def ledger():
    ledger = Ledger()
    for loc in ("a", "b", "c"):
        ledger.add_location(loc)
    return ledger


def ship(ledger, sku, loc, qty, ref, when=T0):
    ledger.commit(sku, loc, qty, at=when, reference=ref)
    return ledger.ship(sku, loc, qty, at=when, reference=ref)


def two_receipts_and_a_shipment(ledger):
    ledger.receive("X", "a", 10, at=T0, unit_cost=eur("2.00"))
    ledger.receive("X", "a", 10, at=T0, unit_cost=eur("3.00"))
    ship(ledger, "X", "a", 15, "o1-F1#1")


def checked(entries, **options):
    valuation = value_stock(entries, **options)
    valuation.check_invariants()
    return valuation


# -- the worked example of the issue ----------------------------------------------------------


def test_fifo_ships_the_oldest_layers_first(ledger):
    two_receipts_and_a_shipment(ledger)
    v = checked(ledger.entries())
    assert v.shipped["o1-F1#1"] == ShippedCost(15, d("35.00"))
    p = v.position("X", "a")
    assert (p.units, p.value, p.average_cost) == (5, d("15.00"), d("3.00"))
    assert p.layers == (CostLayer(5, d("15.00")),)
    assert p.shipped == ShippedCost(15, d("35.00"))
    assert p.flows == ValueFlows(received=d("50.00"), shipped=d("35.00"))
    assert v.currency == "EUR"
    assert v.total == StockValue(5, d("15.00"))


def test_moving_average_ships_at_the_average(ledger):
    two_receipts_and_a_shipment(ledger)
    v = checked(ledger.entries(), method=AVERAGE)
    assert v.shipped["o1-F1#1"].value == d("37.50")
    p = v.position("X", "a")
    assert (p.units, p.value, p.average_cost) == (5, d("12.50"), d("2.50"))
    assert p.layers == (CostLayer(5, d("12.50")),)
    assert p.method is AVERAGE


def test_the_average_moves_with_every_receipt(ledger):
    ledger.receive("X", "a", 3, at=T0, unit_cost=eur("10.00"))
    ship(ledger, "X", "a", 1, "o1")  # 10.00
    ledger.receive("X", "a", 1, at=T0, unit_cost=eur("4.00"))  # 3 units worth 24.00
    ship(ledger, "X", "a", 1, "o2")  # 8.00
    v = checked(ledger.entries(), method=AVERAGE)
    assert [v.shipped[r].value for r in ("o1", "o2")] == [d("10.00"), d("8.00")]
    assert v.position("X", "a").value == d("16.00")


def test_a_division_that_does_not_come_out_is_cut_at_18_places_and_nothing_is_lost(ledger):
    ledger.receive("X", "a", 3, at=T0, unit_cost=eur("3.33"))
    ledger.receive("X", "a", 1, at=T0, unit_cost=eur("0.01"))  # 10.00 for 4 units
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("0.00"))  # 10.00 for 6 units
    ship(ledger, "X", "a", 1, "o1")
    ship(ledger, "X", "a", 5, "o2")
    v = checked(ledger.entries(), method=AVERAGE)
    assert v.shipped["o1"].value == d("1.666666666666666667")
    assert v.shipped["o2"].value == d("8.333333333333333333")
    assert v.position("X", "a").value == 0  # exactly: the last units take what is left
    assert v.money(v.shipped["o1"].value) == eur("1.67")


def test_methods_are_chosen_per_sku(ledger):
    for sku in ("X", "Y"):
        ledger.receive(sku, "a", 10, at=T0, unit_cost=eur("2.00"))
        ledger.receive(sku, "a", 10, at=T0, unit_cost=eur("3.00"))
        ship(ledger, sku, "a", 15, f"{sku}-o1")
    v = checked(ledger.entries(), method=AVERAGE, methods={"X": FIFO})
    assert v.position("X", "a").value == d("15.00")
    assert v.position("Y", "a").value == d("12.50")
    assert (v.method_for("X"), v.method_for("Y"), v.method_for("Z")) == (FIFO, AVERAGE, AVERAGE)
    assert v.by_sku() == {"X": StockValue(5, d("15.00")), "Y": StockValue(5, d("12.50"))}


# -- supply lines ------------------------------------------------------------------------------


def test_partial_receipts_of_a_supply_line_carry_its_cost(ledger):
    line = ledger.expect("X", "a", 10, eta=at(60), at=T0, unit_cost=eur("4.00"))
    ledger.receive_expected(line.id, 3, at=at(1))
    ledger.receive("X", "a", 5, at=at(2), unit_cost=eur("6.00"))
    ledger.receive_expected(line.id, 7, at=at(3))
    ship(ledger, "X", "a", 6, "o1", at(4))
    v = checked(ledger.entries())
    assert v.shipped["o1"].value == d("30.00")  # 3 @ 4.00, then 3 @ 6.00
    p = v.position("X", "a")
    assert p.layers == (CostLayer(2, d("12.00")), CostLayer(7, d("28.00")))
    assert p.flows.received == d("70.00")


def test_expected_supply_not_yet_received_is_not_on_hand(ledger):
    ledger.expect("X", "a", 10, eta=at(60), at=T0, unit_cost=eur("4.00"))
    v = checked(ledger.entries())
    assert v.positions == {}
    assert v.position("X", "a") == PositionValue("X", "a", FIFO)


# -- transfers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "value"), [(FIFO, d("35.00")), (AVERAGE, d("37.50"))])
def test_a_transfer_carries_the_cost_it_took_out_at_the_origin(ledger, method, value):
    ledger.receive("X", "a", 10, at=T0, unit_cost=eur("2.00"))
    ledger.receive("X", "a", 10, at=T0, unit_cost=eur("3.00"))
    ledger.receive("X", "b", 1, at=T0, unit_cost=eur("9.00"))
    t = ledger.transfer("X", "a", "b", 15, eta=at(60), at=at(1))
    in_transit = checked(ledger.entries(), method=method)
    assert in_transit.in_transit == {t.id: StockValue(15, value)}
    assert in_transit.total.value == d("50.00") + d("9.00") - value
    ledger.receive_transfer(t.id, at=at(2))
    v = checked(ledger.entries(), method=method)
    assert v.in_transit == {}
    assert v.position("X", "b").value == value + d("9.00")
    assert v.position("X", "b").flows.transferred_in == value
    assert v.position("X", "a").flows.transferred_out == value
    assert v.total.value == d("59.00")


def test_fifo_layers_keep_their_costs_across_a_transfer_received_in_parts(ledger):
    ledger.receive("X", "a", 10, at=T0, unit_cost=eur("2.00"))
    ledger.receive("X", "a", 10, at=T0, unit_cost=eur("3.00"))
    t = ledger.transfer("X", "a", "b", 15, eta=at(60), at=at(1))
    ledger.receive_transfer(t.id, 6, at=at(2))
    v = checked(ledger.entries())
    assert v.position("X", "b").layers == (CostLayer(6, d("12.00")),)
    assert v.in_transit[t.id] == StockValue(9, d("23.00"))
    ledger.receive_transfer(t.id, at=at(3))
    v = checked(ledger.entries())
    assert v.position("X", "b").layers == (
        CostLayer(6, d("12.00")),
        CostLayer(4, d("8.00")),
        CostLayer(5, d("15.00")),
    )
    ship(ledger, "X", "b", 11, "o1", at(4))
    assert checked(ledger.entries()).shipped["o1"].value == d("12.00") + d("8.00") + d("3.00")


def test_a_cancelled_transfer_brings_its_cost_back_to_the_origin(ledger):
    ledger.receive("X", "a", 4, at=T0, unit_cost=eur("2.00"))
    ledger.receive("X", "a", 4, at=T0, unit_cost=eur("3.00"))
    t = ledger.transfer("X", "a", "b", 8, eta=at(60), at=at(1))
    ledger.receive_transfer(t.id, 3, at=at(2))  # the first 3 sent: 3 @ 2.00
    ledger.cancel_transfer(t.id, at=at(3))  # the last 5 come back: 1 @ 2.00, 4 @ 3.00
    v = checked(ledger.entries())
    assert v.position("X", "b").value == d("6.00")
    assert v.position("X", "a").value == d("14.00")
    assert v.position("X", "a").layers == (CostLayer(1, d("2.00")), CostLayer(4, d("12.00")))
    assert v.in_transit == {}
    assert v.total.value == d("20.00")


def test_a_transfer_to_a_moving_average_position_merges_into_its_average(ledger):
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("5.00"))
    ledger.receive("X", "b", 2, at=T0, unit_cost=eur("1.00"))
    t = ledger.transfer("X", "a", "b", 2, eta=at(60), at=at(1))
    ledger.receive_transfer(t.id, at=at(2))
    v = checked(ledger.entries(), method=AVERAGE)
    assert v.position("X", "b").layers == (CostLayer(4, d("12.00")),)
    assert v.position("X", "b").average_cost == d("3.00")


def test_damaged_units_keep_their_value_on_the_way_to_refurbishment(ledger):
    ledger.receive("X", "a", 5, at=T0, unit_cost=eur("7.00"))
    ledger.hold("X", "a", 2, reason="damaged", at=T0)
    v = checked(ledger.entries())
    assert v.position("X", "a").value == d("35.00")  # a hold moves no value
    t = ledger.transfer("X", "a", "c", 2, eta=at(60), at=at(1), unavailable_reason="refurbish")
    ledger.receive_transfer(t.id, at=at(2))
    v = checked(ledger.entries())
    assert v.position("X", "c").value == d("14.00")
    assert v.position("X", "a").value == d("21.00")
    ledger.write_off("X", "c", 2, reason="scrap", from_unavailable=True, at=at(3))
    assert checked(ledger.entries()).position("X", "c").flows.written_off == d("14.00")


# -- write-offs and adjustments ---------------------------------------------------------------


def test_write_offs_and_negative_adjustments_take_the_oldest_units(ledger):
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("1.00"))
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("5.00"))
    ledger.write_off("X", "a", 1, reason="lost", at=at(1))
    ledger.adjust("X", "a", -2, reason="count", at=at(2))
    v = checked(ledger.entries())
    p = v.position("X", "a")
    assert (p.flows.written_off, p.flows.adjusted_out) == (d("1.00"), d("6.00"))
    assert p.layers == (CostLayer(1, d("5.00")),)


def test_a_positive_adjustment_comes_in_at_the_average(ledger):
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("1.00"))
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("2.00"))
    ledger.adjust("X", "a", 2, reason="found", at=at(1))
    p = checked(ledger.entries()).position("X", "a")
    assert p.flows.adjusted_in == d("3.00")
    assert p.layers[-1] == CostLayer(2, d("3.00"))


# -- receipts without a cost -------------------------------------------------------------------


def test_a_receipt_without_a_cost_comes_in_at_the_average(ledger):
    ledger.receive("X", "a", 1, at=T0, unit_cost=eur("1.00"))
    ledger.receive("X", "a", 1, at=T0, unit_cost=eur("2.00"))
    ledger.receive("X", "a", 4, at=at(1))
    p = checked(ledger.entries()).position("X", "a")
    assert (p.units, p.value, p.unvalued_units) == (6, d("9.00"), 0)


def test_a_receipt_without_a_cost_at_a_position_that_never_had_one_is_unvalued(ledger):
    ledger.receive("X", "a", 4, at=T0)
    ledger.adjust("X", "a", 1, reason="found", at=at(1))
    v = checked(ledger.entries())
    assert v.position("X", "a").stock == StockValue(5, d(0), 5)
    assert v.unvalued_units == 5
    assert v.currency is None
    assert str(v) == (
        "stock value in (no currency)\n"
        "  X @ a (fifo): 5 units, 5 of them without a known cost\n"
        "  network: 5 units, 5 of them without a known cost"
    )
    ledger.receive("X", "a", 2, at=at(2), unit_cost=eur("3.00"))
    ledger.receive("X", "a", 2, at=at(3))  # now at the average of what is valued
    ship(ledger, "X", "a", 6, "o1", at(4))  # the unvalued units leave first
    v = checked(ledger.entries())
    assert v.shipped["o1"] == ShippedCost(6, d("3.00"), 5)
    assert v.shipped["o1"].unit_cost == d("3.00")
    assert v.position("X", "a").stock == StockValue(3, d("9.00"), 0)


def test_a_position_emptied_keeps_its_last_cost_for_what_comes_in_without_one(ledger):
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("4.00"))
    ship(ledger, "X", "a", 2, "o1")
    ledger.adjust("X", "a", 3, reason="found", at=at(1))
    assert checked(ledger.entries()).position("X", "a").value == d("12.00")


# -- customer returns --------------------------------------------------------------------------


def test_a_return_comes_back_at_what_its_shipment_cost(ledger):
    ledger.receive("X", "a", 2, at=T0, unit_cost=eur("2.00"))
    ship(ledger, "X", "a", 2, "o1-F1#1", at(1))
    ledger.receive("X", "a", 2, at=at(2), unit_cost=eur("8.00"))
    ledger.return_stock("X", "a", 1, at=at(3), reference="o1-F1#1")
    p = checked(ledger.entries()).position("X", "a")
    assert p.flows.returned == d("2.00")  # not the current average, 8.00
    assert p.layers[-1] == CostLayer(1, d("2.00"))


def test_a_return_to_another_location_named_by_a_return_request(ledger):
    ledger.receive("X", "a", 3, at=T0, unit_cost=eur("2.00"))
    ledger.receive("X", "a", 1, at=T0, unit_cost=eur("6.00"))
    ship(ledger, "X", "a", 4, "o1-F1#1", at(1))  # 12.00 for 4: 3.00 each
    ledger.receive("X", "b", 1, at=T0, unit_cost=eur("9.00"))
    ledger.return_stock("X", "b", 2, at=at(2), reference="o1-R1", unavailable_reason="torn")
    by_request = checked(ledger.entries(), returned_from={"o1-R1": ["o1-F1#1", "o1-F2#1"]})
    assert by_request.position("X", "b").flows.returned == d("6.00")
    unknown = checked(ledger.entries())  # nothing says where o1-R1 came from
    assert unknown.position("X", "b").flows.returned == d("18.00")


def test_a_return_ignores_shipments_after_it_and_of_other_skus(ledger):
    ledger.receive("X", "a", 5, at=T0, unit_cost=eur("2.00"))
    ledger.receive("Y", "a", 5, at=T0, unit_cost=eur("50.00"))
    ship(ledger, "Y", "a", 1, "o1-F1#2", at(1))
    ledger.return_stock("X", "a", 1, at=at(2), reference="o1")
    ship(ledger, "X", "a", 1, "o1-F1#1", at(3))
    v = checked(ledger.entries(), returned_from={"o1": ["o1-F1#1", "o1-F1#2"]})
    assert v.position("X", "a").flows.returned == d("2.00")  # X's average, nothing shipped


def test_a_return_without_any_cost_known_is_unvalued(ledger):
    ledger.return_stock("X", "a", 2, at=T0, reference="o9")
    assert checked(ledger.entries()).position("X", "a").unvalued_units == 2


# -- as of a time, and over a window -------------------------------------------------------------


def test_as_of_leaves_out_later_entries_and_windows_give_the_cost_of_goods_shipped(ledger):
    ledger.receive("X", "a", 10, at=at(0), unit_cost=eur("1.00"))
    ledger.receive("X", "a", 10, at=at(10), unit_cost=eur("2.00"))
    ship(ledger, "X", "a", 4, "o1", at(20))
    ship(ledger, "X", "a", 8, "o2", at(30))  # 6 @ 1.00 + 2 @ 2.00
    ship(ledger, "X", "a", 1, "o3", at(40))  # 2.00
    earlier = checked(ledger.entries(), as_of=at(25))
    assert earlier.as_of == at(25)
    assert earlier.position("X", "a").stock == StockValue(16, d("26.00"))
    assert set(earlier.shipped) == {"o1"}
    v = checked(ledger.entries())
    k = ("X", "a")
    assert v.shipped_between() == {k: ShippedCost(13, d("16.00"))}
    assert v.shipped_between(at(20), at(40)) == {k: ShippedCost(9, d("12.00"))}
    assert v.shipped_between(since=at(20)) == {k: ShippedCost(9, d("12.00"))}
    assert v.shipped_between(until=at(30)) == {k: ShippedCost(12, d("14.00"))}
    assert v.shipped_between(at(40), at(50)) == {}
    with pytest.raises(Exception, match="timezone-aware"):
        v.shipped_between(datetime(2026, 3, 1))  # noqa: DTZ001


def test_totals_per_location_sku_and_network(ledger):
    ledger.receive("X", "a", 1, at=T0, unit_cost=eur("1.00"))
    ledger.receive("X", "b", 2, at=T0, unit_cost=eur("1.00"))
    ledger.receive("Y", "b", 3, at=T0, unit_cost=eur("1.00"))
    ledger.receive("Z", "c", 4, at=T0)
    v = checked(ledger.entries())
    assert v.by_location() == {
        "a": StockValue(1, d("1.00")),
        "b": StockValue(5, d("5.00")),
        "c": StockValue(4, d(0), 4),
    }
    assert v.by_sku()["X"] == StockValue(3, d("3.00"))
    assert v.total == StockValue(10, d("6.00"), 4)
    assert v.unvalued_units == 4
    assert (
        str(v).splitlines()[-1] == "  network: 10 units, 6.00 EUR, 4 of them without a known cost"
    )


# -- the order entries come in -----------------------------------------------------------------


def busy_ledger():
    ledger = Ledger()
    for loc in ("a", "b", "c"):
        ledger.add_location(loc)
    ledger.receive("X", "a", 10, at=at(0), unit_cost=eur("2.00"))
    ledger.receive("X", "a", 10, at=at(1), unit_cost=eur("3.00"))
    t1 = ledger.transfer("X", "a", "b", 12, eta=at(60), at=at(2))
    ledger.receive_transfer(t1.id, at=at(3))
    t2 = ledger.transfer("X", "b", "c", 5, eta=at(60), at=at(4))
    ledger.receive_transfer(t2.id, 2, at=at(5))
    ship(ledger, "X", "c", 2, "o1-F1#1", at(6))
    ledger.return_stock("X", "a", 1, at=at(7), reference="o1-F1#1")
    ledger.receive_transfer(t2.id, at=at(8))
    # Backdated: a receipt before the others at c.
    ledger.receive("X", "c", 1, at=at(1), unit_cost=eur("9.00"))
    return ledger


@pytest.mark.parametrize("method", [FIFO, AVERAGE])
def test_the_result_does_not_depend_on_the_order_positions_are_given_in(method):
    ledger = busy_ledger()
    entries = ledger.entries()
    forward = checked(entries, method=method)
    for shuffled in (
        list(reversed(entries)),
        sorted(entries, key=lambda e: e.location, reverse=True),
        sorted(entries, key=lambda e: (e.at, e.sequence)),
    ):
        again = checked(shuffled, method=method)
        assert again == forward
        assert again.shipped_between() == forward.shipped_between()
    for sku, loc in ledger.positions():
        assert forward.position(sku, loc).units == ledger.balance(sku, loc).on_hand
    # The units came back at what they shipped at, from c, whatever a's costs.
    returned = forward.position("X", "a").flows.returned
    assert returned == forward.shipped["o1-F1#1"].unit_cost
    assert returned == (d("5.50") if method is FIFO else d("4.666666666666666666"))


def test_a_knot_only_bad_data_can_tie_is_cut_where_it_sorts_first():
    # Two transfers whose arrivals each come before the other's departure: impossible
    # in a ledger, yet the replay must still end, the same way every time.
    def entry(seq, loc, kind, qty, ref, cost=None):
        return (seq, at(0), "X", loc, kind, qty, ref, None, None, cost)

    from omsims.domain.stock import LedgerEntry

    k = EntryKind
    rows = [
        entry(1, "a", k.RECEIVED, 5, None, eur("1.00")),
        entry(2, "b", k.RECEIVED, 5, None, eur("4.00")),
        entry(3, "a", k.TRANSFERRED_IN, 1, "T2"),
        entry(4, "a", k.TRANSFERRED_OUT, 1, "T1"),
        entry(5, "b", k.TRANSFERRED_IN, 1, "T1"),
        entry(6, "b", k.TRANSFERRED_OUT, 1, "T2"),
    ]
    entries = [LedgerEntry(*r) for r in rows]
    first, second = checked(entries), checked(list(reversed(entries)))
    assert first == second
    # a's arrival sorts first: it comes in at a's own average, and b's departure of T2
    # stays in transit, since nothing is left to arrive.
    assert first.position("X", "a").flows.transferred_in == d("1.00")
    assert first.position("X", "b").flows.transferred_in == d("1.00")
    assert first.total.value == d("22.00")
    assert first.in_transit == {"T2": StockValue(1, d("4.00"))}


# -- bad input -----------------------------------------------------------------------------------


def test_mixed_currencies_are_refused(ledger):
    ledger.receive("X", "a", 1, at=T0, unit_cost=eur("1.00"))
    ledger.receive("Y", "b", 1, at=T0, unit_cost=Money("1.00", "USD"))
    with pytest.raises(InvalidMoney, match="mix currencies"):
        value_stock(ledger.entries())


def test_entries_that_take_out_more_than_they_brought_in_are_refused(ledger):
    two_receipts_and_a_shipment(ledger)
    shipped_only = [e for e in ledger.entries() if e.kind is not EntryKind.RECEIVED][:1]
    shipped_only += [e for e in ledger.entries() if e.kind is EntryKind.SHIPPED]
    with pytest.raises(InvalidParameter, match="15 units more than were on hand"):
        value_stock(shipped_only)


@pytest.mark.parametrize(
    "options",
    [
        {"method": "fifo"},
        {"methods": {"X": "fifo"}},
        {"as_of": datetime(2026, 3, 1)},  # noqa: DTZ001
    ],
    ids=["method", "methods", "as_of"],
)
def test_bad_options_are_refused(ledger, options):
    with pytest.raises(ValueError, match=r"method|timezone"):
        value_stock(ledger.entries(), **options)


def test_money_rounds_half_even_to_the_currency(ledger):
    ledger.receive("X", "a", 1, at=T0, unit_cost=Money("1", "JPY"))
    v = value_stock(ledger.entries())
    assert v.money(d("2.5")) == Money("2", "JPY")
    assert v.money(d("3.5")) == Money("4", "JPY")


def test_check_invariants_finds_books_that_do_not_balance():
    broken = PositionValue(
        "X", "a", FIFO, 2, d("4.00"), 0, (CostLayer(2, d("4.00")),), ValueFlows(d("5.00"))
    )
    valuation = Valuation("EUR", None, FIFO, {}, {("X", "a"): broken}, {}, {})
    with pytest.raises(InvariantViolation, match="came in"):
        valuation.check_invariants()
