"""Contract suites for third-party notifiers, carriers and payment gateways.

omsims runs them on its own adapters; run them on yours by subclassing in a test module
and saying how to build one (pytest collects classes whose names start with ``Test``)::

    from omsims.testing.ports import CarrierContract, NotifierContract, PaymentContract

    class TestMyGateway(PaymentContract):
        def make_gateway(self):
            return MyGateway(sandbox_credentials())

    class TestMyCarrier(CarrierContract):
        def make_carrier(self):
            return MyCarrier()

    class TestMyNotifier(NotifierContract):
        def make_notifier(self):
            return MyWebhookNotifier(url=local_receiver())

The storage contract is :class:`omsims.testing.contract.StoreContract`. Requires pytest.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from omsims.adapters.clock import ManualClock
from omsims.domain import events
from omsims.domain.events import Event
from omsims.domain.locations import Location
from omsims.domain.orders import ShipTo
from omsims.domain.shipping import Parcel
from omsims.domain.values import GeoPoint, Money, Sku
from omsims.errors import OmsimsError, PaymentDeclined
from omsims.oms import Oms
from omsims.service._core import notifier_topics
from omsims.testing.plugin import T0

__all__ = ["CarrierContract", "NotifierContract", "PaymentContract"]


class PaymentContract(abc.ABC):
    """What every ``PaymentGateway`` must do: idempotent by key, never more than held."""

    currency = "EUR"
    """The currency the gateway under test accepts."""

    @abc.abstractmethod
    def make_gateway(self) -> Any:
        """A fresh gateway (a sandbox account, for a real one)."""

    def _money(self, amount: str) -> Money:
        return Money(amount, self.currency)

    @staticmethod
    def _again(call: Any, first: str, what: str) -> None:
        """Repeat ``call``: it must answer ``first`` again, not refuse or move money."""
        try:
            again = call()
        except OmsimsError as e:
            msg = f"{what} repeated under its key was refused ({e}); it must return {first!r}"
            raise AssertionError(msg) from e
        assert again == first, f"{what} repeated under its key returned {again!r}, not {first!r}"

    def test_a_repeated_key_returns_the_first_answer_and_moves_nothing(self) -> None:
        """Authorise, capture and refund twice under one key: one effect each."""
        gw = self.make_gateway()
        auth = gw.authorise("o1", self._money("10.00"), key="o1-auth")
        assert isinstance(auth, str)
        assert auth
        self._again(
            lambda: gw.authorise("o1", self._money("10.00"), key="o1-auth"), auth, "authorise"
        )
        cap = gw.capture(auth, self._money("6.00"), key="o1-cap-1")
        self._again(lambda: gw.capture(auth, self._money("6.00"), key="o1-cap-1"), cap, "capture")
        # Had the repeat captured again, 12 of 10 would be taken: 4 are left, not 5.
        with pytest.raises(PaymentDeclined):
            gw.capture(auth, self._money("5.00"), key="o1-cap-2")
        ref = gw.refund(auth, self._money("2.00"), key="o1-ref-1")
        self._again(lambda: gw.refund(auth, self._money("2.00"), key="o1-ref-1"), ref, "refund")
        gw.refund(auth, self._money("4.00"), key="o1-ref-2")  # 6 captured, 2 + 4 refunded

    def test_never_more_than_authorised_or_captured(self) -> None:
        """Captures and voids stay within the hold; refunds within what was captured."""
        gw = self.make_gateway()
        auth = gw.authorise("o2", self._money("10.00"), key="o2-auth")
        with pytest.raises(PaymentDeclined):
            gw.refund(auth, self._money("1.00"), key="o2-ref-early")  # nothing captured
        gw.capture(auth, self._money("7.00"), key="o2-cap")
        gw.void(auth, self._money("3.00"), key="o2-void")
        with pytest.raises(PaymentDeclined):
            gw.capture(auth, self._money("0.01"), key="o2-cap-more")  # all used
        with pytest.raises(PaymentDeclined):
            gw.refund(auth, self._money("7.01"), key="o2-ref-more")

    def test_distinct_keys_give_distinct_ids(self) -> None:
        """Two authorisations under two keys are two holds."""
        gw = self.make_gateway()
        one = gw.authorise("o3", self._money("5.00"), key="o3-auth")
        two = gw.authorise("o4", self._money("5.00"), key="o4-auth")
        assert one != two
        gw.capture(one, self._money("5.00"), key="o3-cap")
        gw.capture(two, self._money("5.00"), key="o4-cap")

    def test_an_order_is_paid_through_the_gateway(self) -> None:
        """Placed, shipped and delivered by an Oms: its money is captured in full."""
        oms = Oms(clock=ManualClock(T0), payments=self.make_gateway())
        oms.add_location(Location("a"))
        oms.receive("MUG", "a", 2)
        price = self._money("9.50")
        order = oms.place_order("o5", [("MUG", 2, price)], ship_to=GeoPoint(52.5, 13.4))
        fo = oms.fulfilment_orders(order.id)[0]
        oms.accept(fo.id)
        oms.deliver(oms.ship(fo.id, tracking="T1").id)
        payment = oms.order(order.id).payment
        assert payment is not None
        assert payment.captured == (price * 2).amount
        oms.check_invariants()


class CarrierContract(abc.ABC):
    """What every ``ShippingCarrier`` must do: stable quotes, labels once per key."""

    @abc.abstractmethod
    def make_carrier(self) -> Any:
        """A fresh carrier (a sandbox account, for a real one)."""

    def route(self) -> tuple[Location, GeoPoint]:
        """An origin and destination the carrier serves (default: Berlin to Munich)."""
        return Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40)), GeoPoint(48.14, 11.58)

    weights_kg: Sequence[Decimal] = tuple(Decimal(w) for w in ("0.2", "1", "2.5", "5", "12", "30"))
    """Parcel weights to quote on the route, lightest first."""

    def _parcel(self, shipment_id: str = "o1-F1-S1") -> Parcel:
        origin, destination = self.route()
        return Parcel(
            shipment_id, "o1", origin, ShipTo(destination), ((Sku("MUG"), 2),), Decimal(1), T0
        )

    def test_quotes_are_deterministic_and_sane(self) -> None:
        """The same parcel, the same quote: the carrier's name, a cost >= 0, days >= 0."""
        carrier = self.make_carrier()
        origin, destination = self.route()
        first = carrier.quote(origin, destination, Decimal(1))
        assert first is not None, "the carrier must serve route()"
        assert carrier.quote(origin, destination, Decimal(1)) == first
        assert first.carrier == carrier.name
        assert first.cost.amount >= 0
        assert first.transit_days >= 0

    def test_a_heavier_parcel_never_costs_less_nor_travels_when_a_lighter_cannot(self) -> None:
        """The rule LowestCost prunes its search on (true of every rate card)."""
        carrier = self.make_carrier()
        origin, destination = self.route()
        quotes = [carrier.quote(origin, destination, w) for w in self.weights_kg]
        for lighter, heavier in itertools.pairwise(quotes):
            if lighter is None:
                assert heavier is None
            elif heavier is not None:
                assert heavier.cost.amount >= lighter.cost.amount

    def test_a_label_is_bought_once_per_key(self) -> None:
        """Asked twice under one key, the same label; under another key, another."""
        carrier = self.make_carrier()
        parcel = self._parcel()
        label = carrier.create_shipment(parcel, key="o1-F1-S1#1")
        assert carrier.create_shipment(parcel, key="o1-F1-S1#1") == label
        other = carrier.create_shipment(self._parcel("o1-F1-S2"), key="o1-F1-S2#1")
        assert other.reference != label.reference
        assert other.tracking != label.tracking

    def test_cancelling_a_label_twice_is_harmless(self) -> None:
        """A retried cancellation (after a crash, say) does no harm."""
        carrier = self.make_carrier()
        label = carrier.create_shipment(self._parcel(), key="k1")
        carrier.cancel_label(label, key="k1-cancel")
        carrier.cancel_label(label, key="k1-cancel")

    def test_an_oms_ships_through_the_carrier(self) -> None:
        """The label's tracking number becomes the shipment's."""
        origin, destination = self.route()
        carrier = self.make_carrier()
        oms = Oms(clock=ManualClock(T0), carriers=[carrier])
        oms.add_location(origin)
        oms.receive("MUG", origin.id, 1)
        oms.place_order("o1", [("MUG", 1)], ship_to=destination)
        fo = oms.fulfilment_orders("o1")[0]
        oms.accept(fo.id)
        shipment = oms.ship(fo.id, carrier=carrier.name)
        assert shipment.tracking
        assert shipment.label  # the label's reference, kept to cancel it
        oms.check_invariants()


