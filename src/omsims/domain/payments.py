"""An order's payment: what was authorised, captured, voided and refunded, exactly.

The money moves at a payment gateway (the ``PaymentGateway`` port); this record is the
order's own account of it. Placing an order authorises its total; each shipment asks to
capture what it carries; cancelling asks to void what will never ship; a return asks to
refund what came back. An ask is an *operation*: it is written with the command that
made it, as ``DUE``, and then carried out at the gateway under its id as the
idempotency key, so a retry after a crash or an outage never moves the money twice::

    DUE ──gateway accepts──▶ SUCCEEDED
     │
     └──gateway declines──▶ DECLINED          (an outage leaves it DUE, to retry)

Amounts never cross, counting every operation not declined, for the payment and for
each authorisation in it::

    refunded <= captured <= authorised - voided

An order starts with one authorisation, its total at placement. A dearer exchange adds
another (a *top-up*, :class:`Authorisation`) for the balance the customer pays; every
operation names the authorisation it draws on, because a gateway captures, voids and
refunds against one authorisation at a time.

>>> from datetime import datetime, UTC
>>> from decimal import Decimal
>>> at = datetime(2026, 3, 1, tzinfo=UTC)
>>> pay = Payment("web-1001", "EUR", Decimal("59.97"), "auth-1", at)
>>> op = pay.request(PaymentKind.CAPTURE, Decimal("19.99"), at, "shipment web-1001-F1-S1")
>>> pay.settle(op.id, "cap-1", at)
>>> pay.captured, pay.capturable
(Decimal('19.99'), Decimal('39.98'))
>>> pay.request(PaymentKind.REFUND, Decimal("25.00"), at, "goodwill")
Traceback (most recent call last):
...
omsims.errors.PaymentLimitExceeded: order web-1001: cannot refund 25.00 EUR; 19.99 EUR is refundable
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import attrs

from omsims.domain.copies import deep_copy
from omsims.errors import IllegalTransition, InvariantViolation, PaymentLimitExceeded

__all__ = ["Authorisation", "OperationStatus", "Payment", "PaymentKind", "PaymentOperation"]


class PaymentKind(enum.Enum):
    """What an operation does with the authorised money."""

    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class OperationStatus(enum.Enum):
    """Where an operation stands at the gateway."""

    DUE = "due"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"


@attrs.define
class PaymentOperation:
    """One capture, void or refund of an order's payment.

    ``id`` (``<order id>-P<n>``) is the idempotency key it is sent to the gateway under.
    """

    id: str
    kind: PaymentKind
    amount: Decimal
    requested_at: datetime
    reason: str
    status: OperationStatus = OperationStatus.DUE
    reference: str | None = None
    """The gateway's id for it, once it succeeded."""
    settled_at: datetime | None = None
    attempts: int = 0
    error: str | None = None
    """Why the last attempt failed (an outage or a decline), if it did."""
    by_hand: bool = False
    """Asked for by a person (a goodwill refund), not for units shipped or given back."""
    authorisation: str | None = None
    """The top-up authorisation it draws on; ``None``: the order's own, from placement."""


@attrs.frozen
class Authorisation:
    """A further hold on the customer's money: the balance of a dearer exchange."""

    reference: str
    """The gateway's id for it."""
    amount: Decimal
    at: datetime
    reason: str


