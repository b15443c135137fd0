"""An order's timeline: what happened to it, when, and where every unit is now.

Built from what the order, its fulfilment orders, its shipments and its payment record
(nothing is stored twice), so it is as durable as they are.

>>> from datetime import datetime, UTC
>>> from omsims.domain.orders import Order
>>> at = datetime(2026, 3, 1, 9, tzinfo=UTC)
>>> order = Order.new("web-1001", [("TSHIRT-M", 2)], placed_at=at)
>>> print(build_timeline(order, [], []))
order web-1001 (placed)
  2026-03-01 09:00 UTC  placed on web: 1 line(s), 2 unit(s)
  where the units are:
    line 1 TSHIRT-M: 2 not sourced yet
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import attrs

from omsims.domain.fulfilment import FulfilmentOrder, Shipment, ShipmentStatus
from omsims.domain.orders import Order
from omsims.domain.payments import OperationStatus

__all__ = ["Moment", "Timeline", "UnitsAt", "build_timeline"]


@attrs.frozen
class Moment:
    """One thing that happened: when, to what, and what.

    ``subject`` is the order, a fulfilment order, a parcel or the payment.
    """

    at: datetime
    subject: str
    what: str


@attrs.frozen
class UnitsAt:
    """Some units of a line and where they are.

    ``state`` is one of ``not sourced yet``, ``backordered``, ``ready``, ``in transit``,
    ``awaiting pickup`` (a parcel at the pickup store), ``delivered``, ``returned``,
    ``lost``, ``unclaimed`` (never collected: back in the store's stock), ``cancelled``;
    ``where`` is a location or shipment id, when it has one.
    """

    line: int
    sku: str
    state: str
    units: int
    where: str | None = None


@attrs.frozen
class Timeline:
    """Everything that happened to an order, oldest first, and where its units are now."""

    order_id: str
    status: str
    moments: tuple[Moment, ...]
    units: tuple[UnitsAt, ...]

    def __str__(self) -> str:
        """The timeline as text, one moment and one place per line."""
        rows = [f"order {self.order_id} ({self.status})"]
        for m in self.moments:
            subject = "" if m.subject == self.order_id else f"{m.subject}: "
            rows.append(f"  {m.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC  {subject}{m.what}")
        rows.append("  where the units are:")
        for u in self.units:
            where = f" {'at' if u.state in ('backordered', 'ready') else 'in'} {u.where}"
            rows.append(f"    line {u.line} {u.sku}: {u.units} {u.state}{where if u.where else ''}")
        return "\n".join(rows)


def build_timeline(
    order: Order, fulfilment_orders: Sequence[FulfilmentOrder], shipments: Sequence[Shipment]
) -> Timeline:
    """The timeline of ``order``, from its fulfilment orders and shipments.

    Runtime complexity: O(m log m) in the moments recorded.
    """
    moments = [_placed(order), *_payment(order)]
    moments += [Moment(at, order.id, what) for at, what in order.history]
    for fo in fulfilment_orders:
        units = sum(fl.quantity for fl in fo.lines)
        moments.append(Moment(fo.created_at, fo.id, f"sent to {fo.location}: {units} unit(s)"))
        moments += [Moment(at, fo.id, what) for at, what in fo.history]
    for s in shipments:
        units = sum(n for _line, _sku, n in s.lines)
        via = "" if s.carrier is None else f" with {s.carrier}"
        tracking = "" if s.tracking is None else f", tracking {s.tracking}"
        moments.append(
            Moment(s.shipped_at, s.id, f"shipped {units} unit(s) from {s.location}{via}{tracking}")
        )
        for update in s.history:
            detail = "" if update.detail is None else f": {update.detail}"
            moments.append(Moment(update.at, s.id, f"{update.status.value}{detail}"))
    # Stable: moments at the same instant keep the order they were gathered in.
    moments.sort(key=lambda m: m.at)
    return Timeline(
        order.id, order.status.value, tuple(moments), _units(order, fulfilment_orders, shipments)
    )


def _placed(order: Order) -> Moment:
    units = sum(ln.quantity for ln in order.lines if ln.replaces is None)
    originals = sum(1 for ln in order.lines if ln.replaces is None)
    return Moment(
        order.placed_at,
        order.id,
        f"placed on {order.channel}: {originals} line(s), {units} unit(s)",
    )


def _payment(order: Order) -> list[Moment]:
    pay = order.payment
    if pay is None:
        return []
    subject = f"payment {pay.authorisation}"
    moments = [Moment(pay.authorised_at, subject, f"authorised {pay.authorised} {pay.currency}")]
    moments += [
        Moment(t.at, f"payment {t.reference}", f"authorised {t.amount} {pay.currency} ({t.reason})")
        for t in pay.top_ups
    ]
    for op in pay.operations:
        subject = f"payment {pay.under(op)}"
        amount = f"{op.amount} {pay.currency}"
        moments.append(
            Moment(op.requested_at, subject, f"{op.kind.value} of {amount} asked ({op.reason})")
        )
        if op.settled_at is not None:
            outcome = "done" if op.status is OperationStatus.SUCCEEDED else f"declined: {op.error}"
            moments.append(Moment(op.settled_at, subject, f"{op.kind.value} of {amount} {outcome}"))
    return moments


def _units(
    order: Order, fulfilment_orders: Sequence[FulfilmentOrder], shipments: Sequence[Shipment]
) -> tuple[UnitsAt, ...]:
    places: list[UnitsAt] = []
    for ln in order.lines:
        found: list[tuple[str, int, str | None]] = [("not sourced yet", ln.unallocated, None)]
        for fo in fulfilment_orders:
            fl = fo.line(ln.number)
            if fl is not None and not fo.is_closed:
                found += [
                    ("backordered", fl.backordered, fo.location),
                    ("ready", fl.ready, fo.location),
                ]
        for s in shipments:
            if not s.is_final:
                units = sum(n for number, _sku, n in s.lines if number == ln.number)
                waiting = s.status is ShipmentStatus.AWAITING_PICKUP
                found.append(("awaiting pickup" if waiting else "in transit", units, s.id))
        found += [
            ("delivered", ln.delivered - ln.returned, None),
            ("returned", ln.returned, None),
            ("lost", ln.lost, None),
            ("unclaimed", ln.unclaimed, order.pickup_at),
            ("cancelled", ln.cancelled, None),
        ]
        places += [UnitsAt(ln.number, ln.sku, state, n, where) for state, n, where in found if n]
    return tuple(places)
