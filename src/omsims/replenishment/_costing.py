"""The replay behind :func:`omsims.replenishment.valuation.value_stock`: cost layers per position.

Private: :mod:`omsims.replenishment.valuation` holds the public names and the rules in
words; this module holds the bookkeeping.

Each position keeps its units without a known cost (``unvalued``: always its oldest
units, since a position that has known a cost values every later arrival) and a deque of
cost layers, oldest first. FIFO appends a layer per arrival; moving average keeps one
layer that every arrival merges into. Units leave unvalued first, then from the oldest
layer, so one routine serves both methods.

Positions replay independently, each in (business time, sequence) order. Two kinds of
entry need another position's result first: a transfer's arrival needs what its
departure took out at the origin, and a customer return needs the cost of the shipments
it came from. Such an entry waits, its position parked, until that result exists, while
the other positions go on. Every dependency points to an entry earlier in business
time, so the replay ends; should bad data ever tie positions in a knot, the blocked
entry that sorts first is valued as if its source were unknown.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final

from omsims.domain.stock import SIGNS, EntryKind, LedgerEntry
from omsims.errors import InvalidMoney, InvalidParameter

__all__ = ["CONTEXT", "FLOWS", "Layer", "Lot", "Replay", "Stock", "share"]

CONTEXT: Final = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Sums and differences are exact under it: amounts below 10**15 a unit, 18 decimal
places and quantities below 10**9 an entry leave room to spare in 60 digits."""

_PLACES: Final = Decimal("1e-18")
_ZERO: Final = Decimal(0)


class _Role(enum.Enum):
    """What an entry does to a position's cost layers."""

    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    WRITE_OFF = "write_off"
    ADJUSTMENT = "adjustment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    TRANSFER_BACK = "transfer_back"
    RETURN = "return"


_K = EntryKind
_R = _Role
_ROLES: Final[dict[EntryKind, _Role]] = {
    _K.RECEIVED: _R.RECEIPT,
    _K.EXPECTED_RECEIVED: _R.RECEIPT,
    _K.SHIPPED: _R.SHIPMENT,
    _K.WRITTEN_OFF: _R.WRITE_OFF,
    _K.WRITTEN_OFF_UNAVAILABLE: _R.WRITE_OFF,
    _K.ADJUSTED: _R.ADJUSTMENT,
    _K.TRANSFERRED_OUT: _R.TRANSFER_OUT,
    _K.TRANSFERRED_OUT_UNAVAILABLE: _R.TRANSFER_OUT,
    _K.TRANSFERRED_IN: _R.TRANSFER_IN,
    _K.TRANSFERRED_IN_UNAVAILABLE: _R.TRANSFER_IN,
    _K.TRANSFER_RETURNED: _R.TRANSFER_BACK,
    _K.TRANSFER_RETURNED_UNAVAILABLE: _R.TRANSFER_BACK,
    _K.RETURNED: _R.RETURN,
    _K.RETURNED_UNAVAILABLE: _R.RETURN,
}
"""Every kind that moves on hand, and its role; the other kinds leave value alone."""
if {k for k, signs in SIGNS.items() if signs[0]} != _ROLES.keys():  # pragma: no cover
    msg = "an entry kind that moves on hand has no role in valuation"
    raise AssertionError(msg)

FLOWS: Final = (
    "received",
    "returned",
    "adjusted_in",
    "transferred_in",
    "shipped",
    "written_off",
    "adjusted_out",
    "transferred_out",
)
"""The value flows kept per position, in the order of ``ValueFlows``' fields."""
_RECEIVED, _RETURNED, _ADJUSTED_IN, _TRANSFERRED_IN = 0, 1, 2, 3
_SHIPPED, _WRITTEN_OFF, _ADJUSTED_OUT, _TRANSFERRED_OUT = 4, 5, 6, 7

_Slice = tuple[int, Decimal | None]  # units on the move and their value (None: not known)


def share(value: Decimal, part: int, whole: int) -> Decimal:
    """``value * part / whole``: exact when it can be, else cut at 18 decimal places.

    >>> share(Decimal("50.00"), 15, 20), share(Decimal("10.00"), 1, 3)
    (Decimal('37.50'), Decimal('3.333333333333333333'))
    """
    x = CONTEXT.divide(CONTEXT.multiply(value, part), whole)
    exponent = x.as_tuple().exponent
    return x if isinstance(exponent, int) and exponent >= -18 else CONTEXT.quantize(x, _PLACES)


