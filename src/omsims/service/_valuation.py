"""Valuation queries: what the stock on hand is worth, and what an order's shipments cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from omsims.domain.fulfilment import line_reference
from omsims.domain.stock import EntryKind, LedgerEntry
from omsims.domain.values import Money
from omsims.ports import UnitOfWork
from omsims.replenishment.valuation import CostMethod, ShippedCost, Valuation, value_stock
from omsims.service._core import ServiceCore

__all__ = ["ValuationQueries"]

_RETURNS = (EntryKind.RETURNED, EntryKind.RETURNED_UNAVAILABLE)


class ValuationQueries(ServiceCore):
    """Read-only: the ledger replayed into cost layers (:mod:`omsims.replenishment.valuation`)."""

    def valuation(
        self,
        *,
        method: CostMethod = CostMethod.FIFO,
        methods: Mapping[str, CostMethod] | None = None,
        as_of: datetime | None = None,
    ) -> Valuation:
        """The value of the stock on hand, per position, and what every shipment cost.

        Receipts carry their ``unit_cost``; ``method`` (FIFO or moving average) costs
        the units that leave, per SKU from ``methods`` where it names one. Units
        returned by a customer come back at what their order's shipments of that SKU
        cost; ``as_of`` values the stock as it stood then. See
        :func:`~omsims.replenishment.valuation.value_stock` for every rule.

        >>> from datetime import datetime, UTC
        >>> from omsims import Oms, Location, ManualClock, Money
        >>> oms = Oms(clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("MUG", "berlin-dc", 10, unit_cost=Money("2.00", "EUR"))
        >>> _ = oms.receive("MUG", "berlin-dc", 10, unit_cost=Money("3.00", "EUR"))
        >>> _ = oms.place_order("web-1", [("MUG", 15)])
        >>> _ = oms.ship(oms.accept("web-1-F1").id)
        >>> print(oms.valuation())
        stock value in EUR
          MUG @ berlin-dc (fifo): 5 units, 15.00 EUR (3.00 EUR a unit)
          network: 5 units, 15.00 EUR
        >>> oms.valuation(method=CostMethod.MOVING_AVERAGE).total.value
        Decimal('12.50')

        Runtime complexity: O(entries), plus O(orders) when customer returns name
        orders, return requests or parcels (the service's references for returns).
        """
        with self._read() as uow:
            entries = uow.ledger.entries()
            returned_from = _returned_from(uow, entries)
        return value_stock(
            entries, method=method, methods=methods, as_of=as_of, returned_from=returned_from
        )

    def shipped_cost(
        self,
        order_id: str,
        *,
        method: CostMethod = CostMethod.FIFO,
        methods: Mapping[str, CostMethod] | None = None,
    ) -> dict[int, Money | None]:
        """The cost of the goods shipped for each line of an order (``UnknownOrder`` if none).

        Per order line that shipped units, the cost of those units (from every location
        that shipped them), rounded half-even to the currency's minor unit; ``None`` if
        some of them had no known cost (their receipts carried none). Costed as
        :meth:`valuation` costs them, by ``method`` or ``methods``.

        >>> from datetime import datetime, UTC
        >>> from omsims import Oms, Location, ManualClock, Money
        >>> oms = Oms(clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("MUG", "berlin-dc", 10, unit_cost=Money("2.00", "EUR"))
        >>> _ = oms.receive("MUG", "berlin-dc", 10, unit_cost=Money("3.00", "EUR"))
        >>> _ = oms.receive("TEE", "berlin-dc", 1)
        >>> _ = oms.place_order("web-1", [("MUG", 15), ("TEE", 1)])
        >>> _ = oms.ship(oms.accept("web-1-F1").id)
        >>> oms.shipped_cost("web-1")
        {1: Money(amount=Decimal('35.00'), currency='EUR'), 2: None}

        Runtime complexity: O(entries of the order's SKUs), as :meth:`valuation`.
        """
        with self._read() as uow:
            order = self._order(uow, order_id)
            lines: dict[int, list[str]] = {}
            for fo in uow.fulfilment_orders.for_order(order.id):
                for fl in fo.lines:
                    lines.setdefault(fl.line, []).append(line_reference(fo.id, fl.line))
            skus = {ln.sku for ln in order.lines}
            entries = [e for e in uow.ledger.entries() if e.sku in skus]
            returned_from = _returned_from(uow, entries)
        valuation = value_stock(
            entries, method=method, methods=methods, returned_from=returned_from
        )
        costs: dict[int, Money | None] = {}
        for number, refs in sorted(lines.items()):
            total = ShippedCost()
            for ref in refs:
                total += valuation.shipped.get(ref, ShippedCost())
            if total.units:
                known = not total.unvalued_units and valuation.currency is not None
                costs[number] = valuation.money(total.value) if known else None
        return costs


def _returned_from(uow: UnitOfWork, entries: Sequence[LedgerEntry]) -> dict[str, list[str]]:
    """Where customer returns came from: per reference of a return, its order's shipments.

    The service posts a return under its order's id, its return request's id, or (a
    pickup nobody collected) its parcel's id; each stands for every fulfilment line of
    that order. Orders are read only if some return names no shipment itself.
    """
    shipped = {e.reference for e in entries if e.kind is EntryKind.SHIPPED}
    wanted = {
        e.reference
        for e in entries
        if e.kind in _RETURNS and e.reference is not None and e.reference not in shipped
    }
    if not wanted:
        return {}
    sources: dict[str, list[str]] = {}
    for order in uow.orders.list():
        names = {order.id, *(r.id for r in order.returns)}
        names |= {s.id for s in uow.shipments.for_order(order.id)}
        if names.isdisjoint(wanted):
            continue
        refs = [
            line_reference(fo.id, fl.line)
            for fo in uow.fulfilment_orders.for_order(order.id)
            for fl in fo.lines
        ]
        for name in names & wanted:
            sources[name] = refs
    return sources
