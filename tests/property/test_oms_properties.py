"""Hypothesis over the Oms facade: invariants after every command (the kit's machine)."""

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from omsims import Location, ManualClock, Oms
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
