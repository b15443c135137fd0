"""Orders: lines with counters, and a status derived from them.

Per line, every unit ordered is in exactly one state at a time::

    quantity = unallocated + backordered + committed + shipped + cancelled

and of the shipped units some are delivered, and of those some returned. The order's
status is computed from these counters, never stored, so it cannot drift from them.

>>> from datetime import datetime, UTC
>>> order = Order.new("web-1001", [("TSHIRT-M", 2)], placed_at=datetime(2026, 3, 1, tzinfo=UTC))
>>> order.status
<OrderStatus.PLACED: 'placed'>
>>> order.allocate(1, committed=2)
>>> order.status
<OrderStatus.ALLOCATED: 'allocated'>
>>> order.ship(1, 3)
Traceback (most recent call last):
...
omsims.errors.IllegalTransition: line 1 of order web-1001 has 2 committed units; cannot ship 3
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final, NamedTuple

import attrs

from omsims.domain.copies import deep_copy
from omsims.domain.payments import Payment
from omsims.domain.returns import ExchangeLine, ReturnRequest
from omsims.domain.values import (
    Address,
    GeoPoint,
    LocationId,
    Money,
    OrderId,
    Sku,
    as_identifier,
    as_location_id,
    as_order_id,
    as_sku,
    optional_point,
    quantity,
)
from omsims.errors import IllegalTransition, InvalidOrder, InvariantViolation, UnknownReturn

__all__ = ["MAX_LINES", "Order", "OrderLine", "OrderStatus", "ShipTo"]

MAX_LINES: Final = 1000
"""The most lines one order may have."""


class _LineSums(NamedTuple):
    """Each line counter summed over an order's lines (what ``status`` and ``totals`` read)."""

    quantity: int
    committed: int
    backordered: int
    shipped: int
    delivered: int
    cancelled: int
    returned: int
    lost: int
    lost_resolved: int
    unclaimed: int


class OrderStatus(enum.Enum):
    """An order's status, derived from its line counters (see :attr:`Order.status`)."""

    PLACED = "placed"
    PARTIALLY_ALLOCATED = "partially_allocated"
    ALLOCATED = "allocated"
    BACKORDERED = "backordered"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"


def _optional_address(_instance: object, _attribute: object, value: Address | None) -> None:
    if value is not None and not isinstance(value, Address):
        raise InvalidOrder(f"address must be an Address, got {value!r}")


@attrs.frozen
class ShipTo:
    """Deliver to an address or a point; coordinates feed distance-based sourcing."""

    point: GeoPoint | None = attrs.field(default=None, validator=optional_point)
    address: Address | None = attrs.field(default=None, validator=_optional_address)

    @property
    def coordinates(self) -> GeoPoint | None:
        """The destination's coordinates, from the point or the address."""
        if self.point is not None:
            return self.point
        return None if self.address is None else self.address.coordinates


@attrs.define
class OrderLine:
    """One line of an order and the counters of its units."""

    number: int
    sku: Sku
    quantity: int
    unit_price: Money | None = None
    committed: int = 0
    backordered: int = 0
    shipped: int = 0
    delivered: int = 0
    cancelled: int = 0
    returned: int = 0
    lost: int = 0
    """Shipped units the carrier lost (never delivered)."""
    lost_resolved: int = 0
    """Of the lost units, those already reshipped or refunded."""
    unclaimed: int = 0
    """Units sent to a pickup store that the customer never collected (back in its stock)."""
    replaces: int | None = None
    """For a replacement sent for lost units: the number of the line it replaces."""
    exchange_for: int | None = None
    """For units sent in exchange for returned ones: the number of the returned line."""
    listing: str | None = None
    """The channel SKU the customer bought (a mapped SKU, or a bundle of several lines)."""

    @property
    def prepaid(self) -> bool:
        """Paid for by another line's units: a replacement, or an exchange."""
        return self.replaces is not None or self.exchange_for is not None

    @property
    def in_transit(self) -> int:
        """Units shipped that have neither arrived nor been lost (nor left unclaimed)."""
        return self.shipped - self.delivered - self.lost - self.unclaimed

    @property
    def kept(self) -> int:
        """Units the customer has or will still get.

        Not cancelled, returned, lost and then reshipped or refunded, nor unclaimed.
        """
        return self.quantity - self.cancelled - self.returned - self.lost_resolved - self.unclaimed

    @property
    def unallocated(self) -> int:
        """Units not yet sourced anywhere (nor cancelled)."""
        return self.quantity - self.cancelled - self.shipped - self.committed - self.backordered

    @property
    def cancellable(self) -> int:
        """Units that may still be cancelled: everything not shipped or cancelled."""
        return self.quantity - self.cancelled - self.shipped