@attrs.define
class Payment:
    """The payment of one order, in one currency."""

    order_id: str
    currency: str
    authorised: Decimal
    authorisation: str
    """The gateway's id for the authorisation; captures, voids and refunds name it."""
    authorised_at: datetime
    operations: list[PaymentOperation] = attrs.Factory(list)
    top_ups: list[Authorisation] = attrs.Factory(list)
    """Authorisations added after placement (dearer exchanges), oldest first."""

    def copy(self) -> Payment:
        """An independent copy (changing it leaves this payment alone)."""
        return deep_copy(self)

    def holds(self) -> list[tuple[str, Decimal]]:
        """Every authorisation as ``(gateway id, amount)``: placement's first, then top-ups."""
        return [(self.authorisation, self.authorised)] + [
            (t.reference, t.amount) for t in self.top_ups
        ]

    def under(self, op: PaymentOperation) -> str:
        """The gateway id of the authorisation ``op`` draws on."""
        return op.authorisation or self.authorisation

    # -- amounts ---------------------------------------------------------------------------

    def _total(
        self,
        kind: PaymentKind,
        *,
        settled_only: bool = False,
        by_hand: bool | None = None,
        under: str | None = None,
    ) -> Decimal:
        wanted = (
            (OperationStatus.SUCCEEDED,)
            if settled_only
            else (OperationStatus.SUCCEEDED, OperationStatus.DUE)
        )
        return sum(
            (
                op.amount
                for op in self.operations
                if op.kind is kind
                and op.status in wanted
                and (by_hand is None or op.by_hand is by_hand)
                and (under is None or self.under(op) == under)
            ),
            Decimal(0),
        )

    @property
    def captured(self) -> Decimal:
        """Captured at the gateway (operations that succeeded)."""
        return self._total(PaymentKind.CAPTURE, settled_only=True)

    @property
    def voided(self) -> Decimal:
        """Released at the gateway (operations that succeeded)."""
        return self._total(PaymentKind.VOID, settled_only=True)

    @property
    def refunded(self) -> Decimal:
        """Refunded at the gateway (operations that succeeded)."""
        return self._total(PaymentKind.REFUND, settled_only=True)

    @property
    def authorised_total(self) -> Decimal:
        """Every authorisation: placement's and the top-ups."""
        return self.authorised + sum((t.amount for t in self.top_ups), Decimal(0))

    @property
    def capturable(self) -> Decimal:
        """What may still be captured or voided: authorised less every capture and void asked."""
        return (
            self.authorised_total - self._total(PaymentKind.CAPTURE) - self._total(PaymentKind.VOID)
        )

    @property
    def refundable(self) -> Decimal:
        """What may still be refunded: every capture asked less every refund asked."""
        return self._total(PaymentKind.CAPTURE) - self._total(PaymentKind.REFUND)

    def capturable_under(self, reference: str) -> Decimal:
        """What may still be captured or voided of one authorisation."""
        held = dict(self.holds())[reference]
        return (
            held
            - self._total(PaymentKind.CAPTURE, under=reference)
            - self._total(PaymentKind.VOID, under=reference)
        )

    def refundable_under(self, reference: str) -> Decimal:
        """What may still be refunded of what was captured under one authorisation."""
        return self._total(PaymentKind.CAPTURE, under=reference) - self._total(
            PaymentKind.REFUND, under=reference
        )

    @property
    def paid_for_units(self) -> Decimal:
        """Every capture asked less every refund asked for units (not refunds by hand)."""
        return self._total(PaymentKind.CAPTURE) - self._total(PaymentKind.REFUND, by_hand=False)

    def due(self) -> list[PaymentOperation]:
        """Operations still to carry out, oldest first."""
        return [op for op in self.operations if op.status is OperationStatus.DUE]

    # -- changes ---------------------------------------------------------------------------

    def request(
        self,
        kind: PaymentKind,
        amount: Decimal,
        at: datetime,
        reason: str,
        *,
        by_hand: bool = False,
        under: str | None = None,
    ) -> PaymentOperation:
        """Ask for a capture, void or refund; ``PaymentLimitExceeded`` if it is too much.

        One operation, on one authorisation: ``under`` if given, else the oldest with
        room for all of it (for a refund, the newest: a top-up's balance goes back
        before the placement's money). An amount no single authorisation has room for
        is refused; ask in parts.
        """
        self._check_limit(kind, amount)
        if under is not None:
            if under not in dict(self.holds()):
                raise IllegalTransition(f"order {self.order_id} has no authorisation {under}")
            if amount > self._room(kind, under):
                raise PaymentLimitExceeded(
                    f"order {self.order_id}: cannot {kind.value} {amount} {self.currency} of "
                    f"authorisation {under}; it has {self._room(kind, under)} {self.currency}"
                )
            return self._add(kind, amount, at, reason, under, by_hand=by_hand)
        for reference in self._drawing_order(kind):
            if amount <= self._room(kind, reference):
                return self._add(kind, amount, at, reason, reference, by_hand=by_hand)
        most = max(self._room(kind, reference) for reference in self._drawing_order(kind))
        raise PaymentLimitExceeded(
            f"order {self.order_id}: cannot {kind.value} {amount} {self.currency} at once; "
            f"one authorisation has at most {most} {self.currency}: ask in parts"
        )

    def ask(
        self, kind: PaymentKind, amount: Decimal, at: datetime, reason: str
    ) -> list[PaymentOperation]:
        """Like :meth:`request`, split over the authorisations when one has not room enough."""
        self._check_limit(kind, amount)
        ops: list[PaymentOperation] = []
        left = amount
        for reference in self._drawing_order(kind):
            part = min(left, self._room(kind, reference))
            if part > 0:
                ops.append(self._add(kind, part, at, reason, reference))
                left -= part
        return ops

    def top_up(self, reference: str, amount: Decimal, at: datetime, reason: str) -> Authorisation:
        """Record a further authorisation the gateway granted (a dearer exchange's balance)."""
        if amount <= 0:
            raise PaymentLimitExceeded(
                f"order {self.order_id}: a top-up must be more than 0, not {amount}"
            )
        if any(ref == reference for ref, _amount in self.holds()):
            raise IllegalTransition(
                f"order {self.order_id} already holds authorisation {reference}"
            )
        added = Authorisation(reference, amount, at, reason)
        self.top_ups.append(added)
        return added

    def _check_limit(self, kind: PaymentKind, amount: Decimal) -> None:
        if amount <= 0:
            raise PaymentLimitExceeded(
                f"order {self.order_id}: a {kind.value} must be more than 0, not {amount}"
            )
        limit = self.refundable if kind is PaymentKind.REFUND else self.capturable
        if amount > limit:
            what = "refundable" if kind is PaymentKind.REFUND else "still authorised"
            raise PaymentLimitExceeded(
                f"order {self.order_id}: cannot {kind.value} {amount} {self.currency}; "
                f"{limit} {self.currency} is {what}"
            )

    def _drawing_order(self, kind: PaymentKind) -> list[str]:
        references = [reference for reference, _amount in self.holds()]
        return references[::-1] if kind is PaymentKind.REFUND else references

    def _room(self, kind: PaymentKind, reference: str) -> Decimal:
        if kind is PaymentKind.REFUND:
            return self.refundable_under(reference)
        return self.capturable_under(reference)

    def _add(
        self,
        kind: PaymentKind,
        amount: Decimal,
        at: datetime,
        reason: str,
        reference: str,
        *,
        by_hand: bool = False,
    ) -> PaymentOperation:
        op = PaymentOperation(
            f"{self.order_id}-P{len(self.operations) + 1}",
            kind,
            amount,
            at,
            reason,
            by_hand=by_hand,
            authorisation=None if reference == self.authorisation else reference,
        )
        self.operations.append(op)
        return op

    def operation(self, operation_id: str) -> PaymentOperation:
        """The operation with this id (``IllegalTransition`` if there is none)."""
        for op in self.operations:
            if op.id == operation_id:
                return op
        raise IllegalTransition(f"order {self.order_id} has no payment operation {operation_id}")

    def ready(self, op: PaymentOperation) -> bool:
        """Whether ``op`` may go to the gateway now.

        A refund waits for the captures asked before it: it may only give back what
        the gateway already holds.
        """
        if op.status is not OperationStatus.DUE:
            return False
        if op.kind is not PaymentKind.REFUND:
            return True
        earlier = self.operations[: self.operations.index(op)]
        return not any(
            o.kind is PaymentKind.CAPTURE
            and o.status is OperationStatus.DUE
            and self.under(o) == self.under(op)
            for o in earlier
        )

    def settle(self, operation_id: str, reference: str, at: datetime) -> None:
        """The gateway carried the operation out."""
        op = self._due(operation_id)
        op.status, op.reference, op.settled_at = OperationStatus.SUCCEEDED, reference, at
        op.attempts += 1
        op.error = None

    def decline(self, operation_id: str, error: str, at: datetime) -> list[PaymentOperation]:
        """The gateway refused the operation for good; returns every operation declined.

        A declined capture takes back what it would have captured, so refunds asked on
        the strength of it (under the same authorisation) are declined too, newest
        first, until the refunds fit again.
        """
        op = self._due(operation_id)
        op.status, op.settled_at, op.error = OperationStatus.DECLINED, at, error
        op.attempts += 1
        declined = [op]
        reference = self.under(op)
        for later in reversed(self.operations):
            if self.refundable_under(reference) >= 0:
                break
            if (
                later.kind is PaymentKind.REFUND
                and later.status is OperationStatus.DUE
                and self.under(later) == reference
            ):
                later.status, later.settled_at = OperationStatus.DECLINED, at
                later.error = f"the capture it depended on ({op.id}) was declined"
                declined.append(later)
        return declined

    def note_failure(self, operation_id: str, error: str) -> None:
        """An attempt failed without an answer (the gateway was down): it stays due."""
        op = self._due(operation_id)
        op.attempts += 1
        op.error = error

    def _due(self, operation_id: str) -> PaymentOperation:
        op = self.operation(operation_id)
        if op.status is not OperationStatus.DUE:
            raise IllegalTransition(
                f"payment operation {operation_id} of order {self.order_id} is already "
                f"{op.status.value}"
            )
        return op

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` unless refunded <= captured <= authorised - voided.

        Checked for the whole payment and for each authorisation, for what settled and
        for everything asked (due or settled).
        """
        settled_ok = 0 <= self.refunded <= self.captured <= self.authorised_total - self.voided
        if not settled_ok or self.capturable < 0 or self.refundable < 0:
            raise InvariantViolation(
                f"payment of order {self.order_id}: authorised {self.authorised_total}, "
                f"captured {self.captured}, voided {self.voided}, refunded {self.refunded}, "
                f"capturable {self.capturable}, refundable {self.refundable}"
            )
        for reference, held in self.holds():
            captured = self._total(PaymentKind.CAPTURE, settled_only=True, under=reference)
            voided = self._total(PaymentKind.VOID, settled_only=True, under=reference)
            refunded = self._total(PaymentKind.REFUND, settled_only=True, under=reference)
            room = (self.capturable_under(reference), self.refundable_under(reference))
            if not 0 <= refunded <= captured <= held - voided or min(room) < 0:
                raise InvariantViolation(
                    f"payment of order {self.order_id}, authorisation {reference}: "
                    f"authorised {held}, captured {captured}, voided {voided}, "
                    f"refunded {refunded}"
                )
