"""Sales channels: SKU mapping, bundles, per-channel availability and its feed."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims import (
    Bundle,
    Location,
    LocationKind,
    Money,
    Oms,
    RecordingNotifier,
    SalesChannel,
)
from omsims.errors import (
    InvalidIdentifier,
    InvalidOrder,
    InvalidQuantity,
    UnknownChannelSku,
    UnknownSku,
)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


AMAZON = SalesChannel(
    "amazon",
    {
        "AMZ-TEE": "TSHIRT-M",
        "AMZ-SOCKS": "SOCKS",
        "AMZ-DUO": Bundle({"TSHIRT-M": 1, "SOCKS": 2}),
    },
    buffer=1,
)


def network(notifier: RecordingNotifier | None = None) -> Oms:
    oms = Oms(channels=[AMAZON], notifier=notifier)
    oms.add_location(Location("berlin-dc", priority=1))
    oms.add_location(Location("b2b-dc", channels={"b2b"}, priority=2))
    oms.add_location(Location("closed", active=False))
    oms.add_location(Location("showroom", kind=LocationKind.STORE, can_ship=False))
    for loc in ("berlin-dc", "b2b-dc", "closed", "showroom"):
        oms.receive("TSHIRT-M", loc, 10)
        oms.receive("SOCKS", loc, 10)
    return oms


# -- mapping at order capture --------------------------------------------------------------------


def test_channel_skus_are_mapped_and_a_bundle_becomes_a_line_per_component():
    oms = network()
    order = oms.place_order(
        "amz-1", [("AMZ-TEE", 1, eur("12.00")), ("AMZ-DUO", 2, eur("25.00"))], channel="amazon"
    )
    assert [(ln.sku, ln.quantity, str(ln.unit_price), ln.listing) for ln in order.lines] == [
        ("TSHIRT-M", 1, "12.00 EUR", "AMZ-TEE"),
        ("TSHIRT-M", 2, "8.33 EUR", "AMZ-DUO"),
        ("SOCKS", 2, "8.33 EUR", "AMZ-DUO"),
        ("SOCKS", 2, "8.34 EUR", "AMZ-DUO"),
    ]
    assert order.total_price == eur("62.00")  # 12 + 2 x 25: not a cent lost or made


def test_an_unknown_channel_sku_is_refused_and_nothing_is_written():
    oms = network()
    with pytest.raises(UnknownChannelSku, match="channel amazon has no SKU 'TSHIRT-M'") as err:
        oms.place_order("amz-2", [("AMZ-TEE", 1), ("TSHIRT-M", 1)], channel="amazon")
    assert isinstance(err.value, UnknownSku)
    assert oms.orders() == []
    assert oms.available("TSHIRT-M", "berlin-dc") == 10


def test_other_channels_use_internal_skus_as_they_are():
    oms = network()
    order = oms.place_order("web-1", [("TSHIRT-M", 1)])
    assert (order.lines[0].sku, order.lines[0].listing) == ("TSHIRT-M", None)


def test_placing_the_same_channel_order_again_is_one_order():
    oms = network()
    first = oms.place_order("amz-3", [("AMZ-DUO", 1, eur("25.00"))], channel="amazon")
    again = oms.place_order("amz-3", [("AMZ-DUO", 1, eur("25.00"))], channel="amazon")
    assert again == first
    assert oms.available("SOCKS", "berlin-dc") == 8


def test_two_lines_sharing_an_internal_sku_never_oversell_it():
    oms = Oms(channels=[AMAZON])
    oms.add_location(Location("w1"))
    oms.receive("TSHIRT-M", "w1", 2)
    oms.receive("SOCKS", "w1", 2)
    order = oms.place_order("amz-4", [("AMZ-DUO", 1), ("AMZ-TEE", 2)], channel="amazon")
    assert sum(ln.committed for ln in order.lines if ln.sku == "TSHIRT-M") == 2
    assert oms.stock("TSHIRT-M", "w1").committed == 2
    oms.check_invariants()


@given(
    cents=st.integers(0, 10**7),
    parts=st.dictionaries(
        st.sampled_from(["A", "B", "C", "D"]), st.integers(1, 7), min_size=1, max_size=4
    ),
    bundles=st.integers(1, 50),
    weighted=st.booleans(),
)
def test_a_bundles_lines_always_add_up_to_its_price(cents, parts, bundles, weighted):
    weights = {sku: Decimal(i + 1) for i, sku in enumerate(parts)} if weighted else None
    price = Money(Decimal(cents) / 100, "EUR")
    lines = Bundle(parts, weights).lines(bundles, price)
    assert sum(p.amount * n for _sku, n, p in lines) == price.amount * bundles
    assert all(p.amount >= 0 for _sku, _n, p in lines)
    units: dict[str, int] = {}
    for sku, n, _p in lines:
        units[sku] = units.get(sku, 0) + n
    assert units == {sku: n * bundles for sku, n in parts.items()}


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Bundle({}), InvalidOrder, "a bundle is"),
        (lambda: Bundle({"A": 0}), InvalidQuantity, "units of A"),
        (lambda: Bundle({"A": 1}, {"B": 1}), InvalidOrder, "exactly its components"),
        (lambda: SalesChannel("bad name"), InvalidIdentifier, "malformed"),
        (lambda: SalesChannel("x", buffer=-1), InvalidQuantity, "buffer"),
        (lambda: SalesChannel("x", {"bad sku": "A"}), InvalidIdentifier, "malformed"),
    ],
)
def test_bad_channel_definitions_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_two_channels_with_one_name_are_refused():
    with pytest.raises(InvalidIdentifier, match="two channels are named 'amazon'"):
        Oms(channels=[AMAZON, SalesChannel("amazon")])


# -- what a channel may sell ---------------------------------------------------------------------


def test_a_channel_offers_what_its_serving_locations_have_less_its_buffer():
    oms = network()
    # berlin-dc only: b2b-dc serves b2b, "closed" is inactive, the showroom neither ships
    # nor takes pickups.
    assert oms.channel_availability("amazon") == {"AMZ-TEE": 9, "AMZ-SOCKS": 9, "AMZ-DUO": 4}
    assert oms.channel_availability("b2b", ["TSHIRT-M"]) == {"TSHIRT-M": 20}


def test_the_feed_publishes_each_change_and_only_changes():
    notes = RecordingNotifier()
    oms = network(notes)
    feed = [e for e in notes.events if e.name == "ChannelAvailabilityChanged"]
    assert {(e.sku, e.available) for e in feed[-3:]} == {
        ("AMZ-TEE", 9),
        ("AMZ-SOCKS", 9),
        ("AMZ-DUO", 4),
    }
    notes.events.clear()
    oms.receive("SOCKS", "b2b-dc", 5)  # b2b stock: nothing amazon can sell moved
    assert not [e for e in notes.events if e.name == "ChannelAvailabilityChanged"]
    oms.place_order("amz-5", [("AMZ-DUO", 1)], channel="amazon")
    moved = {
        (e.channel, e.sku, e.available)
        for e in notes.events
        if e.name == "ChannelAvailabilityChanged"
    }
    assert moved == {("amazon", "AMZ-TEE", 8), ("amazon", "AMZ-SOCKS", 7), ("amazon", "AMZ-DUO", 3)}
    notes.events.clear()
    oms.receive("SOCKS", "berlin-dc", 1)  # socks 9 -> 10, but the duo still has 9 tees
    assert {
        (e.sku, e.available) for e in notes.events if e.name == "ChannelAvailabilityChanged"
    } == {("AMZ-SOCKS", 8)}


@given(
    moves=st.lists(
        st.tuples(
            st.sampled_from(["receive", "order", "hold"]),
            st.sampled_from(["TSHIRT-M", "SOCKS"]),
            st.sampled_from(["berlin-dc", "b2b-dc", "showroom"]),
            st.integers(1, 6),
        ),
        max_size=15,
    )
)
def test_the_last_published_offer_is_always_what_the_channel_may_sell(moves):
    notes = RecordingNotifier()
    oms = network(notes)
    for i, (what, sku, loc, n) in enumerate(moves):
        try:
            if what == "receive":
                oms.receive(sku, loc, n)
            elif what == "hold":
                oms.hold(sku, loc, n, reason="damaged")
            else:
                oms.place_order(f"o{i}", [(sku, n)])
        except Exception:  # noqa: BLE001, S112 (refused commands write nothing)
            continue
    last: dict[str, int] = {}
    for e in notes.events:
        if e.name == "ChannelAvailabilityChanged":
            last[e.sku] = e.available
    assert last == oms.channel_availability("amazon")
