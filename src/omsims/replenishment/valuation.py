"""Stock valuation: what the stock on hand is worth, and what the goods shipped cost.

:func:`value_stock` replays ledger entries and keeps cost layers per position (a SKU at a
location), by first-in-first-out or moving average, chosen per SKU:

- Receipts (``RECEIVED``, ``EXPECTED_RECEIVED``) add units at their ``unit_cost``.
- Shipments, write-offs, negative adjustments and transfers out take units out: FIFO
  from the oldest layers first, moving average at the current average.
- A transfer's arrival at its destination brings exactly the cost its departure took
  out at the origin (matched by the transfer id, the entries' ``reference``); a
  cancelled transfer brings that cost back to the origin.
- A customer return comes back at the average cost of the shipments it came from, made
  before it, of the same SKU: those with the return's reference, or, for a reference
  that is no shipment's, those of the references ``returned_from`` names for it. When
  none is known, it comes back at the position's current average cost.
- A positive adjustment, and a receipt without a cost, come in at the position's current
  average cost, or the last it had. A position that never had a cost counts such units
  as *unvalued* (``unvalued_units``): no price is ever invented. They are its oldest
  units, and the first to leave.

Only entries that move on hand count; on hand includes unavailable (damaged) units,
which keep their value until written off.

Amounts are exact ``Decimal`` values in the one currency of the costs (mixing currencies
raises ``InvalidMoney``). Divisions that do not come out exact (an average, a share of a
layer) are cut at 18 decimal places, half-even, and every value leaving a position is
taken off it exactly, so value is conserved to the last digit. Only what is shown to
people is rounded to the currency's minor unit: :meth:`Valuation.money` and ``str()``.

>>> from datetime import datetime, UTC
>>> from omsims import Ledger, Money
>>> t = datetime(2026, 3, 1, 9, tzinfo=UTC)
>>> ledger = Ledger()
>>> ledger.add_location("berlin-dc")
>>> _ = ledger.receive("MUG", "berlin-dc", 10, at=t, unit_cost=Money("2.00", "EUR"))
>>> _ = ledger.receive("MUG", "berlin-dc", 10, at=t, unit_cost=Money("3.00", "EUR"))
>>> _ = ledger.commit("MUG", "berlin-dc", 15, at=t, reference="web-1-F1#1")
>>> _ = ledger.ship("MUG", "berlin-dc", 15, at=t, reference="web-1-F1#1")
>>> fifo = value_stock(ledger.entries())
>>> fifo.shipped["web-1-F1#1"].value, fifo.position("MUG", "berlin-dc").value
(Decimal('35.00'), Decimal('15.00'))
>>> average = value_stock(ledger.entries(), method=CostMethod.MOVING_AVERAGE)
>>> average.shipped["web-1-F1#1"].value, average.position("MUG", "berlin-dc").value
(Decimal('37.50'), Decimal('12.50'))
>>> print(fifo)
stock value in EUR
  MUG @ berlin-dc (fifo): 5 units, 15.00 EUR (3.00 EUR a unit)
  network: 5 units, 15.00 EUR
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

import attrs

from omsims.domain.stock import LedgerEntry
from omsims.domain.values import LocationId, Money, Sku, aware
from omsims.errors import InvalidMoney, InvalidParameter, InvariantViolation
from omsims.replenishment._costing import CONTEXT, FLOWS, Replay, Stock, share

__all__ = [
    "CostLayer",
    "CostMethod",
    "PositionValue",
    "ShippedCost",
    "StockValue",
    "Valuation",
    "ValueFlows",
    "value_stock",
]

_ZERO: Final = Decimal(0)


class CostMethod(enum.Enum):
    """How units leaving a position are costed."""

    FIFO = "fifo"
    """First in, first out: units leave at the cost of the oldest layers."""
    MOVING_AVERAGE = "moving_average"
    """Units leave at the average cost of what is on hand; every arrival moves it."""


def _per_unit(value: Decimal, units: int) -> Decimal | None:
    return share(value, 1, units) if units else None


@attrs.frozen
class CostLayer:
    """Units that arrived together at one cost (FIFO), or every valued unit (moving average).

    >>> CostLayer(3, Decimal("10.00")).unit_cost
    Decimal('3.333333333333333333')
    """

    units: int
    value: Decimal

    @property
    def unit_cost(self) -> Decimal:
        """``value / units``, exact or to 18 decimal places."""
        return share(self.value, 1, self.units)


@attrs.frozen
class StockValue:
    """Units on hand and what they are worth (a position's, or a total).

    ``value`` is the exact value of the units whose cost is known; ``unvalued_units`` are
    the units of ``units`` whose cost is not.

    >>> total = StockValue(5, Decimal("15.00")) + StockValue(2, Decimal("0"), 2)
    >>> total, total.average_cost
    (StockValue(units=7, value=Decimal('15.00'), unvalued_units=2), Decimal('3.00'))
    """

    units: int = 0
    value: Decimal = _ZERO
    unvalued_units: int = 0

    @property
    def average_cost(self) -> Decimal | None:
        """The value of a valued unit on average (``None`` if no unit is valued)."""
        return _per_unit(self.value, self.units - self.unvalued_units)

    def __add__(self, other: StockValue) -> StockValue:
        """The sum of two stock values (of the same currency)."""
        return StockValue(
            self.units + other.units,
            CONTEXT.add(self.value, other.value),
            self.unvalued_units + other.unvalued_units,
        )


@attrs.frozen
class ShippedCost:
    """The cost of goods shipped: units, the value of those whose cost is known, the rest.

    >>> ShippedCost(15, Decimal("35.00")).unit_cost
    Decimal('2.333333333333333333')
    """

    units: int = 0
    value: Decimal = _ZERO
    unvalued_units: int = 0

    @property
    def unit_cost(self) -> Decimal | None:
        """The average cost of a shipped unit whose cost is known (``None`` if none is)."""
        return _per_unit(self.value, self.units - self.unvalued_units)

    def __add__(self, other: ShippedCost) -> ShippedCost:
        """The cost of both shipments together."""
        return ShippedCost(
            self.units + other.units,
            CONTEXT.add(self.value, other.value),
            self.unvalued_units + other.unvalued_units,
        )


@attrs.frozen
class ValueFlows:
    """Value that came into a position and went out of it, by cause (exact amounts).

    Conservation: ``inflow == value on hand + outflow``, exactly. ``transferred_in`` also
    counts what a cancelled transfer brought back to its origin.

    >>> ValueFlows(received=Decimal("50.00"), shipped=Decimal("35.00")).inflow
    Decimal('50.00')
    """

    received: Decimal = _ZERO
    returned: Decimal = _ZERO
    adjusted_in: Decimal = _ZERO
    transferred_in: Decimal = _ZERO
    shipped: Decimal = _ZERO
    written_off: Decimal = _ZERO
    adjusted_out: Decimal = _ZERO
    transferred_out: Decimal = _ZERO

    @property
    def inflow(self) -> Decimal:
        """Received + returned + adjusted in + transferred in."""
        return _sum((self.received, self.returned, self.adjusted_in, self.transferred_in))

    @property
    def outflow(self) -> Decimal:
        """Shipped + written off + adjusted out + transferred out."""
        return _sum((self.shipped, self.written_off, self.adjusted_out, self.transferred_out))


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    total = _ZERO
    for amount in amounts:
        total = CONTEXT.add(total, amount)
    return total


@attrs.frozen
class PositionValue:
    """The value of one position: its units on hand, their cost layers, and its flows.

    ``units`` is the position's on hand (as of the valuation's time); ``value`` is
    exact; ``layers`` are oldest first (one for moving average); ``shipped`` is the
    cost of every shipment from the position.

    >>> p = PositionValue("MUG", "berlin-dc", CostMethod.FIFO, 5, Decimal("15.00"))
    >>> p.average_cost, p.stock
    (Decimal('3.00'), StockValue(units=5, value=Decimal('15.00'), unvalued_units=0))
    """

    sku: Sku
    location: LocationId
    method: CostMethod
    units: int = 0
    value: Decimal = _ZERO
    unvalued_units: int = 0
    layers: tuple[CostLayer, ...] = ()
    flows: ValueFlows = ValueFlows()
    shipped: ShippedCost = ShippedCost()

    @property
    def average_cost(self) -> Decimal | None:
        """The value of a valued unit on average (``None`` if no unit is valued)."""
        return _per_unit(self.value, self.units - self.unvalued_units)

    @property
    def stock(self) -> StockValue:
        """Units, value and unvalued units, without the position."""
        return StockValue(self.units, self.value, self.unvalued_units)


_Shipments = tuple[tuple[datetime, ...], tuple[tuple[int, Decimal, int], ...]]


@attrs.frozen
class Valuation:
    """What :func:`value_stock` found: the value per position, shipments' costs, transit.

    ``positions`` maps (sku, location) to its :class:`PositionValue`, for every position
    that ever had units on hand; ``shipped`` maps a shipment's reference (an order's
    fulfilment line, ``line_reference(fulfilment_order_id, line)``) to its cost;
    ``in_transit`` maps a transfer id to what is on its way (it counts in no position's
    on hand). ``currency`` is the costs' currency (``None`` if no entry had a cost).
    Amounts are exact; :meth:`money` rounds one to show it.
    """

    currency: str | None
    as_of: datetime | None
    method: CostMethod
    methods: Mapping[str, CostMethod]
    positions: Mapping[tuple[Sku, LocationId], PositionValue]
    shipped: Mapping[str, ShippedCost]
    in_transit: Mapping[str, StockValue]
    _shipments: Mapping[tuple[Sku, LocationId], _Shipments] = attrs.field(
        factory=dict, repr=False, eq=False, alias="shipments"
    )

    def method_for(self, sku: str) -> CostMethod:
        """The cost method of ``sku``: its own, or the default."""
        return self.methods.get(sku, self.method)

    def position(self, sku: str, location: str) -> PositionValue:
        """The value of one position (empty if it never had units on hand). O(1)."""
        found = self.positions.get((Sku(sku), LocationId(location)))
        if found is None:
            return PositionValue(Sku(sku), LocationId(location), self.method_for(sku))
        return found

    @property
    def total(self) -> StockValue:
        """Everything on hand in the network (transfers in transit are not). O(positions)."""
        total = StockValue()
        for p in self.positions.values():
            total += p.stock
        return total

    @property
    def unvalued_units(self) -> int:
        """Units on hand in the network whose cost is not known."""
        return sum(p.unvalued_units for p in self.positions.values())

    def by_location(self) -> dict[LocationId, StockValue]:
        """What is on hand per location, over its SKUs. O(positions)."""
        totals: dict[LocationId, StockValue] = {}
        for (_, location), p in self.positions.items():
            totals[location] = totals.get(location, StockValue()) + p.stock
        return totals

    def by_sku(self) -> dict[Sku, StockValue]:
        """What is on hand per SKU, over its locations. O(positions)."""
        totals: dict[Sku, StockValue] = {}
        for (sku, _), p in self.positions.items():
            totals[sku] = totals.get(sku, StockValue()) + p.stock
        return totals

    def shipped_between(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> dict[tuple[Sku, LocationId], ShippedCost]:
        """The cost of goods shipped per position, by shipments after ``since`` up to ``until``.

        Either bound may be left open. Positions that shipped nothing then are left out.
        A turnover report divides this by the average stock value over the same window.

        >>> from datetime import datetime, UTC
        >>> from omsims import Ledger, Money
        >>> t = datetime(2026, 3, 1, tzinfo=UTC)
        >>> ledger = Ledger()
        >>> ledger.add_location("hub")
        >>> _ = ledger.receive("A", "hub", 9, at=t, unit_cost=Money("1.50", "EUR"))
        >>> for day in (2, 3, 4):
        ...     _ = ledger.commit("A", "hub", 3, at=t.replace(day=day), reference=f"o{day}")
        ...     _ = ledger.ship("A", "hub", 3, at=t.replace(day=day), reference=f"o{day}")
        >>> value_stock(ledger.entries()).shipped_between(t.replace(day=2), t.replace(day=4))
        {('A', 'hub'): ShippedCost(units=6, value=Decimal('9.00'), unvalued_units=0)}

        Runtime complexity: O(p log s) for p positions of s shipments each.
        """
        if since is not None:
            aware(since, "since")
        if until is not None:
            aware(until, "until")
        window: dict[tuple[Sku, LocationId], ShippedCost] = {}
        for k, (times, totals) in self._shipments.items():
            last = len(times) if until is None else bisect_right(times, until)
            first = 0 if since is None else bisect_right(times, since)
            if last <= first:
                continue
            units, value, unvalued = totals[last - 1]
            if first:
                before = totals[first - 1]
                units, unvalued = units - before[0], unvalued - before[2]
                value = CONTEXT.subtract(value, before[1])
            window[k] = ShippedCost(units, value, unvalued)
        return window

    def money(self, amount: Decimal) -> Money:
        """``amount`` in the valuation's currency, rounded half-even to its minor unit.

        >>> valuation = value_stock([])
        >>> valuation.money(Decimal("1"))
        Traceback (most recent call last):
        ...
        omsims.errors.InvalidMoney: no entry had a cost: there is no currency to show ...
        """
        if self.currency is None:
            raise InvalidMoney("no entry had a cost: there is no currency to show amounts in")
        minor = Money(0, self.currency).minor_unit
        return Money(amount.quantize(minor, ROUND_HALF_EVEN, CONTEXT), self.currency)

    def check_invariants(self) -> None:
        """Prove each position's books balance: units, layers and value flows agree.

        Raises ``InvariantViolation``. Runtime complexity: O(positions + layers).
        """
        for (sku, location), p in self.positions.items():
            where = f"{sku} at {location}"
            layered = sum(layer.units for layer in p.layers)
            if layered + p.unvalued_units != p.units or min(p.units, p.unvalued_units) < 0:
                raise InvariantViolation(f"{where}: {p.units} units, layers hold {layered}")
            if _sum(layer.value for layer in p.layers) != p.value or p.value < 0:
                raise InvariantViolation(f"{where}: value {p.value} is not its layers' sum")
            if p.flows.inflow != CONTEXT.add(p.value, p.flows.outflow):
                raise InvariantViolation(
                    f"{where}: {p.flows.inflow} came in, {p.value} is on hand and "
                    f"{p.flows.outflow} went out"
                )
            if p.flows.shipped != p.shipped.value:
                raise InvariantViolation(f"{where}: shipments cost {p.shipped.value}")

    def __str__(self) -> str:
        """Every position, then the network's total, rounded to the currency."""
        when = "" if self.as_of is None else f" as of {self.as_of:%Y-%m-%d %H:%M %Z}"
        lines = [f"stock value in {self.currency or '(no currency)'}{when}"]
        lines += [
            f"  {p.sku} @ {p.location} ({p.method.value}): {self._show(p.stock)}"
            for p in self.positions.values()
        ]
        lines.append(f"  network: {self._show(self.total, average=False)}")
        return "\n".join(lines)

    def _show(self, stock: StockValue, *, average: bool = True) -> str:
        text = f"{stock.units} unit{'' if stock.units == 1 else 's'}"
        if self.currency is not None:
            text += f", {self.money(stock.value)}"
            cost = stock.average_cost
            if average and cost is not None:
                text += f" ({self.money(cost)} a unit)"
        if stock.unvalued_units:
            text += f", {stock.unvalued_units} of them without a known cost"
        return text


