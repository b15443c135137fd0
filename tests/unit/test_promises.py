"""Backorders promised against incoming supply: the fill policy, the Oms and the ledger."""

from datetime import UTC, datetime, timedelta

import pytest

from omsims import Ledger, Location, Oms, PositionSettings
from omsims.adapters.clock import ManualClock
from omsims.sourcing import Fill, PriorityStrategy, Ranked
from sourcing_support import View, loc, request

T = datetime(2026, 3, 1, tzinfo=UTC)
MAR5, MAR9 = T + timedelta(days=4), T + timedelta(days=8)


def hub_view(arrivals, room=100, stock=0):
    return View(
        [loc("hub")],
        {("X", "hub"): stock},
        backorders={("X", "hub"): room},
        arrivals={("X", "hub"): arrivals},
    )


def taken(plan):
    return [(a.quantity, a.backorder, a.promised) for a in plan.allocations]


def test_backorders_are_dated_by_the_arrivals_that_cover_them():
    plan = Ranked().plan(request(("X", 9)), hub_view([(MAR5, 3), (MAR9, 4)], stock=1))
    assert taken(plan) == [(1, False, None), (3, True, MAR5), (4, True, MAR9), (1, True, None)]
    text = str(plan.explanation)
    assert "3 from hub backordered, due 2026-03-05" in text
    assert "1 from hub backordered, no date yet" in text


def test_against_incoming_backorders_only_what_supply_covers():
    strategy = Ranked(fill=Fill(against_incoming=True))
    plan = strategy.plan(request(("X", 9)), hub_view([(MAR5, 3), (MAR9, 4)]))
    assert taken(plan) == [(3, True, MAR5), (4, True, MAR9)]
    assert plan.unfilled == ((1, 2),)


def test_a_second_line_of_the_same_sku_is_promised_the_later_arrivals():
    plan = Ranked().plan(request(("X", 2), ("X", 2)), hub_view([(MAR5, 3), (MAR9, 4)]))
    assert [(a.line, a.quantity, a.promised) for a in plan.allocations] == [
        (1, 2, MAR5),
        (2, 1, MAR5),
        (2, 1, MAR9),
    ]


def test_the_backorder_limit_still_holds_against_incoming():
    plan = Ranked(fill=Fill(against_incoming=True)).plan(
        request(("X", 5)), hub_view([(MAR5, 10)], room=2)
    )
    assert taken(plan) == [(2, True, MAR5)]


def test_a_view_without_incoming_backorders_undated_or_not_at_all():
    view = View([loc("hub")], {}, backorders={("X", "hub"): 5})
    assert taken(Ranked().plan(request(("X", 2)), view)) == [(2, True, None)]
    plan = Ranked(fill=Fill(against_incoming=True)).plan(request(("X", 2)), view)
    assert plan.allocations == ()
    assert plan.unfilled == ((1, 2),)


def test_against_incoming_must_be_a_flag():
    with pytest.raises(Exception, match="True or False"):
        Fill(against_incoming="yes")


def test_the_ledger_hands_out_the_arrivals_no_backorder_has_claimed():
    ledger = Ledger()
    for x in ("hub", "dc"):
        ledger.add_location(x)
    ledger.configure("X", "hub", PositionSettings(allow_backorders=True), at=T)
    assert ledger.unpromised_supply("X", "hub") == []
    ledger.expect("X", "hub", 3, eta=MAR9, at=T)
    ledger.expect("X", "hub", 2, eta=MAR5, at=T)
    ledger.receive("X", "dc", 5, at=T)
    ledger.transfer("X", "dc", "hub", 4, eta=MAR9 + timedelta(days=1), at=T)
    ledger.backorder("X", "hub", 3, at=T, reference="o1/1")  # claims 2 of Mar 5, 1 of Mar 9
    assert ledger.unpromised_supply("X", "hub") == [(MAR9, 2), (MAR9 + timedelta(days=1), 4)]
    ledger.backorder("X", "hub", 6, at=T, reference="o2/1")
    assert ledger.unpromised_supply("X", "hub") == []
    assert ledger.unpromised_supply("X", "dc") == []


