"""Returns: a customer sends delivered units back, by mail or at a store.

Lifecycle of a return request::

    REQUESTED ──approve──▶ APPROVED ──receive──▶ REFUNDED   (or EXCHANGED)
        │                     │
        ├──reject──▶ REJECTED │
        └──cancel──▶ CANCELLED ◀┘    (a store return may be received straight from REQUESTED)

On receipt every unit is inspected, and its *disposition* decides where it lands in the
ledger: ``restock`` (sellable again), ``damaged`` (unavailable, the reason kept),
``refurbish`` (unavailable, sent on to a refurbishment centre) or ``scrap`` (written
off). What is refunded follows from the inspection and the shop's :class:`RefundPolicy`:
each unit its price times the share the inspector allows, less the return label's fee
where the customer pays for it, plus the original shipping charge where the policy
refunds it.

A request lives on its order (``Order.returns``), and its id is ``<order id>-R<n>``.

>>> from datetime import datetime, UTC
>>> at = datetime(2026, 3, 5, tzinfo=UTC)
>>> request = ReturnRequest(
...     "web-1001-R1", "web-1001", (ReturnLine(1, "TSHIRT-M", 1),), "too small",
...     ReturnMethod.MAIL, at, "returns-centre",
... )
>>> request.approve(at)
>>> request.status
<ReturnStatus.APPROVED: 'approved'>
>>> request.reject("too late", at)
Traceback (most recent call last):
...
omsims.errors.IllegalTransition: cannot reject return web-1001-R1: it is approved
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

import attrs

from omsims.domain.copies import deep_copy
from omsims.domain.values import LocationId, Money, Sku, as_sku, quantity
from omsims.errors import IllegalTransition, InvalidIdentifier, InvalidMoney, InvalidOrder

__all__ = [
    "Disposition",
    "ExchangeLine",
    "Inspection",
    "RefundPolicy",
    "ReturnLine",
    "ReturnMethod",
    "ReturnRequest",
    "ReturnStatus",
    "parse_return_id",
]

MAX_REASON: Final = 500
MAX_NOTE: Final = 400
"""An inspection note's limit: it becomes a ledger reason, with a prefix, within 500."""


class ReturnMethod(enum.Enum):
    """How the parcel comes back."""

    MAIL = "mail"
    """By carrier, with a return label."""
    STORE = "store"
    """Handed in at a store (buy online, return in store)."""


class ReturnStatus(enum.Enum):
    """Where a return request stands."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    """Received and inspected; what is due was refunded (perhaps nothing)."""
    EXCHANGED = "exchanged"
    """Received and inspected; replacement units were sent in exchange."""


class Disposition(enum.Enum):
    """What happens to a returned unit after inspection; each is a ledger posting."""

    RESTOCK = "restock"
    """Back to sale at the receiving location."""
    DAMAGED = "damaged"
    """Kept at the receiving location, unavailable, with the inspector's note as reason."""
    REFURBISH = "refurbish"
    """Unavailable, and sent to a refurbishment centre (a transfer) unless received there."""
    SCRAP = "scrap"
    """Written off."""


def _reason(value: object, what: str = "reason") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_REASON:
        raise InvalidIdentifier(
            f"a return's {what} is a non-empty string of up to {MAX_REASON} characters, "
            f"got {value!r}"
        )
    return value


def _share(value: object) -> Decimal:
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise InvalidMoney(
            f"a refund share is a Decimal, int or decimal string from 0 to 1, got {value!r}"
        )
    try:
        share = Decimal(value)
    except ArithmeticError as exc:
        raise InvalidMoney(f"a refund share must be a number from 0 to 1, got {value!r}") from exc
    if not share.is_finite() or not 0 <= share <= 1:
        raise InvalidMoney(f"a refund share must be from 0 to 1, got {value!r}")
    return share


def _disposition(value: object) -> Disposition:
    if isinstance(value, Disposition):
        return value
    try:
        return Disposition(value)
    except ValueError:
        names = ", ".join(d.value for d in Disposition)
        raise InvalidIdentifier(f"unknown disposition {value!r}; one of: {names}") from None


def _note(value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > MAX_NOTE):
        raise InvalidIdentifier(
            f"an inspection note is a string of up to {MAX_NOTE} characters, got {value!r}"
        )
    return None if value is None else _reason(value, "inspection note")


def _inspected_units(value: object) -> int:
    return quantity(value, "inspected units")


def _line_number(value: object) -> int:
    if type(value) is not int or value < 1:
        raise InvalidOrder(f"an order line number is a positive int, got {value!r}")
    return value


