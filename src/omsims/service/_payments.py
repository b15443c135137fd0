"""Payments: authorise at placement, capture per shipment, void on cancel, refund on return.

The gateway is called outside every store transaction. Authorising comes first, before
the order's transaction, so a declined card refuses the order and nothing is written.
Captures, voids and refunds are written as due operations inside the command that
causes them (a shipment, a cancellation, a return), and carried out at the gateway
right after it commits; an outage leaves them due, and :meth:`settle_payments` carries
them out later under the same idempotency keys.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import datetime
from decimal import Decimal

from omsims.domain.copies import deep_copy
from omsims.domain.events import (
    Event,
    PaymentCaptured,
    PaymentOperationDeclined,
    PaymentRefunded,
    PaymentVoided,
)
from omsims.domain.orders import Order
from omsims.domain.payments import OperationStatus, Payment, PaymentKind, PaymentOperation
from omsims.domain.values import Money
from omsims.errors import (
    IllegalTransition,
    InvalidIdentifier,
    InvalidMoney,
    PaymentDeclined,
)
from omsims.ports import UnitOfWork
from omsims.service._core import ServiceCore

__all__ = ["PaymentCommands"]

_EVENTS = {
    PaymentKind.CAPTURE: PaymentCaptured,
    PaymentKind.VOID: PaymentVoided,
    PaymentKind.REFUND: PaymentRefunded,
}
_ROUNDS = 3  # a refund waits for the capture before it: a second round sends it


class PaymentCommands(ServiceCore):
    """The payment side of the Oms: refunds by hand, and settling what is due."""

    def refund(
        self,
        order_id: str,
        amount: Money,
        *,
        reason: str,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> PaymentOperation:
        """Refund part of what an order paid (a goodwill gesture, a price adjustment).

        Refused with ``PaymentLimitExceeded`` beyond what was captured and not yet
        refunded under one authorisation (an order with a dearer exchange holds two:
        refund in parts); the refund is sent to the gateway at once, and stays due if
        it is down.

        >>> from omsims import Oms, Location, Money
        >>> from omsims.adapters.payments import FakeGateway
        >>> oms = Oms(payments=FakeGateway())
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> _ = oms.place_order("web-1001", [("TSHIRT-M", 2, Money("19.99", "EUR"))])
        >>> fo = oms.fulfilment_orders("web-1001")[0]
        >>> _ = oms.accept(fo.id)
        >>> _ = oms.ship(fo.id)
        >>> op = oms.refund("web-1001", Money("5.00", "EUR"), reason="late delivery")
        >>> op.status.value, str(oms.order("web-1001").payment.refunded)
        ('succeeded', '5.00')
        """
        when = self._now(at)
        if not isinstance(amount, Money):
            raise InvalidMoney(f"a refund is Money, got {amount!r}")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidIdentifier("a refund needs a reason")

        def body(uow: UnitOfWork) -> PaymentOperation:
            order = self._order_for_update(uow, order_id, when)
            payment = _payment_of(order)
            if amount.currency != payment.currency:
                raise InvalidMoney(
                    f"order {order.id} was paid in {payment.currency}, not {amount.currency}"
                )
            op = payment.request(PaymentKind.REFUND, amount.amount, when, reason, by_hand=True)
            uow.orders.save(order)
            return deep_copy(op)

        op = self._run("refund", (order_id, amount, reason, at), idempotency_key, body)
        self._settle_quietly(order_id)
        return self.payment_operation(order_id, op.id)

    def payment_operation(self, order_id: str, operation_id: str) -> PaymentOperation:
        """One capture, void or refund of an order's payment, as it stands now."""
        with self._read() as uow:
            return deep_copy(_payment_of(self._order(uow, order_id)).operation(operation_id))

    def settle_payments(self, order_id: str | None = None) -> list[PaymentOperation]:
        """Carry out due captures, voids and refunds at the gateway (one order's, or all).

        Run it after a gateway outage, or now and then from a worker: operations stay
        due until the gateway answers, and each goes under its own idempotency key, so
        running this twice, or in two processes at once, moves the money once.
        Returns the operations that got an answer (succeeded or declined).

        Runtime complexity: O(orders) to find due operations when ``order_id`` is None.
        """
        if order_id is not None:
            with self._read() as uow:
                self._order(uow, order_id)  # UnknownOrder for an order never placed
            return self._carry_out(order_id)
        with self._read() as uow:
            due = [o.id for o in uow.orders.list() if o.payment is not None and o.payment.due()]
        return [op for oid in due for op in self._carry_out(oid)]

    # -- for the other commands --------------------------------------------------------------

    def _authorise(self, order: Order) -> Payment | None:
        """Hold an order's total at the gateway before it is placed (``None``: no money)."""
        if self.payments is None:
            return None  # no gateway: not even the total is needed (a simulation's case)
        total = order.total
        if total is None or total.amount <= 0:
            return None
        with self._read() as uow:
            if uow.orders.get(order.id) is not None:
                return None  # placed before: place_order returns it or refuses the payload
        # A key of its own per attempt: an attempt that fails voids its hold, so a retry
        # must not be handed that dead hold back by the gateway's idempotency.
        key = f"{order.id}-A-{secrets.token_hex(6)}"
        reference = self.payments.authorise(order.id, total, key=key)
        return Payment(order.id, total.currency, total.amount, reference, order.placed_at)

    def _unauthorise(self, payment: Payment, placed: Order | None = None) -> None:
        """Release a hold no order uses: its placement failed, or another placed it first.

        Best effort: if the gateway cannot be told now, the unused hold expires there.
        """
        assert self.payments is not None  # noqa: S101 (only called after authorising)
        if placed is None:
            with self._read() as uow:
                placed = uow.orders.get(payment.order_id)
        if (
            placed is not None
            and placed.payment is not None
            and placed.payment.authorisation == payment.authorisation
        ):
            return  # the order holds this very authorisation
        with contextlib.suppress(Exception):
            self.payments.void(
                payment.authorisation,
                Money(payment.authorised, payment.currency),
                key=f"{payment.authorisation}-void",
            )

    @staticmethod
    def _capture_shipped(
        order: Order, parcel: dict[int, int], first: bool, at: datetime, reason: str
    ) -> list[PaymentOperation]:
        """After a shipment: capture what its units cost (and the shipping, if ``first``).

        Units paid for by others (replacements, exchanges) capture nothing.
        """
        payment = order.payment
        if payment is None:
            return []
        amount = _units_value(order, parcel)
        if first and order.shipping is not None:
            amount += order.shipping.amount
        # Only placement's authorisation holds the lines' money (a top-up is an exchange's).
        main = payment.authorisation
        amount = min(amount, payment.capturable_under(main))
        if amount <= 0:
            return []
        return [payment.request(PaymentKind.CAPTURE, amount, at, reason, under=main)]

    @staticmethod
    def _void_cancelled(
        order: Order, cancelled: dict[int, int], at: datetime
    ) -> list[PaymentOperation]:
        """After a cancellation: release what the cancelled units were authorised for.

        Units paid for by others (replacements, exchanges) were never authorised: their
        money comes back by refund. The shipping charge is released with the last unit,
        if nothing shipped.
        """
        payment = order.payment
        if payment is None:
            return []
        amount = _units_value(order, cancelled)
        if (
            order.shipping is not None
            and not any(ln.shipped for ln in order.lines)
            and all(ln.cancelled == ln.quantity for ln in order.lines)
        ):
            amount += order.shipping.amount
        main = payment.authorisation
        amount = min(amount, payment.capturable_under(main))
        if amount <= 0:
            return []
        return [payment.request(PaymentKind.VOID, amount, at, "units cancelled", under=main)]

    def _refund_excess(self, order: Order, at: datetime, reason: str) -> list[PaymentOperation]:
        """Refund what the customer paid beyond what they keep or will still get.

        After a return, a lost parcel refunded or a replacement cancelled. Tied to the
        units, not to the order's total: a parcel whose capture was declined was never
        paid, so returning another parcel's units refunds only what was paid for them.
        Refunds by hand (goodwill) do not count against the units' price, except that
        nothing beyond what was captured is ever refunded. Once the customer keeps no
        unit at all, the shipping charge comes back too, unless the refund policy
        says ``"never"``.
        """
        if (
            order.shipping is not None
            and self.refund_policy.refund_shipping != "never"
            and not any(ln.kept for ln in order.lines)
        ):
            order.shipping_refunded = True
        payment = order.payment
        if payment is None:
            return []
        owed = order.owed_value()
        excess = payment.paid_for_units - (Decimal(0) if owed is None else owed.amount)
        amount = min(excess, payment.refundable)  # refunds by hand may have given some back
        if amount <= 0:
            return []
        return payment.ask(PaymentKind.REFUND, amount, at, reason)

    def _settle_quietly(self, order_id: str) -> None:
        """Settle after a command committed: its result stands whatever the gateway does."""
        if self.payments is None or self._host_commits:
            # Inside a host's transaction nothing is final yet: the host settles after
            # its commit (settle_payments), so no money moves for a rolled-back command.
            return
        # Any failure here leaves the operations due, for settle_payments.
        with contextlib.suppress(Exception):
            self._carry_out(order_id)

    def _settled(self, order: Order) -> Order:
        """``order`` with its payment as the gateway left it (the command's own result else)."""
        if order.payment is None or not order.payment.operations:
            return order
        with self._read() as uow:
            now = uow.orders.get(order.id)
            if now is not None and now.payment is not None:
                order.payment = now.payment.copy()
        return order

    def _carry_out(self, order_id: str) -> list[PaymentOperation]:
        answered: list[PaymentOperation] = []
        if self.payments is None:
            return answered
        for _ in range(_ROUNDS):
            with self._read() as uow:
                order = uow.orders.get(order_id)
                payment = None if order is None else order.payment
                if payment is None:
                    return answered
                payment = payment.copy()
            ready = [op for op in payment.due() if payment.ready(op)]
            if not ready:
                break
            outcomes = [(op, *self._call_gateway(payment, op)) for op in ready]
            answered.extend(self._record(order_id, outcomes))
            if any(result == "failed" for _op, result, _text in outcomes):
                break  # the gateway is struggling: leave the rest for later
        return answered

    def _call_gateway(self, payment: Payment, op: PaymentOperation) -> tuple[str, str]:
        """Send one operation: ("settled", reference), ("declined", why) or ("failed", why)."""
        assert self.payments is not None  # noqa: S101
        amount = Money(op.amount, payment.currency)
        send = {
            PaymentKind.CAPTURE: self.payments.capture,
            PaymentKind.VOID: self.payments.void,
            PaymentKind.REFUND: self.payments.refund,
        }[op.kind]
        try:
            return "settled", send(payment.under(op), amount, key=op.id)
        except PaymentDeclined as exc:
            return "declined", str(exc)
        except Exception as exc:  # noqa: BLE001 (an outage of any kind: retried later)
            return "failed", f"{type(exc).__name__}: {exc}"

    def _record(
        self, order_id: str, outcomes: list[tuple[PaymentOperation, str, str]]
    ) -> list[PaymentOperation]:
        """Write the gateway's answers (skipping any another process wrote first)."""
        when = self.clock.now()

        def body(uow: UnitOfWork) -> list[PaymentOperation]:
            order = self._order_for_update(uow, order_id)
            payment = _payment_of(order)
            answered: list[PaymentOperation] = []
            for sent, result, text in outcomes:
                op = payment.operation(sent.id)
                if op.status is not OperationStatus.DUE:
                    continue
                if result == "failed":
                    payment.note_failure(op.id, text)
                    continue
                if result == "settled":
                    payment.settle(op.id, text, when)
                    settled: list[PaymentOperation] = [op]
                else:
                    settled = payment.decline(op.id, text, when)
                    _release_declined_top_up(payment, op, when)
                for done in settled:
                    self._emit(uow, _event(payment, done, when))
                    answered.append(deep_copy(done))
            uow.orders.save(order)
            return answered

        return self._run("record_payments", (order_id, when), None, body)


