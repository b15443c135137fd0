"""Hypothesis over the Oms facade: invariants after every command (the kit's machine)."""

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant

from omsims import Location, ManualClock, Oms, RecordingNotifier, events
from omsims.domain.events import Event
from omsims.domain.fulfilment import FulfilmentStatus, ShipmentStatus
from omsims.errors import OmsimsError
from omsims.testing.machine import OmsMachine

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


class PriorityMachine(OmsMachine):
    """The testing kit's machine on the default strategy, as a user subclasses it."""


PriorityMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestPriorityMachine = PriorityMachine.TestCase


EVENT_CLASSES = sorted(
    (c for c in vars(events).values() if isinstance(c, type) and issubclass(c, Event)),
    key=lambda c: c.__name__,
)
EVENT_CLASSES.remove(Event)

# One command, applied the same way to two Oms: its name and every argument it may use.
# The steps of an order's life come up about as often as the rest together.
KINDS = ["receive", "place", "place", "reject", "cancel", "threshold", "adjust"]
KINDS += ["accept", "ship", "deliver"] * 3
commands = st.tuples(
    st.sampled_from(KINDS),
    skus,
    locations,
    units,
    order_lines,
    st.integers(0, 9),
    st.integers(-3, 3).filter(bool),
)


def _candidates(oms, kind):
    """The ids a command of ``kind`` can usefully take: the next step of each one's life."""
    orders = oms.orders()
    if kind == "deliver":
        return [
            s.id
            for o in orders
            for s in oms.shipments(o.id)
            if s.status is not ShipmentStatus.DELIVERED
        ]
    wanted = {"accept": FulfilmentStatus.OPEN, "ship": FulfilmentStatus.ACCEPTED}.get(kind)
    return [
        fo.id
        for o in orders
        for fo in oms.fulfilment_orders(o.id)
        if wanted is None or fo.status is wanted
    ]


# What each command does, given the Oms, its number, the id it acts on (if any) and its
# arguments (sku, location, units, order lines, index, signed change).
COMMANDS = {
    "receive": lambda oms, _n, _id, a: oms.receive(a[0], a[1], a[2]),
    "place": lambda oms, n, _id, a: oms.place_order(f"o{n}", a[3]),
    "threshold": lambda oms, _n, _id, a: oms.configure_position(
        a[0], a[1], low_stock_threshold=a[4] % 5
    ),
    "adjust": lambda oms, _n, _id, a: oms.adjust(a[0], a[1], a[5], reason="count"),
    "accept": lambda oms, _n, fo, _a: oms.accept(fo),
    "reject": lambda oms, _n, fo, _a: oms.reject(fo, reason="no staff"),
    "ship": lambda oms, _n, fo, _a: oms.ship(fo),
    "cancel": lambda oms, _n, fo, _a: oms.cancel_order(oms.fulfilment_order(fo).order_id),
    "deliver": lambda oms, _n, parcel, _a: oms.deliver(parcel),
}


def _apply(oms, clock, command, n):
    """Run one command on ``oms``; the error's type if it refused (then it changed nothing)."""
    kind, *args = command
    clock.advance(minutes=5)
    subject = None
    if kind in ("accept", "reject", "ship", "cancel", "deliver"):
        ids = _candidates(oms, kind)
        if not ids:
            return "nothing to do"
        subject = ids[args[4] % len(ids)]
    try:
        COMMANDS[kind](oms, n, subject, args)
    except OmsimsError as exc:
        return type(exc)
    return None


# The events these commands make, so a narrow subscription often catches some of them.
MADE = [
    events.StockChanged,
    events.BackInStock,
    events.OutOfStock,
    events.LowStock,
    events.OrderPlaced,
    events.FulfilmentOrderCreated,
    events.FulfilmentOrderAccepted,
    events.ShipmentShipped,
    events.ShipmentDelivered,
    events.OrderCancelled,
]


@given(
    topics=st.sets(st.sampled_from(EVENT_CLASSES), max_size=4)
    | st.sets(st.sampled_from(MADE), min_size=1, max_size=2),
    script=st.lists(commands, min_size=3, max_size=30),
)
def test_a_subscribed_notifier_hears_exactly_its_topics_of_what_everyone_hears(topics, script):
    """Topics filter the events and change nothing else: not the state, not the order."""
    everything, subscribed = RecordingNotifier(), RecordingNotifier(topics=topics)
    (full, full_clock), (narrow, narrow_clock) = fresh_oms(), fresh_oms()
    full.notifier, narrow.notifier = everything, subscribed
    for oms in (full, narrow):
        oms.receive_many([(sku, loc, 4) for sku in SKUS for loc in LOCATIONS])
    for n, command in enumerate(script):
        refused = _apply(full, full_clock, command, n)
        assert _apply(narrow, narrow_clock, command, n) == refused
    assert subscribed.events == [e for e in everything.events if type(e) in topics]
    assert [e.id for e in subscribed.events] == [
        f"evt-{i}" for i in range(1, len(subscribed.events) + 1)
    ]
    assert list(narrow.published_events) == subscribed.events
    assert narrow.entries() == full.entries()
    assert narrow.orders() == full.orders()
    assert all_levels(narrow) == all_levels(full)


class NarrowNotifierMachine(OmsMachine):
    """The kit's machine with a notifier subscribed to a few kinds of event.

    Every invariant of the kit holds as ever (the topics change what is told, not what
    happens), and the notifier hears nothing it did not subscribe to.
    """

    @initialize(topics=st.sets(st.sampled_from(MADE), min_size=1, max_size=3))
    def set_up(self, topics):
        super().set_up()
        self.topics = topics
        self.heard = RecordingNotifier(topics=topics)
        self.oms.notifier = self.heard

    @invariant()
    def hears_only_its_topics(self):
        assert {type(e) for e in self.heard.events} <= self.topics
        assert list(self.oms.published_events) == self.heard.events


NarrowNotifierMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)
TestNarrowNotifierMachine = NarrowNotifierMachine.TestCase
