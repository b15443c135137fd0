"""A notifier's topics: the Oms records only the events it subscribes to, and no less."""

from datetime import UTC, datetime

import pytest

from omsims import Inspection, Location, ManualClock, Oms, RecordingNotifier, events
from omsims.errors import ValidationError

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
    assert FULL.names().count("StockChanged") > 1
    assert len(FULL.events) == len(journey(RecordingNotifier()).published_events)


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
        ([events.Event], "Event"),
        ([int], "int"),
        (42, "42"),
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