@attrs.frozen
class Inspection:
    """What the inspector found for ``units`` returned units of order line ``line``.

    ``refund`` is the share of the unit price given back (1: all of it; 0.5 for a unit
    the customer wore; 0: nothing); the refund policy's fee, if any, comes off the rest.

    >>> Inspection(1, "damaged", note="torn seam", refund="0.5")
    Inspection(line=1, disposition=<Disposition.DAMAGED: 'damaged'>, units=1, ...)
    >>> Inspection(1, "lost in the post")
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidIdentifier: unknown disposition 'lost in the post'; one of: ...
    """

    line: int = attrs.field(converter=_line_number)
    disposition: Disposition = attrs.field(converter=_disposition)
    units: int = attrs.field(default=1, converter=_inspected_units)
    note: str | None = attrs.field(default=None, converter=_note)
    refund: Decimal = attrs.field(default=Decimal(1), converter=_share)


@attrs.frozen
class ReturnLine:
    """Units of one order line the customer asked to return."""

    line: int
    sku: Sku
    units: int


@attrs.frozen
class ExchangeLine:
    """Units sent instead of returned ones: ``units`` of ``sku`` for order line ``line``.

    ``unit_price`` ``None`` means the returned line's price (a size swap).
    """

    line: int
    sku: Sku
    units: int
    unit_price: Money | None = None


@attrs.frozen
class RefundPolicy:
    """How much of a return is refunded, beyond the units' price.

    - ``refund_shipping``: the order's shipping charge comes back ``"never"``,
      ``"always"`` (with the first return received) or ``"when_all_returned"``
      (once every unit the customer kept has come back; the default, as EU law
      requires for a full withdrawal).
    - ``return_label_fee``: what a mail return costs the customer, taken from its refund
      (never more than the refund), unless the reason is one of ``free_reasons``:
      a defect or a wrong item is the shop's fault, and its return is free. The fee
      applies to orders paid in its currency.

    >>> policy = RefundPolicy(return_label_fee=Money("3.95", "EUR"))
    >>> policy.fee_for("too small", ReturnMethod.MAIL, "EUR")
    Decimal('3.95')
    >>> policy.fee_for("defective", ReturnMethod.MAIL, "EUR")
    Decimal('0')
    """

    refund_shipping: str = attrs.field(default="when_all_returned")
    return_label_fee: Money | None = attrs.field(default=None)
    free_reasons: frozenset[str] = attrs.field(
        default=frozenset({"defective", "damaged", "wrong_item"}), converter=frozenset
    )

    @refund_shipping.validator
    def _check_shipping(self, _attribute: object, value: object) -> None:
        if value not in ("never", "always", "when_all_returned"):
            raise InvalidIdentifier(
                f"refund_shipping is 'never', 'always' or 'when_all_returned', got {value!r}"
            )

    @return_label_fee.validator
    def _check_fee(self, _attribute: object, value: object) -> None:
        if value is not None and (not isinstance(value, Money) or value.amount < 0):
            raise InvalidMoney(f"return_label_fee is Money, not negative, got {value!r}")

    def fee_for(self, reason: str, method: ReturnMethod, currency: str) -> Decimal:
        """What the customer pays towards a return's label (0 at a store, or if free)."""
        fee = self.return_label_fee
        if (
            fee is None
            or method is not ReturnMethod.MAIL
            or reason in self.free_reasons
            or fee.currency != currency
        ):
            return Decimal(0)
        return fee.amount


