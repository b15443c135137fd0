"""Any interleaving of ship, deliver, return (by hand, or requested, inspected and maybe
exchanged, dearer or cheaper), refund and cancel, with gateway outages, keeps money and
units conserved, and the order's payment agrees with the gateway, authorisation by
authorisation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from omsims import (
    FakeGateway,
    Inspection,
    Location,
    ManualClock,
    Money,
    Oms,
    OperationStatus,
    PaymentKind,
)
from omsims.errors import PaymentLimitExceeded, PaymentUnavailable

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
SKUS = {"X": Money("10.00", "EUR"), "Y": Money("2.50", "EUR"), "Z": Money("0.99", "EUR")}


class PaymentsMachine(RuleBasedStateMachine):
    """An Oms with a fake gateway that goes down now and then."""

    @initialize()
    def setup(self) -> None:
        self.clock = ManualClock(T0)
        self.declining = False
        self.gateway = FakeGateway(
            decline=lambda kind, _order, _amount: (
                "expired" if self.declining and kind == "capture" else None
            )
        )
        self.oms = Oms(clock=self.clock, payments=self.gateway)
        for loc in ("a", "b"):
            self.oms.add_location(Location(loc))
            for sku in SKUS:
                self.oms.receive(sku, loc, 6)
        self.orders: list[str] = []
        self.refunded_by_hand: dict[str, Decimal] = {}

    def _snapshot(self, order_id: str) -> object:
        return (self.oms.order(order_id), self.oms.entries())

    @rule(
        lines=st.lists(
            st.tuples(st.sampled_from(sorted(SKUS)), st.integers(1, 4)), min_size=1, max_size=3
        )
    )
    def place(self, lines: list[tuple[str, int]]) -> None:
        order_id = f"o{len(self.orders) + 1}"
        entries = self.oms.entries()
        try:
            self.oms.place_order(order_id, [(sku, n, SKUS[sku]) for sku, n in lines])
        except PaymentUnavailable:  # down, or one of the failures asked for
            assert self.oms.entries() == entries  # refused: nothing written
            assert order_id not in {o.id for o in self.oms.orders()}
        else:
            self.orders.append(order_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def ship(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        fos = [fo for fo in self.oms.fulfilment_orders(order_id) if not fo.is_closed]
        if not fos:
            return
        fo = data.draw(st.sampled_from(fos))
        if fo.status.value == "open":
            self.oms.accept(fo.id)
            fo = self.oms.fulfilment_order(fo.id)
        ready = {fl.line: fl.ready for fl in fo.lines if fl.ready}
        if not ready or fo.status.value not in ("accepted", "partially_shipped"):
            return
        units = {n: data.draw(st.integers(1, r)) for n, r in ready.items()}
        self.oms.ship(fo.id, units)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        waiting = [s for s in self.oms.shipments(order_id) if not s.is_final]
        if waiting:
            self.oms.deliver(data.draw(st.sampled_from(waiting)).id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def give_back(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        order = self.oms.order(order_id)
        lines = [ln for ln in order.lines if order.returnable(ln.number) > 0]
        if lines:
            ln = data.draw(st.sampled_from(lines))
            units = data.draw(st.integers(1, order.returnable(ln.number)))
            self.oms.return_units(order_id, ln.number, units, location="a")

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def return_request(self, data: st.DataObject) -> None:
        picked = self._returnable(data)
        if picked is None:
            return
        order_id, line, units = picked
        swap = data.draw(st.none() | st.sampled_from(sorted(SKUS)))
        priced = data.draw(st.booleans())  # at its own price: maybe dearer than the return
        swapped = (swap, data.draw(st.integers(1, units)), SKUS[swap]) if swap and priced else None
        self._request(
            data, order_id, line, units, None if swap is None else swapped or (swap, units)
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), cents=st.integers(1, 2_000), more=st.integers(0, 2))
    def exchange_for_more(self, data: st.DataObject, cents: int, more: int) -> None:
        """Return units for as many or more units that cost more: the customer pays a balance."""
        picked = self._returnable(data)
        if picked is None:
            return
        order_id, line, units = picked
        price = self.oms.order(order_id).price_of(line)
        assert price is not None
        dearer = Money(price.amount + Decimal(cents) / 100, "EUR")
        self._request(data, order_id, line, units, ("X", units + more, dearer))

    def _returnable(self, data: st.DataObject) -> tuple[str, int, int] | None:
        order_id = data.draw(st.sampled_from(self.orders))
        order = self.oms.order(order_id)
        lines = [ln for ln in order.lines if order.returnable(ln.number) > 0]
        if not lines:
            return None
        ln = data.draw(st.sampled_from(lines))
        return order_id, ln.number, data.draw(st.integers(1, order.returnable(ln.number)))

    def _request(
        self, data: st.DataObject, order_id: str, line: int, units: int, swap: object
    ) -> None:
        before = self._snapshot(order_id)
        try:
            request = self.oms.request_return(
                order_id,
                {line: units},
                reason=data.draw(st.sampled_from(["too_small", "defective"])),
                exchange=None if swap is None else {line: swap},
            )
        except PaymentUnavailable:  # the balance of a dearer exchange could not be held
            assert self._snapshot(order_id) == before
            return
        if data.draw(st.booleans()):
            self.oms.cancel_return(request.id)
            return
        self.oms.approve_return(request.id)
        inspections = [
            Inspection(
                line,
                data.draw(st.sampled_from(["restock", "damaged", "refurbish", "scrap"])),
                refund=data.draw(st.sampled_from(["1", "0.5", "0"])),
            )
            for _ in range(data.draw(st.integers(1, units)))
        ]
        self.oms.receive_return(request.id, inspections)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def ship_and_deliver(self, data: st.DataObject) -> None:
        """Everything an order can ship, shipped and delivered: returns need delivered units."""
        order_id = data.draw(st.sampled_from(self.orders))
        for listed in self.oms.fulfilment_orders(order_id):
            fo = self.oms.accept(listed.id) if listed.status.value == "open" else listed
            ready = {fl.line: fl.ready for fl in fo.lines if fl.ready}
            if ready and fo.status.value in ("accepted", "partially_shipped"):
                self.oms.ship(fo.id, ready)
        for parcel in self.oms.shipments(order_id):
            if not parcel.is_final:
                self.oms.deliver(parcel.id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), cents=st.integers(1, 5_000))
    def refund(self, data: st.DataObject, cents: int) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        amount = Money(Decimal(cents) / 100, "EUR")
        before = self._snapshot(order_id)
        try:
            self.oms.refund(order_id, amount, reason="goodwill")
        except PaymentLimitExceeded:
            assert self._snapshot(order_id) == before  # refused: nothing written
        else:
            self.refunded_by_hand[order_id] = (
                self.refunded_by_hand.get(order_id, Decimal(0)) + amount.amount
            )

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        lines = [ln for ln in self.oms.order(order_id).lines if ln.cancellable]
        if lines:
            ln = data.draw(st.sampled_from(lines))
            self.oms.cancel_lines(order_id, {ln.number: data.draw(st.integers(1, ln.cancellable))})

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), action=st.sampled_from(["reship", "refund"]))
    def lose(self, data: st.DataObject, action: str) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        moving = [s for s in self.oms.shipments(order_id) if not s.is_final]
        if moving:
            parcel = data.draw(st.sampled_from(moving))
            self.oms.track(parcel.id, "lost")
            self.oms.resolve_lost(parcel.id, action)

    @rule(down=st.booleans(), declining=st.booleans(), failures=st.integers(0, 2))
    def gateway_state(self, down: bool, declining: bool, failures: int) -> None:
        self.gateway.down = down
        self.declining = declining
        self.gateway.fail_next(failures)

    @rule()
    def settle(self) -> None:
        self.oms.settle_payments()

    @invariant()
    def money_and_units_are_conserved(self) -> None:
        if not hasattr(self, "oms"):
            return
        self.oms.check_invariants()  # units in exactly one state; payment amounts ordered
        for order_id in self.orders:
            order = self.oms.order(order_id)
            pay = order.payment
            assert pay is not None
            value = {  # of the lines paid for at placement (replacements, exchanges are not)
                name: sum(
                    (
                        order.price_of(ln.number).amount * getattr(ln, name)
                        for ln in order.lines
                        if not ln.prepaid
                    ),
                    Decimal(0),
                )
                for name in ("quantity", "shipped", "cancelled")
            }
            given_back = sum(  # units returned, lost and refunded, prepaid units cancelled
                (
                    order.price_of(ln.number).amount
                    * (ln.returned + ln.lost_resolved + (ln.cancelled if ln.prepaid else 0))
                    for ln in order.lines
                ),
                Decimal(0),
            )
            assert pay.authorised == value["quantity"]
            asked = {  # captures and voids of placement's authorisation; every refund
                (kind, by_hand): sum(
                    (
                        op.amount
                        for op in pay.operations
                        if op.kind is kind
                        and op.by_hand is by_hand
                        and op.status is not OperationStatus.DECLINED
                        and (op.authorisation is None or kind is PaymentKind.REFUND)
                    ),
                    Decimal(0),
                )
                for kind in PaymentKind
                for by_hand in (False, True)
            }
            declined = sum(
                (
                    op.amount
                    for op in pay.operations
                    if op.kind is PaymentKind.CAPTURE
                    and op.status is OperationStatus.DECLINED
                    and op.authorisation is None
                ),
                Decimal(0),
            )
            assert asked[PaymentKind.CAPTURE, False] + declined == value["shipped"]
            assert asked[PaymentKind.VOID, False] == value["cancelled"]
            assert asked[PaymentKind.REFUND, False] <= given_back
            assert asked[PaymentKind.REFUND, True] <= self.refunded_by_hand.get(
                order_id, Decimal(0)
            )
            places = self.oms.timeline(order_id).units  # every unit in exactly one place
            for ln in order.lines:
                assert sum(u.units for u in places if u.line == ln.number) == ln.quantity
            for reference, held in pay.holds():
                acct = self.gateway.account(reference)
                assert acct.authorised == held
                assert (acct.captured, acct.voided, acct.refunded) == tuple(
                    sum(
                        (
                            op.amount
                            for op in pay.operations
                            if op.kind is kind
                            and op.status is OperationStatus.SUCCEEDED
                            and pay.under(op) == reference
                        ),
                        Decimal(0),
                    )
                    for kind in (PaymentKind.CAPTURE, PaymentKind.VOID, PaymentKind.REFUND)
                )
                assert acct.refunded <= acct.captured <= acct.authorised - acct.voided
            for request in order.returns:  # a balance is settled when its request closes
                if request.top_up is not None and not request.is_open:
                    settled = sum(  # captured or voided (a declined capture is voided)
                        (
                            op.amount
                            for op in pay.operations
                            if op.kind is not PaymentKind.REFUND
                            and op.status is not OperationStatus.DECLINED
                            and op.authorisation == request.top_up
                        ),
                        Decimal(0),
                    )
                    assert settled == dict(pay.holds())[request.top_up]


TestPayments = PaymentsMachine.TestCase
