"""Hypothesis over the Oms facade: invariants after every command."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from omsims import Location, ManualClock, Oms
from omsims.errors import OmsimsError

SKUS = ("A", "B")
LOCATIONS = ("w1", "w2", "s1")
T0 = datetime(2026, 3, 1, tzinfo=UTC)

skus = st.sampled_from(SKUS)
locations = st.sampled_from(LOCATIONS)
units = st.integers(1, 6)
order_lines = st.lists(st.tuples(skus, units), min_size=1, max_size=3)


def fresh_oms():
    clock = ManualClock(T0)
    oms = Oms(clock=clock)
    for i, loc in enumerate(LOCATIONS, start=1):
        oms.add_location(Location(loc, priority=i))
    for sku in SKUS:
        oms.add_sku(sku)
    return oms, clock


def all_levels(oms):
    return {(s, loc): oms.stock(s, loc) for s in SKUS for loc in LOCATIONS}


@given(
    stock=st.lists(st.tuples(skus, locations, units), max_size=6),
    backorderable=st.sets(st.tuples(skus, locations), max_size=2),
    lines=order_lines,
)
def test_placing_then_cancelling_an_order_restores_every_balance(stock, backorderable, lines):
    oms, _ = fresh_oms()
    for sku, loc, n in stock:
        oms.receive(sku, loc, n)
    for sku, loc in backorderable:
        oms.configure_position(sku, loc, allow_backorders=True)
    before = all_levels(oms)
    oms.place_order("o1", lines)
    oms.check_invariants()
    if oms.order("o1").lines and any(ln.cancellable for ln in oms.order("o1").lines):
        oms.cancel_order("o1")
    assert all_levels(oms) == before
    oms.check_invariants()


@given(lines=order_lines, stock=st.lists(st.tuples(skus, locations, units), max_size=6))
def test_sourcing_never_promises_more_than_available(lines, stock):
    oms, _ = fresh_oms()
    for sku, loc, n in stock:
        oms.receive(sku, loc, n)
    available = {s: oms.available(s) for s in SKUS}
    order = oms.place_order("o1", lines)
    for sku in SKUS:
        committed = sum(ln.committed for ln in order.lines if ln.sku == sku)
        assert committed <= available[sku]
        wanted = sum(n for s, n in lines if s == sku)
        # Priority fill is greedy: it takes everything it can, up to what was asked.
        assert committed == min(wanted, available[sku])
    for ln in order.lines:
        assert ln.committed + ln.backordered + ln.unallocated == ln.quantity


class OmsMachine(RuleBasedStateMachine):
    """Random commands against one Oms; every invariant checked after each step."""

    orders = Bundle("orders")
    shipments = Bundle("shipments")
    reservations = Bundle("reservations")

    @initialize()
    def setup(self):
        self.oms, self.clock = fresh_oms()
        self.n = 0
        # Start with one backorderable position so backorder paths are reached early.
        self.oms.configure_position("A", "w2", allow_backorders=True)

    def _state(self):
        """Everything a command could change."""
        oms = self.oms
        orders = oms.orders()
        return (
            oms.entries(),
            [(o.id, o.lines, o.excluded_locations) for o in orders],
            [oms.fulfilment_orders(o.id) for o in orders],
            [oms.shipments(o.id) for o in orders],
            oms.reservations(active_only=False),
            [oms.stock(s, loc) for s in SKUS for loc in LOCATIONS],
        )

    def _try(self, call):
        """Commands may be refused; a refusal must be typed and must change nothing."""
        before = self._state()
        try:
            return call()
        except OmsimsError:
            assert self._state() == before
            return None

    @rule(sku=skus, loc=locations, n=units)
    def receive(self, sku, loc, n):
        self.oms.receive(sku, loc, n)

    @rule(sku=skus, loc=locations, n=units, key=st.sampled_from(["k1", "k2"]))
    def receive_with_a_key(self, sku, loc, n, key):
        """A retried key has the effect of one call; a reused key with other data is refused."""
        before = self._state()
        first = self._try(lambda: self.oms.receive(sku, loc, n, idempotency_key=key))
        if first is not None:
            after = self._state()
            assert self.oms.receive(sku, loc, n, idempotency_key=key) == first
            assert self._state() == after
        else:
            assert self._state() == before

    @rule(sku=skus, loc=locations, n=units, damaged=st.booleans())
    def hold_then_write_off(self, sku, loc, n, damaged):
        if self._try(lambda: self.oms.hold(sku, loc, n, reason="damaged")) and damaged:
            self.oms.write_off(sku, loc, n, reason="scrapped", from_unavailable=True)

    @rule(sku=skus, loc=locations, n=units)
    def write_off(self, sku, loc, n):
        self._try(lambda: self.oms.write_off(sku, loc, n, reason="lost"))

    @rule(sku=skus, loc=locations, n=units, at_hours_ago=st.integers(0, 3))
    def backdated_receive(self, sku, loc, n, at_hours_ago):
        at = self.clock.now() - timedelta(hours=at_hours_ago)
        self._try(lambda: self.oms.receive(sku, loc, n, at=at))

    @rule(order_id=orders, line=st.integers(1, 3), n=units, loc=locations, restock=st.booleans())
    def return_units(self, order_id, line, n, loc, restock):
        self._try(
            lambda: self.oms.return_units(
                order_id, line, n, location=loc, restock=restock, reason="torn"
            )
        )

    @rule(order_id=orders, newest=st.booleans())
    def hold_and_release_fulfilment(self, order_id, newest):
        fo = self._fulfilment(order_id, newest)
        if self._try(lambda: self.oms.hold_fulfilment(fo, reason="check")):
            self.oms.release_fulfilment(fo)

    @rule(sku=skus, loc=locations, n=st.integers(-4, 4).filter(bool))
    def adjust(self, sku, loc, n):
        self._try(lambda: self.oms.adjust(sku, loc, n, reason="count"))

    @rule(sku=skus, loc=locations, limit=st.none() | st.integers(0, 5))
    def allow_backorders(self, sku, loc, limit):
        self._try(
            lambda: self.oms.configure_position(
                sku, loc, allow_backorders=True, backorder_limit=limit
            )
        )

    @rule(sku=skus, loc=locations, n=st.integers(0, 3))
    def safety_stock(self, sku, loc, n):
        self.oms.configure_position(sku, loc, safety_stock=n)

    @rule(target=orders, lines=order_lines, partial=st.booleans())
    def place(self, lines, partial):
        self.n += 1
        order = self._try(lambda: self.oms.place_order(f"o{self.n}", lines, allow_partial=partial))
        return order.id if order else multiple()

    def _fulfilment(self, order_id, newest):
        fos = self.oms.fulfilment_orders(order_id)
        return (fos[-1] if newest else fos[0]).id if fos else "none"

    @rule(order_id=orders, newest=st.booleans())
    def accept(self, order_id, newest):
        self._try(lambda: self.oms.accept(self._fulfilment(order_id, newest)))

    @rule(order_id=orders, newest=st.booleans())
    def reject(self, order_id, newest):
        self._try(lambda: self.oms.reject(self._fulfilment(order_id, newest), reason="cannot"))

    @rule(target=shipments, order_id=orders, newest=st.booleans())
    def accept_and_ship(self, order_id, newest):
        fo = self._fulfilment(order_id, newest)
        self._try(lambda: self.oms.accept(fo))
        s = self._try(lambda: self.oms.ship(fo, tracking="T"))
        return s.id if s else multiple()

    @rule(shipment=consumes(shipments))
    def deliver(self, shipment):
        self._try(lambda: self.oms.deliver(shipment))

    @rule(order_id=orders, line=st.integers(1, 3), n=units)
    def cancel_lines(self, order_id, line, n):
        self._try(lambda: self.oms.cancel_lines(order_id, {line: n}))

    @rule(order_id=orders)
    def cancel_order(self, order_id):
        self._try(lambda: self.oms.cancel_order(order_id))

    @rule(order_id=orders)
    def reallocate(self, order_id):
        self._try(lambda: self.oms.reallocate(order_id))

    @rule(target=reservations, sku=skus, loc=locations, n=units, minutes=st.integers(1, 60))
    def reserve(self, sku, loc, n, minutes):
        r = self._try(
            lambda: self.oms.reserve(
                sku, loc, n, expires_at=self.clock.now() + timedelta(minutes=minutes)
            )
        )
        return r.id if r else multiple()

    @rule(reservation=consumes(reservations))
    def release(self, reservation):
        self._try(lambda: self.oms.release(reservation))

    @rule(minutes=st.integers(1, 90))
    def time_passes(self, minutes):
        self.clock.advance(minutes=minutes)
        self.oms.expire_reservations()

    @rule(sku=skus, src=locations, dst=locations, n=units)
    def transfer_and_receive(self, sku, src, dst, n):
        t = self._try(
            lambda: self.oms.transfer(sku, src, dst, n, eta=self.clock.now() + timedelta(days=1))
        )
        if t is not None:
            if n % 2:
                self.oms.cancel_transfer(t.id)
            else:
                self.oms.receive_transfer(t.id)

    @rule(sku=skus, loc=locations, n=units, cancel=st.booleans())
    def expect_and_receive(self, sku, loc, n, cancel):
        line = self.oms.expect(sku, loc, n, eta=self.clock.now() + timedelta(days=3))
        if cancel:
            self.oms.cancel_expected(line.id)
        else:
            self.oms.receive_expected(line.id)

    @invariant()
    def everything_agrees(self):
        if hasattr(self, "oms"):
            self.oms.check_invariants()
            for sku in SKUS:
                for loc in LOCATIONS:
                    level = self.oms.stock(sku, loc)
                    assert level.available >= 0
                    assert level.free >= 0


OmsMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestOmsMachine = OmsMachine.TestCase
