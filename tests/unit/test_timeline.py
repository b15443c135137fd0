"""An order's timeline: every moment in time order, and every unit in exactly one place."""

from datetime import UTC, datetime

from omsims import FakeGateway, Location, ManualClock, Money, Oms

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_a_whole_journey_in_time_order_and_every_unit_placed():
    clock = ManualClock(T0)
    oms = Oms(clock=clock, payments=FakeGateway())
    oms.add_location(Location("a", priority=1))
    oms.add_location(Location("b", priority=2))
    oms.receive("X", "a", 2)
    oms.receive("X", "b", 5)
    oms.place_order("o1", [("X", 5, Money("2.00", "EUR"))])
    fo_a, fo_b = oms.fulfilment_orders("o1")
    clock.advance(hours=1)
    oms.accept(fo_a.id)
    oms.hold_fulfilment(fo_b.id, reason="address check")
    clock.advance(hours=1)
    parcel = oms.ship(fo_a.id, carrier="post", tracking="P1")
    oms.release_fulfilment(fo_b.id)
    clock.advance(hours=1)
    oms.track(parcel.id, "in_transit", detail="hub")
    clock.advance(hours=1)
    oms.track(parcel.id, "delivered")
    oms.return_units("o1", 1, 1, location="a", restock=False, reason="torn")
    oms.cancel_lines("o1", {1: 1})
    timeline = oms.timeline("o1")
    assert [m.at for m in timeline.moments] == sorted(m.at for m in timeline.moments)
    whats = [(m.subject, m.what) for m in timeline.moments]
    assert whats[:3] == [
        ("o1", "placed on web: 1 line(s), 5 unit(s)"),
        (f"payment {oms.order('o1').payment.authorisation}", "authorised 10.00 EUR"),
        (fo_a.id, "sent to a: 2 unit(s)"),
    ]
    assert (fo_b.id, "put on hold: address check") in whats
    assert (parcel.id, "in_transit: hub") in whats
    assert ("o1", "1 of line 1 returned to a (not restocked: torn)") in whats
    assert ("o1", "cancelled 1 of line 1") in whats
    places = {(u.state, u.where): u.units for u in timeline.units}
    assert places == {
        ("ready", "b"): 2,
        ("delivered", None): 1,
        ("returned", None): 1,
        ("cancelled", None): 1,
    }
    assert sum(places.values()) == 5
    text = str(timeline)
    assert text.startswith("order o1 (partially_returned)\n  2026-03-01 09:00 UTC  placed on web")
    assert "    line 1 X: 2 ready at b" in text