def test_the_oms_keeps_each_order_s_promise_and_fills_it_when_supply_lands():
    clock = ManualClock(T)
    oms = Oms(clock=clock, strategy=PriorityStrategy())
    oms.add_location(Location("hub"))
    oms.add_sku("X")
    oms.configure_position("X", "hub", allow_backorders=True)
    oms.expect("X", "hub", 2, eta=MAR5)
    oms.expect("X", "hub", 3, eta=MAR9)
    first = oms.place_order("o1", [("X", 2)])
    second = oms.place_order("o2", [("X", 2)])
    (fo1,) = oms.fulfilment_orders(first.id)
    (fo2,) = oms.fulfilment_orders(second.id)
    assert (fo1.lines[0].backordered, fo1.lines[0].promised) == (2, MAR5)
    assert (fo2.lines[0].backordered, fo2.lines[0].promised) == (2, MAR9)
    created = [e for e in oms.published_events if e.name == "FulfilmentOrderCreated"]
    assert [e.lines[0][4] for e in created] == [MAR5, MAR9]
    assert oms.plan([("X", 2)]).allocations[0].promised == MAR9
    # The early purchase order lands: the first order's backorder is filled, not the second's.
    (early,) = [s for s in oms.incoming("X", "hub") if s.eta == MAR5]
    clock.advance(days=4)
    oms.receive_expected(early.source, 2)
    assert oms.fulfilment_orders(first.id)[0].lines[0].backordered == 0
    assert oms.fulfilment_orders(second.id)[0].lines[0].backordered == 2


def test_the_incoming_index_survives_a_rollback_that_reissues_an_id():
    ledger = Ledger()
    for x in ("hub", "dc"):
        ledger.add_location(x)
    mark = ledger.savepoint()
    gone = ledger.expect("X", "hub", 5, eta=MAR5, at=T)
    ledger.rollback(mark)
    again = ledger.expect("X", "hub", 2, eta=MAR9, at=T)  # the same id, issued again
    elsewhere = ledger.expect("X", "dc", 3, eta=MAR5, at=T)
    assert again.id == gone.id
    assert [(r.source, r.quantity) for r in ledger.incoming_schedule("X", "hub")] == [(again.id, 2)]
    assert [r.location for r in ledger.incoming_schedule("X")] == ["dc", "hub"]
    # An id rolled back at one position and issued again at another shows only there.
    mark = ledger.savepoint()
    dropped = ledger.expect("X", "hub", 4, eta=MAR5, at=T)
    ledger.rollback(mark)
    reissued = ledger.expect("X", "dc", 1, eta=MAR9, at=T)
    assert reissued.id == dropped.id
    assert [r.source for r in ledger.incoming_schedule("X", "hub")] == [again.id]
    ledger.receive_expected(elsewhere.id, at=T)
    assert [r.source for r in ledger.incoming_schedule("X", "dc")] == [reissued.id]
    ledger.check_invariants()


def test_arrivals_restore_safety_stock_before_they_are_promised():
    ledger = Ledger()
    ledger.add_location("hub")
    ledger.configure("X", "hub", PositionSettings(safety_stock=5, allow_backorders=True), at=T)
    ledger.expect("X", "hub", 10, eta=MAR5, at=T)
    assert ledger.unpromised_supply("X", "hub") == [(MAR5, 5)]
    plan = Ranked(fill=Fill(against_incoming=True)).plan(
        request(("X", 10)),
        View(
            [loc("hub")],
            {},
            backorders={("X", "hub"): 100},
            arrivals={("X", "hub"): ledger.unpromised_supply("X", "hub")},
        ),
    )
    assert taken(plan) == [(5, True, MAR5)]
    # And the promise holds: received, the supply fills exactly the promised backorder.
    ledger.backorder("X", "hub", 5, at=T, reference="o1/1")
    (line,) = ledger.incoming_schedule("X", "hub")
    ledger.receive_expected(line.source, at=MAR5)
    assert ledger.balance("X", "hub").backordered == 0
