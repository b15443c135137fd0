"""A notifier's topics: the Oms records only the events it subscribes to, and no less."""

import inspect
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest

import omsims.service
from omsims import Inspection, Location, ManualClock, Oms, RecordingNotifier, SalesChannel, events
from omsims.errors import ValidationError
from omsims.service._core import ServiceCore, notifier_topics
from omsims.simulation import load_scenario, simulate

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def journey(notifier):
    """A day that makes most kinds of event: stock alerts, an order's whole life, a return."""
    clock = ManualClock(T0)
    oms = Oms(clock=clock, notifier=notifier)
    oms.add_location(Location("w1", priority=1))
    oms.add_location(Location("w2", priority=2))
    oms.add_sku("A")
    oms.configure_position("A", "w1", low_stock_threshold=3)
    oms.receive_many([("A", "w1", 5), ("B", "w2", 2)])
    clock.advance(hours=1)
    oms.place_order("o1", [("A", 3), ("B", 2)])  # w1 low on A, w2 out of B
    first, second = oms.fulfilment_orders("o1")
    oms.accept(first.id)
    parcel = oms.ship(first.id)
    clock.advance(hours=20)
    oms.deliver(parcel.id)
    oms.reject(second.id, reason="no staff")  # B has nowhere else to go
    oms.receive("B", "w1", 4)  # back in stock: fills nothing (not backorderable)
    clock.advance(days=2)
    request = oms.request_return("o1", {1: 1}, reason="too small")
    oms.approve_return(request.id)
    oms.receive_return(request.id, [Inspection(1, "restock")])
    oms.place_order("o2", [("B", 1)])
    oms.cancel_order("o2")
    return oms


FULL = RecordingNotifier()
MADE = sorted({type(e) for e in journey(FULL).published_events}, key=lambda c: c.__name__)


def test_the_journey_makes_the_events_the_filter_is_tested_on():
    """Every stock event and every step of the order's life, so the tests below bite."""
    names = {c.__name__ for c in MADE}
    assert {"StockChanged", "LowStock", "OutOfStock", "BackInStock"} <= names
    assert {"OrderPlaced", "ShipmentShipped", "ShipmentDelivered", "OrderCancelled"} <= names
    assert {"FulfilmentOrderRejected", "ReturnReceived"} <= names


@pytest.mark.parametrize("topic", MADE, ids=lambda c: c.__name__)
def test_a_notifier_subscribed_to_one_kind_hears_every_event_of_it_and_no_other(topic):
    narrow = RecordingNotifier(topics=[topic])
    oms = journey(narrow)
    wanted = [e for e in FULL.events if type(e) is topic]
    assert narrow.events == wanted
    # Numbered among themselves: ids count what was recorded.
    assert [e.id for e in narrow.events] == [f"evt-{i}" for i in range(1, len(wanted) + 1)]
    assert list(oms.published_events) == wanted


def test_topics_change_what_is_told_never_what_happens():
    quiet = journey(RecordingNotifier(topics=[events.OrderPlaced]))
    loud = journey(RecordingNotifier())
    assert quiet.entries() == loud.entries()
    assert quiet.orders() == loud.orders()
    assert [quiet.stock(s, w) for s in "AB" for w in ("w1", "w2")] == [
        loud.stock(s, w) for s in "AB" for w in ("w1", "w2")
    ]


def test_an_empty_subscription_hears_nothing_and_queues_nothing():
    silent = RecordingNotifier(topics=())
    oms = journey(silent)
    assert silent.events == []
    assert oms.pending_notifications == []
    assert list(oms.published_events) == []


def test_without_topics_a_notifier_hears_everything():
    again = RecordingNotifier()
    oms = journey(again)
    assert FULL.names().count("StockChanged") > 1
    assert again.events == FULL.events
    assert list(oms.published_events) == FULL.events


def test_a_new_notifier_brings_its_own_topics():
    oms = journey(RecordingNotifier(topics=[events.OrderPlaced]))
    everything = RecordingNotifier()
    oms.notifier = everything
    oms.receive("A", "w2", 1)
    assert everything.names() == ["StockChanged", "BackInStock"]


class Topics:
    """A notifier whose ``topics`` is whatever a test sets."""

    def __init__(self, topics):
        self.topics = topics

    def publish(self, event):
        raise AssertionError("never reached")


