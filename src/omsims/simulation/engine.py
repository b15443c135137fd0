"""The simulator: a discrete-event simulation that drives the real Oms on a simulated clock.

Every order of the scenario's demand is placed with :meth:`Oms.place_order`; every
fulfilment order is accepted (or rejected, and its lines sourced again) and shipped
with the Oms's own commands; parcels are delivered after the carrier's transit days,
pickup orders collected, some units returned and restocked, and scheduled supply
received. Nothing bypasses the core: the ledger and the orders at the end are what a
shop running the same day would hold, and :meth:`Oms.check_invariants` holds.

With a replenishment policy (the scenario's ``[replenishment]`` section, or the
``policy`` argument), the covered positions are reviewed once a day with
:meth:`Oms.plan_replenishment`; every proposal is approved with
:meth:`Oms.approve_proposal`, and received with :meth:`Oms.receive_expected` or
:meth:`Oms.receive_transfer` when it arrives (see :mod:`omsims.simulation.replenisher`).

Randomness is seeded: demand from the scenario's seed (the same for every strategy);
each rejection and each returned unit from a hash of the seed and the id of what it
decides about, and each lead time from a generator seeded with them, so two strategies
facing the same fulfilment order (or two policies making the same proposal) face the
same coin.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from hashlib import blake2b
from typing import Any

import attrs

from omsims.adapters.clock import ManualClock
from omsims.adapters.notifiers import NullNotifier
from omsims.domain.events import Event, FulfilmentOrderCreated
from omsims.domain.locations import Location, LocationKind
from omsims.domain.orders import OrderStatus, ShipTo
from omsims.domain.returns import Inspection
from omsims.domain.stock import BUCKETS, SIGNS
from omsims.domain.supply import SupplyLine, Transfer
from omsims.domain.values import GeoPoint, Money
from omsims.errors import IllegalTransition
from omsims.oms import Oms
from omsims.ports import OrderArchive
from omsims.replenishment import Policy
from omsims.service._stock import MAX_RECEIPT_LINES
from omsims.simulation.agenda import Agenda
from omsims.simulation.demand import DemandOrder, demand, expected_daily_units
from omsims.simulation.kpis import Kpis
from omsims.simulation.policies import PolicySpec, Replenishment, resolve_policy
from omsims.simulation.replenisher import Replenisher
from omsims.simulation.scenario import Scenario
from omsims.simulation.strategies import build, carrier_for
from omsims.simulation.table import Table
from omsims.sourcing import SourcingStrategy

__all__ = ["DAILY_COLUMNS", "EVENT_COLUMNS", "SimulationResult", "simulate"]

_ON_HAND_SIGN = {kind: signs[BUCKETS.index("on_hand")] for kind, signs in SIGNS.items()}
"""Per entry kind, the sign of its change to on-hand stock."""
_NO_PRICE = Decimal(0)
"""The price of a SKU outside the catalogue, for the stock's value."""
_COIN_SIDES = 2**53
"""A coin is 53 bits of a hash (all a float holds) over this: exactly in [0, 1)."""
_DRAIN_DAYS = 10
"""After the last order, days the simulation goes on to ship and deliver what is open."""
_COLLECTED_AFTER = timedelta(hours=20)
"""How long after a pickup order is ready its customer collects it."""
_DEMAND_AHEAD = 1_000
"""Orders drawn from the demand stream at a time (see ``_ahead``)."""

# Event kinds, in the order they run when due at the same instant.
_RECEIPT, _ARRIVAL, _ACCEPT, _SHIP, _DELIVER, _PICKUP, _RETURN, _DAY, _REVIEW, _ORDER = range(10)
_TICKS = frozenset({_DAY, _REVIEW})
"""Events on the calendar, not in flight: a run past its horizon does not wait for them."""

DAILY_COLUMNS = (
    "day",
    "date",
    "orders",
    "units_demanded",
    "units_filled",
    "units_lost",
    "shipments",
    "shipping_cost",
    "deliveries",
    "on_time",
    "stock_units",
    "stock_value",
    "holding_cost",
    "capacity_breaches",
    "stock_outs",
)
"""The columns of :attr:`SimulationResult.daily`: one row per simulated day."""

EVENT_COLUMNS = ("at", "event", "order", "subject", "location", "units", "detail")
"""The columns of :attr:`SimulationResult.events`, the event log."""