@attrs.define
class ReturnRequest:
    """A customer's request to send units of an order back, and what became of it."""

    id: str
    order_id: str
    lines: tuple[ReturnLine, ...]
    reason: str
    method: ReturnMethod
    requested_at: datetime
    location: LocationId
    """Where the parcel goes, as the return-routing strategy decided."""
    status: ReturnStatus = ReturnStatus.REQUESTED
    exchange: tuple[ExchangeLine, ...] = ()
    """For an exchange: what to send instead of the returned units."""
    label: str | None = None
    """For a mail return: the carrier's label reference, when omsims bought it."""
    tracking: str | None = None
    carrier: str | None = None
    label_cost: Money | None = None
    decided_reason: str | None = None
    """Why it was rejected or cancelled."""
    received_at: datetime | None = None
    inspections: tuple[Inspection, ...] = ()
    withheld: Decimal = Decimal(0)
    """Of the received units' price: what the shop keeps (shares not refunded, the fee)."""
    exchange_lines: tuple[int, ...] = ()
    """The order lines added to send the exchanged units."""
    top_up: str | None = None
    """For an exchange dearer than the returned units: the gateway's id for the
    authorisation of the balance (captured when the units arrive, voided otherwise)."""
    history: list[tuple[datetime, str]] = attrs.Factory(list)

    @property
    def is_open(self) -> bool:
        """Requested or approved: its units are on their way back (or may be)."""
        return self.status in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)

    def asked(self, line: int) -> int:
        """Units of order line ``line`` this request asks to return."""
        return sum(ln.units for ln in self.lines if ln.line == line)

    def _refuse(self, action: str) -> IllegalTransition:
        return IllegalTransition(f"cannot {action} return {self.id}: it is {self.status.value}")

    def approve(self, at: datetime) -> None:
        """REQUESTED -> APPROVED."""
        if self.status is not ReturnStatus.REQUESTED:
            raise self._refuse("approve")
        self.status = ReturnStatus.APPROVED
        self.history.append((at, "approved"))

    def reject(self, reason: str, at: datetime) -> None:
        """REQUESTED -> REJECTED: the shop will not take the units back."""
        if self.status is not ReturnStatus.REQUESTED:
            raise self._refuse("reject")
        self.status = ReturnStatus.REJECTED
        self.decided_reason = _reason(reason)
        self.history.append((at, f"rejected: {reason}"))

    def cancel(self, reason: str, at: datetime) -> None:
        """REQUESTED or APPROVED -> CANCELLED: the customer keeps the units after all."""
        if not self.is_open:
            raise self._refuse("cancel")
        self.status = ReturnStatus.CANCELLED
        self.decided_reason = _reason(reason)
        self.history.append((at, f"cancelled: {reason}"))

    def check_receive(self, inspections: Sequence[Inspection]) -> dict[int, int]:
        """Raise unless ``inspections`` fit the request; the units received per line.

        Approved requests may be received; so may a store return still requested
        (the customer is at the counter). Every inspected unit must be one asked for;
        fewer may arrive than were asked (the rest are not refunded).
        """
        can = self.status is ReturnStatus.APPROVED or (
            self.status is ReturnStatus.REQUESTED and self.method is ReturnMethod.STORE
        )
        if not can:
            raise self._refuse("receive")
        if not inspections:
            raise InvalidOrder(f"receiving return {self.id} needs an inspection per unit")
        got: dict[int, int] = {}
        for ins in inspections:
            if not isinstance(ins, Inspection):
                raise InvalidOrder(f"inspections are Inspection values, got {ins!r}")
            got[ins.line] = got.get(ins.line, 0) + ins.units
        for number, units in got.items():
            if units > self.asked(number):
                raise IllegalTransition(
                    f"return {self.id} asks for {self.asked(number)} units of line {number}; "
                    f"{units} were inspected"
                )
        return got

    def receive(
        self,
        inspections: Sequence[Inspection],
        withheld: Decimal,
        at: datetime,
        exchange_lines: tuple[int, ...] = (),
    ) -> None:
        """Record the inspection; EXCHANGED when units go out instead, else REFUNDED."""
        self.check_receive(inspections)
        self.inspections = tuple(inspections)
        self.withheld = withheld
        self.received_at = at
        self.exchange_lines = exchange_lines
        self.status = ReturnStatus.EXCHANGED if exchange_lines else ReturnStatus.REFUNDED
        units = sum(i.units for i in inspections)
        self.history.append((at, f"received {units} units at {self.location}"))

    def copy(self) -> ReturnRequest:
        """An independent copy."""
        return deep_copy(self)


def parse_return_id(return_id: str) -> str:
    """The order id inside a return id (``<order id>-R<n>``).

    >>> parse_return_id("web-1001-R2")
    'web-1001'
    """
    order_id, sep, n = return_id.rpartition("-R")
    if not sep or not order_id or not n.isdigit():
        raise InvalidIdentifier(f"{return_id!r} is not a return id (<order id>-R<n>)")
    return order_id


def requested_lines(
    order_id: str, lines: Mapping[int, int], skus: Mapping[int, Sku]
) -> tuple[ReturnLine, ...]:
    """Validate ``{order line: units}`` into return lines (``skus``: each line's SKU)."""
    if not isinstance(lines, Mapping) or not lines:
        raise InvalidOrder(f"a return names {{order line: units}}, got {lines!r}")
    out = []
    for number, units in sorted(lines.items(), key=lambda kv: repr(kv[0])):
        if number not in skus:
            raise InvalidOrder(f"order {order_id} has no line {number!r}")
        out.append(ReturnLine(number, skus[number], quantity(units, f"units of line {number}")))
    return tuple(out)


def as_exchange(raw: object) -> tuple[ExchangeLine, ...]:
    """Validate ``{returned order line: (sku, units[, unit_price])}`` into exchange lines."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidOrder(f"an exchange is {{order line: (sku, units)}}, got {raw!r}")
    rows = []
    for number, spec in raw.items():
        if not isinstance(spec, tuple | list) or len(spec) not in (2, 3):
            raise InvalidOrder(
                f"exchange for line {number!r}: give (sku, units) or (sku, units, unit_price), "
                f"got {spec!r}"
            )
        price = spec[2] if len(spec) == 3 else None
        if price is not None and (not isinstance(price, Money) or price.amount < 0):
            raise InvalidMoney(f"exchange for line {number!r}: unit_price is Money, got {price!r}")
        rows.append(
            ExchangeLine(
                _line_number(number),
                as_sku(spec[0]),
                quantity(spec[1], "exchanged units"),
                price,
            )
        )
    return tuple(sorted(rows, key=lambda r: r.line))


def check_reason(value: object) -> str:
    """A return's reason (a short code like ``too_small`` or free text)."""
    return _reason(value)
