"""The contract every storage adapter keeps: one suite, run on each adapter.

omsims runs it on its in-memory and SQLite stores; run it on yours by subclassing
:class:`StoreContract` in a test module and saying how to open your store::

    from omsims.testing.contract import StoreContract

    class TestMyStore(StoreContract):
        durable = True  # the store keeps its state when reopened

        def open_store(self, place):  # place: a fresh temporary directory per test
            return MyStore(place / "shop")

pytest collects the subclass (its name starts with ``Test``) and runs every ``test_``
method of the contract on the store. Requires pytest; ``place`` is pytest's ``tmp_path``.
"""

from __future__ import annotations

import abc
import gc
import threading
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from omsims.adapters.clock import ManualClock
from omsims.adapters.notifiers import RecordingNotifier
from omsims.adapters.payments import FakeGateway
from omsims.domain import events
from omsims.domain.locations import Location, LocationKind
from omsims.domain.returns import Inspection
from omsims.domain.values import GeoPoint, Money
from omsims.errors import ConflictError, InsufficientStock, UnknownLocation, UnknownSku
from omsims.oms import Oms
from omsims.ports import UnitOfWorkFactory
from omsims.testing.plugin import T0

__all__ = ["StoreContract", "observable"]


def observable(oms: Oms, *, numbers: bool = True) -> dict[str, Any]:
    """Everything a user can read back from an Oms, as plain data, to compare stores.

    With ``numbers=False`` ledger entries are compared per position, in order, without
    their sequence numbers: a store shared by processes without a global lock
    (PostgreSQL) numbers entries uniquely and in order per position, not 1, 2, 3.
    """
    positions = oms.positions()
    entries: Any = [tuple(e) for e in oms.entries()]
    if not numbers:
        entries = {
            (sku, loc): [tuple(e)[1:] for e in oms.entries(sku=sku, location=loc)]
            for sku, loc in sorted(positions)
        }
    return {
        "locations": sorted((loc.id, repr(loc)) for loc in oms.locations()),
        "skus": sorted(oms.skus()),
        "stock": {pos: repr(oms.stock(*pos)) for pos in sorted(positions)},
        "queues": {pos: oms.backorder_queue(*pos) for pos in sorted(positions)},
        "entries": entries,
        "orders": {o.id: repr(o) for o in oms.orders()},
        "fulfilment": {
            o.id: [repr(fo) for fo in oms.fulfilment_orders(o.id)] for o in oms.orders()
        },
        "shipments": {o.id: [repr(s) for s in oms.shipments(o.id)] for o in oms.orders()},
        "reservations": [repr(r) for r in oms.reservations(active_only=False)],
        "incoming": {sku: [repr(i) for i in oms.incoming(sku)] for sku in oms.skus()},
    }


def _scenario(oms: Oms, clock: ManualClock) -> None:
    """A run through every kind of state a store must keep."""
    oms.add_location(Location("berlin", coordinates=GeoPoint(52.52, 13.4), priority=1))
    oms.add_location(Location("munich", priority=2, daily_capacity=5))
    oms.add_sku("MUG")
    oms.configure_position("MUG", "munich", allow_backorders=True, safety_stock=1)
    oms.receive("MUG", "berlin", 4, idempotency_key="rcv-1")
    oms.receive("CAP", "munich", 3)
    oms.receive_many([("HAT", "berlin", 2), ("HAT", "munich", 1)], idempotency_key="rcv-2")
    oms.expect("MUG", "munich", 6, eta=T0 + timedelta(days=2))
    oms.transfer("CAP", "munich", "berlin", 1, eta=T0 + timedelta(days=1))
    oms.reserve("CAP", "munich", 1, expires_at=T0 + timedelta(hours=1))
    oms.place_order("o1", [("MUG", 2), ("CAP", 1)], ship_to=GeoPoint(48.1, 11.6))
    oms.place_order("o2", [("MUG", 5)])  # partly backordered at munich
    fo = oms.fulfilment_orders("o1")[0]
    oms.accept(fo.id)
    oms.ship(fo.id, tracking="T-1")
    clock.advance(hours=2)
    oms.expire_reservations()


