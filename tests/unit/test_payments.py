"""Payments: the order's payment record, the fake gateway, and the Oms moving the money."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omsims import (
    FakeGateway,
    Location,
    ManualClock,
    Money,
    Oms,
    OperationStatus,
    Payment,
    PaymentKind,
    RecordingNotifier,
)
from omsims.errors import (
    IllegalTransition,
    InsufficientStock,
    InvalidMoney,
    InvariantViolation,
    PaymentDeclined,
    PaymentLimitExceeded,
    PaymentUnavailable,
    UnknownOrder,
    UnknownSku,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
EUR = "EUR"


def eur(amount: str) -> Money:
    return Money(amount, EUR)


# -- the payment record ----------------------------------------------------------------------


def payment(authorised: str = "100.00") -> Payment:
    return Payment("o1", EUR, Decimal(authorised), "auth-1", T0)


def test_captures_and_voids_share_what_was_authorised():
    pay = payment()
    pay.request(PaymentKind.CAPTURE, Decimal(60), T0, "s1")
    pay.request(PaymentKind.VOID, Decimal(30), T0, "cancelled")
    assert pay.capturable == Decimal(10)
    with pytest.raises(PaymentLimitExceeded, match=r"cannot capture 11 EUR; 10\.00 EUR is still"):
        pay.request(PaymentKind.CAPTURE, Decimal(11), T0, "s2")
    with pytest.raises(PaymentLimitExceeded, match="cannot void"):
        pay.request(PaymentKind.VOID, Decimal(11), T0, "x")
    assert len(pay.operations) == 2  # the refused ones wrote nothing


def test_refunds_are_bounded_by_captures_and_wait_for_them():
    pay = payment()
    cap = pay.request(PaymentKind.CAPTURE, Decimal(40), T0, "s1")
    ref = pay.request(PaymentKind.REFUND, Decimal(40), T0, "return")
    with pytest.raises(PaymentLimitExceeded, match="0 EUR is refundable"):
        pay.request(PaymentKind.REFUND, Decimal("0.01"), T0, "more")
    assert pay.ready(cap)
    assert not pay.ready(ref)  # the capture before it is still due
    pay.settle(cap.id, "cap-1", T0)
    assert pay.ready(ref)
    assert (pay.captured, pay.refunded) == (Decimal(40), Decimal(0))


def test_a_declined_capture_declines_the_refunds_that_relied_on_it():
    pay = payment()
    cap1 = pay.request(PaymentKind.CAPTURE, Decimal(30), T0, "s1")
    pay.settle(cap1.id, "cap-1", T0)
    cap2 = pay.request(PaymentKind.CAPTURE, Decimal(50), T0, "s2")
    ref1 = pay.request(PaymentKind.REFUND, Decimal(20), T0, "r1")
    ref2 = pay.request(PaymentKind.REFUND, Decimal(40), T0, "r2")
    declined = pay.decline(cap2.id, "authorisation expired", T0)
    # 30 captured: r1 (20) still fits, r2 (40) does not.
    assert [op.id for op in declined] == [cap2.id, ref2.id]
    assert ref1.status is OperationStatus.DUE
    assert "was declined" in (ref2.error or "")
    assert pay.refundable == Decimal(10)
    pay.check_invariants()


def test_an_operation_is_answered_once():
    pay = payment()
    op = pay.request(PaymentKind.CAPTURE, Decimal(1), T0, "s1")
    pay.note_failure(op.id, "timeout")
    assert (op.status, op.attempts, op.error) == (OperationStatus.DUE, 1, "timeout")
    pay.settle(op.id, "cap-1", T0)
    assert (op.attempts, op.error) == (2, None)
    with pytest.raises(IllegalTransition, match="already succeeded"):
        pay.settle(op.id, "cap-2", T0)
    with pytest.raises(IllegalTransition, match="no payment operation o1-P9"):
        pay.operation("o1-P9")


def test_a_zero_or_negative_request_is_refused():
    with pytest.raises(PaymentLimitExceeded, match="more than 0"):
        payment().request(PaymentKind.CAPTURE, Decimal(0), T0, "s1")


def test_check_invariants_catches_crossed_amounts():
    pay = payment("10.00")
    op = pay.request(PaymentKind.CAPTURE, Decimal(10), T0, "s1")
    op.amount = Decimal(11)  # corrupted behind the record's back
    with pytest.raises(InvariantViolation, match="captured"):
        pay.check_invariants()


def test_a_copy_is_independent():
    pay = payment()
    pay.request(PaymentKind.CAPTURE, Decimal(1), T0, "s1")
    copied = pay.copy()
    copied.settle("o1-P1", "cap-1", T0)
    assert pay.operations[0].status is OperationStatus.DUE


# -- the fake gateway ------------------------------------------------------------------------


def test_a_top_up_is_a_second_authorisation_drawn_on_after_the_first():
    pay = payment("10.00")
    pay.top_up("auth-2", Decimal(5), T0, "exchange o1-R1")
    assert (pay.authorised_total, pay.holds()) == (
        Decimal(15),
        [("auth-1", Decimal(10)), ("auth-2", Decimal(5))],
    )
    [first, second] = pay.ask(PaymentKind.CAPTURE, Decimal(12), T0, "s1")
    assert (first.amount, first.authorisation, second.amount, second.authorisation) == (
        Decimal(10),
        None,
        Decimal(2),
        "auth-2",
    )
    assert (pay.capturable_under("auth-1"), pay.capturable_under("auth-2")) == (0, Decimal(3))
    # Refunds give the newest authorisation's money back first.
    refunds = pay.ask(PaymentKind.REFUND, Decimal(4), T0, "returned")
    assert [(r.amount, r.authorisation) for r in refunds] == [(Decimal(2), "auth-2"), (2, None)]
    pay.check_invariants()


def test_one_request_fits_one_authorisation_or_is_refused():
    pay = payment("10.00")
    pay.top_up("auth-2", Decimal(5), T0, "exchange o1-R1")
    with pytest.raises(PaymentLimitExceeded, match="at once; one authorisation has at most 10"):
        pay.request(PaymentKind.CAPTURE, Decimal(12), T0, "s1")
    with pytest.raises(PaymentLimitExceeded, match=r"of authorisation auth-2; it has 5 EUR"):
        pay.request(PaymentKind.CAPTURE, Decimal(6), T0, "s1", under="auth-2")
    with pytest.raises(IllegalTransition, match="no authorisation auth-9"):
        pay.request(PaymentKind.CAPTURE, Decimal(1), T0, "s1", under="auth-9")
    with pytest.raises(IllegalTransition, match="already holds authorisation auth-2"):
        pay.top_up("auth-2", Decimal(1), T0, "again")
    with pytest.raises(PaymentLimitExceeded, match="more than 0"):
        pay.top_up("auth-3", Decimal(0), T0, "nothing")
    assert pay.operations == []
    op = pay.request(PaymentKind.CAPTURE, Decimal(5), T0, "exchange", under="auth-2")
    assert op.authorisation == "auth-2"


def test_a_declined_top_up_capture_declines_only_the_refunds_drawn_on_it():
    pay = payment("10.00")
    pay.top_up("auth-2", Decimal(5), T0, "exchange o1-R1")
    main = pay.request(PaymentKind.CAPTURE, Decimal(10), T0, "s1")
    extra = pay.request(PaymentKind.CAPTURE, Decimal(5), T0, "exchange", under="auth-2")
    pay.settle(main.id, "cap-1", T0)
    refund_main = pay.request(PaymentKind.REFUND, Decimal(3), T0, "r", under="auth-1")
    refund_extra = pay.request(PaymentKind.REFUND, Decimal(5), T0, "r", under="auth-2")
    assert pay.ready(refund_main)
    assert not pay.ready(refund_extra)
    declined = pay.decline(extra.id, "card expired", T0)
    assert [op.id for op in declined] == [extra.id, refund_extra.id]
    assert refund_main.status is OperationStatus.DUE
    pay.check_invariants()


def test_the_gateway_moves_money_once_per_key():
    gw = FakeGateway()
    auth = gw.authorise("o1", eur("10.00"), key="o1-A")
    assert gw.authorise("o1", eur("10.00"), key="o1-A") == auth
    with pytest.raises(PaymentDeclined, match="used for another request"):
        gw.authorise("o1", eur("11.00"), key="o1-A")
    gw.capture(auth, eur("4.00"), key="k1")
    gw.capture(auth, eur("4.00"), key="k1")
    assert gw.account(auth).captured == Decimal(4)
    assert [c[0] for c in gw.calls] == ["authorise", "capture"]


def test_the_gateway_keeps_a_gateways_rules():
    gw = FakeGateway()
    auth = gw.authorise("o1", eur("10.00"), key="o1-A")
    gw.void(auth, eur("3.00"), key="v")
    with pytest.raises(PaymentDeclined, match=r"7\.00 EUR is still authorised"):
        gw.capture(auth, eur("8.00"), key="k0")
    with pytest.raises(PaymentDeclined, match="is in EUR, not USD"):
        gw.capture(auth, Money("1.00", "USD"), key="k2")
    with pytest.raises(PaymentDeclined, match="no authorisation"):
        gw.capture("auth-9", eur("1.00"), key="k3")
    with pytest.raises(PaymentDeclined, match="must be positive"):
        gw.capture(auth, eur("0.00"), key="k4")


def test_the_gateway_fails_on_demand():
    gw = FakeGateway(
        decline=lambda _kind, order, _amount: "card declined" if order == "bad" else None
    )
    with pytest.raises(PaymentDeclined, match="card declined"):
        gw.authorise("bad", eur("1.00"), key="bad-A")
    gw.fail_next(1, "capture")
    auth = gw.authorise("good", eur("1.00"), key="good-A")  # not a capture: goes through
    with pytest.raises(PaymentUnavailable, match="timed out"):
        gw.capture(auth, eur("1.00"), key="k")
    gw.capture(auth, eur("1.00"), key="k")
    gw.down = True
    with pytest.raises(PaymentUnavailable, match="down"):
        gw.refund(auth, eur("1.00"), key="r")


# -- the Oms ---------------------------------------------------------------------------------


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def gateway():
    return FakeGateway()


@pytest.fixture
def notifier():
    return RecordingNotifier()


@pytest.fixture
def oms(clock, gateway, notifier):
    oms = Oms(clock=clock, payments=gateway, notifier=notifier)
    oms.add_location(Location("a", priority=1))
    oms.add_location(Location("b", priority=2))
    oms.receive("X", "a", 2)
    oms.receive("X", "b", 4)
    oms.receive("Y", "a", 5)
    return oms


def nothing_written(oms):
    return (oms.entries(), oms.orders(), [oms.stock(s, "a") for s in ("X", "Y")])


def place(oms, order_id="o1", lines=None, **kw):
    lines = lines or [("X", 3, eur("10.00")), ("Y", 1, eur("5.50"))]
    return oms.place_order(order_id, lines, **kw)


def ship_all(oms, order_id="o1"):
    shipments = []
    for fo in oms.fulfilment_orders(order_id):
        oms.accept(fo.id)
        shipments.append(oms.ship(fo.id))
    return shipments


def names(notifier):
    return [e.name for e in notifier.events if e.name.startswith("Payment")]


def test_placing_an_order_authorises_its_total(oms, gateway, notifier):
    order = place(oms)
    assert order.payment is not None
    assert (order.payment.authorised, order.payment.currency) == (Decimal("35.50"), EUR)
    assert gateway.account(order.payment.authorisation).authorised == Decimal("35.50")
    assert names(notifier) == ["PaymentAuthorised"]
    place(oms)  # placed again: nothing new at the gateway
    assert len(gateway.calls) == 1


def test_an_order_without_prices_has_no_payment(oms, gateway):
    assert oms.place_order("o1", [("X", 1)]).payment is None
    assert gateway.calls == []


def test_a_declined_authorisation_refuses_the_order_and_writes_nothing(clock):
    gw = FakeGateway(decline=lambda _kind, _order, _amount: "insufficient funds")
    oms = Oms(clock=clock, payments=gw)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    oms.receive("Y", "a", 5)
    before = nothing_written(oms)
    with pytest.raises(PaymentDeclined, match="insufficient funds"):
        place(oms)
    assert nothing_written(oms) == before
    oms.check_invariants()


def test_a_gateway_outage_at_placement_refuses_the_order(oms, gateway):
    before = nothing_written(oms)
    gateway.down = True
    with pytest.raises(PaymentUnavailable):
        place(oms)
    assert nothing_written(oms) == before
    gateway.down = False
    assert place(oms).payment is not None  # the same order, once the gateway is back


def test_an_order_refused_after_authorising_releases_the_hold(oms, gateway):
    before = nothing_written(oms)
    with pytest.raises(InsufficientStock):
        place(oms, lines=[("X", 99, eur("1.00"))], allow_partial=False)
    with pytest.raises(UnknownSku):
        place(oms, "o2", lines=[("NOPE", 1, eur("1.00"))])
    assert nothing_written(oms) == before
    accounts = list(gateway.accounts.values())
    assert [(a.authorised, a.voided) for a in accounts] == [
        (Decimal(99), Decimal(99)),
        (Decimal(1), Decimal(1)),
    ]


def test_each_shipment_captures_what_it_carries(oms, gateway, notifier):
    place(oms)  # X: 2 from a, 1 from b; Y: 1 from a
    fo_a, fo_b = oms.fulfilment_orders("o1")
    oms.accept(fo_a.id)
    oms.ship(fo_a.id, {1: 1})  # one X
    oms.ship(fo_a.id)  # the other X and the Y
    oms.accept(fo_b.id)
    oms.ship(fo_b.id)
    pay = oms.order("o1").payment
    assert [(op.kind, op.amount, op.status) for op in pay.operations] == [
        (PaymentKind.CAPTURE, Decimal("10.00"), OperationStatus.SUCCEEDED),
        (PaymentKind.CAPTURE, Decimal("15.50"), OperationStatus.SUCCEEDED),
        (PaymentKind.CAPTURE, Decimal("10.00"), OperationStatus.SUCCEEDED),
    ]
    assert gateway.account(pay.authorisation).captured == pay.captured == Decimal("35.50")
    assert names(notifier) == ["PaymentAuthorised"] + ["PaymentCaptured"] * 3
    assert pay.operations[0].reason == f"shipment {fo_a.id}-S1"


def test_cancelling_voids_what_will_never_ship(oms, gateway):
    place(oms)
    oms.cancel_lines("o1", {1: 2})
    order = oms.cancel_order("o1")
    pay = order.payment
    assert [(op.kind, op.amount) for op in pay.operations] == [
        (PaymentKind.VOID, Decimal("20.00")),
        (PaymentKind.VOID, Decimal("15.50")),
    ]
    assert pay.voided == Decimal("35.50")  # the returned order shows the settled state
    assert gateway.account(pay.authorisation).voided == Decimal("35.50")


def test_returning_units_refunds_them(oms, gateway):
    place(oms)
    for shipment in ship_all(oms):
        oms.deliver(shipment.id)
    order = oms.return_units("o1", 1, 2, location="a")
    assert order.payment.refunded == Decimal("20.00")
    assert gateway.account(order.payment.authorisation).refunded == Decimal("20.00")


def test_an_outage_leaves_captures_due_and_settle_payments_carries_them_out(oms, gateway, notifier):
    place(oms)
    gateway.down = True
    shipments = ship_all(oms)  # the parcels leave whatever the gateway does
    assert len(shipments) == 2
    pay = oms.order("o1").payment
    assert [op.status for op in pay.operations] == [OperationStatus.DUE] * 2
    assert "down" in pay.operations[0].error
    assert oms.settle_payments() == []  # still down: nothing answered
    gateway.down = False
    answered = oms.settle_payments()
    assert [op.status for op in answered] == [OperationStatus.SUCCEEDED] * 2
    assert oms.settle_payments() == []
    pay = oms.order("o1").payment
    assert gateway.account(pay.authorisation).captured == pay.captured == Decimal("35.50")
    assert [c[0] for c in gateway.calls].count("capture") == 2
    oms.check_invariants()


def test_a_declined_capture_is_reported(clock, notifier):
    gw = FakeGateway(decline=lambda kind, _order, _amount: "expired" if kind == "capture" else None)
    oms = Oms(clock=clock, payments=gw, notifier=notifier)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    oms.place_order("o1", [("X", 1, eur("3.00"))])
    ship_all(oms)
    op = oms.order("o1").payment.operations[0]
    assert (op.status, op.error) == (
        OperationStatus.DECLINED,
        "capture of 3.00 EUR for order o1 declined: expired",
    )
    assert names(notifier)[-1] == "PaymentOperationDeclined"
    assert oms.settle_payments() == []  # declined for good: never sent again


def test_a_refund_by_hand(oms, gateway, clock):
    place(oms)
    ship_all(oms)
    clock.advance(hours=1)
    op = oms.refund("o1", eur("5.00"), reason="late", idempotency_key="r1")
    again = oms.refund("o1", eur("5.00"), reason="late", idempotency_key="r1")
    assert op.id == again.id
    assert (op.status, op.reason, op.settled_at) == (OperationStatus.SUCCEEDED, "late", clock.now())
    pay = oms.order("o1").payment
    assert gateway.account(pay.authorisation).refunded == pay.refunded == Decimal(5)


def test_a_refund_beyond_what_was_captured_is_refused_and_writes_nothing(oms):
    place(oms)
    fo = oms.fulfilment_orders("o1")[1]  # b: one X, 10.00
    oms.accept(fo.id)
    oms.ship(fo.id)
    before = oms.order("o1")
    with pytest.raises(PaymentLimitExceeded, match=r"10\.00 EUR is refundable"):
        oms.refund("o1", eur("10.01"), reason="too much")
    with pytest.raises(InvalidMoney, match="paid in EUR, not USD"):
        oms.refund("o1", Money("1.00", "USD"), reason="wrong currency")
    with pytest.raises(InvalidMoney, match="a refund is Money"):
        oms.refund("o1", Decimal(1), reason="not money")
    assert oms.order("o1") == before


def test_refunding_an_order_without_payment_is_refused(oms):
    oms.place_order("o1", [("X", 1)])
    with pytest.raises(IllegalTransition, match="has no payment"):
        oms.refund("o1", eur("1.00"), reason="x")


def test_a_refund_waits_for_the_capture_it_refunds(oms, gateway):
    place(oms, lines=[("X", 1, eur("8.00"))])
    gateway.down = True
    ship_all(oms)
    op = oms.refund("o1", eur("8.00"), reason="damaged")  # the capture is still due
    assert op.status is OperationStatus.DUE
    gateway.down = False
    answered = oms.settle_payments("o1")
    assert [a.kind for a in answered] == [PaymentKind.CAPTURE, PaymentKind.REFUND]
    acct = gateway.account(oms.order("o1").payment.authorisation)
    assert (acct.captured, acct.refunded) == (Decimal(8), Decimal(8))


def test_payments_survive_a_durable_store(tmp_path, clock, gateway):
    oms = Oms.sqlite(tmp_path / "shop.db", clock=clock, payments=gateway)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    oms.place_order("o1", [("X", 2, eur("4.00"))])
    gateway.down = True
    ship_all(oms)
    oms.close()
    gateway.down = False
    reopened = Oms.sqlite(tmp_path / "shop.db", clock=clock, payments=gateway)
    assert [op.status for op in reopened.order("o1").payment.operations] == [OperationStatus.DUE]
    reopened.settle_payments()
    assert reopened.order("o1").payment.captured == Decimal(8)
    reopened.close()


# -- regressions found in review -------------------------------------------------------------


def test_a_refused_placement_can_be_retried_with_a_live_authorisation(oms, gateway):
    with pytest.raises(InsufficientStock):
        place(oms, lines=[("X", 9, eur("1.00"))], allow_partial=False)
    oms.receive("X", "a", 10)
    order = place(oms, lines=[("X", 9, eur("1.00"))], allow_partial=False)
    acct = gateway.account(order.payment.authorisation)
    assert (acct.authorised, acct.voided) == (Decimal(9), Decimal(0))
    ship_all(oms)
    assert gateway.account(order.payment.authorisation).captured == Decimal(9)
    with pytest.raises(UnknownSku):
        place(oms, "o2", lines=[("NOPE", 1, eur("1.00"))])
    assert place(oms, "o2", lines=[("Y", 2, eur("1.00"))]).payment is not None  # new total


def test_replacements_are_free_but_refunded_at_the_original_price(clock):
    gateway = FakeGateway()
    oms = Oms(clock=clock, payments=gateway)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 10)
    oms.place_order("o1", [("X", 2, eur("10.00"))])
    (parcel,) = ship_all(oms)
    oms.track(parcel.id, "lost")
    oms.resolve_lost(parcel.id, "reship")
    replacement = oms.fulfilment_orders("o1")[-1]
    oms.cancel_lines("o1", {2: 1})  # one replacement unit is not wanted after all
    pay = oms.order("o1").payment
    assert (pay.captured, pay.refunded) == (Decimal(20), Decimal(10))
    oms.accept(replacement.id)
    oms.deliver(oms.ship(replacement.id).id)
    order = oms.return_units("o1", 2, 1, location="a")
    assert (order.payment.captured, order.payment.refunded) == (Decimal(20), Decimal(20))
    assert order.status.value == "returned"
    oms.check_invariants()


def test_a_refund_is_tied_to_what_the_units_paid(clock):
    gateway = FakeGateway(
        decline=lambda kind, _order, _amount: (
            "expired" if kind == "capture" and gateway.calls[-1][0] == "capture" else None
        )
    )
    oms = Oms(clock=clock, payments=gateway)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 10)
    oms.place_order("o1", [("X", 2, eur("10.00"))])
    fo = oms.accept(oms.fulfilment_orders("o1")[0].id)
    first = oms.ship(fo.id, {1: 1})  # captured
    second = oms.ship(fo.id, {1: 1})  # capture declined: never paid
    assert [op.status for op in oms.order("o1").payment.operations] == [
        OperationStatus.SUCCEEDED,
        OperationStatus.DECLINED,
    ]
    oms.deliver(second.id)
    oms.track(first.id, "lost")
    order = oms.resolve_lost(first.id, "refund")
    # The customer paid 10 and keeps one unit worth 10: nothing to give back.
    assert order.payment.refunded == 0


def test_a_goodwill_refund_does_not_shrink_a_later_return(oms):
    place(oms, lines=[("X", 3, eur("10.00"))])
    for shipment in ship_all(oms):
        oms.deliver(shipment.id)
    oms.refund("o1", eur("5.00"), reason="late")
    order = oms.return_units("o1", 1, 1, location="a")
    assert order.payment.refunded == Decimal(15)


def test_settling_an_unknown_order_is_refused(oms):
    with pytest.raises(UnknownOrder):
        oms.settle_payments("nope")


def test_inside_a_hosts_transaction_no_money_moves_until_the_host_settles(tmp_path, clock):
    import sqlite3

    from omsims.adapters.sqlite import SqliteStore, migrate

    gateway = FakeGateway()
    conn = sqlite3.connect(tmp_path / "host.db", isolation_level=None)
    migrate(conn)
    oms = Oms(SqliteStore(connection=conn), clock=clock, payments=gateway)
    conn.execute("BEGIN")
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    oms.place_order("o1", [("X", 1, eur("3.00"))])
    oms.ship(oms.accept(oms.fulfilment_orders("o1")[0].id).id)
    assert [c[0] for c in gateway.calls] == ["authorise"]  # the capture waits for the host
    conn.execute("COMMIT")
    conn.execute("BEGIN")  # a transaction of its own, after the host's commit
    oms.settle_payments()
    conn.execute("COMMIT")
    assert [c[0] for c in gateway.calls] == ["authorise", "capture"]
    assert oms.order("o1").payment.captured == Decimal(3)
    oms.close()