def _units_value(order: Order, units: dict[int, int]) -> Decimal:
    """What ``{line: units}`` were authorised for: lines paid for by others count 0."""
    amount = Decimal(0)
    for number, n in units.items():
        line = order.line(number)
        if line.unit_price is not None and not line.prepaid:
            amount += line.unit_price.amount * n
    return amount


def _release_declined_top_up(payment: Payment, op: PaymentOperation, at: datetime) -> None:
    """Void the rest of a top-up whose capture was declined.

    A top-up is captured once, when its return closes: nothing else would capture the
    rest, and an open hold would only block the customer's money.
    """
    if op.kind is not PaymentKind.CAPTURE or op.authorisation is None:
        return
    rest = payment.capturable_under(op.authorisation)
    if rest > 0:
        reason = f"the exchange's capture {op.id} was declined"
        payment.request(PaymentKind.VOID, rest, at, reason, under=op.authorisation)


def _payment_of(order: Order) -> Payment:
    if order.payment is None:
        raise IllegalTransition(f"order {order.id} has no payment (no gateway, or no prices)")
    return order.payment


def _event(payment: Payment, op: PaymentOperation, at: datetime) -> Event:
    amount = Money(op.amount, payment.currency)
    if op.status is OperationStatus.DECLINED:
        return PaymentOperationDeclined(
            at, payment.order_id, op.id, op.kind.value, amount, op.error or ""
        )
    return _EVENTS[op.kind](at, payment.order_id, op.id, amount, op.reference or "", op.reason)