def _paid_journeys(oms: Oms, clock: ManualClock) -> None:
    """Priced orders paid through a gateway, taken through every end a parcel can have."""
    oms.add_location(Location("dc", priority=1))
    oms.add_location(Location("shop", kind=LocationKind.STORE, can_pickup=True, priority=2))
    oms.receive_many([("MUG", "dc", 10), ("CAP", "dc", 10), ("MUG", "shop", 3)])
    mug, cap = Money("8.00", "EUR"), Money("12.50", "EUR")
    # Delivered; a unit returned and refunded in full, one kept back whole, one refused.
    oms.place_order("p1", [("MUG", 2, mug), ("CAP", 1, cap)], shipping=Money("4.95", "EUR"))
    fo = oms.fulfilment_orders("p1")[0]
    oms.accept(fo.id)
    oms.hold_fulfilment(fo.id, reason="address check")
    oms.release_fulfilment(fo.id)
    parcel = oms.ship(fo.id, carrier="DHL", tracking="T-1", weight_kg="1.25")
    oms.track(parcel.id, "in_transit", detail="hub Leipzig")
    clock.advance(days=1)
    oms.deliver(parcel.id)
    for line, inspection in ((1, "restock"), (2, "damaged")):
        returned = oms.request_return("p1", {line: 1}, reason="too small")
        oms.approve_return(returned.id)
        share = "1.00" if inspection == "restock" else "0"
        oms.receive_return(returned.id, [Inspection(line, inspection, refund=share)])
    refused = oms.request_return("p1", {1: 1}, reason="changed mind")
    oms.reject_return(refused.id, reason="worn")
    # Lost in the post and refunded.
    oms.place_order("p2", [("CAP", 2, cap)])
    fo = oms.fulfilment_orders("p2")[0]
    oms.accept(fo.id)
    lost = oms.ship(fo.id)
    oms.track(lost.id, "lost")
    oms.resolve_lost(lost.id, "refund")
    # Picked up in store.
    oms.place_order("p3", [("MUG", 1, mug)], pickup_at="shop")
    fo = oms.fulfilment_orders("p3")[0]
    oms.accept(fo.id)
    oms.ready_for_pickup(fo.id)
    oms.pick_up("p3")