class NotifierContract(abc.ABC):
    """What every ``Notifier`` must do: take every kind of event omsims publishes, as is."""

    @abc.abstractmethod
    def make_notifier(self) -> Any:
        """A fresh notifier (pointed at a local receiver, for a real one)."""

    def received(self, notifier: Any) -> list[Event] | None:  # noqa: ARG002 (a hook)
        """What the notifier's receiver got, in order, if the test can see it (else None)."""
        return None

    def _busy_oms(self, notifier: Any) -> Oms:
        """An Oms that publishes many kinds of event through ``notifier``."""
        clock = ManualClock(T0)
        oms = Oms(clock=clock, notifier=notifier)
        oms.add_location(Location("a", priority=1))
        oms.add_location(Location("b", priority=2))
        oms.receive("MUG", "a", 3)
        oms.configure_position("MUG", "a", low_stock_threshold=2)
        oms.receive("CAP", "b", 2)
        oms.place_order("o1", [("MUG", 2), ("CAP", 1)], ship_to=GeoPoint(52.5, 13.4))
        fo_a, fo_b = oms.fulfilment_orders("o1")
        oms.accept(fo_a.id)
        oms.deliver(oms.ship(fo_a.id, tracking="T1").id)
        oms.reject(fo_b.id, reason="damaged")
        oms.place_order("o2", [("MUG", 1)])
        oms.cancel_order("o2")
        clock.advance(hours=1)
        oms.reserve("CAP", "b", 1, expires_at=clock.now() + timedelta(minutes=5))
        clock.advance(hours=1)
        oms.expire_reservations()
        return oms

    def test_every_kind_of_event_is_accepted(self) -> None:
        """After a busy run nothing waits: publish took every event, of every kind.

        Of every kind it subscribes to, for a notifier with ``topics``.
        """
        notifier = self.make_notifier()
        oms = self._busy_oms(notifier)
        oms.relay()
        assert oms.pending_notifications == []
        wanted: set[type[Event]] = {
            events.OrderPlaced,
            events.StockChanged,
            events.FulfilmentOrderRejected,
            events.LowStock,
            events.OrderCancelled,
        }
        topics = notifier_topics(notifier)
        if topics is not None:
            wanted &= topics
            assert {type(e) for e in oms.published_events} <= topics
        assert wanted <= {type(e) for e in oms.published_events}

    def test_publishing_leaves_the_event_as_it_was(self) -> None:
        """Events are values: publish must not change one (other receivers get it next)."""
        notifier = self.make_notifier()
        oms = self._busy_oms(notifier)
        for n, event in enumerate(oms.published_events):
            # A copy with an id of our own: publish must leave every field as it finds it.
            again = attrs.evolve(event, id=f"contract-{n}")
            before = attrs.asdict(again, recurse=True)
            notifier.publish(again)  # delivered a second time: delivery is at least once
            assert attrs.asdict(again, recurse=True) == before, f"publish changed {event.name}"

    def test_the_receiver_gets_events_in_commit_order(self) -> None:
        """If the test can see the receiver: every event, once, in the order committed."""
        notifier = self.make_notifier()
        oms = self._busy_oms(notifier)
        got = self.received(notifier)
        if got is None:
            pytest.skip("this notifier's receiver cannot be observed (override received())")
        assert [e.id for e in got] == [e.id for e in oms.published_events]
