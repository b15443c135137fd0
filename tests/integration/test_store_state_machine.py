"""The in-memory and a durable store, side by side on the same random commands, agree.

Two handles on one SQLite file (or one PostgreSQL database) stand for two processes:
commands go to either, and both must read what the memory store reads. Orders are priced
and paid through a fake gateway, and go all the way: accepted, shipped, delivered,
returned and refunded, so every stored body (payments, returns, inspections) is read back.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from omsims import Location, LocationKind, Money, Oms
from omsims.adapters.clock import ManualClock
from omsims.adapters.memory import MemoryStore
from omsims.adapters.payments import FakeGateway
from omsims.adapters.postgres import PostgresStore
from omsims.adapters.sqlite import SqliteStore
from omsims.domain.fulfilment import FulfilmentStatus, ShipmentStatus
from omsims.domain.returns import Inspection
from omsims.errors import OmsimsError
from omsims.ports import UnitOfWorkFactory
from omsims.testing.contract import observable

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
LOCATIONS = ("a", "b", "c")
SKUS = ("MUG", "CAP")

PRICES = {"MUG": Money("8.00", "EUR"), "CAP": Money("12.50", "EUR")}
# How a return ends: a refund share the inspector gives ("1.00" is all of it, written as
# money is), no refund at all, or other units in exchange.
RETURN_ENDINGS = ("1", "1.00", "0.5", "0", "rejected", "withdrawn", "exchanged")
PARCEL_STEPS = ("deliver", "deliver", "in_transit", "exception", "lost")
LOST = ("reship", "refund")

STORE = "shop"  # a store customers collect from

skus = st.sampled_from(SKUS)
locations = st.sampled_from(LOCATIONS)
units = st.integers(1, 6)


class SideBySide(RuleBasedStateMachine):
    """Every command goes to both; both answer alike (result or error) and read alike."""

    numbers = True  # whether entry numbers must match the memory store's 1, 2, 3

    def __init__(self) -> None:
        super().__init__()
        self.place = Path(tempfile.mkdtemp())
        self.clock = ManualClock(T0)
        self.memory_gateway = FakeGateway()
        self.memory = Oms(MemoryStore(), clock=self.clock, payments=self.memory_gateway)
        # One gateway for the durable store's processes, as they would share a provider.
        self.gateway = FakeGateway()
        self.durable = self.open_oms()
        # A second handle on the same place, as another process would hold: commands go
        # to one or the other, so each must catch up with what the other wrote.
        self.other = self.open_oms()
        self.orders = 0
        self.transfers: list[str] = []

    def open_oms(self) -> Oms:
        return Oms(self.open_store(), clock=self.clock, payments=self.gateway)

    def open_store(self) -> UnitOfWorkFactory:
        return SqliteStore(self.place / "shop.db")

    def teardown(self) -> None:
        self.durable.close()
        self.other.close()
        shutil.rmtree(self.place, ignore_errors=True)

    def both(self, command: str, *args: object, **kw: object) -> Any:
        """Run a command on both; they must answer alike. The memory store's answer."""
        outcomes = []
        answer = None
        for oms in (self.memory, self.durable):
            try:
                result = getattr(oms, command)(*args, **kw)
                answer = result if oms is self.memory else answer
                text = repr(result)
                if not self.numbers:
                    text = re.sub(r"sequence=\d+", "sequence=N", text)
                outcomes.append(("ok", text))
            except OmsimsError as exc:
                outcomes.append((type(exc).__name__, str(exc)))
        assert outcomes[0] == outcomes[1], (command, args, kw)
        return answer

    @initialize()
    def a_network(self) -> None:
        # Start from a network, so most commands find what they act on.
        for location in LOCATIONS[:2]:
            self.both("add_location", Location(location, priority=LOCATIONS.index(location)))
        for sku in SKUS:
            self.both("add_sku", sku)
        self.both("add_location", Location(STORE, kind=LocationKind.STORE, can_pickup=True))

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
        self.both("place_order", f"o{self.orders}", [(s, n, PRICES[s]) for s, n in lines])

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

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def take_an_order_along(self, data: st.DataObject) -> None:
        """Take an order along its path: accept, ship, deliver, return some units.

        Random steps (above) seldom line up into a whole journey; this rule goes as far
        as it can, with detours (a hold, a parcel in transit or lost and then reshipped
        or refunded, a return rejected or withdrawn), so captured payments, refunds,
        tracking and inspected returns are written and read back too.
        """
        order_id = f"o{data.draw(st.integers(1, self.orders))}"
        if any(o.id == order_id for o in self.memory.orders()):
            self.take_along(order_id, data)

    @rule(lines=st.lists(st.tuples(skus, units), min_size=1, max_size=3), data=st.data())
    def a_whole_journey(self, lines: list[tuple[str, int]], data: st.DataObject) -> None:
        """Stock arrives, an order for it is placed and taken as far as it goes."""
        for sku, n in lines:
            self.both("receive", sku, "a", n)
        self.place_order(lines)
        if any(o.id == f"o{self.orders}" for o in self.memory.orders()):
            self.take_along(f"o{self.orders}", data)

    def take_along(self, order_id: str, data: st.DataObject) -> None:
        for _ in range(20):  # a parcel lost and reshipped again and again ends too
            if not self.next_step(order_id, data):
                return

    def next_step(self, order_id: str, data: st.DataObject) -> bool:
        """Do the order's next step; whether there was one."""
        return (
            self.fulfilment_step(order_id, data)
            or self.parcel_step(order_id, data)
            or self.return_step(order_id, data)
        )

    def fulfilment_step(self, order_id: str, data: st.DataObject) -> bool:
        for fo in self.memory.fulfilment_orders(order_id):
            if fo.status is FulfilmentStatus.OPEN:
                self.both("accept", fo.id)
                return True
            if fo.status is FulfilmentStatus.ON_HOLD:
                self.both("release_fulfilment", fo.id)
                return True
            if fo.status is FulfilmentStatus.ACCEPTED and any(fl.ready for fl in fo.lines):
                if data.draw(st.integers(0, 4)) == 0:
                    self.both("hold_fulfilment", fo.id, reason="address check")
                else:
                    self.both("ship", fo.id)
                return True
        return False

    def parcel_step(self, order_id: str, data: st.DataObject) -> bool:
        for parcel in self.memory.shipments(order_id):
            if parcel.status is ShipmentStatus.LOST and parcel.resolution is None:
                self.both("resolve_lost", parcel.id, data.draw(st.sampled_from(LOST)))
                return True
            if parcel.status in (ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT):
                step = data.draw(st.sampled_from(PARCEL_STEPS))
                if step == "deliver":
                    self.both("deliver", parcel.id)
                else:
                    self.both("track", parcel.id, step, detail=f"scanned: {step}")
                return True
        return False

    def return_step(self, order_id: str, data: st.DataObject) -> bool:
        lines = self.memory.order(order_id).lines
        delivered = [ln.number for ln in lines if ln.delivered > ln.returned]
        if not delivered or not data.draw(st.booleans()):
            return False
        line = data.draw(st.sampled_from(delivered))
        self.return_one_unit(order_id, line, data.draw(st.sampled_from(RETURN_ENDINGS)))
        return True

    def return_one_unit(self, order_id: str, line: int, ending: str) -> None:
        """Request the return of one unit, then end it (a refund share, or no), alike."""
        other = {"MUG": "CAP", "CAP": "MUG"}[self.memory.order(order_id).line(line).sku]
        exchange = {line: (other, 1)} if ending == "exchanged" else None
        requests = []
        for oms in (self.memory, self.durable):
            try:
                asked = oms.request_return(
                    order_id, {line: 1}, reason="too small", exchange=exchange
                )
                requests.append(asked.id)
            except OmsimsError as exc:
                requests.append(type(exc).__name__)
        assert requests[0] == requests[1]
        request = requests[0]
        if not request.startswith(order_id):
            return
        if ending == "withdrawn":
            self.both("cancel_return", request)
        elif ending == "rejected":
            self.both("reject_return", request, reason="worn")
        else:
            share = "1" if ending == "exchanged" else ending
            self.both("approve_return", request)
            self.both("receive_return", request, [Inspection(line, "restock", refund=share)])

    @rule(lines=st.lists(st.tuples(skus, units), min_size=1, max_size=2), collected=st.booleans())
    def a_pickup(self, lines: list[tuple[str, int]], collected: bool) -> None:
        """Stock at the store, an order to collect there: made ready, then collected or not."""
        for sku, n in lines:
            self.both("receive", sku, STORE, n)
        self.orders += 1
        order_id = f"o{self.orders}"
        priced = [(s, n, PRICES[s]) for s, n in lines]
        if self.both("place_order", order_id, priced, pickup_at=STORE) is None:
            return
        for fo in self.memory.fulfilment_orders(order_id):
            self.both("accept", fo.id)
            self.both("ready_for_pickup", fo.id)
        if collected:
            self.both("pick_up", order_id)
        else:  # never collected: after its deadline the units go back to stock
            self.clock.advance(days=10)
            self.both("expire_pickups")

    @rule(lines=st.lists(st.tuples(skus, units), min_size=1, max_size=2), reserved=st.booleans())
    def a_till_sale(self, lines: list[tuple[str, int]], reserved: bool) -> None:
        """Bought at the store's till, from a reservation to try on or straight off the shelf."""
        for sku, n in lines:
            self.both("receive", sku, STORE, n)
        self.orders += 1
        reference = f"try-{self.orders}" if reserved else None
        if reference is not None:
            until = self.clock.now() + timedelta(days=1)
            self.both("reserve_in_store", reference, lines, store=STORE, expires_at=until)
        priced = [(s, n, PRICES[s]) for s, n in lines]
        self.both(
            "place_order",
            f"o{self.orders}",
            priced,
            channel="pos",
            sold_at=STORE,
            reservation=reference,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def the_gateway_goes_down(self, data: st.DataObject) -> None:
        """An order moves on while payments are down; what is due is settled after."""
        order_id = f"o{data.draw(st.integers(1, self.orders))}"
        if not any(o.id == order_id for o in self.memory.orders()):
            return
        self.memory_gateway.down = self.gateway.down = True
        try:
            self.next_step(order_id, data)
        finally:
            self.memory_gateway.down = self.gateway.down = False
        self.both("settle_payments")

    @rule(sku=skus, route=st.permutations(LOCATIONS[:2]), n=units)
    def transfer(self, sku: str, route: list[str], n: int) -> None:
        source, destination = route
        self.both("receive", sku, source, n)
        moved = self.both("transfer", sku, source, destination, n, eta=self.clock.now())
        if moved is not None:
            self.transfers.append(moved.id)

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def end_a_transfer(self, data: st.DataObject) -> None:
        transfer_id = data.draw(st.sampled_from(self.transfers))
        if data.draw(st.booleans()):
            self.both("receive_transfer", transfer_id, data.draw(st.none() | units))
        else:
            self.both("cancel_transfer", transfer_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel_a_line(self, data: st.DataObject) -> None:
        order_id = f"o{data.draw(st.integers(1, self.orders))}"
        if any(o.id == order_id for o in self.memory.orders()):
            line = data.draw(st.integers(1, len(self.memory.order(order_id).lines)))
            self.both("cancel_lines", order_id, {line: 1})

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
    def reopen_the_store(self) -> None:
        self.durable.close()
        self.durable = self.open_oms()

    @invariant()
    def they_read_alike(self) -> None:
        expected = observable(self.memory, numbers=self.numbers)
        assert observable(self.durable, numbers=self.numbers) == expected
        assert observable(self.other, numbers=self.numbers) == expected

    @invariant()
    def the_durable_ledger_replays(self) -> None:
        self.durable.check_invariants()


class SideBySidePostgres(SideBySide):
    """The same, on a fresh PostgreSQL database per run; entries compared per position."""

    numbers = False
    server = ""  # the throwaway cluster's URL, set by the fixture below

    def __init__(self) -> None:
        self.database = f"omsims_machine_{os.getpid()}_{next(_RUNS)}"
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        self.url = urllib.parse.urlsplit(self.server)._replace(path=f"/{self.database}").geturl()
        super().__init__()

    def open_store(self) -> UnitOfWorkFactory:
        return PostgresStore(self.url)

    def teardown(self) -> None:
        super().teardown()
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


_RUNS = itertools.count(1)

SideBySide.TestCase.settings = settings(
    settings.get_profile(settings._current_profile),
    stateful_step_count=25,
)
# A database per run costs about a second: fewer runs, as many steps.
SideBySidePostgres.TestCase.settings = settings(
    settings.get_profile(settings._current_profile),
    stateful_step_count=25,
    max_examples=min(20, settings.get_profile(settings._current_profile).max_examples),
)
TestSideBySide = SideBySide.TestCase
TestSideBySidePostgres = SideBySidePostgres.TestCase


@pytest.fixture(autouse=True)
def _postgres_for_the_machine(request):
    if request.cls is TestSideBySidePostgres:
        SideBySidePostgres.server = request.getfixturevalue("postgres_url")