@attrs.frozen
class SimulationResult:
    """What one run of one strategy on one scenario gave."""

    scenario: str
    strategy: str
    seed: int
    kpis: Kpis
    daily: Table
    """One row per day, :data:`DAILY_COLUMNS`."""
    events: Table | None
    """The event log (:data:`EVENT_COLUMNS`), unless the run was asked not to keep it."""
    oms: Oms | None = attrs.field(default=None, repr=False, eq=False)
    """The Oms the run drove, to query further (``keep_oms=True``)."""
    policy: str | None = None
    """The replenishment policy's name (``min-max@0.95``); ``None`` without replenishment."""


def simulate(
    scenario: Scenario,
    strategy: str | SourcingStrategy | None = None,
    *,
    seed: int | None = None,
    progress: bool = False,
    keep_events: bool = True,
    keep_oms: bool = False,
    archive: OrderArchive | None = None,
    policy: str | PolicySpec | Policy | Mapping[str, Any] | None = None,
) -> SimulationResult:
    """Run the scenario with one strategy (a name, or your own strategy object).

    ``seed`` overrides the scenario's; ``progress`` shows a progress bar (with tqdm
    installed) once a run takes more than a second. ``policy`` replenishes with that
    policy instead of the scenario's own (a name such as ``"min-max@0.99"`` or one of
    the scenario's, a policy object, or a table; see
    :func:`~omsims.simulation.policies.resolve_policy`); a scenario without a
    ``[replenishment]`` section then takes the section's defaults. With an ``archive`` (an
    :class:`~omsims.ports.OrderArchive`), every order is archived through
    :meth:`Oms.archive_many` once nothing more will happen to it (after its return, if
    it has one), so a long run's memory holds the orders still moving, not all of them.
    ``keep_oms`` keeps the Oms the run drove on the result; while the run goes, the run
    itself is its notifier (the simulated locations hear of their fulfilment orders from
    its ``FulfilmentOrderCreated`` events), subscribed to those alone: the Oms records no
    other event during the run (its ``published_events`` hold only those), which saves
    about a fifth of the run. A kept Oms is handed back with a
    :class:`~omsims.adapters.notifiers.NullNotifier`, which hears every event again.

    >>> from omsims.simulation import load_scenario, simulate
    >>> result = simulate(load_scenario("tiny"), "nearest")
    >>> result.kpis.orders, round(result.kpis.fill_rate, 3)
    (277, 1.0)
    """
    if strategy is None or isinstance(strategy, str):
        label = strategy or scenario.strategies[0]
        chosen = build(label, scenario)
    else:
        chosen, label = strategy, str(getattr(strategy, "name", "custom"))
    section = scenario.replenishment
    named: tuple[str, PolicySpec] | None = None
    if policy is not None:
        section = section or Replenishment()
        named = resolve_policy(policy, section)
    elif section is not None:
        named = (section.policy.label, section.policy)
    run = _Run(
        scenario,
        chosen,
        scenario.seed if seed is None else seed,
        keep_events=keep_events,
        archive=archive,
        replenishment=None if section is None or named is None else (section, named[1]),
    )
    with _fewer_collections() as settle:
        kpis, daily = run.go(progress=progress, settle=settle)
    return SimulationResult(
        scenario.name,
        label,
        run.seed,
        kpis,
        daily,
        Table(EVENT_COLUMNS, run.log) if keep_events else None,
        run.oms if keep_oms else None,
        None if named is None else named[0],
    )


@attrs.frozen
class _Sent:
    """A fulfilment order as the simulator saw it sent: what accepting and shipping need."""

    id: str
    order_id: str
    location: str
    units: int


@attrs.define
class _OrderState:
    """What the simulator remembers of an open order."""

    placed_at: datetime
    destination: GeoPoint | None
    pickup: str | None
    shipments: int = 0
    collected: bool = False
    """A pickup is scheduled (cleared once collected: a later parcel may need another)."""


