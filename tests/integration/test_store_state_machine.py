"""The in-memory and the SQLite store, side by side on the same random commands, agree.

Two handles on one SQLite file stand for two processes: commands go to either, and both
must read what the memory store reads.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from omsims import Location, Oms
from omsims.adapters.clock import ManualClock
from omsims.adapters.memory import MemoryStore
from omsims.adapters.sqlite import SqliteStore
from omsims.errors import OmsimsError
from omsims.testing.contract import observable

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
LOCATIONS = ("a", "b", "c")
SKUS = ("MUG", "CAP")

skus = st.sampled_from(SKUS)
locations = st.sampled_from(LOCATIONS)
units = st.integers(1, 6)


class SideBySide(RuleBasedStateMachine):
    """Every command goes to both; both answer alike (result or error) and read alike."""

    def __init__(self) -> None:
        super().__init__()
        self.place = Path(tempfile.mkdtemp())
        self.clock = ManualClock(T0)
        self.memory = Oms(MemoryStore(), clock=self.clock)
        self.durable = Oms(SqliteStore(self.place / "shop.db"), clock=self.clock)
        # A second handle on the same file, as another process would hold: commands go
        # to one or the other, so each must catch up with what the other wrote.
        self.other = Oms(SqliteStore(self.place / "shop.db"), clock=self.clock)
        self.orders = 0

    def teardown(self) -> None:
        self.durable.close()
        self.other.close()
        shutil.rmtree(self.place, ignore_errors=True)

    def both(self, command: str, *args: object, **kw: object) -> None:
        outcomes = []
        for oms in (self.memory, self.durable):
            try:
                outcomes.append(("ok", repr(getattr(oms, command)(*args, **kw))))
            except OmsimsError as exc:
                outcomes.append((type(exc).__name__, str(exc)))
        assert outcomes[0] == outcomes[1], (command, args, kw)

    @initialize()
    def a_network(self) -> None:
        # Start from a network, so most commands find what they act on.
        for location in LOCATIONS[:2]:
            self.both("add_location", Location(location, priority=LOCATIONS.index(location)))
        for sku in SKUS:
            self.both("add_sku", sku)

    @rule(location=locations)
    def add_location(self, location: str) -> None:
        self.both("add_location", Location(location, priority=LOCATIONS.index(location)))

    @rule(sku=skus, location=locations, n=units)
    def receive(self, sku: str, location: str, n: int) -> None:
        self.both("receive", sku, location, n)

    @rule(sku=skus, location=locations)
    def allow_backorders(self, sku: str, location: str) -> None:
        self.both("configure_position", sku, location, allow_backorders=True)

    @rule(sku=skus, location=locations, n=units, days=st.integers(1, 5))
    def expect(self, sku: str, location: str, n: int, days: int) -> None:
        self.both("expect", sku, location, n, eta=self.clock.now() + timedelta(days=days))

    @rule(sku=skus, location=locations, n=units)
    def reserve(self, sku: str, location: str, n: int) -> None:
        self.both("reserve", sku, location, n, expires_at=self.clock.now() + timedelta(hours=1))

    @rule(lines=st.lists(st.tuples(skus, units), min_size=1, max_size=3))
    def place_order(self, lines: list[tuple[str, int]]) -> None:
        self.orders += 1
        self.both("place_order", f"o{self.orders}", lines)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def work_an_order(self, data: st.DataObject) -> None:
        order_id = f"o{data.draw(st.integers(1, self.orders))}"
        step = data.draw(st.sampled_from(["accept", "ship", "reject", "cancel"]))
        fos = (
            [fo.id for fo in self.memory.fulfilment_orders(order_id)]
            if any(o.id == order_id for o in self.memory.orders())
            else []
        )
        if step == "cancel":
            self.both("cancel_order", order_id)
        elif fos:
            fo = data.draw(st.sampled_from(fos))
            if step == "reject":
                self.both("reject", fo, reason="no stock on the shelf")
            else:
                self.both(step, fo)

    @rule(sku=skus, location=locations)
    def receive_expected(self, sku: str, location: str) -> None:
        waiting = [s.source for s in self.memory.incoming(sku, location)]
        if waiting and waiting[0].startswith("SUP"):
            self.both("receive_expected", waiting[0])

    @rule(hours=st.integers(1, 30))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(hours=hours)
        self.both("expire_reservations")

    @rule()
    def switch_process(self) -> None:
        self.durable, self.other = self.other, self.durable

    @rule()
    def reopen_the_file(self) -> None:
        self.durable.close()
        self.durable = Oms(SqliteStore(self.place / "shop.db"), clock=self.clock)

    @invariant()
    def they_read_alike(self) -> None:
        assert observable(self.durable) == observable(self.memory)
        assert observable(self.other) == observable(self.memory)

    @invariant()
    def the_durable_ledger_replays(self) -> None:
        self.durable.check_invariants()


SideBySide.TestCase.settings = settings(
    settings.get_profile(settings._current_profile),
    stateful_step_count=25,
)
TestSideBySide = SideBySide.TestCase