@pytest.mark.parametrize(
    ("topics", "named"),
    [
        ("OrderPlaced", "'OrderPlaced'"),
        (events.OrderPlaced, "OrderPlaced"),
        (["OrderPlaced"], "'OrderPlaced'"),
        ([int], "int"),
        (42, "42"),
        (iter([events.OrderPlaced]), "iterator"),  # a second Oms would find it empty
        ((t for t in [events.OrderPlaced]), "generator"),
    ],
)
def test_topics_that_are_not_event_classes_are_refused_when_the_notifier_is_given(topics, named):
    with pytest.raises(ValidationError, match="event classes") as refused:
        Oms(notifier=Topics(topics))
    assert named in str(refused.value)
    oms = Oms()
    before = oms.notifier
    with pytest.raises(ValidationError, match="event classes"):
        oms.notifier = Topics(topics)
    assert oms.notifier is before  # the old notifier stays


def test_a_class_stands_for_every_kind_derived_from_it():
    payments = notifier_topics(RecordingNotifier(topics=[events.PaymentMoved]))
    assert {events.PaymentCaptured, events.PaymentRefunded, events.PaymentMoved} <= payments
    assert events.OrderPlaced not in payments
    # Event itself is every event.
    assert events.OrderPlaced in notifier_topics(RecordingNotifier(topics=[events.Event]))


def test_a_test_double_hears_every_event():
    """unittest.mock makes up any attribute asked for: a made-up ``topics`` is no topic."""
    magic = mock.MagicMock()
    oms = Oms(notifier=magic)
    oms.add_location(Location("w1"))
    oms.receive("A", "w1", 1)
    assert [c.args[0].name for c in magic.publish.call_args_list] == [
        "StockChanged",
        "BackInStock",
    ]
    Oms(notifier=mock.Mock())  # accepted as well


def test_events_waiting_for_an_earlier_notifier_reach_a_narrower_one_only_if_subscribed():
    down = RecordingNotifier()
    down.failing = True
    oms = journey(down)
    waiting = oms.pending_notifications
    assert {e.name for e in waiting} >= {"StockChanged", "OrderPlaced"}
    narrow = RecordingNotifier(topics=[events.OrderPlaced])
    oms.notifier = narrow
    assert oms.retry_notifications() == 2  # o1 and o2
    assert narrow.names() == ["OrderPlaced", "OrderPlaced"]
    assert oms.pending_notifications == []  # the rest is passed over, not kept
    assert list(oms.published_events) == narrow.events


def test_no_stock_event_subscribed_means_no_stock_event_looked_for(monkeypatch):
    def never(*_args):
        raise AssertionError("looked for stock events nobody subscribed to")

    monkeypatch.setattr(ServiceCore, "_stock_events", never)
    journey(RecordingNotifier(topics=[events.OrderPlaced, events.ShipmentShipped]))
    with pytest.raises(AssertionError, match="nobody subscribed"):
        journey(RecordingNotifier(topics=[events.LowStock]))


def test_every_event_the_service_records_goes_through_the_topics():
    """Recorded only by ``_emit``: a direct ``uow.collect`` would bypass the subscription."""
    modules = sorted(Path(omsims.service.__file__).parent.glob("*.py"))
    assert len(modules) > 10
    direct = {m.name: m.read_text().count("uow.collect(") for m in modules}
    assert direct == {m.name: (1 if m.name == "_core.py" else 0) for m in modules}
    assert "uow.collect(" in inspect.getsource(ServiceCore._emit)


SHOP = SalesChannel("shop", {"SHOP-A": "A"})


def channel_day(notifier):
    oms = Oms(channels=[SHOP], notifier=notifier, clock=ManualClock(T0))
    oms.add_location(Location("w1"))
    oms.receive("A", "w1", 4)
    oms.place_order("s1", [("SHOP-A", 3)], channel="shop")
    oms.receive("A", "w1", 2)
    return oms


def test_a_channel_feed_alone_is_still_found():
    everything, feed = (
        RecordingNotifier(),
        RecordingNotifier(topics=[events.ChannelAvailabilityChanged]),
    )
    channel_day(everything)
    channel_day(feed)
    wanted = [e for e in everything.events if e.name == "ChannelAvailabilityChanged"]
    assert len(wanted) == 3
    assert feed.events == wanted


def test_a_simulation_records_only_the_fulfilment_orders_it_listens_for():
    result = simulate(load_scenario("tiny"), "nearest", keep_oms=True)
    assert result.oms is not None
    kinds = {e.name for e in result.oms.published_events}
    assert kinds == {"FulfilmentOrderCreated"}