def _order(e: LedgerEntry) -> tuple[datetime, int]:
    return (e.at, e.sequence)


class Layer:
    """Units that came in together (FIFO), or all valued units (moving average)."""

    __slots__ = ("units", "value")

    def __init__(self, units: int, value: Decimal) -> None:
        self.units = units
        self.value = value


class Lot:
    """Units of a transfer in transit and their value (``None``: not known)."""

    __slots__ = ("units", "value")

    def __init__(self, units: int, value: Decimal | None) -> None:
        self.units = units
        self.value = value


class Stock:
    """One position as the replay goes: its cost layers, value flows and shipments."""

    __slots__ = (
        "blocker",
        "cursor",
        "entries",
        "fifo",
        "flows",
        "last_cost",
        "layers",
        "location",
        "shipments",
        "sku",
        "units",
        "unvalued",
        "value",
    )

    def __init__(self, sku: str, location: str, *, fifo: bool) -> None:
        self.sku, self.location, self.fifo = sku, location, fifo
        self.entries: list[LedgerEntry] = []
        self.cursor = 0  # the next entry to replay
        self.blocker: object = None  # what the next entry waits for
        self.layers: deque[Layer] = deque()  # oldest first
        self.units = 0  # units in layers
        self.value = _ZERO  # value of the layers
        self.unvalued = 0  # units without a known cost, the oldest of all
        self.last_cost: Decimal | None = None  # the average before the layers last emptied
        self.flows = [_ZERO] * len(FLOWS)
        # Per shipment, in replay order, cumulative: (at, units, value, unvalued units).
        self.shipments: list[tuple[datetime, int, Decimal, int]] = []

    def cost(self) -> Decimal | None:
        """What a unit arriving without a cost is worth here: the average, or the last one."""
        if self.units:
            return share(self.value, 1, self.units)
        return self.last_cost

    def take(self, q: int) -> list[_Slice]:
        """Take ``q`` units out: unvalued ones first, then from the oldest layers."""
        slices: list[_Slice] = []
        if self.unvalued:
            n = min(q, self.unvalued)
            self.unvalued -= n
            q -= n
            slices.append((n, None))
        if q > self.units:
            raise InvalidParameter(
                f"{self.sku} at {self.location}: the entries take out {q - self.units} units "
                "more than were on hand: give every on-hand entry of the position"
            )
        if q and q == self.units:
            self.last_cost = share(self.value, 1, self.units)
        layers = self.layers
        while q:
            layer = layers[0]
            if layer.units <= q:
                layers.popleft()
                n, part = layer.units, layer.value
            else:
                n, part = q, share(layer.value, q, layer.units)
                layer.units -= q
                layer.value = CONTEXT.subtract(layer.value, part)
            self.units -= n
            self.value = CONTEXT.subtract(self.value, part)
            q -= n
            slices.append((n, part))
        return slices

    def put(self, slices: Iterable[_Slice], flow: int) -> None:
        """Bring units in; those without a value are worth :meth:`cost`, if there is one."""
        for units, known in slices:
            value = known
            if value is None:
                cost = self.cost()
                if cost is None:
                    self.unvalued += units
                    continue
                value = CONTEXT.multiply(cost, units)
            if self.fifo or not self.layers:
                self.layers.append(Layer(units, value))
            else:
                layer = self.layers[0]
                layer.units += units
                layer.value = CONTEXT.add(layer.value, value)
            self.units += units
            self.value = CONTEXT.add(self.value, value)
            self.flows[flow] = CONTEXT.add(self.flows[flow], value)

    def book(self, slices: list[_Slice], flow: int) -> tuple[int, Decimal, int]:
        """Book units taken out under ``flow``: their (valued units, value, unvalued units)."""
        units, value, unvalued = 0, _ZERO, 0
        for n, v in slices:
            if v is None:
                unvalued += n
            else:
                units += n
                value = CONTEXT.add(value, v)
        self.flows[flow] = CONTEXT.add(self.flows[flow], value)
        return units, value, unvalued