class StoreContract(abc.ABC):
    """The tests every store must pass; subclass it and define :meth:`open_store`."""

    durable = False
    """Whether the store keeps its state when opened again on the same place."""

    @abc.abstractmethod
    def open_store(self, place: Path) -> UnitOfWorkFactory:
        """A store at ``place`` (a fresh directory per test); open it again for ``reopen``."""

    # -- helpers --------------------------------------------------------------------------

    @pytest.fixture
    def place(self, tmp_path: Path) -> Path:
        """Where the store keeps its files during one test."""
        return tmp_path

    def _oms(self, store: UnitOfWorkFactory, **kw: Any) -> tuple[Oms, ManualClock]:
        clock = kw.pop("clock", None) or ManualClock(T0)
        return Oms(store, clock=clock, **kw), clock

    def _reopen(self, place: Path, store: UnitOfWorkFactory) -> UnitOfWorkFactory:
        if not self.durable:
            return store
        close = getattr(store, "close", None)
        if close is not None:
            close()
        return self.open_store(place)

    # -- the contract ---------------------------------------------------------------------

    def test_everything_written_reads_back_the_same_after_reopening(self, place: Path) -> None:
        """Locations, stock, entries, queues, orders, shipments, reservations, supply."""
        store = self.open_store(place)
        oms, clock = self._oms(store)
        _scenario(oms, clock)
        before = observable(oms)
        again, _ = self._oms(self._reopen(place, store), clock=clock)
        assert observable(again) == before
        again.check_invariants()

    def test_paid_orders_read_back_the_same_through_every_end(self, place: Path) -> None:
        """Payments, holds, tracking, deliveries, returns, a lost parcel, a pickup."""
        store = self.open_store(place)
        gateway = FakeGateway()
        oms, clock = self._oms(store, payments=gateway)
        _paid_journeys(oms, clock)
        before = observable(oms)
        assert "Decimal('0.00')" in before["orders"]["p1"]  # nothing withheld, as money is
        again, _ = self._oms(self._reopen(place, store), clock=clock, payments=gateway)
        assert observable(again) == before
        again.check_invariants()

    def test_a_failed_command_leaves_no_trace(self, place: Path) -> None:
        """A refused command changes nothing, in this process or when reopened."""
        store = self.open_store(place)
        oms, clock = self._oms(store)
        _scenario(oms, clock)
        before = observable(oms)
        with pytest.raises(UnknownSku):
            oms.place_order("bad", [("MUG", 1), ("NOPE", 1)])
        with pytest.raises(InsufficientStock):
            oms.reserve("MUG", "berlin", 99)
        with pytest.raises(UnknownLocation, match="line 2"):  # line 1 is not received either
            oms.receive_many([("MUG", "berlin", 1), ("MUG", "nowhere", 1)])
        assert observable(oms) == before
        again, _ = self._oms(self._reopen(place, store), clock=clock)
        assert observable(again) == before

    def test_idempotency_keys_survive_reopening(self, place: Path) -> None:
        """A command repeated with its key (or an order with its id) has no second effect."""
        store = self.open_store(place)
        oms, clock = self._oms(store)
        _scenario(oms, clock)
        again, _ = self._oms(self._reopen(place, store), clock=clock)
        first = again.entries()
        again.receive("MUG", "berlin", 4, idempotency_key="rcv-1")  # already done
        again.receive_many([("HAT", "berlin", 2), ("HAT", "munich", 1)], idempotency_key="rcv-2")
        again.place_order("o1", [("MUG", 2), ("CAP", 1)], ship_to=GeoPoint(48.1, 11.6))
        assert again.entries() == first

    def test_unit_costs_read_back_exactly_and_belong_to_the_idempotency_key(
        self, place: Path
    ) -> None:
        """Costs on receipts and supply lines, in any currency's precision, or none."""
        store = self.open_store(place)
        oms, clock = self._oms(store)
        oms.add_location(Location("a"))
        oms.receive("MUG", "a", 5, unit_cost=Money("2.10", "EUR"), idempotency_key="grn-1")
        oms.receive_many([("TEE", "a", 2, Money("0.125", "KWD")), ("CUP", "a", 1)])
        line = oms.expect("MUG", "a", 4, eta=T0 + timedelta(days=1), unit_cost=Money("7", "JPY"))
        oms.receive_expected(line.id, 3)
        written = oms.entries()
        again, _ = self._oms(self._reopen(place, store), clock=clock)
        assert again.entries() == written
        assert [e.unit_cost for e in written] == [
            Money("2.10", "EUR"),
            Money("0.125", "KWD"),
            None,
            Money("7", "JPY"),
            Money("7", "JPY"),
        ]
        assert again.supply_line(line.id).unit_cost == Money("7", "JPY")
        assert again.supply_line(line.id).received == 3
        with pytest.raises(ConflictError):  # the cost is part of the stored payload
            again.receive("MUG", "a", 5, unit_cost=Money("2.20", "EUR"), idempotency_key="grn-1")

    def test_events_get_stable_ids_and_a_failing_notifier_loses_none(self, place: Path) -> None:
        """Events wait, in order and with ids, until the notifier takes them; then never again."""
        store = self.open_store(place)
        notifier = RecordingNotifier()
        oms, _ = self._oms(store, notifier=notifier)
        oms.add_location(Location("a"))
        notifier.failing = True
        oms.receive("MUG", "a", 3)
        oms.place_order("o1", [("MUG", 1)])
        waiting = oms.pending_notifications
        assert [e.name for e in waiting][:3] == ["StockChanged", "BackInStock", "OrderPlaced"]
        assert len({e.id for e in waiting}) == len(waiting)
        assert all(e.id for e in waiting)
        if self.durable:  # the events outlive the process that committed them
            oms, _ = self._oms(self._reopen(place, store), notifier=notifier)
        notifier.failing = False
        assert oms.relay() == len(waiting)
        assert [e.id for e in notifier.events] == [e.id for e in waiting]
        assert oms.pending_notifications == []
        assert oms.relay() == 0  # delivered once, not again

    def test_a_subscribed_notifier_gets_its_topics_and_the_store_keeps_no_other(
        self, place: Path
    ) -> None:
        """A notifier with ``topics``: only those events are kept, numbered and delivered."""
        store = self.open_store(place)
        notifier = RecordingNotifier(topics=[events.OrderPlaced, events.ShipmentShipped])
        oms, _ = self._oms(store, notifier=notifier)
        oms.add_location(Location("a"))
        notifier.failing = True
        oms.receive("MUG", "a", 3)
        oms.place_order("o1", [("MUG", 1)])
        oms.ship(oms.accept(oms.fulfilment_orders("o1")[0].id).id)
        assert [e.name for e in oms.pending_notifications] == ["OrderPlaced", "ShipmentShipped"]
        if self.durable:  # what the store kept for a later relay: these two, no more
            notifier = RecordingNotifier()  # hears everything there is
            oms, _ = self._oms(self._reopen(place, store), notifier=notifier)
        else:
            notifier.failing = False
        assert oms.relay() == 2
        assert notifier.names() == ["OrderPlaced", "ShipmentShipped"]
        assert [e.id for e in notifier.events] == ["evt-1", "evt-2"]
        assert oms.relay() == 0

    def test_two_live_stores_on_one_place_see_each_other_s_commits(self, place: Path) -> None:
        """A durable store opened twice (two processes, say) reads what the other wrote."""
        if not self.durable:
            pytest.skip("a store that is not durable lives in one process")
        one, clock = self._oms(self.open_store(place))
        two, _ = self._oms(self.open_store(place), clock=clock)
        _scenario(one, clock)
        assert observable(two) == observable(one)
        two.place_order("o3", [("MUG", 1)])
        two.cancel_order("o2")
        assert observable(one) == observable(two)
        one.check_invariants()

    def test_rows_made_together_keep_the_order_they_were_made_in(self, place: Path) -> None:
        """Twelve reservations made in one command list as made, here, elsewhere, reopened.

        Past the ninth, the ids' order and their text's order differ (RSV-10 sorts before
        RSV-9): a store reading them back by key must still list them as made, and
        expire them in that order.
        """
        store = self.open_store(place)
        one, clock = self._oms(store)
        one.add_location(Location("shop", kind=LocationKind.STORE))
        one.receive("MUG", "shop", 12)
        two = self._oms(self.open_store(place), clock=clock)[0] if self.durable else one
        two.receive("CAP", "shop", 1)  # loaded now: it reads the reservations by catching up
        made = one.reserve_in_store(
            "try-on", [("MUG", 1)] * 12, store="shop", expires_at=T0 + timedelta(hours=1)
        )
        ids = [f"RSV-{n}" for n in range(1, 13)]
        assert [r.id for r in made] == ids
        assert [r.id for r in one.reservations()] == ids
        assert [r.id for r in two.reservations()] == ids
        again, _ = self._oms(self._reopen(place, store), clock=clock)
        assert [r.id for r in again.reservations()] == ids
        clock.advance(hours=2)
        assert [r.id for r in two.expire_reservations()] == ids
        assert [e.reference for e in two.entries(sku="MUG")[-12:]] == ids  # the releases

    def test_threads_racing_for_the_last_units_never_oversell(self, place: Path) -> None:
        """Four threads, 16 orders, 5 units: exactly 5 orders succeed."""
        store = self.open_store(place)
        oms, _ = self._oms(store)
        oms.add_location(Location("a"))
        oms.receive("MUG", "a", 5)
        outcomes: list[str] = []

        def buy(n: int) -> None:
            for i in range(4):
                try:
                    oms.place_order(f"t{n}-{i}", [("MUG", 1)], allow_partial=False)
                    outcomes.append("ok")
                except InsufficientStock:
                    outcomes.append("sold out")

        threads = [threading.Thread(target=buy, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count("ok") == 5
        assert oms.stock("MUG", "a").committed == 5
        oms.check_invariants()

    def test_a_dropped_store_is_freed_without_the_cyclic_collector(self, place: Path) -> None:
        """Nothing in a store (or the Oms over it) refers back to it in a cycle.

        A cycle would keep a dropped store, its cache and everything it read, alive until
        Python's cyclic collector next looks at its oldest objects: possibly long after.
        """
        store = self.open_store(place)
        oms, clock = self._oms(store)
        _scenario(oms, clock)
        oms.order("o1")  # queries too: a store may keep a reader for them
        gone = weakref.ref(store), weakref.ref(oms)
        gc.collect()
        gc.disable()  # from here only reference counting frees anything
        try:
            oms.close()
            del oms, store
            assert [ref() for ref in gone] == [None, None]
        finally:
            gc.enable()