class _Sourced:
    """The run's notifier: keeps each new fulfilment order until the run sends it on.

    The simulated locations learn of their work as a shop's would, from the Oms's
    events (``FulfilmentOrderCreated``), rather than by asking for every fulfilment
    order of an order again after each placement, rejection or re-allocation.
    """

    topics = frozenset({FulfilmentOrderCreated})
    """All the run listens to: the Oms builds no other event (see ``OmsService.notifier``)."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[FulfilmentOrderCreated]] = {}

    def publish(self, event: Event) -> None:
        """Keep a new fulfilment order under its order; drop every other event."""
        if type(event) is FulfilmentOrderCreated:
            self.waiting.setdefault(event.order_id, []).append(event)


class _Run:
    def __init__(
        self,
        scenario: Scenario,
        strategy: SourcingStrategy,
        seed: int,
        *,
        keep_events: bool,
        archive: OrderArchive | None = None,
        replenishment: tuple[Replenishment, PolicySpec] | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.coin_prefix = blake2b(f"omsims:{seed}:".encode(), digest_size=7)  # see _coin
        self.clock = ManualClock(scenario.start)
        self.sourced = _Sourced()
        self.oms = Oms(clock=self.clock, strategy=strategy, archive=archive, notifier=self.sourced)
        self.carrier = carrier_for(scenario)
        self.ops = scenario.operations
        # The operations' delays as the clock adds them, built once rather than per event.
        self.accept_delay = timedelta(hours=self.ops.accept_hours)
        self.ship_delay = timedelta(hours=self.ops.ship_hours)
        self.promise = timedelta(days=self.ops.promise_days)
        self.return_delay = timedelta(days=self.ops.return_days)
        # Per location, the chance it rejects a fulfilment order (0: no coin is tossed).
        rejects = dict(self.ops.reject_probability)
        self.rejects = {loc.id: rejects.get(loc.kind.value, 0.0) for loc in scenario.locations}
        self.prices = {s.sku: Money(s.price, scenario.currency) for s in scenario.catalogue.skus}
        self.weights = {s.sku: s.weight_kg for s in scenario.catalogue.skus}
        self.price_of = {s.sku: s.price for s in scenario.catalogue.skus}
        self.locations: dict[str, Location] = {loc.id: loc for loc in scenario.locations}
        self.kpis = Kpis(currency=scenario.currency)
        self.log: list[tuple[Any, ...]] = []
        self.keep_events = keep_events
        self._stamped: datetime | None = None  # the instant _stamp is the text of
        self._stamp = ""
        self.agenda = Agenda()  # what is due next, by (when, kind, sequence)
        self.sequence = 0
        self.pending = 0  # events due that are not day ends
        self.open: dict[str, _OrderState] = {}
        self.waiting: dict[str, int] = {}  # backordered orders, oldest first: units short
        self.daily_units = expected_daily_units(scenario)
        self.accepted_on: dict[tuple[str, int], int] = {}
        self.ledger_seen = 0
        self.on_hand: dict[tuple[str, str], int] = {}  # per position, from the ledger entries
        self.held: dict[str, set[str]] = {}  # per location, the SKUs of its on_hand positions
        self.stock_units = 0
        self.stock_value = Decimal(0)
        self.day_rows: list[tuple[Any, ...]] = []
        self.closed = Kpis(currency=scenario.currency)  # the counters when the last day closed
        self.end = scenario.start + timedelta(days=scenario.horizon_days)
        self.replenishment = replenishment
        self.replenisher: Replenisher | None = None  # built with the opening stock
        self.settle: Callable[[], None] = _nothing  # see _fewer_collections

    # -- the loop -----------------------------------------------------------------------------

    def go(self, *, progress: bool, settle: Callable[[], None]) -> tuple[Kpis, Table]:
        """Run to the end; ``settle()`` after each event (see _fewer_collections)."""
        self.settle = settle
        self._set_up()
        orders = _ahead(demand(self.scenario, seed=self.seed), _DEMAND_AHEAD)
        self._next_order(orders)
        for day in range(1, self.scenario.horizon_days + _DRAIN_DAYS + 1):
            self._at(self.scenario.start + timedelta(days=day), _DAY, day)
        for i, receipt in enumerate(self.scenario.supply):
            self._at(self.scenario.start + timedelta(days=receipt.day), _RECEIPT, i)
        if self.replenisher is not None:
            self._schedule_reviews(self.replenisher.review_offset)
        days = self.scenario.horizon_days + _DRAIN_DAYS
        bar = progress_bar(days, wanted=progress, unit="day", desc="simulating")
        handlers: dict[int, Callable[[Any], None]] = {
            _RECEIPT: self._receipt,
            _ARRIVAL: self._arrive,
            _REVIEW: self._review,
            _ACCEPT: self._accept,
            _SHIP: self._ship,
            _DELIVER: self._deliver,
            _PICKUP: self._pickup,
            _RETURN: self._return,
        }
        try:
            while self.agenda:
                # What the last event left behind is long-lived or already freed: settled,
                # the collector never walks it (an event allocates far below its threshold).
                settle()
                when, kind, _seq, payload = self.agenda.pop()
                self.clock.set(when)
                if kind not in _TICKS:
                    self.pending -= 1
                if kind == _ORDER:
                    self._place(payload)
                    self._next_order(orders)
                elif kind == _DAY:
                    self._close_day(payload)
                    bar(1)
                    if payload >= self.scenario.horizon_days and not self.pending:
                        break  # past the horizon and nothing left in flight
                else:
                    handlers[kind](payload)
        finally:
            bar(None)
        self._count_stock()  # supply may have arrived after the last day closed
        self.oms.notifier = NullNotifier()  # a kept Oms no longer feeds this run
        self.kpis.stock_units_end = self.stock_units
        return self.kpis, Table(DAILY_COLUMNS, self.day_rows)

    def _at(self, when: datetime, kind: int, payload: object) -> None:
        self.sequence += 1
        if kind not in _TICKS:
            self.pending += 1
        self.agenda.push(self.clock.now(), when, kind, self.sequence, payload)

    def _schedule_reviews(self, offset: timedelta) -> None:
        """A review at ``offset`` after each midnight of the horizon (days from the start)."""
        start = self.scenario.start
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        for day in range(self.scenario.horizon_days + 1):
            review = midnight + timedelta(days=day) + offset
            if start <= review < self.end:
                self._at(review, _REVIEW, (review - start) // timedelta(days=1))

    def _next_order(self, orders: Iterator[DemandOrder]) -> None:
        nxt = next(orders, None)
        if nxt is not None:
            self._at(nxt.at, _ORDER, nxt)

    def _event(
        self, event: str, order: str, subject: str, location: str, units: int, detail: str = ""
    ) -> None:
        if self.keep_events:
            now = self.clock.now()
            if now is not self._stamped:  # most events share their instant with another
                self._stamped, self._stamp = now, now.isoformat()
            self.log.append((self._stamp, event, order, subject, location, units, detail))

    def _coin(self, what: str, subject: str) -> float:
        """A uniform number in [0, 1) for one decision, the same for every strategy facing it.

        A hash of the run's seed and what is decided about: as uniform as a generator
        seeded with them, and a seventh of the cost of seeding one per decision (0.7 against
        5 us). The hash of ``omsims:{seed}:{what}:{subject}``, carried on from a copy of
        the hash of its prefix, which is the same for every coin of the run.
        """
        hashed = self.coin_prefix.copy()
        hashed.update(f"{what}:{subject}".encode())
        return (int.from_bytes(hashed.digest()) >> 3) / _COIN_SIDES

    # -- set-up ---------------------------------------------------------------------------------

    def _set_up(self) -> None:
        scenario = self.scenario
        for location in scenario.locations:
            self.oms.add_location(location)
        opening = [(sku, where, units) for where, sku, units in scenario.stock.levels if units]
        daily = self.daily_units
        plan = scenario.stock
        warehouses = [loc for loc in scenario.locations if loc.kind is LocationKind.WAREHOUSE]
        stores = [loc for loc in scenario.locations if loc.kind is LocationKind.STORE]
        ranked = [s.sku for s in scenario.catalogue.skus]
        assortment = ranked[: plan.store_assortment] if plan.store_assortment else ranked
        for locs, cover, skus in (
            (warehouses, plan.warehouse_cover_days, ranked),
            (stores, plan.store_cover_days, assortment),
        ):
            if not cover or not locs:
                continue
            opening += [
                (sku, loc.id, math.ceil(cover * daily[sku] / len(locs)))
                for loc in locs
                for sku in skus
            ]
        self._receive(opening, "opening stock")
        # A SKU with no opening stock anywhere is still sold: the core must know it, or
        # its first order is refused instead of lost (or waiting for supply).
        stocked = {sku for sku, _where, _units in opening}
        for sku in ranked:
            if sku not in stocked:
                self.oms.add_sku(sku)
        if self.replenishment is not None:
            section, spec = self.replenishment
            self.replenisher = Replenisher(
                section,
                spec,
                seed=self.seed,
                start=scenario.start,
                opening=opening,
                kinds={loc.id: loc.kind.value for loc in scenario.locations},
                daily_units=daily,
            )
        self._count_stock()

    def _receive(self, lines: list[tuple[str, str, int]], reference: str) -> None:
        """Receive ``lines`` as deliveries of at most MAX_RECEIPT_LINES lines each."""
        for start in range(0, len(lines), MAX_RECEIPT_LINES):
            self.oms.receive_many(lines[start : start + MAX_RECEIPT_LINES], reference=reference)
            self.settle()  # the opening stock of a big network is millions of objects

    def _count_stock(self) -> None:
        """Bring the stock held up to date from the ledger entries posted since last time."""
        on_hand, price_of, held = self.on_hand, self.price_of, self.held
        watch = self.replenisher.demand.observe if self.replenisher is not None else None
        # Summed in locals, in the same order: the opening stock is an entry per position.
        units, value, seen = self.stock_units, self.stock_value, self.ledger_seen
        for entry in self.oms.entries(since=seen):
            change = _ON_HAND_SIGN[entry.kind] * entry.quantity
            if watch is not None:
                watch(entry)
            if change:
                units += change
                value += change * price_of.get(entry.sku, _NO_PRICE)
                position = entry.sku, entry.location
                was = on_hand.get(position)
                if was is None:
                    was = 0
                    held.setdefault(entry.location, set()).add(entry.sku)
                on_hand[position] = was + change
            seen = entry.sequence
        self.stock_units, self.stock_value, self.ledger_seen = units, value, seen

    # -- orders ---------------------------------------------------------------------------------

    def _place(self, d: DemandOrder) -> None:
        units = sum(n for _sku, n, _p in d.lines)
        k = self.kpis
        k.orders += 1
        k.units_demanded += units
        lines = [(sku, n, self.prices[sku]) for sku, n, _price in d.lines]
        if d.pickup_at is not None:
            order = self.oms.place_order(d.id, lines, channel=d.channel, pickup_at=d.pickup_at)
            store = self.locations[d.pickup_at].coordinates
            destination = store
        else:
            order = self.oms.place_order(d.id, lines, channel=d.channel, ship_to=ShipTo(d.point))
            destination = d.point
        self._event("placed", d.id, d.id, d.pickup_at or "", units, d.delivery)
        state = _OrderState(d.at, destination, d.pickup_at)
        self.open[d.id] = state
        self._shortage(d.id, order.lines, first=True)
        if d.id in self.open:  # not lost altogether
            self._new_fulfilment_orders(d.id)

    def _shortage(self, order_id: str, lines: Any, *, first: bool) -> None:
        """Units nobody could source: lost, or a backorder until supply comes.

        ``first``: at placement. Otherwise after a rejection, when units counted as
        filled may have become unsourced again.
        """
        short = {ln.number: ln.unallocated for ln in lines if ln.unallocated}
        units = sum(short.values())
        k = self.kpis
        # Units already waiting for supply were unsourced before a rejection, and never
        # counted as filled: only the difference is new (the rejected order's sourcing
        # again may also have found stock for some of them).
        before = 0 if first else self.waiting.get(order_id, 0)
        if first:
            k.units_filled += sum(ln.quantity for ln in lines) - units
            if not short:
                k.orders_filled_complete += 1
            k.stock_outs += len(short)
        else:
            k.units_filled -= units - before
        if units == before:
            return
        if self.scenario.demand.on_shortage == "wait":
            k.units_backordered += max(0, units - before)
            if units:
                self.waiting[order_id] = units
            else:
                del self.waiting[order_id]
            return
        self.oms.cancel_lines(order_id, short)
        k.units_lost += units
        self._event("lost", order_id, order_id, "", units, "no stock to source from")
        self._maybe_finished(order_id)

    def _new_fulfilment_orders(self, order_id: str) -> None:
        """Send each fulfilment order made for ``order_id`` since the last call on its way."""
        for fo in self.sourced.waiting.pop(order_id, ()):
            units = sum(line[2] for line in fo.lines)
            self._event("sourced", order_id, fo.fulfilment_order_id, fo.location, units)
            sent = _Sent(fo.fulfilment_order_id, order_id, fo.location, units)
            self._at(self.clock.now() + self.accept_delay, _ACCEPT, sent)

    def _accept(self, fo: _Sent) -> None:
        where = self.locations[fo.location]
        try:
            chance = self.rejects[where.id]
            if chance and self._coin("reject", fo.id) < chance:
                order = self.oms.reject(fo.id, reason="rejected by the location (simulated)")
            else:
                order = None
                self.oms.accept(fo.id)
        except IllegalTransition:
            return  # no longer open: the core moved its units meanwhile
        if order is not None:
            self.kpis.rejections += 1
            self._event("rejected", fo.order_id, fo.id, fo.location, fo.units)
            self._shortage(fo.order_id, order.lines, first=False)
            if fo.order_id in self.open:
                self._new_fulfilment_orders(fo.order_id)
            return
        day = (self.clock.now() - self.scenario.start).days
        taken = self.accepted_on[where.id, day] = self.accepted_on.get((where.id, day), 0) + 1
        if where.daily_capacity is not None and taken > where.daily_capacity:
            self.kpis.capacity_breaches += 1
        self._at(self.clock.now() + self.ship_delay, _SHIP, fo)

    def _ship(self, fo: _Sent) -> None:
        state = self.open[fo.order_id]
        if state.pickup == fo.location:
            try:
                self.oms.ready_for_pickup(fo.id)
            except IllegalTransition:
                return  # nothing left to make ready
            self._event("ready", fo.order_id, fo.id, fo.location, fo.units)
            self._maybe_collect(fo.order_id)
            return
        try:
            parcel = self.oms.ship(fo.id)
        except IllegalTransition:
            return  # nothing left to ship
        origin = self.locations[fo.location]
        units, kg, weights = 0, Decimal(0), self.weights
        for _n, sku, u in parcel.lines:
            units += u
            kg += weights[sku] * u
        if origin.coordinates is not None and state.destination is not None:
            km = origin.coordinates.distance_km(state.destination)
            quote = self.carrier.quote_distance(km, kg)  # the carrier's quote(), measured once
        else:
            km, quote = 0.0, None
        days = quote.transit_days if quote is not None else self.scenario.carrier.transit_days[-1]
        cost = (quote.cost.amount if quote is not None else Decimal(0)) + (
            origin.handling_cost.amount if origin.handling_cost is not None else Decimal(0)
        )
        state.shipments += 1
        k = self.kpis
        k.shipments += 1
        k.shipping_cost += cost
        k.distance_km += km
        if self.keep_events:  # formatting the detail costs more than logging it
            self._event(
                "shipped", fo.order_id, parcel.id, fo.location, units, f"{km:.0f} km, {cost}"
            )
        self._at(self.clock.now() + _days(days), _DELIVER, parcel.id)

    def _deliver(self, shipment_id: str) -> None:
        parcel = self.oms.deliver(shipment_id)
        if self.keep_events:  # the units are counted for the log alone
            units = sum(u for *_x, u in parcel.lines)
            self._event("delivered", parcel.order_id, parcel.id, parcel.location, units)
        if self.open[parcel.order_id].pickup is not None:
            self._maybe_collect(parcel.order_id)
        else:
            self._maybe_finished(parcel.order_id)

    def _maybe_collect(self, order_id: str) -> None:
        state = self.open[order_id]
        if not state.collected and self.oms.order_status(order_id) is OrderStatus.READY_FOR_PICKUP:
            state.collected = True
            self._at(self.clock.now() + _COLLECTED_AFTER, _PICKUP, order_id)

    def _pickup(self, order_id: str) -> None:
        order = self.oms.pick_up(order_id)
        units = sum(ln.quantity - ln.cancelled for ln in order.lines)  # all kept, at once
        self._event("collected", order_id, order_id, self.open[order_id].pickup or "", units)
        self.open[order_id].collected = False
        self._maybe_finished(order_id)

    def _maybe_finished(self, order_id: str) -> None:
        """Close the books on an order whose every kept unit reached the customer."""
        if order_id in self.waiting:
            return
        status = self.oms.order_status(order_id)  # most parcels are not an order's last
        if status is not OrderStatus.DELIVERED and status is not OrderStatus.CANCELLED:
            return
        state = self.open.pop(order_id)
        self.sourced.waiting.pop(order_id, None)  # none should be left: nothing to send
        if status is OrderStatus.CANCELLED:
            self._archive(order_id)
            return
        late = self.clock.now() - state.placed_at > self.promise
        k = self.kpis
        k.orders_delivered += 1
        if not late:
            k.orders_on_time += 1
        if state.shipments > 1:
            k.orders_split += 1
        self._returns(order_id, self.oms.order(order_id).lines)

    def _returns(self, order_id: str, lines: Any) -> None:
        if not self.ops.return_rate:
            self._archive(order_id)
            return
        back: dict[int, int] = {}
        rate = self.ops.return_rate
        for ln in lines:
            kept = ln.delivered - ln.returned
            # Each unit comes back on its own coin.
            n = sum(
                1 for u in range(kept) if self._coin("return", f"{order_id}:{ln.number}:{u}") < rate
            )
            if n:
                back[ln.number] = n
        when = self.clock.now() + self.return_delay
        if back and when < self.end:
            self._at(when, _RETURN, (order_id, back))
        else:
            self._archive(order_id)

    def _return(self, payload: tuple[str, dict[int, int]]) -> None:
        order_id, back = payload
        request = self.oms.request_return(order_id, back, reason="changed_mind")
        self.oms.approve_return(request.id)
        self.oms.receive_return(
            request.id, [Inspection(n, "restock", units=u) for n, u in back.items()]
        )
        units = sum(back.values())
        self.kpis.units_returned += units
        self._event("returned", order_id, request.id, request.location, units)
        self._archive(order_id)

    def _archive(self, order_id: str) -> None:
        """Archive an order nothing more will happen to, when the run archives.

        With :meth:`Oms.archive_many`, which hands back no record: a run has no use for
        one, and copying it costs about as much as moving the order.
        """
        if self.oms.archive_port is not None:
            self.oms.archive_many((order_id,))

    # -- supply and days ------------------------------------------------------------------------

    def _receipt(self, i: int) -> None:
        receipt = self.scenario.supply[i]
        if receipt.sku is not None:
            self.oms.receive(
                receipt.sku, receipt.location, receipt.units, reference="scheduled receipt"
            )
            total = receipt.units
        else:
            total = self._top_up(receipt.location, receipt.cover_days)
        self.kpis.units_received += total
        self._event("received", "", f"receipt {i + 1}", receipt.location, total)
        self._refill_waiting()

    def _refill_waiting(self) -> None:
        """Source again the orders waiting for supply, oldest first."""
        for order_id, short in list(self.waiting.items()):
            order = self.oms.reallocate(order_id)
            still = sum(ln.unallocated for ln in order.lines)
            self.kpis.units_filled += short - still
            if still:
                self.waiting[order_id] = still
            else:
                del self.waiting[order_id]
            if order_id in self.open:
                self._new_fulfilment_orders(order_id)

    def _review(self, day: int) -> None:
        """Plan replenishment for the covered positions; approve and schedule every proposal."""
        replenisher = self.replenisher
        assert replenisher is not None  # noqa: S101 (reviews are scheduled only with one)
        section = replenisher.section
        self._count_stock()  # the demand history is read from the entries
        now = self.clock.now()
        plan = self.oms.plan_replenishment(
            replenisher.rules,
            at=now,
            history=replenisher.history(day),
            transfers=section.transfers,
            transfer_lead_time=section.transfer_lead_time,
        )
        for proposal in plan.proposals:
            posted = self.oms.approve_proposal(proposal, at=now)
            if isinstance(posted, Transfer):
                self.kpis.transfers += 1
                self.kpis.units_transferred += posted.quantity
                event, where = "transfer", posted.to_location
            else:
                self.kpis.purchase_orders += 1
                self.kpis.units_ordered += posted.quantity
                event, where = "purchase", posted.location
            self._event(event, "", proposal.id, where, posted.quantity, proposal.reason)
            self._at(replenisher.arrival(proposal, now), _ARRIVAL, (proposal.id, posted))

    def _arrive(self, payload: tuple[str, SupplyLine | Transfer]) -> None:
        """A purchase or a transfer arrives in full; waiting orders may be sourced now."""
        proposal, posted = payload
        now = self.clock.now()
        if isinstance(posted, Transfer):
            self.oms.receive_transfer(posted.id, at=now)
            where, detail = posted.to_location, f"transfer from {posted.from_location}"
        else:
            self.oms.receive_expected(posted.id, at=now)
            self.kpis.units_received += posted.quantity
            where, detail = posted.location, "purchase"
        self._event("arrived", "", proposal, where, posted.quantity, detail)
        self._refill_waiting()

    def _top_up(self, location: str, cover_days: float) -> int:
        """Receive what brings each SKU the location holds up to ``cover_days`` of demand."""
        daily = self.daily_units
        peers = sum(
            1 for loc in self.scenario.locations if loc.kind is self.locations[location].kind
        )
        self._count_stock()
        lines = []
        for sku in self._skus_held(location):
            target = math.ceil(cover_days * daily.get(sku, 0.0) / max(peers, 1))
            have = self.on_hand.get((sku, location), 0)
            if target > have:
                lines.append((sku, location, target - have))
        self._receive(lines, "scheduled receipt")
        return sum(units for _sku, _loc, units in lines)

    def _skus_held(self, location: str) -> list[str]:
        """The SKUs ``location`` has ever held, in catalogue order: those a top-up covers."""
        held = self.held.get(location, set())
        return [s.sku for s in self.scenario.catalogue.skus if s.sku in held]

    def _close_day(self, day: int) -> None:
        self._count_stock()
        holding = (self.stock_value * Decimal(str(self.ops.holding_cost_per_year)) / 365).quantize(
            Decimal("0.01")
        )
        k, y = self.kpis, self.closed  # today's counts are what the counters grew by
        if day <= self.scenario.horizon_days:
            k.stock_units_days += self.stock_units
            k.stock_value_days += self.stock_value
            k.holding_cost += holding
            k.days += 1
        self.day_rows.append(
            (
                day,
                (self.scenario.start + timedelta(days=day - 1)).date().isoformat(),
                k.orders - y.orders,
                k.units_demanded - y.units_demanded,
                k.units_filled - y.units_filled,
                k.units_lost - y.units_lost,
                k.shipments - y.shipments,
                # Exact: the sums of cents stay far below the 28 digits a Decimal holds.
                float(k.shipping_cost - y.shipping_cost),
                k.orders_delivered - y.orders_delivered,
                k.orders_on_time - y.orders_on_time,
                self.stock_units,
                float(self.stock_value),
                float(holding),
                k.capacity_breaches - y.capacity_breaches,
                k.stock_outs - y.stock_outs,
            )
        )
        self.closed = attrs.evolve(k)


def _ahead(orders: Iterator[DemandOrder], n: int) -> Iterator[DemandOrder]:
    """``orders``, the same stream, drawn ``n`` at a time.

    Drawing an order touches the demand's own tables (the running sums of 10,000 SKU
    popularities, the generator's state) that the commands between two arrivals push
    out of the processor's caches. Drawn a thousand together, an order cost 18 to 23
    us instead of 32 to 39 in the early days of a million-order run.

    >>> list(_ahead(iter("abcde"), 2)), list(_ahead(iter(()), 2))
    (['a', 'b', 'c', 'd', 'e'], [])
    """
    while batch := list(itertools.islice(orders, n)):
        yield from batch


@functools.cache
def _days(days: int) -> timedelta:
    """``timedelta(days=days)``, built once per number of transit days, not per parcel."""
    return timedelta(days=days)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[Callable[[], None]]:
    """Keep the cyclic garbage collector off the run's own objects while it runs.

    A run builds a heap of long-lived objects (every order, fulfilment order and ledger
    entry) that the collector would otherwise traverse again and again, each time it
    looks at an older generation: up to a fifth of a long run. They hold no reference
    cycles (the stores free what they drop by reference counting), so the run hands
    what it has made to the collector's permanent generation as it goes: yields
    ``settle``, which does that (``gc.freeze``), and everything goes back to the oldest
    generation at the end (``gc.unfreeze``), to be collected as ever.

    A process that froze objects itself (a pre-forking server, say) keeps them frozen:
    ``settle`` then does nothing and only the thresholds are raised. The thresholds go
    back as they were either way.
    """
    before = gc.get_threshold()
    ours = gc.get_freeze_count() == 0
    gc.set_threshold(max(before[0], 50_000), max(before[1], 20), before[2])
    try:
        yield gc.freeze if ours else _nothing
    finally:
        if ours:
            gc.unfreeze()
        gc.set_threshold(*before)


def _nothing() -> None:
    """What ``settle`` does when the process froze objects of its own."""


def progress_bar(total: int, *, wanted: bool, unit: str, desc: str) -> Callable[[int | None], None]:
    """``step(n)`` advances a tqdm bar shown after a second; ``step(None)`` closes it.

    Without tqdm installed (or when not ``wanted``), the steps do nothing.
    """
    if not wanted:
        return lambda _n: None
    try:
        from tqdm import tqdm  # an optional extra
    except ImportError:
        return lambda _n: None
    bar = tqdm(total=total, unit=unit, delay=1.0, leave=False, desc=desc)

    def step(n: int | None) -> None:
        if n is None:
            bar.close()
        else:
            bar.update(n)

    return step