class Replay:
    """One valuation's replay: its positions, the transfers in transit and the shipments.

    Build it, then :meth:`run` it; read ``stocks``, ``in_transit``, ``shipped`` and
    ``currency``. Runtime complexity: O(n) in the entries, plus O(k log k) for the k
    entries of a position given out of (business time, sequence) order, plus, per
    customer return, O(s) in the shipments it may have come from.
    """

    def __init__(
        self,
        entries: Iterable[LedgerEntry],
        *,
        fifo: Mapping[str, bool],
        default_fifo: bool,
        as_of: datetime | None,
        returned_from: Mapping[str, Collection[str]],
    ) -> None:
        """Read the entries (those after ``as_of`` are left out) into their positions."""
        self.currency: str | None = None
        self.stocks: dict[tuple[str, str], Stock] = {}
        # Per transfer, what left the origin and has not arrived nor come back, in order.
        self.in_transit: dict[str, deque[Lot]] = {}
        # Per shipment reference: (units, value, unvalued units), over all its entries.
        self.shipped: dict[str, tuple[int, Decimal, int]] = {}
        self._returned_from = returned_from
        self._departures: set[str] = set()  # transfers whose departure is in the entries
        self._by_reference: dict[str, list[LedgerEntry]] = {}  # shipments per reference
        self._costs: dict[int, tuple[int, Decimal]] = {}  # per shipment: valued units, value
        self._waiting: dict[object, list[Stock]] = {}
        self._ready: deque[Stock] = deque()
        self._read(entries, fifo, default_fifo, as_of)

    def _read(
        self,
        entries: Iterable[LedgerEntry],
        fifo: Mapping[str, bool],
        default_fifo: bool,
        as_of: datetime | None,
    ) -> None:
        stocks = self.stocks
        unsorted: set[tuple[str, str]] = set()
        for e in entries:
            role = _ROLES.get(e.kind)
            if role is None or (as_of is not None and e.at > as_of):
                continue
            k = (e.sku, e.location)
            stock = stocks.get(k)
            if stock is None:
                stock = stocks[k] = Stock(e.sku, e.location, fifo=fifo.get(e.sku, default_fifo))
            elif _order(e) < _order(stock.entries[-1]):
                unsorted.add(k)
            stock.entries.append(e)
            if e.unit_cost is not None and e.unit_cost.currency != self.currency:
                self._note_currency(e.unit_cost.currency)
            if e.reference is not None:
                if role is _R.TRANSFER_OUT:
                    self._departures.add(e.reference)
                elif role is _R.SHIPMENT:
                    self._by_reference.setdefault(e.reference, []).append(e)
        for position in unsorted:
            stocks[position].entries.sort(key=_order)

    def _note_currency(self, currency: str) -> None:
        if self.currency is not None:
            raise InvalidMoney(
                f"the entries mix currencies ({self.currency} and {currency}): "
                "value each currency's stock separately"
            )
        self.currency = currency

    def run(self) -> None:
        """Replay every position to its end."""
        self._ready.extend(self.stocks.values())
        while True:
            while self._ready:
                stock = self._ready.popleft()
                stock.blocker = self._advance(stock, forced=False)
                if stock.blocker is not None:
                    self._waiting.setdefault(stock.blocker, []).append(stock)
            if not self._waiting:
                return
            # A knot (only bad data ties one): go on with the blocked entry that sorts first.
            stuck = min(
                (s for parked in self._waiting.values() for s in parked),
                key=lambda s: _order(s.entries[s.cursor]),
            )
            parked = self._waiting[stuck.blocker]
            parked.remove(stuck)
            if not parked:
                del self._waiting[stuck.blocker]
            stuck.blocker = self._advance(stuck, forced=True)
            if stuck.blocker is not None:
                self._waiting.setdefault(stuck.blocker, []).append(stuck)

    def _wake(self, key: object) -> None:
        parked = self._waiting.pop(key, None)
        if parked:
            self._ready.extend(parked)

    def _advance(self, stock: Stock, *, forced: bool) -> object:
        """Replay ``stock`` as far as it goes: what its next entry waits for, or None at the end.

        ``forced``: value the next entry even if its source is not known yet.
        """
        entries = stock.entries
        while stock.cursor < len(entries):
            blocker = self._replay(stock, entries[stock.cursor], forced=forced)
            if blocker is not None:
                return blocker
            stock.cursor += 1
            forced = False
        return None

    def _replay(self, stock: Stock, e: LedgerEntry, *, forced: bool) -> object:
        role, q, ref = _ROLES[e.kind], e.quantity, e.reference
        if role is _R.RECEIPT:
            cost = e.unit_cost
            stock.put(((q, None if cost is None else CONTEXT.multiply(cost.amount, q)),), _RECEIVED)
        elif role is _R.SHIPMENT:
            self._ship(stock, e)
        elif role is _R.WRITE_OFF:
            stock.book(stock.take(q), _WRITTEN_OFF)
        elif role is _R.ADJUSTMENT:
            if q < 0:
                stock.book(stock.take(-q), _ADJUSTED_OUT)
            else:
                stock.put(((q, None),), _ADJUSTED_IN)
        elif role is _R.TRANSFER_OUT:
            slices = stock.take(q)
            stock.book(slices, _TRANSFERRED_OUT)
            if ref is not None:
                self.in_transit.setdefault(ref, deque()).extend(Lot(n, v) for n, v in slices)
                self._wake(("transfer", ref))
        elif role is _R.RETURN:
            return self._return(stock, e, forced=forced)
        else:  # a transfer arriving, or coming back to its origin
            pool = None if ref is None else self.in_transit.get(ref)
            if pool is None and ref in self._departures and not forced:
                return ("transfer", ref)
            slices = [(q, None)] if pool is None else _unload(pool, q, _R.TRANSFER_BACK is role)
            stock.put(slices, _TRANSFERRED_IN)
        return None

    def _ship(self, stock: Stock, e: LedgerEntry) -> None:
        units, value, unvalued = stock.book(stock.take(e.quantity), _SHIPPED)
        before = stock.shipments[-1] if stock.shipments else (e.at, 0, _ZERO, 0)
        stock.shipments.append(
            (e.at, before[1] + e.quantity, CONTEXT.add(before[2], value), before[3] + unvalued)
        )
        if e.reference is not None:
            n, v, u = self.shipped.get(e.reference, (0, _ZERO, 0))
            self.shipped[e.reference] = (n + e.quantity, CONTEXT.add(v, value), u + unvalued)
        self._costs[id(e)] = (units, value)
        self._wake(("shipment", id(e)))

    def _return(self, stock: Stock, e: LedgerEntry, *, forced: bool) -> object:
        """Units back from a customer: at what the shipments they came from cost, if known."""
        ref = e.reference
        refs: Collection[str] = ()
        if ref is not None:
            refs = (ref,) if ref in self._by_reference else self._returned_from.get(ref, ())
        units, value = 0, _ZERO
        for r in refs:
            for shipment in self._by_reference.get(r, ()):
                if shipment.sku != e.sku or _order(shipment) >= _order(e):
                    continue
                cost = self._costs.get(id(shipment))
                if cost is None:
                    if not forced:
                        return ("shipment", id(shipment))
                    continue
                units += cost[0]
                value = CONTEXT.add(value, cost[1])
        known = share(value, e.quantity, units) if units else None
        stock.put(((e.quantity, known),), _RETURNED)
        return None


def _unload(pool: deque[Lot], q: int, back: bool) -> list[_Slice]:
    """``q`` units out of a transfer in transit, in the order they were sent.

    Arrivals take from its front, a return to the origin from its back: what each gets
    then does not depend on which of them the replay meets first.
    """
    slices: list[_Slice] = []
    while q and pool:
        lot = pool[-1] if back else pool[0]
        if lot.units <= q:
            if back:
                pool.pop()
            else:
                pool.popleft()
            n, part = lot.units, lot.value
        else:
            n, part = q, None if lot.value is None else share(lot.value, q, lot.units)
            lot.units -= q
            if lot.value is not None and part is not None:
                lot.value = CONTEXT.subtract(lot.value, part)
        q -= n
        slices.append((n, part))
    if back:
        slices.reverse()
    if q:  # more than the departure sent (entries left out): it arrives without a cost
        slices.append((q, None))
    return slices
