"""Return commands: request, approve (with a label), reject, cancel, receive and inspect.

A return request records what the customer wants to send back and where the routing
strategy sends it; receiving it inspects every unit, posts each to the ledger by its
disposition, refunds what the refund policy allows and, for an exchange, sources the
units sent instead.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from omsims.domain.events import (
    PaymentAuthorised,
    ReturnApproved,
    ReturnClosed,
    ReturnReceived,
    ReturnRequested,
    UnitsReturned,
)
from omsims.domain.locations import LocationKind
from omsims.domain.orders import Order
from omsims.domain.payments import Authorisation, PaymentKind
from omsims.domain.returns import (
    Disposition,
    ExchangeLine,
    Inspection,
    ReturnLine,
    ReturnMethod,
    ReturnRequest,
    ReturnStatus,
    as_exchange,
    check_reason,
    parse_return_id,
    requested_lines,
)
from omsims.domain.shipping import Label, Parcel
from omsims.domain.values import LocationId, Money
from omsims.errors import (
    CarrierUnavailable,
    IllegalTransition,
    InvalidIdentifier,
    InvalidMoney,
    InvalidOrder,
    InvalidPlan,
    PaymentLimitExceeded,
    UnknownLocation,
    UnknownSku,
)
from omsims.ports import ShippingCarrier, UnitOfWork
from omsims.service._core import _id, not_before, not_before_delivery
from omsims.service._counter import StoreCounter
from omsims.sourcing.plan import RequestLine
from omsims.sourcing.returns import ReturnRouteRequest, nearest

__all__ = ["ReturnCommands"]

REFURBISH_TRANSIT: timedelta = timedelta(days=3)
"""How long a refurbishment transfer is expected to take (its ETA)."""


class ReturnCommands(StoreCounter):
    """The commands on returns and exchanges."""

    def request_return(
        self,
        order_id: str,
        lines: Mapping[int, int],
        *,
        reason: str,
        method: ReturnMethod | str = ReturnMethod.MAIL,
        store: str | None = None,
        exchange: Mapping[int, object] | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ReturnRequest:
        """A customer asks to return delivered units: ``{order line: units}``.

        ``method`` is ``"mail"`` (the routing strategy picks where the parcel goes) or
        ``"store"`` (handed in at ``store``). ``exchange`` asks for other units instead
        of a refund: ``{order line: (sku, units)}`` or ``(sku, units, unit_price)``;
        without a price the returned line's applies. Units not delivered, already
        returned, or named by another open return are refused (``IllegalTransition``).

        An exchange dearer than the units returned for it has its balance authorised
        at the gateway now, before anything is written (a decline refuses the request
        with ``PaymentDeclined``); it is captured when the units arrive and voided if
        they never do.

        >>> from omsims import Oms, Location, LocationKind
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.add_location(Location("leipzig-returns", kind=LocationKind.RETURNS_CENTRE))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> _ = oms.place_order("web-1001", [("TSHIRT-M", 2)])
        >>> fo = oms.accept(oms.fulfilment_orders("web-1001")[0].id)
        >>> _ = oms.deliver(oms.ship(fo.id).id)
        >>> request = oms.request_return("web-1001", {1: 1}, reason="too_small")
        >>> request.id, request.location, request.status.value
        ('web-1001-R1', 'leipzig-returns', 'requested')
        >>> oms.request_return("web-1001", {1: 2}, reason="too_small")
        Traceback (most recent call last):
        ...
        omsims.errors.IllegalTransition: line 1 of order web-1001 has 1 units that may be ...
        """
        when = self._now(at)
        why = check_reason(reason)
        how = _method(method)
        exchanged = as_exchange(exchange)
        if not isinstance(lines, Mapping) or not all(type(n) is int for n in lines):
            raise InvalidOrder(f"a return names {{order line: units}}, got {lines!r}")
        wanted = dict(lines)
        if how is ReturnMethod.STORE and store is None:
            raise InvalidIdentifier("a return at a store names the store")
        if how is ReturnMethod.MAIL and store is not None:
            raise InvalidIdentifier("a return by mail names no store")
        with self._read() as uow:
            repeat = self._replayed(uow, idempotency_key)
        top_up = (
            None if repeat else self._authorise_balance(order_id, wanted, exchanged, store, when)
        )

        def body(uow: UnitOfWork) -> ReturnRequest:
            order = self._order_for_update(uow, order_id, when)
            skus = {ln.number: ln.sku for ln in order.lines}
            asked = requested_lines(order.id, wanted, skus)
            balance = self._check_request(uow, order, asked, exchanged, store, when)
            shipments = [
                s.location
                for s in uow.shipments.for_order(order.id)
                if any(n in {a.line for a in asked} for n, _sku, _u in s.lines)
            ]
            route = ReturnRouteRequest(
                order.id,
                tuple((ln.sku, ln.units) for ln in asked),
                why,
                how,
                None if store is None else LocationId(store),
                None if order.ship_to is None else order.ship_to.coordinates,
                tuple(dict.fromkeys(shipments)),
            )
            destination = self.return_routing.route(route, uow.locations.list())
            if destination is None:
                raise UnknownLocation(
                    f"return routing {self.return_routing.name!r} found no location to take "
                    f"the return of order {order.id}"
                )
            if not self._location(uow, destination).active:
                raise InvalidPlan(
                    f"return routing {self.return_routing.name!r} sent the return of order "
                    f"{order.id} to {destination}, which is not active"
                )
            request = ReturnRequest(
                f"{order.id}-R{len(order.returns) + 1}",
                order.id,
                asked,
                why,
                how,
                when,
                LocationId(destination),
                exchange=exchanged,
            )
            request.history.append((when, f"requested: {why}; to {destination}"))
            order.returns.append(request)
            if balance > 0 and order.payment is not None:
                self._hold_balance(uow, order, request, balance, top_up, when)
            elif balance > 0 and self.payments is not None:
                raise PaymentLimitExceeded(
                    f"order {order.id} took no payment, so an exchange dearer than its "
                    f"returned units ({balance} more) cannot be charged; place a new order"
                )
            uow.orders.save(order)
            self._emit(
                uow,
                ReturnRequested(
                    when,
                    request.id,
                    order.id,
                    tuple((ln.line, ln.sku, ln.units) for ln in asked),
                    why,
                    how.value,
                    destination,
                ),
            )
            return request.copy()

        payload = (
            order_id,
            tuple(sorted(wanted.items())),
            why,
            how,
            store,
            exchanged,
            at,
        )
        try:
            result = self._run("request_return", payload, idempotency_key, body)
        except BaseException:
            self._release_balance(order_id, top_up)
            raise
        self._release_balance(order_id, top_up)  # unless the request holds it
        return result

    def approve_return(
        self,
        return_id: str,
        *,
        carrier: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ReturnRequest:
        """The shop agrees to take the units back.

        For a mail return, ``carrier`` (one of the Oms's carriers) issues the return
        label, priced and tracked like an outbound one; if it cannot, nothing changes
        (``CarrierUnavailable``).
        """
        when = self._now(at)
        buyer = None
        if carrier is not None:
            buyer = self.carriers.get(carrier)
            if buyer is None:
                raise InvalidIdentifier(f"the Oms has no carrier named {carrier!r}")
        with self._read() as uow:
            repeat = self._replayed(uow, idempotency_key)
        label = None if buyer is None or repeat else self._buy_return_label(buyer, return_id, when)

        def body(uow: UnitOfWork) -> ReturnRequest:
            order, request = self._return_for_update(uow, return_id, when)
            request.approve(when)
            if label is not None:
                request.label, request.tracking = label.reference, label.tracking
                request.carrier, request.label_cost = label.carrier, label.cost
            uow.orders.save(order)
            self._emit(
                uow, ReturnApproved(when, request.id, order.id, request.carrier, request.tracking)
            )
            return request.copy()

        try:
            return self._run("approve_return", (return_id, carrier, at), idempotency_key, body)
        except BaseException:
            if buyer is not None and label is not None:
                with contextlib.suppress(Exception):
                    buyer.cancel_label(label, key=f"{label.reference}-cancel")
            raise

    def reject_return(
        self,
        return_id: str,
        *,
        reason: str,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ReturnRequest:
        """The shop will not take the units back (e.g. past the return window)."""
        return self._close_return(return_id, reason, at, idempotency_key, reject=True)

    def cancel_return(
        self,
        return_id: str,
        *,
        reason: str = "withdrawn by the customer",
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ReturnRequest:
        """The customer keeps the units after all; they may be asked to return again."""
        return self._close_return(return_id, reason, at, idempotency_key, reject=False)

    def receive_return(
        self,
        return_id: str,
        inspections: Sequence[Inspection],
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ReturnRequest:
        """The parcel arrived: inspect each unit, post it by disposition, refund or exchange.

        Each :class:`~omsims.domain.returns.Inspection` covers units of one line and
        says where they go: ``restock`` (sellable at the receiving location),
        ``damaged`` (unavailable there, the note as reason), ``refurbish`` (unavailable,
        and transferred to the nearest refurbishment centre unless received at one) or
        ``scrap`` (written off). The refund is each unit's price times the share the
        inspection allows, less the return label fee and plus the shipping charge as
        the refund policy says. An exchange sources its new units like any order line.

        >>> from omsims import Oms, Location, Money
        >>> from omsims.adapters.payments import FakeGateway
        >>> from omsims.domain.returns import Inspection
        >>> oms = Oms(payments=FakeGateway())
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> _ = oms.place_order("web-1001", [("TSHIRT-M", 2, Money("20.00", "EUR"))])
        >>> fo = oms.accept(oms.fulfilment_orders("web-1001")[0].id)
        >>> _ = oms.deliver(oms.ship(fo.id).id)
        >>> r = oms.request_return("web-1001", {1: 2}, reason="changed_mind")
        >>> _ = oms.approve_return(r.id)
        >>> r = oms.receive_return(r.id, [Inspection(1, "restock"),
        ...                               Inspection(1, "damaged", note="stained", refund="0.5")])
        >>> r.status.value, str(oms.order("web-1001").payment.refunded)
        ('refunded', '30.00')
        >>> print(oms.stock("TSHIRT-M", "berlin-dc"))
        TSHIRT-M @ berlin-dc: on_hand=10 committed=0 reserved=0 unavailable=1 safety_stock=0
        incoming=0 backordered=0 available=9
        """
        when = self._now(at)
        if not isinstance(inspections, list | tuple):
            raise InvalidOrder(f"inspections are a list of Inspection, got {inspections!r}")
        checked = tuple(inspections)

        def body(uow: UnitOfWork) -> ReturnRequest:
            order, request = self._return_for_update(uow, return_id, when)
            received = request.check_receive(checked)
            for number in received:
                not_before_delivery(uow, order.id, number, when)
            self._post_dispositions(uow, order, request, checked, when)
            for number, units in sorted(received.items()):
                order.record_return(number, units)
            worth = self._credits(order, request, checked)
            exchanges = [
                ex
                for ex in (
                    self._exchange_for(order, request, e, received, worth) for e in request.exchange
                )
                if ex
            ]
            added = tuple(order.add_exchange(ex).number for ex in exchanges)
            request.receive(checked, self._withheld(order, request, checked), when, added)
            self._settle_balance(order, request, worth, when)
            if added:
                lines = tuple(
                    RequestLine(n, order.line(n).sku, order.line(n).quantity) for n in added
                )
                self._apply_plan(uow, order, self._plan(uow, order, when, lines), when)
            if self.refund_policy.refund_shipping == "always" and not added:
                order.shipping_refunded = True
            self._cap_withheld(order, request)
            self._refresh_pickup(uow, order, when)
            total = sum(received.values())
            order.note(when, f"return {request.id}: {total} unit(s) received at {request.location}")
            self._refund_excess(order, when, f"return {request.id}")
            uow.orders.save(order)
            self._emit(
                uow,
                ReturnReceived(
                    when,
                    request.id,
                    order.id,
                    request.location,
                    tuple(
                        (i.line, order.line(i.line).sku, i.units, i.disposition.value)
                        for i in checked
                    ),
                    request.status.value,
                ),
            )
            for number, units in sorted(received.items()):
                restocked = all(
                    i.disposition is Disposition.RESTOCK for i in checked if i.line == number
                )
                self._emit(
                    uow, UnitsReturned(when, order.id, number, request.location, units, restocked)
                )
            return request.copy()

        result = self._run("receive_return", (return_id, checked, at), idempotency_key, body)
        self._settle_quietly(result.order_id)
        return result

    def return_request(self, return_id: str) -> ReturnRequest:
        """A return request as it stands now (``UnknownReturn`` if there is none)."""
        with self._read() as uow:
            order = self._order(uow, parse_return_id(_id(return_id, "return id")))
            return order.return_request(return_id).copy()

    def returns(self, order_id: str) -> list[ReturnRequest]:
        """An order's return requests, oldest first."""
        with self._read() as uow:
            return [r.copy() for r in self._order(uow, order_id).returns]

    # -- helpers ------------------------------------------------------------------------------

    def _return_for_update(
        self, uow: UnitOfWork, return_id: str, at: datetime
    ) -> tuple[Order, ReturnRequest]:
        order = self._order_for_update(uow, parse_return_id(_id(return_id, "return id")))
        request = order.return_request(return_id)
        last, what = request.history[-1]
        not_before(at, last, f"return {request.id} was last changed ({what})")
        return order, request

    def _close_return(
        self, return_id: str, reason: str, at: datetime | None, key: str | None, *, reject: bool
    ) -> ReturnRequest:
        when = self._now(at)
        why = check_reason(reason)

        def body(uow: UnitOfWork) -> ReturnRequest:
            order, request = self._return_for_update(uow, return_id, when)
            if reject:
                request.reject(why, when)
            else:
                request.cancel(why, when)
            self._settle_balance(order, request, {}, when)
            uow.orders.save(order)
            self._emit(uow, ReturnClosed(when, request.id, order.id, request.status.value, why))
            return request.copy()

        name = "reject_return" if reject else "cancel_return"
        result = self._run(name, (return_id, why, at), key, body)
        self._settle_quietly(result.order_id)
        return result

    def _check_request(
        self,
        uow: UnitOfWork,
        order: Order,
        asked: tuple[ReturnLine, ...],
        exchanged: tuple[ExchangeLine, ...],
        store: str | None,
        when: datetime,
    ) -> Decimal:
        """Refuse units that may not come back, an exchange that cannot be, a bad store.

        Returns the balance the customer pays for exchanges dearer than their returns.
        """
        for ln in asked:
            if ln.units > order.returnable(ln.line):
                raise IllegalTransition(
                    f"line {ln.line} of order {order.id} has {order.returnable(ln.line)} "
                    f"units that may be returned, not {ln.units}"
                )
            not_before_delivery(uow, order.id, ln.line, when)
        balance = Decimal(0)
        for ex in exchanged:
            if not uow.ledger.has_sku(ex.sku):
                raise UnknownSku(f"the exchange asks for SKU {ex.sku!r}, which is not known")
            returned = sum(ln.units for ln in asked if ln.line == ex.line)
            balance += exchange_balance(order, ex, returned)
        if store is not None:
            shop = self._location(uow, store)
            if shop.kind is not LocationKind.STORE or not shop.active:
                raise InvalidIdentifier(f"{shop.id} is not an open store")
        return balance

    @staticmethod
    def _exchange_for(
        order: Order,
        request: ReturnRequest,
        exchange: ExchangeLine,
        received: dict[int, int],
        worth: dict[int, Decimal],
    ) -> ExchangeLine | None:
        """What to send for the units that did arrive (fewer may come than were asked).

        No more units than asked, nor than the arrived units' credit (their price times
        the share the inspector allowed) and the line's authorised balance pay for.
        When the order moves no money, a share as large as the share of units that
        arrived. None if nothing of its line arrived.
        """
        got = received.get(exchange.line, 0)
        if not got:
            return None
        units = exchange.units
        paid = order.price_of(exchange.line)
        price = exchange.unit_price or paid
        if order.payment is None or paid is None or price is None:
            if exchange.unit_price is None:
                units = min(units, got)  # at the returned line's price: one for one
            else:
                units = min(units, exchange.units * got // request.asked(exchange.line))
        elif price.amount > 0:
            budget = worth.get(exchange.line, Decimal(0)) + _line_balance(order, request, exchange)
            units = min(units, int(budget // price.amount))
        return attrs.evolve(exchange, units=units) if units else None

    def _credits(
        self, order: Order, request: ReturnRequest, inspections: tuple[Inspection, ...]
    ) -> dict[int, Decimal]:
        """What the received units of each line are worth to the customer.

        Their price times the share the inspector allowed, less the return fee on
        lines refunded in money.
        """
        _whole, worth, currency = _inspected(order, inspections)
        if currency is None:
            return worth
        # The fee comes off what is refunded in money; an exchange does not pay it (a
        # fee no refund covers is waived: see _cap_withheld).
        swapped = {ex.line for ex in request.exchange}
        fee = self.refund_policy.fee_for(request.reason, request.method, currency)
        for line in sorted(n for n in worth if n not in swapped):
            taken = min(fee, worth[line])
            worth[line] -= taken
            fee -= taken
        return worth

    # -- the balance of a dearer exchange ---------------------------------------------------

    def _authorise_balance(
        self,
        order_id: str,
        wanted: dict[int, int],
        exchanged: tuple[ExchangeLine, ...],
        store: str | None,
        when: datetime,
    ) -> Authorisation | None:
        """Hold a dearer exchange's balance at the gateway, before its request is written.

        The request is checked first (in a read), so a request that will be refused
        holds no money. ``PaymentDeclined`` refuses it with nothing written.
        """
        if not exchanged or self.payments is None:
            return None
        with self._read() as uow:
            order = self._order(uow, order_id)
            if order.payment is None:
                return None
            asked = requested_lines(order.id, wanted, {ln.number: ln.sku for ln in order.lines})
            balance = self._check_request(uow, order, asked, exchanged, store, when)
            currency = order.payment.currency
        if balance <= 0:
            return None
        # A key per attempt, as at placement: an attempt that fails voids its hold.
        key = f"{order_id}-X-{secrets.token_hex(6)}"
        reference = self.payments.authorise(order_id, Money(balance, currency), key=key)
        return Authorisation(reference, balance, when, "exchange balance")

    def _hold_balance(
        self,
        uow: UnitOfWork,
        order: Order,
        request: ReturnRequest,
        balance: Decimal,
        held: Authorisation | None,
        when: datetime,
    ) -> None:
        """Record the balance's authorisation on the order's payment and the request."""
        payment = order.payment
        assert payment is not None  # noqa: S101 (the caller checked)
        if held is None or held.amount != balance:
            raise PaymentLimitExceeded(
                f"the exchange of return {request.id} costs {balance} {payment.currency} "
                "more than the returned units, and no gateway authorised that balance"
            )
        payment.top_up(held.reference, balance, when, f"exchange {request.id}")
        request.top_up = held.reference
        self._emit(
            uow, PaymentAuthorised(when, order.id, Money(balance, payment.currency), held.reference)
        )

    def _release_balance(self, order_id: str, held: Authorisation | None) -> None:
        """Void a balance's hold no request kept (refused, or a replay). Best effort."""
        if held is None or self.payments is None:
            return
        # Best effort throughout: if it cannot be done now, the hold expires at the gateway.
        with contextlib.suppress(Exception):
            with self._read() as uow:
                payment = self._order(uow, order_id).payment
            assert payment is not None  # noqa: S101 (a balance is only held for a paid order)
            if any(t.reference == held.reference for t in payment.top_ups):
                return
            self.payments.void(
                held.reference, Money(held.amount, payment.currency), key=f"{held.reference}-void"
            )

    @staticmethod
    def _settle_balance(
        order: Order, request: ReturnRequest, worth: dict[int, Decimal], when: datetime
    ) -> None:
        """Capture what the exchange lines cost beyond their returns' credit; void the rest.

        Called when the request is received, rejected or cancelled: either way its
        balance is settled then, and the exchange lines are paid for in full from that
        moment. What the same return refunds in money on other lines is netted first:
        the balance never captures money a refund would give straight back.
        """
        payment = order.payment
        if payment is None or request.top_up is None:
            return
        due = Decimal(0)
        for number in request.exchange_lines:
            line = order.line(number)
            returned = line.exchange_for or number
            if line.unit_price is not None:
                value = line.unit_price.amount * line.quantity
                due += max(Decimal(0), value - worth.get(returned, Decimal(0)))
        owed = order.owed_value()
        short = Decimal(0) if owed is None else owed.amount - payment.paid_for_units
        take = min(due, max(Decimal(0), short), payment.capturable_under(request.top_up))
        if take > 0:
            reason = f"exchange {request.id}"
            payment.request(PaymentKind.CAPTURE, take, when, reason, under=request.top_up)
        rest = payment.capturable_under(request.top_up)
        if rest > 0:
            reason = f"return {request.id} {request.status.value}"
            payment.request(PaymentKind.VOID, rest, when, reason, under=request.top_up)

    def _post_dispositions(
        self,
        uow: UnitOfWork,
        order: Order,
        request: ReturnRequest,
        inspections: tuple[Inspection, ...],
        when: datetime,
    ) -> None:
        """One ledger posting (or two) per inspection, at the receiving location."""
        here = self._location(uow, request.location)
        ref = request.id
        for ins in inspections:
            sku, n = order.line(ins.line).sku, ins.units
            match ins.disposition:
                case Disposition.RESTOCK:
                    posting = uow.ledger.return_stock(sku, here.id, n, at=when, reference=ref)
                    self._settle(uow, posting, when)
                case Disposition.DAMAGED:
                    why = ins.note or "damaged"
                    uow.ledger.return_stock(
                        sku, here.id, n, at=when, unavailable_reason=why, reference=ref
                    )
                case Disposition.REFURBISH:
                    why = f"refurbish: {ins.note}" if ins.note else "refurbish"
                    uow.ledger.return_stock(
                        sku, here.id, n, at=when, unavailable_reason=why, reference=ref
                    )
                    centre = self._refurbishment_centre(uow, here.id)
                    if centre is not None and centre != here.id:
                        uow.ledger.transfer(
                            sku,
                            here.id,
                            centre,
                            n,
                            eta=when + REFURBISH_TRANSIT,
                            at=when,
                            reference=ref,
                            unavailable_reason=why,
                        )
                case Disposition.SCRAP:
                    why = f"scrapped: {ins.note}" if ins.note else "scrapped"
                    uow.ledger.return_stock(
                        sku, here.id, n, at=when, unavailable_reason=why, reference=ref
                    )
                    uow.ledger.write_off(
                        sku, here.id, n, reason=why, at=when, from_unavailable=True
                    )

    def _refurbishment_centre(self, uow: UnitOfWork, near: str) -> str | None:
        """The refurbishment centre nearest ``near`` (``None``: the network has none)."""
        here = self._location(uow, near)
        if here.kind is LocationKind.REFURBISHMENT_CENTRE:
            return here.id
        centres = [
            loc
            for loc in uow.locations.list()
            if loc.kind is LocationKind.REFURBISHMENT_CENTRE and loc.active
        ]
        return nearest(here.coordinates, centres)

    def _withheld(
        self, order: Order, request: ReturnRequest, inspections: tuple[Inspection, ...]
    ) -> Decimal:
        """What the shop keeps of the received units' price: shares not allowed, the fee."""
        whole, allowed, currency = _inspected(order, inspections)
        if currency is None:
            return Decimal(0)
        refunded = sum(allowed.values(), Decimal(0))
        fee = self.refund_policy.fee_for(request.reason, request.method, currency)
        # The fee never takes more than the return would refund.
        return whole - refunded + min(fee, refunded)

    @staticmethod
    def _cap_withheld(order: Order, request: ReturnRequest) -> None:
        """What a return withholds comes out of its own refund, never out of a later one.

        An exchange paid with the returned units leaves little or nothing to refund;
        a fee beyond that is waived, so it cannot eat into the next return's refund.
        """
        payment = order.payment
        if payment is None:  # nothing was paid: nothing to cap (and nothing to sum)
            return
        owed = order.owed_value()
        if owed is None:
            return
        over = owed.amount - payment.paid_for_units
        if over > 0:
            request.withheld = max(Decimal(0), request.withheld - over)

    def _buy_return_label(self, buyer: ShippingCarrier, return_id: str, when: datetime) -> Label:
        """Buy the label for a mail return (outside any transaction)."""
        with self._read() as uow:
            order = self._order(uow, parse_return_id(_id(return_id, "return id")))
            request = order.return_request(return_id)
            if request.status is not ReturnStatus.REQUESTED:
                raise IllegalTransition(
                    f"cannot approve return {request.id}: it is {request.status.value}"
                )
            if request.method is not ReturnMethod.MAIL:
                raise IllegalTransition(f"return {request.id} is handed in at a store")
            destination = self._location(uow, request.location)
            parcel = Parcel(
                request.id,
                order.id,
                destination,
                order.ship_to,
                tuple((ln.sku, ln.units) for ln in request.lines),
                None,
                when,
                returning=True,
            )
        try:
            return buyer.create_shipment(parcel, key=f"{request.id}-{secrets.token_hex(6)}")
        except CarrierUnavailable:
            raise
        except Exception as exc:  # any carrier failure: nothing was approved
            raise CarrierUnavailable(f"carrier {buyer.name} failed: {exc}") from exc


def _inspected(
    order: Order, inspections: tuple[Inspection, ...]
) -> tuple[Decimal, dict[int, Decimal], str | None]:
    """What received units are worth: (whole price, allowed per line, currency).

    The allowed part is the price times the inspector's share, rounded to the
    currency's minor unit; the currency is ``None`` when no unit has a price.
    """
    whole = Decimal(0)
    allowed: dict[int, Decimal] = {}
    currency = None
    for ins in inspections:
        price = order.price_of(ins.line)
        if price is None:
            continue
        currency = price.currency
        value = price.amount * ins.units
        share = (value * ins.refund).quantize(price.minor_unit, rounding=ROUND_HALF_EVEN)
        whole += value
        allowed[ins.line] = allowed.get(ins.line, Decimal(0)) + share
    return whole, allowed, currency


def _line_balance(order: Order, request: ReturnRequest, exchange: ExchangeLine) -> Decimal:
    """The part of a request's authorised balance that is one exchange line's."""
    if request.top_up is None:
        return Decimal(0)
    return exchange_balance(order, exchange, request.asked(exchange.line))


def exchange_balance(order: Order, exchange: ExchangeLine, returned: int) -> Decimal:
    """What the customer pays on top of the ``returned`` units for an exchange.

    The units sent in exchange are paid for by the returned units of their line: a
    cheaper exchange refunds the difference (balance 0), a dearer one costs the
    difference. Refuses an exchange of a line not returned, or priced unlike it.
    """
    if exchange.line not in {ln.number for ln in order.lines}:
        raise InvalidOrder(f"order {order.id} has no line {exchange.line}")
    if returned == 0:
        raise InvalidOrder(
            f"an exchange for line {exchange.line} needs units of that line returned"
        )
    paid, price = order.price_of(exchange.line), exchange.unit_price
    if price is None:
        return Decimal(0)  # the returned line's own price
    if paid is None:
        raise InvalidOrder(f"line {exchange.line} has no price: its exchange cannot have one")
    if price.currency != paid.currency:
        raise InvalidMoney(f"order {order.id} was paid in {paid.currency}, not {price.currency}")
    return max(Decimal(0), price.amount * exchange.units - paid.amount * returned)


def _method(value: ReturnMethod | str) -> ReturnMethod:
    try:
        return value if isinstance(value, ReturnMethod) else ReturnMethod(value)
    except ValueError:
        msg = f"a return comes back by 'mail' or at a 'store', not {value!r}"
        raise InvalidIdentifier(msg) from None