def _parse_line(number: int, raw: object) -> OrderLine:
    if isinstance(raw, OrderLine):
        raw = (raw.sku, raw.quantity, raw.unit_price, raw.listing)
    if not isinstance(raw, tuple | list) or len(raw) not in (2, 3, 4):
        raise InvalidOrder(
            f"line {number} must be (sku, quantity) or (sku, quantity, unit_price), got {raw!r}"
        )
    price = raw[2] if len(raw) >= 3 else None
    if price is not None and not isinstance(price, Money):
        raise InvalidOrder(f"line {number}: unit_price must be Money, got {price!r}")
    if price is not None and price.amount < 0:
        raise InvalidOrder(f"line {number}: unit_price must not be negative, got {price}")
    listing = raw[3] if len(raw) == 4 else None
    if listing is not None:
        as_identifier(listing, "channel SKU")
    line = OrderLine(number, as_sku(raw[0]), quantity(raw[1], f"line {number} quantity"), price)
    line.listing = listing
    return line


@attrs.define
class Order:
    """A customer order: lines, a destination, and where its units stand.

    Create orders with :meth:`Order.new`, which validates every field. Counters change
    only through the methods below, each of which refuses an impossible change and
    changes nothing when it does.
    """

    id: OrderId
    lines: list[OrderLine]
    placed_at: datetime
    channel: str = "web"
    customer: str | None = None
    ship_to: ShipTo | None = None
    excluded_locations: set[str] = attrs.Factory(set)
    """Locations that rejected part of this order; it is never sourced there again."""
    fulfilment_count: int = 0
    payment: Payment | None = None
    """Its money at the payment gateway, when the Oms has one and the lines have prices."""
    history: list[tuple[datetime, str]] = attrs.Factory(list)
    """(when, what) for changes made to the order itself after placing: cancellations,
    returns, lost parcels resolved."""
    shipping: Money | None = None
    """What the customer paid for delivery (captured with the first shipment)."""
    shipping_refunded: bool = False
    """Whether the shipping charge was given back (see ``RefundPolicy``)."""
    returns: list[ReturnRequest] = attrs.Factory(list)
    """Its return requests, oldest first (ids ``<order id>-R<n>``)."""
    pickup_at: LocationId | None = None
    """Buy online, pick up in store: the store the customer collects from."""
    sold_at: LocationId | None = None
    """Bought in a store (a POS order): carried out, or sent home ("endless aisle")."""
    ready_by: datetime | None = None
    """For a pickup: when it was promised ready (a transfer from elsewhere takes longer)."""
    ready_at: datetime | None = None
    """For a pickup: when every unit was at the store, ready."""
    pickup_deadline: datetime | None = None
    """For a pickup: after this, unclaimed units go back to stock and are refunded."""
    reservation: str | None = None
    """For a till sale: the in-store reservation (its reference) the customer bought from."""

    @classmethod
    def new(
        cls,
        order_id: str,
        lines: Sequence[object],
        *,
        placed_at: datetime,
        channel: str = "web",
        customer: str | None = None,
        ship_to: ShipTo | None = None,
        shipping: Money | None = None,
        pickup_at: str | None = None,
        sold_at: str | None = None,
    ) -> Order:
        """Validate and build an order. Raises ``InvalidOrder`` (or a finer error) if bad."""
        oid = as_order_id(order_id)
        if isinstance(lines, str | bytes) or not isinstance(lines, Sequence):
            raise InvalidOrder(f"lines must be a list of (sku, quantity), got {lines!r}")
        if not lines:
            raise InvalidOrder(f"order {oid} has no lines")
        if len(lines) > MAX_LINES:
            raise InvalidOrder(f"order {oid} has {len(lines)} lines; the limit is {MAX_LINES}")
        parsed = [_parse_line(n, raw) for n, raw in enumerate(lines, start=1)]
        currencies = {ln.unit_price.currency for ln in parsed if ln.unit_price is not None}
        if shipping is not None:
            if not isinstance(shipping, Money) or shipping.amount < 0:
                raise InvalidOrder(f"shipping must be Money, not negative, got {shipping!r}")
            currencies.add(shipping.currency)
        if len(currencies) > 1:
            raise InvalidOrder(f"order {oid} mixes currencies {sorted(currencies)}")
        as_identifier(channel, "channel")
        if customer is not None:
            as_identifier(customer, "customer")
        if ship_to is not None and not isinstance(ship_to, ShipTo):
            raise InvalidOrder(f"ship_to must be a ShipTo, got {ship_to!r}")
        if pickup_at is not None and (ship_to is not None or sold_at is not None):
            raise InvalidOrder(
                f"order {oid} is picked up at {pickup_at}: it has no ship_to and no sold_at"
            )
        return cls(
            oid,
            parsed,
            placed_at,
            channel,
            customer,
            ship_to,
            shipping=shipping,
            pickup_at=None if pickup_at is None else as_location_id(pickup_at),
            sold_at=None if sold_at is None else as_location_id(sold_at),
        )

    def copy(self) -> Order:
        """An independent copy (changing it leaves this order alone). Runtime: O(lines)."""
        return deep_copy(self)

    # -- derived -------------------------------------------------------------------------

    @property
    def status(self) -> OrderStatus:  # noqa: C901, PLR0911 (one return per status reads best)
        """The status implied by the line counters.

        The units *due* are those neither cancelled nor lost and then reshipped or
        refunded (nor left unclaimed at a pickup store). In order of precedence: none
        due (all cancelled, or lost and refunded); some units returned (all due:
        returned); every unit due delivered; a pickup whose every unit waits at the
        store; every open unit shipped; some shipped; nothing allocated; something
        unallocated; something backordered; else allocated. A lost parcel not yet
        resolved keeps the order shipped, not delivered.
        """
        sums = self._sums()
        open_units = sums.quantity - sums.cancelled
        due = open_units - sums.lost_resolved - sums.unclaimed
        if due == 0:
            return OrderStatus.CANCELLED
        if sums.returned:
            if sums.returned == due:
                return OrderStatus.RETURNED
            return OrderStatus.PARTIALLY_RETURNED
        if sums.delivered == due:
            return OrderStatus.DELIVERED
        if self.ready_at is not None:
            return OrderStatus.READY_FOR_PICKUP
        if sums.shipped == open_units:
            return OrderStatus.SHIPPED
        if sums.shipped:
            return OrderStatus.PARTIALLY_SHIPPED
        # As OrderLine.unallocated, summed over the lines.
        unallocated = open_units - sums.shipped - sums.committed - sums.backordered
        if unallocated == open_units:
            return OrderStatus.PLACED
        if unallocated:
            return OrderStatus.PARTIALLY_ALLOCATED
        if sums.backordered:
            return OrderStatus.BACKORDERED
        return OrderStatus.ALLOCATED

    def totals(self) -> dict[str, int]:
        """Each counter summed over the lines (plus ``unallocated``)."""
        totals = self._sums()._asdict()
        totals["unallocated"] = sum(ln.unallocated for ln in self.lines)
        return totals

    def _sums(self) -> _LineSums:
        """Each counter summed over the lines.

        Attribute by attribute, not through ``getattr``: a simulation asks an order's
        status after every delivery, and a generic loop cost a few percent of a run.
        """
        quantity = committed = backordered = shipped = delivered = cancelled = 0
        returned = lost = lost_resolved = unclaimed = 0
        for ln in self.lines:
            quantity += ln.quantity
            committed += ln.committed
            backordered += ln.backordered
            shipped += ln.shipped
            delivered += ln.delivered
            cancelled += ln.cancelled
            returned += ln.returned
            lost += ln.lost
            lost_resolved += ln.lost_resolved
            unclaimed += ln.unclaimed
        return _LineSums(
            quantity,
            committed,
            backordered,
            shipped,
            delivered,
            cancelled,
            returned,
            lost,
            lost_resolved,
            unclaimed,
        )

    def line(self, number: int) -> OrderLine:
        """A line by its 1-based number (``InvalidOrder`` if there is no such line)."""
        if type(number) is not int or not 1 <= number <= len(self.lines):
            raise InvalidOrder(f"order {self.id} has no line {number!r}")
        return self.lines[number - 1]

    @property
    def total_price(self) -> Money | None:
        """What the units ordered cost: unit price x quantity over priced lines.

        Lines added later and paid for by others (replacements, exchanges) do not count.
        """
        return self.value({ln.number: ln.quantity for ln in self.lines if not ln.prepaid})

    # -- counter changes (each checks first, then changes) --------------------------------

    def allocate(self, number: int, *, committed: int = 0, backordered: int = 0) -> None:
        """Source unallocated units of a line: committed on hand, or backordered."""
        ln = self.line(number)
        if committed < 0 or backordered < 0 or committed + backordered > ln.unallocated:
            raise IllegalTransition(
                f"line {number} of order {self.id} has {ln.unallocated} unallocated units; "
                f"cannot allocate {committed} + {backordered} backordered"
            )
        ln.committed += committed
        ln.backordered += backordered

    def deallocate(self, number: int, *, committed: int = 0, backordered: int = 0) -> None:
        """Return allocated units of a line to unallocated (a location rejected them)."""
        ln = self.line(number)
        if not (0 <= committed <= ln.committed and 0 <= backordered <= ln.backordered):
            raise IllegalTransition(
                f"line {number} of order {self.id} cannot give back {committed} committed and "
                f"{backordered} backordered units (it has {ln.committed} and {ln.backordered})"
            )
        ln.committed -= committed
        ln.backordered -= backordered

    def _take(
        self,
        number: int,
        units: int,
        have: Callable[[OrderLine], int],
        what: str,
        action: str,
    ) -> OrderLine:
        """Line ``number``, if ``units`` (more than 0) fit in what ``have`` counts of it."""
        ln = self.line(number)
        if not 0 < units <= have(ln):
            raise IllegalTransition(
                f"line {number} of order {self.id} has {have(ln)} {what}; cannot {action} {units}"
            )
        return ln

    def fill_backorder(self, number: int, units: int) -> None:
        """Backordered units of a line became committed as supply arrived."""
        ln = self._take(number, units, lambda ln: ln.backordered, "backordered units", "fill")
        ln.backordered -= units
        ln.committed += units

    def ship(self, number: int, units: int) -> None:
        """Committed units of a line left a location."""
        ln = self._take(number, units, lambda ln: ln.committed, "committed units", "ship")
        ln.committed -= units
        ln.shipped += units

    def deliver(self, number: int, units: int) -> None:
        """Shipped units of a line reached the customer."""
        ln = self._take(number, units, _in_transit, "units in transit", "deliver")
        ln.delivered += units

    def lose(self, number: int, units: int) -> None:
        """Units of a line in transit were lost by the carrier."""
        ln = self._take(number, units, _in_transit, "units in transit", "lose")
        ln.lost += units

    def unclaim(self, number: int, units: int) -> None:
        """Units of a line waiting at a pickup store were never collected."""
        ln = self._take(number, units, _in_transit, "units in transit or waiting", "leave")
        ln.unclaimed += units

    def resolve_lost(self, number: int, units: int) -> None:
        """Lost units of a line were reshipped or refunded."""
        ln = self._take(
            number,
            units,
            lambda ln: ln.lost - ln.lost_resolved,
            "lost units not yet resolved",
            "resolve",
        )
        ln.lost_resolved += units

    def add_replacement(self, number: int, units: int) -> OrderLine:
        """A new line sending ``units`` of line ``number`` again, free, after a loss."""
        if len(self.lines) >= MAX_LINES:
            raise InvalidOrder(f"order {self.id} has {MAX_LINES} lines; the limit")
        ln = self._take(
            number,
            units,
            lambda ln: ln.lost - self.replaced(number),
            "lost units not yet replaced",
            "replace",
        )
        new = OrderLine(len(self.lines) + 1, ln.sku, units, replaces=number)
        self.lines.append(new)
        return new

    def replaced(self, number: int) -> int:
        """Units of line ``number`` sent again on replacement lines."""
        return sum(ln.quantity for ln in self.lines if ln.replaces == number)

    def cancel(self, number: int, *, unallocated: int, backordered: int, committed: int) -> None:
        """Cancel units of a line, taking them from the named states."""
        ln = self.line(number)
        if not (
            0 <= unallocated <= ln.unallocated
            and 0 <= backordered <= ln.backordered
            and 0 <= committed <= ln.committed
            and unallocated + backordered + committed > 0
        ):
            raise IllegalTransition(
                f"line {number} of order {self.id} cannot cancel {unallocated} unallocated, "
                f"{backordered} backordered and {committed} committed units"
            )
        ln.backordered -= backordered
        ln.committed -= committed
        ln.cancelled += unallocated + backordered + committed

    def record_return(self, number: int, units: int) -> None:
        """Delivered units of a line came back."""
        ln = self._take(
            number,
            units,
            lambda ln: ln.delivered - ln.returned,
            "delivered units not yet returned",
            "return",
        )
        ln.returned += units

    def returnable(self, number: int) -> int:
        """Units of line ``number`` the customer may still ask to return.

        Delivered, not returned, and not named by a return request still open.
        """
        ln = self.line(number)
        pending = sum(r.asked(number) for r in self.returns if r.is_open)
        return ln.delivered - ln.returned - pending

    def return_request(self, return_id: str) -> ReturnRequest:
        """One of the order's return requests by id (``UnknownReturn`` if none)."""
        for r in self.returns:
            if r.id == return_id:
                return r
        raise UnknownReturn(f"order {self.id} has no return {return_id!r}")

    def add_exchange(self, exchange: ExchangeLine) -> OrderLine:
        """A new line sending units in exchange for returned units of ``exchange.line``.

        Its price is the one given, else the returned line's; the returned units paid
        for it, so only a difference moves money.
        """
        if len(self.lines) >= MAX_LINES:
            raise InvalidOrder(f"order {self.id} has {MAX_LINES} lines; the limit")
        paid = self.price_of(exchange.line)
        price = exchange.unit_price or paid
        if price is not None and paid is not None and price.currency != paid.currency:
            raise InvalidOrder(f"order {self.id} was paid in {paid.currency}, not {price.currency}")
        new = OrderLine(
            len(self.lines) + 1, exchange.sku, exchange.units, price, exchange_for=exchange.line
        )
        self.lines.append(new)
        return new

    def note(self, at: datetime, what: str) -> None:
        """Record a change to the order in its :attr:`history`."""
        self.history.append((at, what))

    def price_of(self, number: int) -> Money | None:
        """What one unit of line ``number`` was paid at: a replacement, its original's price.

        A replacement of a replacement goes back to the line first paid for.
        """
        ln = self.line(number)
        while ln.replaces is not None:
            ln = self.line(ln.replaces)
        return ln.unit_price

    def owed_value(self) -> Money | None:
        """What the customer has, or will still get, of what they paid for.

        A return, a lost parcel refunded or a replacement cancelled refunds what was
        paid beyond it. Units of priced lines count once shipped (shipping is when they
        are paid for) until returned, or lost and then resolved (reshipped or refunded);
        replacement and exchange units count until cancelled, returned, or lost and
        resolved (they were paid for by the units they stand for). A lost parcel not
        yet resolved still counts. So do the shipping charge once anything shipped
        (until the refund policy gives it back), and what returns withheld (a fee, a
        share of a unit's price the inspector did not allow).
        """
        currency, amount = None, Decimal(0)
        for ln in self.lines:
            price = self.price_of(ln.number)
            if price is not None:
                currency = price.currency
                units = ln.quantity - ln.cancelled if ln.prepaid else ln.shipped
                gone = ln.returned + ln.lost_resolved + ln.unclaimed
                amount += price.amount * (units - gone)
        if self.shipping is not None:
            currency = self.shipping.currency
            if not self.shipping_refunded and any(ln.shipped for ln in self.lines):
                amount += self.shipping.amount
        if currency is None:
            return None
        return Money(amount + sum((r.withheld for r in self.returns), Decimal(0)), currency)

    @property
    def total(self) -> Money | None:
        """What the customer pays: every unit at its price, plus shipping."""
        units = self.total_price
        if self.shipping is None:
            return units
        return self.shipping if units is None else units + self.shipping

    def value(self, units: dict[int, int]) -> Money | None:
        """What ``{line number: units}`` cost at the lines' prices (``None``: no price).

        Replacement lines have no price: they were paid for with the lines they replace.
        """
        total: Money | None = None
        for number, n in units.items():
            price = self.line(number).unit_price
            if price is not None and n:
                total = price * n if total is None else total + price * n
        return total

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` if a counter or the payment is impossible."""
        if self.payment is not None:
            self.payment.check_invariants()
        for ln in self.lines:
            broken = _broken_counter_rule(ln)
            if broken is not None:
                raise InvariantViolation(f"order {self.id} line {ln.number}: {broken}: {ln}")


def _broken_counter_rule(ln: OrderLine) -> str | None:
    """The first counter rule a line breaks, said plainly, or None."""
    parts = {
        "committed": ln.committed,
        "backordered": ln.backordered,
        "shipped": ln.shipped,
        "cancelled": ln.cancelled,
        "unallocated": ln.unallocated,
    }
    if min(parts.values()) < 0:
        shown = ", ".join(f"{k} {v}" for k, v in parts.items())
        return f"a counter is negative ({shown}; they sum to the quantity {ln.quantity})"
    if not 0 <= ln.returned <= ln.delivered <= ln.shipped:
        return (
            f"not 0 <= returned {ln.returned} <= delivered {ln.delivered} <= shipped {ln.shipped}"
        )
    if not 0 <= ln.lost_resolved <= ln.lost:
        return f"not 0 <= lost resolved {ln.lost_resolved} <= lost {ln.lost}"
    if ln.unclaimed < 0 or ln.lost + ln.unclaimed > ln.shipped - ln.delivered:
        return (
            f"lost {ln.lost} and unclaimed {ln.unclaimed} do not fit in the "
            f"{ln.shipped - ln.delivered} units in transit"
        )
    return None


def _in_transit(ln: OrderLine) -> int:
    return ln.in_transit