def value_stock(
    entries: Iterable[LedgerEntry],
    *,
    method: CostMethod = CostMethod.FIFO,
    methods: Mapping[str, CostMethod] | None = None,
    as_of: datetime | None = None,
    returned_from: Mapping[str, Collection[str]] | None = None,
) -> Valuation:
    """Value the stock that ``entries`` leave on hand, and the goods they shipped.

    Args:
        entries: ledger entries, e.g. ``Ledger.entries()``; only those that move on hand
            count. Each position's are replayed in (business time, sequence) order
            (given in that order they are not sorted again).
        method: the cost method of every SKU that ``methods`` does not name.
        methods: a cost method per SKU.
        as_of: value as of this business time: entries after it are left out.
        returned_from: for customer returns whose reference is no shipment's (a return
            request, an order), the shipment references their units came from; a return
            comes back at the cost those shipments had (of its SKU, before it).

    The rules are in the module docstring. Raises ``InvalidMoney`` if the costs are in
    more than one currency, ``InvalidParameter`` for a bad method or if the entries take
    out of a position more units than were on hand (some of its entries are missing).

    Runtime complexity: O(n) in the entries (plus O(k log k) for the k entries of any
    position given out of order, and O(s) per customer return for the s shipments it may
    have come from); memory O(positions + cost layers + shipments).
    """
    if not isinstance(method, CostMethod):
        raise InvalidParameter(f"method must be a CostMethod, got {method!r}")
    chosen = dict(methods or {})
    for sku, m in chosen.items():
        if not isinstance(m, CostMethod):
            raise InvalidParameter(f"the method of {sku!r} must be a CostMethod, got {m!r}")
    if as_of is not None:
        aware(as_of, "as_of")
    replay = Replay(
        entries,
        fifo={sku: m is CostMethod.FIFO for sku, m in chosen.items()},
        default_fifo=method is CostMethod.FIFO,
        as_of=as_of,
        returned_from=returned_from or {},
    )
    replay.run()
    positions = {}
    shipments: dict[tuple[Sku, LocationId], _Shipments] = {}
    for (sku, location), stock in replay.stocks.items():
        k = (Sku(sku), LocationId(location))
        positions[k] = _position_value(stock, chosen.get(sku, method))
        if stock.shipments:
            shipments[k] = (
                tuple(s[0] for s in stock.shipments),
                tuple(s[1:] for s in stock.shipments),
            )
    return Valuation(
        currency=replay.currency,
        as_of=as_of,
        method=method,
        methods=chosen,
        positions=positions,
        shipped={ref: ShippedCost(*cost) for ref, cost in replay.shipped.items()},
        in_transit={
            tid: StockValue(
                sum(lot.units for lot in lots),
                _sum(lot.value for lot in lots if lot.value is not None),
                sum(lot.units for lot in lots if lot.value is None),
            )
            for tid, lots in replay.in_transit.items()
            if lots
        },
        shipments=shipments,
    )


def _position_value(stock: Stock, method: CostMethod) -> PositionValue:
    shipped = stock.shipments[-1][1:] if stock.shipments else (0, _ZERO, 0)
    return PositionValue(
        Sku(stock.sku),
        LocationId(stock.location),
        method,
        stock.units + stock.unvalued,
        stock.value,
        stock.unvalued,
        tuple(CostLayer(layer.units, layer.value) for layer in stock.layers),
        ValueFlows(**dict(zip(FLOWS, stock.flows, strict=True))),
        ShippedCost(*shipped),
    )
