"""Unit tests of the stock ledger: every posting, its rules, its refusals and its undo.

Every refusal is checked twice: the exact error type, and that nothing was written (see
``refused``, which compares a full snapshot of the ledger before and after).
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from omsims.domain.ledger import Ledger
from omsims.domain.locations import PositionSettings
from omsims.domain.stock import BackorderFill, EntryKind, LedgerEntry, Posting, StockLevel
from omsims.domain.supply import IncomingSupply, Reservation, ReservationStatus
from omsims.domain.values import MAX_QUANTITY
from omsims.errors import (
    BackdatedPostingRejected,
    BackorderNotAllowed,
    IdempotencyConflict,
    InsufficientStock,
    InvalidIdentifier,
    InvalidQuantity,
    InvalidTime,
    InvariantViolation,
    OmsimsError,
    UnknownLocation,
    UnknownReservation,
    UnknownSku,
    UnknownSupplyLine,
    UnknownTransfer,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def h(hours: float) -> datetime:
    """A business time ``hours`` after T0."""
    return T0 + timedelta(hours=hours)


NOW = h(10)
DUE = h(30)  # when the busy ledger's reservation expires
SUPPLY_ETA = h(72)
TRANSFER_ETA = h(24)
ALLOW = PositionSettings(allow_backorders=True)


# -- the "nothing was written" snapshot ------------------------------------------------------


def snapshot(ledger: Ledger) -> dict[str, Any]:
    """Everything a posting could change, public where the ledger offers it."""
    positions = list(ledger.positions())
    return {
        "last_sequence": ledger.last_sequence,
        "positions": positions,
        "skus": ledger.skus,
        "locations": ledger.locations,
        "locations_of": {s: ledger.locations_of(s) for s in ledger.skus},
        "balances": {p: ledger.balance(*p) for p in positions},
        "settings": {p: ledger.settings(*p) for p in positions},
        "queues": {p: ledger.backorder_queue(*p) for p in positions},
        "entries": ledger.entries(),
        "reservations": ledger.reservations(active_only=False),
        "incoming": {s: ledger.incoming_schedule(s) for s in ledger.skus},
        # No public listing exists for these: look inside.
        "supply": dict(ledger._supply),
        "transfers": dict(ledger._transfers),
        "ids": dict(ledger._ids),
        "keys": dict(ledger._keys),
    }


@contextmanager
def refused(
    ledger: Ledger, error: type[OmsimsError], match: str | None = None
) -> Iterator[pytest.ExceptionInfo[OmsimsError]]:
    """Expect exactly ``error`` from the block, and no trace of the block in the ledger."""
    before = snapshot(ledger)
    with pytest.raises(error, match=match) as info:
        yield info
    assert type(info.value) is error, f"wanted {error.__name__}, got {info.value!r}"
    assert snapshot(ledger) == before
    ledger.check_invariants()


# -- fixtures ---------------------------------------------------------------------------------


def new_ledger(*locations: str) -> Ledger:
    ledger = Ledger()
    for loc in locations or ("L1", "L2", "L3"):
        ledger.add_location(loc)
    return ledger


@pytest.fixture
def ledger() -> Ledger:
    return new_ledger()


def busy_ledger() -> Ledger:
    """A ledger with something in every bucket.

    A@L1: on_hand 18, committed 4, reserved 3 (RSV-1), unavailable 2, incoming 5 (SUP-1),
    free 9, available 9. A@L2: backorders allowed up to 5, 2 backordered (bo-1).
    A@L3: 2 incoming by transfer TRF-1. B is known but has no position.
    """
    ledger = new_ledger()
    ledger.add_sku("B")
    ledger.receive("A", "L1", 20, at=h(1))
    ledger.configure("A", "L2", PositionSettings(allow_backorders=True, backorder_limit=5), at=h(1))
    ledger.backorder("A", "L2", 2, at=h(2), reference="bo-1")
    r = ledger.reserve("A", "L1", 3, at=h(3), expires_at=h(30))
    ledger.commit("A", "L1", 4, at=h(4), reference="o-1")
    ledger.hold("A", "L1", 2, reason="damaged", at=h(5))
    s = ledger.expect("A", "L1", 5, eta=h(48), at=h(6))
    t = ledger.transfer("A", "L1", "L3", 2, eta=h(24), at=h(7))
    assert (r.id, s.id, t.id) == ("RSV-1", "SUP-1", "TRF-1")
    ledger.check_invariants()
    return ledger


@pytest.fixture
def busy() -> Ledger:
    return busy_ledger()


def level(ledger: Ledger, sku: str = "A", location: str = "L1") -> dict[str, int]:
    b = ledger.balance(sku, location)
    return {
        "on_hand": b.on_hand,
        "committed": b.committed,
        "reserved": b.reserved,
        "unavailable": b.unavailable,
        "incoming": b.incoming,
        "backordered": b.backordered,
        "available": b.available,
    }


def test_the_busy_ledger_is_what_its_docstring_says(busy):
    assert level(busy) == {
        "on_hand": 18,
        "committed": 4,
        "reserved": 3,
        "unavailable": 2,
        "incoming": 5,
        "backordered": 0,
        "available": 9,
    }
    assert busy.balance("A", "L1").free == 9
    assert level(busy, "A", "L2")["backordered"] == 2
    assert level(busy, "A", "L3")["incoming"] == 2


# -- every command, with defaults that succeed on the busy ledger -----------------------------
# Each takes only the arguments a bad-input test may want to spoil.


def c_receive(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.receive(sku, loc, qty, at=at, key=key)


def c_adjust_up(ledger, sku="A", loc="L1", delta=1, at=NOW, key=None):
    return ledger.adjust(sku, loc, delta, reason="count", at=at, key=key)


def c_adjust_down(ledger, sku="A", loc="L1", delta=-1, at=NOW, key=None):
    return ledger.adjust(sku, loc, delta, reason="count", at=at, key=key)


def c_hold(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.hold(sku, loc, qty, reason="damaged", at=at, key=key)


def c_release_hold(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.release_hold(sku, loc, qty, reason="repaired", at=at, key=key)


def c_write_off(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.write_off(sku, loc, qty, reason="lost", at=at, key=key)


def c_write_off_unavailable(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.write_off(sku, loc, qty, reason="scrap", at=at, from_unavailable=True, key=key)


def c_return(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.return_stock(sku, loc, qty, at=at, reference="ret-1", key=key)


def c_return_unavailable(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.return_stock(sku, loc, qty, at=at, unavailable_reason="torn", key=key)


def c_reserve(ledger, sku="A", loc="L1", qty=1, at=NOW, expires_at=None, key=None):
    return ledger.reserve(sku, loc, qty, at=at, expires_at=expires_at, reference="cart-9", key=key)


def c_release(ledger, rid="RSV-1", qty=1, at=NOW, key=None):
    return ledger.release(rid, qty, at=at, key=key)


def c_expire(ledger, rid="RSV-1", at=NOW):
    return ledger.expire(rid, at=at)


def c_expire_due(ledger, at=DUE):
    return ledger.expire_due(at=at)


def c_commit(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.commit(sku, loc, qty, at=at, reference="o-2", key=key)


def c_commit_reserved(ledger, sku="A", loc="L1", qty=1, at=NOW, rid="RSV-1", key=None):
    return ledger.commit(sku, loc, qty, at=at, reference="o-3", reservation_id=rid, key=key)


def c_uncommit(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.uncommit(sku, loc, qty, at=at, reference="o-1", key=key)


def c_ship(ledger, sku="A", loc="L1", qty=1, at=NOW, key=None):
    return ledger.ship(sku, loc, qty, at=at, reference="o-1", key=key)


def c_backorder(ledger, sku="A", loc="L2", qty=1, at=NOW, key=None):
    return ledger.backorder(sku, loc, qty, at=at, reference="bo-2", key=key)


def c_cancel_backorder(ledger, sku="A", loc="L2", qty=1, at=NOW):
    return ledger.cancel_backorder(sku, loc, qty, at=at, reference="bo-1")


def c_expect(ledger, sku="A", loc="L1", qty=1, at=NOW, eta=SUPPLY_ETA, key=None):
    return ledger.expect(sku, loc, qty, eta=eta, at=at, reference="po-7", key=key)


def c_receive_expected(ledger, sid="SUP-1", qty=1, at=NOW, key=None):
    return ledger.receive_expected(sid, qty, at=at, key=key)


def c_cancel_expected(ledger, sid="SUP-1", qty=1, at=NOW, key=None):
    return ledger.cancel_expected(sid, qty, at=at, key=key)


def c_transfer(ledger, sku="A", loc="L1", to="L2", qty=1, at=NOW, eta=TRANSFER_ETA, key=None):
    return ledger.transfer(sku, loc, to, qty, eta=eta, at=at, key=key)


def c_receive_transfer(ledger, tid="TRF-1", qty=1, at=NOW, key=None):
    return ledger.receive_transfer(tid, qty, at=at, key=key)


def c_cancel_transfer(ledger, tid="TRF-1", at=NOW, key=None):
    return ledger.cancel_transfer(tid, at=at, key=key)


def c_configure(ledger, sku="A", loc="L1", at=NOW):
    return ledger.configure(sku, loc, PositionSettings(safety_stock=1), at=at)


def c_balance(ledger, sku="A", loc="L1", as_of=None):
    return ledger.balance(sku, loc, as_of)


def c_network_balance(ledger, sku="A", as_of=None):
    return ledger.network_balance(sku, as_of)


COMMANDS: dict[str, Callable[..., Any]] = {
    name.removeprefix("c_"): f for name, f in list(globals().items()) if name.startswith("c_")
}
# Postings that learn an unknown SKU (they bring stock or expectations) rather than refuse it.
LEARNS_SKUS = {"receive", "adjust_up", "return", "return_unavailable", "expect", "configure"}
WRITES_NOTHING = {"balance", "network_balance"}


def taking(*params: str) -> list[str]:
    """The commands that take every one of ``params``."""
    return [
        name
        for name, f in COMMANDS.items()
        if all(p in inspect.signature(f).parameters for p in params)
    ]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_succeeds_with_its_defaults(busy, name):
    # The bad-input tests below spoil one argument of these calls: this proves the
    # error they see comes from that argument.
    before = busy.last_sequence
    COMMANDS[name](busy)
    busy.check_invariants()
    if name not in WRITES_NOTHING | {"configure"}:
        assert busy.last_sequence > before


# -- bad input: every class, every command ----------------------------------------------------

BAD_QUANTITIES = [
    True,
    False,
    1.0,
    2.5,
    math.nan,
    math.inf,
    Decimal("1.5"),
    Decimal("NaN"),
    Decimal("Infinity"),
    0,
    -1,
    Decimal(-2),
    MAX_QUANTITY + 1,
    "3",
    [1],
]
OPTIONAL_QTY = {"release", "receive_expected", "cancel_expected", "receive_transfer"}


@pytest.mark.parametrize("bad", BAD_QUANTITIES, ids=repr)
@pytest.mark.parametrize("name", taking("qty"))
def test_bad_quantities_are_refused_and_write_nothing(busy, name, bad):
    with refused(busy, InvalidQuantity):
        COMMANDS[name](busy, qty=bad)


@pytest.mark.parametrize("name", sorted(set(taking("qty")) - OPTIONAL_QTY))
def test_a_missing_quantity_is_refused(busy, name):
    with refused(busy, InvalidQuantity):
        COMMANDS[name](busy, qty=None)


BAD_DELTAS = [
    True,
    False,
    1.0,
    -1.5,
    math.nan,
    Decimal("0.5"),
    Decimal("sNaN"),
    0,
    Decimal(0),
    MAX_QUANTITY + 1,
    -(MAX_QUANTITY + 1),
    "3",
    None,
]


@pytest.mark.parametrize("bad", BAD_DELTAS, ids=repr)
@pytest.mark.parametrize("name", taking("delta"))
def test_bad_adjustments_are_refused_and_write_nothing(busy, name, bad):
    with refused(busy, InvalidQuantity):
        COMMANDS[name](busy, delta=bad)


def test_whole_decimals_are_accepted_and_stored_as_int(ledger):
    posting = ledger.receive("A", "L1", Decimal(7), at=h(1))
    assert posting.entries[0].quantity == 7
    assert type(posting.entries[0].quantity) is int
    ledger.adjust("A", "L1", Decimal(-2), reason="count", at=h(2))
    assert ledger.balance("A", "L1").on_hand == 5


def test_the_largest_quantity_is_accepted(ledger):
    ledger.receive("A", "L1", MAX_QUANTITY, at=h(1))
    assert ledger.balance("A", "L1").on_hand == MAX_QUANTITY
    ledger.check_invariants()


BAD_IDS = ["", " A", "a b", "x" * 101, "é", "-A", 5, None, b"A", ["A"], ("A",)]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
@pytest.mark.parametrize("name", taking("sku"))
def test_malformed_skus_are_refused_and_write_nothing(busy, name, bad):
    with refused(busy, InvalidIdentifier):
        COMMANDS[name](busy, sku=bad)


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
@pytest.mark.parametrize("name", taking("loc"))
def test_malformed_locations_are_refused_and_write_nothing(busy, name, bad):
    with refused(busy, InvalidIdentifier):
        COMMANDS[name](busy, loc=bad)


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_malformed_transfer_destination_is_refused(busy, bad):
    with refused(busy, InvalidIdentifier):
        c_transfer(busy, to=bad)


@pytest.mark.parametrize("name", taking("loc"))
def test_unknown_locations_are_refused_and_write_nothing(busy, name):
    with refused(busy, UnknownLocation):
        COMMANDS[name](busy, loc="L9")


def test_an_unknown_transfer_destination_is_refused(busy):
    with refused(busy, UnknownLocation):
        c_transfer(busy, to="L9")


def test_an_unknown_location_is_refused_even_for_a_new_sku(busy):
    with refused(busy, UnknownLocation):
        busy.receive("NEW", "L9", 1, at=NOW)


@pytest.mark.parametrize("name", sorted(set(taking("sku")) - LEARNS_SKUS))
def test_unknown_skus_are_refused_and_write_nothing(busy, name):
    with refused(busy, UnknownSku):
        COMMANDS[name](busy, sku="NEW")


@pytest.mark.parametrize("name", sorted(LEARNS_SKUS))
def test_postings_that_bring_stock_learn_a_new_sku(busy, name):
    assert not busy.has_sku("NEW")
    COMMANDS[name](busy, sku="NEW")
    assert busy.has_sku("NEW")
    assert busy.skus[-1] == "NEW"
    assert ("NEW", "L1") in set(busy.positions())
    assert busy.locations_of("NEW") == ["L1"]
    busy.check_invariants()


@pytest.mark.parametrize(
    "name", sorted(set(taking("sku", "qty")) - LEARNS_SKUS - {"backorder", "cancel_backorder"})
)
def test_a_known_sku_without_a_position_has_nothing_to_give(busy, name):
    # B is known but has no position at L1: an empty position, and no position is created.
    with refused(busy, InsufficientStock):
        COMMANDS[name](busy, sku="B")
    assert ("B", "L1") not in set(busy.positions())


@pytest.mark.parametrize(
    ("name", "param", "error", "bad"),
    [
        (name, param, error, bad)
        for name, param, error in (
            ("release", "rid", UnknownReservation),
            ("expire", "rid", UnknownReservation),
            ("commit_reserved", "rid", UnknownReservation),
            ("receive_expected", "sid", UnknownSupplyLine),
            ("cancel_expected", "sid", UnknownSupplyLine),
            ("receive_transfer", "tid", UnknownTransfer),
            ("cancel_transfer", "tid", UnknownTransfer),
        )
        for bad in ("RSV-99", "SUP-99", "TRF-99", "", None, 5, ["RSV-1"])
        # reservation_id=None means a commit from available stock
        if not (name == "commit_reserved" and bad is None)
    ],
    ids=str,
)
def test_unknown_entity_ids_are_refused_and_write_nothing(busy, name, param, error, bad):
    with refused(busy, error):
        COMMANDS[name](busy, **{param: bad})


def test_entity_lookups_name_their_error(busy):
    with pytest.raises(UnknownReservation):
        busy.reservation("SUP-1")
    with pytest.raises(UnknownSupplyLine):
        busy.supply_line("RSV-1")
    with pytest.raises(UnknownTransfer):
        busy.transfer_by_id("SUP-1")
    assert busy.reservation("RSV-1").quantity == 3
    assert busy.supply_line("SUP-1").quantity == 5
    assert busy.transfer_by_id("TRF-1").quantity == 2


BAD_TIMES = [
    datetime(2026, 3, 1, 19),  # noqa: DTZ001 (the point: a naive datetime)
    date(2026, 3, 1),
    "2026-03-01T19:00:00+00:00",
    1772384400,
    None,
]


@pytest.mark.parametrize(
    ("name", "param", "bad"),
    [
        (name, param, bad)
        for param in ("at", "eta", "as_of")
        for name in taking(param)
        for bad in BAD_TIMES
        if not (param == "as_of" and bad is None)  # as_of=None means now
    ],
    ids=str,
)
def test_naive_or_missing_times_are_refused_and_write_nothing(busy, name, param, bad):
    with refused(busy, InvalidTime):
        COMMANDS[name](busy, **{param: bad})


@pytest.mark.parametrize("bad", BAD_TIMES[:-1], ids=repr)
def test_a_naive_expiry_is_refused(busy, bad):
    with refused(busy, InvalidTime):
        c_reserve(busy, expires_at=bad)


def test_naive_as_of_is_refused_even_where_there_is_no_position(busy):
    naive = datetime(2026, 3, 1)  # noqa: DTZ001
    with refused(busy, InvalidTime):
        busy.balance("B", "L1", naive)
    with refused(busy, InvalidTime):
        busy.network_balance("B", naive)


def test_an_aware_time_in_another_zone_is_the_same_instant(ledger):
    from datetime import timezone

    cet = timezone(timedelta(hours=1))
    ledger.receive("A", "L1", 3, at=datetime(2026, 3, 1, 10, tzinfo=cet))  # == 09:00 UTC
    assert ledger.balance("A", "L1", as_of=T0).on_hand == 3
    assert ledger.balance("A", "L1", as_of=h(-0.5)).on_hand == 0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ledger: c_adjust_down(ledger, delta=-10), InsufficientStock),
        (lambda ledger: c_hold(ledger, qty=10), InsufficientStock),
        (lambda ledger: c_release_hold(ledger, qty=3), InsufficientStock),
        (lambda ledger: c_write_off(ledger, qty=10), InsufficientStock),
        (lambda ledger: c_write_off_unavailable(ledger, qty=3), InsufficientStock),
        (lambda ledger: c_reserve(ledger, qty=10), InsufficientStock),
        (lambda ledger: c_release(ledger, qty=4), InsufficientStock),
        (lambda ledger: c_commit(ledger, qty=10), InsufficientStock),
        (lambda ledger: c_commit_reserved(ledger, qty=4), InsufficientStock),
        (lambda ledger: c_uncommit(ledger, qty=5), InsufficientStock),
        (lambda ledger: c_ship(ledger, qty=5), InsufficientStock),
        (lambda ledger: c_cancel_backorder(ledger, qty=3), InsufficientStock),
        (lambda ledger: c_receive_expected(ledger, qty=6), InsufficientStock),
        (lambda ledger: c_cancel_expected(ledger, qty=6), InsufficientStock),
        (lambda ledger: c_transfer(ledger, qty=10), InsufficientStock),
        (lambda ledger: c_receive_transfer(ledger, qty=3), InsufficientStock),
        (lambda ledger: c_backorder(ledger, loc="L1"), BackorderNotAllowed),
        (lambda ledger: c_backorder(ledger, qty=4), BackorderNotAllowed),
        (lambda ledger: c_adjust_down(ledger, loc="L2"), InsufficientStock),
        (lambda ledger: c_transfer(ledger, loc="L2", to="L1"), InsufficientStock),
    ],
    ids=[
        "adjust-below-free",
        "hold-more-than-free",
        "release-hold-more-than-unavailable",
        "write-off-more-than-free",
        "write-off-more-than-unavailable",
        "reserve-more-than-available",
        "release-more-than-held",
        "commit-more-than-available",
        "commit-more-than-reserved",
        "uncommit-more-than-committed",
        "ship-more-than-committed",
        "cancel-more-than-backordered",
        "receive-more-than-expected",
        "cancel-more-than-expected",
        "transfer-more-than-free",
        "receive-more-than-in-transit",
        "backorder-where-not-allowed",
        "backorder-beyond-limit",
        "adjust-down-a-position-with-nothing-on-hand",
        "transfer-from-a-position-with-nothing-on-hand",
    ],
)
def test_asking_for_more_than_there_is_is_refused_and_writes_nothing(busy, call, error):
    with refused(busy, error):
        call(busy)


# -- receive and adjust ----------------------------------------------------------------------


def test_receive_adds_on_hand_and_records_one_entry(ledger):
    posting = ledger.receive("A", "L1", 5, at=h(1), reference="po-1", key="rcv-1")
    assert posting == Posting(
        (LedgerEntry(1, h(1), "A", "L1", EntryKind.RECEIVED, 5, "po-1", None, "rcv-1"),)
    )
    assert ledger.balance("A", "L1") == StockLevel("A", "L1", on_hand=5)
    assert ledger.available("A", "L1") == 5
    assert ledger.last_sequence == 1
    assert ledger.entries() == list(posting.entries)
    ledger.check_invariants()


def test_adjust_up_and_down_records_the_signed_delta_and_reason(ledger):
    ledger.adjust("A", "L1", 4, reason="found in aisle 3", at=h(1))
    entry = ledger.adjust("A", "L1", -3, reason="count", at=h(2), reference="count-7").entries[0]
    assert (entry.kind, entry.quantity, entry.reason, entry.reference) == (
        EntryKind.ADJUSTED,
        -3,
        "count",
        "count-7",
    )
    assert entry.deltas == (-3, 0, 0, 0, 0, 0)
    assert ledger.balance("A", "L1").on_hand == 1
    ledger.check_invariants()


@pytest.mark.parametrize("reason", [None, "", "   ", 5, "x" * 501], ids=repr)
def test_adjust_requires_a_reason(busy, reason):
    with refused(busy, InvalidIdentifier):
        busy.adjust("A", "L1", -1, reason=reason, at=NOW)
    with refused(busy, InvalidIdentifier):
        busy.adjust("NEW", "L1", 1, reason=reason, at=NOW)


@pytest.mark.parametrize(
    "claim",
    [
        lambda ledger: ledger.commit("A", "L1", 1, at=h(2), reference="o-1"),
        lambda ledger: ledger.reserve("A", "L1", 1, at=h(2)),
        lambda ledger: ledger.hold("A", "L1", 1, reason="damaged", at=h(2)),
    ],
    ids=["committed", "reserved", "unavailable"],
)
def test_a_decrease_may_take_only_free_units(ledger, claim):
    ledger.receive("A", "L1", 3, at=h(1))
    claim(ledger)
    with refused(ledger, InsufficientStock, match="free"):
        ledger.adjust("A", "L1", -3, reason="count", at=h(3))
    ledger.adjust("A", "L1", -2, reason="count", at=h(3))
    assert ledger.balance("A", "L1").on_hand == 1
    ledger.check_invariants()


def test_adjust_down_at_a_new_position_creates_nothing(ledger):
    ledger.receive("A", "L1", 3, at=h(1))
    with refused(ledger, InsufficientStock):
        ledger.adjust("A", "L2", -1, reason="count", at=h(2))
    assert list(ledger.positions()) == [("A", "L1")]


# -- hold, release_hold, write_off, return ----------------------------------------------------


def test_hold_moves_free_units_to_unavailable_and_back(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    held = ledger.hold("A", "L1", 2, reason="quality hold", at=h(2)).entries[0]
    assert (held.kind, held.reason) == (EntryKind.HELD, "quality hold")
    b = ledger.balance("A", "L1")
    assert (b.on_hand, b.unavailable, b.available, b.free) == (5, 2, 3, 3)
    with refused(ledger, InsufficientStock):
        ledger.hold("A", "L1", 4, reason="damaged", at=h(3))
    ledger.release_hold("A", "L1", 1, reason="passed QA", at=h(3))
    b = ledger.balance("A", "L1")
    assert (b.on_hand, b.unavailable, b.available) == (5, 1, 4)
    ledger.check_invariants()


@pytest.mark.parametrize("reason", [None, "", " ", 7], ids=repr)
@pytest.mark.parametrize("name", ["hold", "release_hold", "write_off", "write_off_unavailable"])
def test_holds_and_write_offs_require_a_reason(busy, name, reason):
    f = {
        "hold": busy.hold,
        "release_hold": busy.release_hold,
        "write_off": busy.write_off,
        "write_off_unavailable": lambda *a, **k: busy.write_off(*a, **k, from_unavailable=True),
    }[name]
    with refused(busy, InvalidIdentifier):
        f("A", "L1", 1, reason=reason, at=NOW)


def test_write_off_takes_free_units(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    ledger.commit("A", "L1", 2, at=h(2), reference="o-1")
    entry = ledger.write_off("A", "L1", 3, reason="stolen", at=h(3)).entries[0]
    assert (entry.kind, entry.deltas) == (EntryKind.WRITTEN_OFF, (-3, 0, 0, 0, 0, 0))
    b = ledger.balance("A", "L1")
    assert (b.on_hand, b.committed, b.free) == (2, 2, 0)
    with refused(ledger, InsufficientStock):
        ledger.write_off("A", "L1", 1, reason="stolen", at=h(4))
    ledger.check_invariants()


def test_write_off_from_unavailable_takes_only_unavailable_units(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    ledger.hold("A", "L1", 2, reason="damaged", at=h(2))
    with refused(ledger, InsufficientStock):
        ledger.write_off("A", "L1", 3, reason="scrap", at=h(3), from_unavailable=True)
    entry = ledger.write_off("A", "L1", 2, reason="scrap", at=h(3), from_unavailable=True)
    assert entry.entries[0].kind is EntryKind.WRITTEN_OFF_UNAVAILABLE
    b = ledger.balance("A", "L1")
    assert (b.on_hand, b.unavailable, b.available) == (3, 0, 3)
    ledger.check_invariants()


def test_return_to_available_and_to_unavailable_with_a_reason(ledger):
    ledger.return_stock("A", "L1", 2, at=h(1), reference="rma-1")
    entry = ledger.return_stock(
        "A", "L1", 3, at=h(2), unavailable_reason="box crushed", reference="rma-2"
    ).entries[0]
    assert (entry.kind, entry.reason, entry.reference) == (
        EntryKind.RETURNED_UNAVAILABLE,
        "box crushed",
        "rma-2",
    )
    b = ledger.balance("A", "L1")
    assert (b.on_hand, b.unavailable, b.available) == (5, 3, 2)
    assert [e.kind for e in ledger.entries()] == [
        EntryKind.RETURNED,
        EntryKind.RETURNED_UNAVAILABLE,
    ]
    ledger.check_invariants()


@pytest.mark.parametrize("reason", ["", "  ", 3], ids=repr)
def test_an_unavailable_return_needs_a_real_reason(busy, reason):
    with refused(busy, InvalidIdentifier):
        busy.return_stock("A", "L1", 1, at=NOW, unavailable_reason=reason)


# -- reserve, release, expire -----------------------------------------------------------------


def test_reserve_holds_available_units(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    r = ledger.reserve("A", "L1", 2, at=h(2), expires_at=h(3), reference="cart-1")
    assert r == Reservation("RSV-1", "A", "L1", 2, 2, h(2), h(3), "cart-1")
    b = ledger.balance("A", "L1")
    assert (b.reserved, b.available) == (2, 3)
    entry = ledger.entries()[-1]
    assert (entry.kind, entry.reference, entry.quantity) == (EntryKind.RESERVED, "RSV-1", 2)
    assert ledger.reservations() == [r]
    assert ledger.reservation("RSV-1") is r
    ledger.check_invariants()


@pytest.mark.parametrize("expires_at", [h(2), h(1)], ids=["equal", "before"])
def test_an_expiry_must_be_after_the_reservation_time(busy, expires_at):
    with refused(busy, InvalidTime):
        busy.reserve("A", "L1", 1, at=h(2), expires_at=expires_at)


def test_reserve_cannot_take_more_than_available(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    ledger.reserve("A", "L1", 3, at=h(2))
    with refused(ledger, InsufficientStock, match="available"):
        ledger.reserve("A", "L1", 3, at=h(3))


def test_release_part_then_the_rest(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    r = ledger.reserve("A", "L1", 4, at=h(2))
    entry = ledger.release(r.id, 1, at=h(3)).entries[0]
    assert (entry.kind, entry.quantity, entry.reference) == (EntryKind.RELEASED, 1, r.id)
    r2 = ledger.reservation(r.id)
    assert (r2.remaining, r2.status) == (3, ReservationStatus.ACTIVE)
    assert ledger.balance("A", "L1").reserved == 3
    ledger.release(r.id, at=h(4))
    r3 = ledger.reservation(r.id)
    assert (r3.remaining, r3.status) == (0, ReservationStatus.RELEASED)
    assert ledger.balance("A", "L1").reserved == 0
    assert ledger.reservations() == []
    assert ledger.reservations(active_only=False) == [r3]
    with refused(ledger, InsufficientStock, match="released"):
        ledger.release(r.id, at=h(5))
    with refused(ledger, InsufficientStock):
        ledger.expire(r.id, at=h(5))
    ledger.check_invariants()


def test_expire_releases_everything_and_records_an_expiry(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    r = ledger.reserve("A", "L1", 4, at=h(2), expires_at=h(5))
    ledger.release(r.id, 1, at=h(3))
    entry = ledger.expire(r.id, at=h(5)).entries[0]
    assert (entry.kind, entry.quantity) == (EntryKind.EXPIRED, 3)
    assert ledger.reservation(r.id).status is ReservationStatus.EXPIRED
    assert ledger.balance("A", "L1").reserved == 0
    ledger.check_invariants()


def test_expire_due_expires_only_what_is_due_in_expiry_order(ledger):
    ledger.receive("A", "L1", 10, at=h(1))
    ledger.receive("A", "L2", 10, at=h(1))
    late = ledger.reserve("A", "L1", 1, at=h(2), expires_at=h(6))
    never = ledger.reserve("A", "L1", 1, at=h(2))
    early = ledger.reserve("A", "L2", 2, at=h(2), expires_at=h(4))
    exact = ledger.reserve("A", "L1", 3, at=h(2), expires_at=h(5))
    assert ledger.expire_due(at=h(3)) == []
    expired = ledger.expire_due(at=h(5))
    assert [r.id for r in expired] == [early.id, exact.id]
    assert all(r.status is ReservationStatus.EXPIRED and r.remaining == 0 for r in expired)
    assert [r.id for r in ledger.reservations()] == [late.id, never.id]
    assert ledger.balance("A", "L1").reserved == 2
    assert ledger.balance("A", "L2").reserved == 0
    assert [e.kind for e in ledger.entries(since=ledger.last_sequence - 2)] == [
        EntryKind.EXPIRED,
        EntryKind.EXPIRED,
    ]
    assert ledger.expire_due(at=h(100)) == [ledger.reservation(late.id)]
    assert ledger.reservation(never.id).status is ReservationStatus.ACTIVE
    ledger.check_invariants()


# -- commit, uncommit, ship -------------------------------------------------------------------


def test_commit_promises_available_units(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    entry = ledger.commit("A", "L1", 2, at=h(2), reference="web-1/1").entries[0]
    assert (entry.kind, entry.reference) == (EntryKind.COMMITTED, "web-1/1")
    b = ledger.balance("A", "L1")
    assert (b.committed, b.available) == (2, 3)
    with refused(ledger, InsufficientStock):
        ledger.commit("A", "L1", 4, at=h(3), reference="web-2/1")


@pytest.mark.parametrize("reference", [None, "", 5, "x" * 201], ids=repr)
@pytest.mark.parametrize("name", ["commit", "uncommit", "ship", "backorder"])
def test_promises_require_a_reference(busy, name, reference):
    f = getattr(busy, name)
    loc = "L2" if name == "backorder" else "L1"
    with refused(busy, InvalidIdentifier):
        f("A", loc, 1, at=NOW, reference=reference)


def test_commit_from_a_reservation_partially_then_fully(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    r = ledger.reserve("A", "L1", 3, at=h(2))
    available = ledger.available("A", "L1")
    entry = ledger.commit("A", "L1", 2, at=h(3), reference="o-1", reservation_id=r.id).entries[0]
    assert (entry.kind, entry.reference, entry.reason) == (
        EntryKind.RESERVATION_COMMITTED,
        "o-1",
        r.id,
    )
    assert entry.deltas == (0, 2, -2, 0, 0, 0)
    assert ledger.available("A", "L1") == available
    r2 = ledger.reservation(r.id)
    assert (r2.remaining, r2.status) == (1, ReservationStatus.ACTIVE)
    with refused(ledger, InsufficientStock):
        ledger.commit("A", "L1", 2, at=h(4), reference="o-2", reservation_id=r.id)
    ledger.commit("A", "L1", 1, at=h(4), reference="o-2", reservation_id=r.id)
    r3 = ledger.reservation(r.id)
    assert (r3.remaining, r3.status) == (0, ReservationStatus.COMMITTED)
    b = ledger.balance("A", "L1")
    assert (b.committed, b.reserved, b.available) == (3, 0, 2)
    with refused(ledger, InsufficientStock, match="not an active hold"):
        ledger.commit("A", "L1", 1, at=h(5), reference="o-3", reservation_id=r.id)
    ledger.check_invariants()


@pytest.mark.parametrize(("sku", "loc"), [("B", "L1"), ("A", "L2")])
def test_commit_from_a_reservation_elsewhere_is_refused(ledger, sku, loc):
    ledger.receive("A", "L1", 5, at=h(1))
    ledger.receive("B", "L1", 5, at=h(1))
    ledger.receive("A", "L2", 5, at=h(1))
    r = ledger.reserve("A", "L1", 3, at=h(2))
    with refused(ledger, InsufficientStock, match="not an active hold"):
        ledger.commit(sku, loc, 1, at=h(3), reference="o-1", reservation_id=r.id)


def test_uncommit_and_ship(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    ledger.commit("A", "L1", 4, at=h(2), reference="o-1")
    ledger.uncommit("A", "L1", 1, at=h(3), reference="o-1")
    shipped = ledger.ship("A", "L1", 3, at=h(4), reference="o-1").entries[0]
    assert shipped.deltas == (-3, -3, 0, 0, 0, 0)
    b = ledger.balance("A", "L1")
    assert (b.on_hand, b.committed, b.available) == (2, 0, 2)
    with refused(ledger, InsufficientStock, match="committed"):
        ledger.ship("A", "L1", 1, at=h(5), reference="o-1")
    with refused(ledger, InsufficientStock, match="committed"):
        ledger.uncommit("A", "L1", 1, at=h(5), reference="o-1")
    ledger.check_invariants()


# -- backorders -------------------------------------------------------------------------------


def test_backorders_need_the_position_to_allow_them(ledger):
    ledger.add_sku("A")
    with refused(ledger, BackorderNotAllowed, match="does not allow"):
        ledger.backorder("A", "L1", 1, at=h(1), reference="o-1")
    ledger.configure("A", "L1", ALLOW, at=h(1))
    ledger.backorder("A", "L1", 1, at=h(1), reference="o-1")
    assert ledger.balance("A", "L1").backordered == 1


def test_backorders_up_to_the_limit(ledger):
    ledger.configure("A", "L1", PositionSettings(allow_backorders=True, backorder_limit=5), at=h(1))
    ledger.backorder("A", "L1", 3, at=h(2), reference="o-1")
    with refused(ledger, BackorderNotAllowed, match="only 2 more"):
        ledger.backorder("A", "L1", 3, at=h(3), reference="o-2")
    ledger.backorder("A", "L1", 2, at=h(3), reference="o-2")
    with refused(ledger, BackorderNotAllowed):
        ledger.backorder("A", "L1", 1, at=h(4), reference="o-3")
    assert ledger.backorder_queue("A", "L1") == [("o-1", 3), ("o-2", 2)]
    b = ledger.balance("A", "L1")
    assert (b.backordered, b.committed, b.available) == (5, 0, 0)
    ledger.check_invariants()


def test_a_zero_limit_allows_no_backorders(ledger):
    ledger.configure("A", "L1", PositionSettings(allow_backorders=True, backorder_limit=0), at=h(1))
    with refused(ledger, BackorderNotAllowed):
        ledger.backorder("A", "L1", 1, at=h(2), reference="o-1")


def test_cancel_backorder_partially_and_fully_newest_claim_first(ledger):
    ledger.configure("A", "L1", ALLOW, at=h(1))
    ledger.backorder("A", "L1", 2, at=h(2), reference="o-1")
    ledger.backorder("A", "L1", 3, at=h(2), reference="o-2")
    ledger.backorder("A", "L1", 4, at=h(2), reference="o-1")
    entry = ledger.cancel_backorder("A", "L1", 5, at=h(3), reference="o-1").entries[0]
    assert (entry.kind, entry.quantity, entry.reference) == (
        EntryKind.BACKORDER_CANCELLED,
        5,
        "o-1",
    )
    assert ledger.backorder_queue("A", "L1") == [("o-1", 1), ("o-2", 3)]
    with refused(ledger, InsufficientStock):
        ledger.cancel_backorder("A", "L1", 2, at=h(3), reference="o-1")
    with refused(ledger, InsufficientStock):
        ledger.cancel_backorder("A", "L1", 1, at=h(3), reference="o-9")
    ledger.cancel_backorder("A", "L1", 1, at=h(3), reference="o-1")
    ledger.cancel_backorder("A", "L1", 3, at=h(3), reference="o-2")
    assert ledger.backorder_queue("A", "L1") == []
    assert ledger.balance("A", "L1").backordered == 0
    ledger.check_invariants()


def test_configure_refuses_settings_that_forbid_existing_backorders(ledger):
    ledger.configure("A", "L1", ALLOW, at=h(1))
    ledger.backorder("A", "L1", 3, at=h(2), reference="o-1")
    for settings in (
        PositionSettings(),
        PositionSettings(allow_backorders=True, backorder_limit=2),
    ):
        with refused(ledger, BackorderNotAllowed):
            ledger.configure("A", "L1", settings, at=h(3))
    assert ledger.settings("A", "L1") == ALLOW
    limit3 = PositionSettings(allow_backorders=True, backorder_limit=3)
    ledger.configure("A", "L1", limit3, at=h(3))
    assert ledger.settings("A", "L1") == limit3


@pytest.mark.parametrize("bad", [None, {"safety_stock": 1}, 3], ids=repr)
def test_configure_needs_position_settings(busy, bad):
    with refused(busy, InvalidIdentifier):
        busy.configure("A", "L1", bad, at=NOW)


def test_settings_of_a_position_without_any_are_the_defaults(ledger):
    assert ledger.settings("A", "L1") == PositionSettings()


def _allow(ledger: Ledger) -> None:
    ledger.configure("A", "L1", ALLOW, at=h(0))


def _prep_reserved(ledger: Ledger, expires_at: datetime | None = None) -> None:
    _allow(ledger)
    ledger.receive("A", "L1", 4, at=h(1))
    ledger.reserve("A", "L1", 4, at=h(1), expires_at=expires_at)


def _prep_configure(ledger: Ledger) -> None:
    ledger.configure("A", "L1", PositionSettings(safety_stock=4, allow_backorders=True), at=h(0))
    ledger.receive("A", "L1", 4, at=h(1))


def _prep_held(ledger: Ledger) -> None:
    _allow(ledger)
    ledger.receive("A", "L1", 4, at=h(1))
    ledger.hold("A", "L1", 4, reason="qa", at=h(1))


def _prep_committed(ledger: Ledger) -> None:
    _allow(ledger)
    ledger.receive("A", "L1", 4, at=h(1))
    ledger.commit("A", "L1", 4, at=h(1), reference="x")


def _prep_expected(ledger: Ledger) -> None:
    _allow(ledger)
    ledger.expect("A", "L1", 4, eta=h(24), at=h(1))


def _prep_transfer_in(ledger: Ledger) -> None:
    _allow(ledger)
    ledger.receive("A", "L2", 4, at=h(1))
    ledger.transfer("A", "L2", "L1", 4, eta=h(24), at=h(1))


def _prep_transfer_out(ledger: Ledger) -> None:
    _allow(ledger)
    ledger.receive("A", "L1", 4, at=h(1))
    ledger.transfer("A", "L1", "L2", 4, eta=h(24), at=h(1))


SUPPLY = {
    "receive": (_allow, lambda ledger: ledger.receive("A", "L1", 4, at=h(6))),
    "adjust": (_allow, lambda ledger: ledger.adjust("A", "L1", 4, reason="found", at=h(6))),
    "uncommit": (
        _prep_committed,
        lambda ledger: ledger.uncommit("A", "L1", 4, at=h(6), reference="x"),
    ),
    "release": (_prep_reserved, lambda ledger: ledger.release("RSV-1", at=h(6))),
    "partial-release": (_prep_reserved, lambda ledger: ledger.release("RSV-1", 4, at=h(6))),
    "expire": (_prep_reserved, lambda ledger: ledger.expire("RSV-1", at=h(6))),
    "expire_due": (
        lambda ledger: _prep_reserved(ledger, h(6)),
        lambda ledger: ledger.expire_due(at=h(6)),
    ),
    "return": (_allow, lambda ledger: ledger.return_stock("A", "L1", 4, at=h(6))),
    "release_hold": (
        _prep_held,
        lambda ledger: ledger.release_hold("A", "L1", 4, reason="ok", at=h(6)),
    ),
    "receive_expected": (_prep_expected, lambda ledger: ledger.receive_expected("SUP-1", at=h(6))),
    "receive_transfer": (
        _prep_transfer_in,
        lambda ledger: ledger.receive_transfer("TRF-1", at=h(6)),
    ),
    "cancel_transfer": (
        _prep_transfer_out,
        lambda ledger: ledger.cancel_transfer("TRF-1", at=h(6)),
    ),
    "configure": (_prep_configure, lambda ledger: ledger.configure("A", "L1", ALLOW, at=h(6))),
}


@pytest.mark.parametrize("source", list(SUPPLY))
def test_arriving_supply_fills_backorders_first_in_first_out(ledger, source):
    prep, supply = SUPPLY[source]
    prep(ledger)
    assert ledger.available("A", "L1") == 0
    ledger.backorder("A", "L1", 2, at=h(5), reference="o-1")
    ledger.backorder("A", "L1", 3, at=h(5), reference="o-2")
    committed = ledger.balance("A", "L1").committed
    result = supply(ledger)
    want = (BackorderFill("A", "L1", "o-1", 2), BackorderFill("A", "L1", "o-2", 2))
    if isinstance(result, Posting):
        assert result.fills == want
    filled = ledger.entries(kind=EntryKind.BACKORDER_FILLED)
    assert [(e.reference, e.quantity, e.at) for e in filled] == [
        ("o-1", 2, h(6)),
        ("o-2", 2, h(6)),
    ]
    assert all(e.deltas == (0, e.quantity, 0, 0, 0, -e.quantity) for e in filled)
    assert ledger.backorder_queue("A", "L1") == [("o-2", 1)]
    b = ledger.balance("A", "L1")
    assert (b.backordered, b.available) == (1, 0)
    assert b.committed == committed + 4 - (4 if source == "uncommit" else 0)
    ledger.check_invariants()
    # The next unit completes the queue.
    assert ledger.receive("A", "L1", 1, at=h(7)).fills == (BackorderFill("A", "L1", "o-2", 1),)
    assert ledger.backorder_queue("A", "L1") == []
    assert ledger.balance("A", "L1").backordered == 0
    ledger.check_invariants()


def test_supply_that_is_not_sellable_fills_no_backorders(ledger):
    _allow(ledger)
    ledger.backorder("A", "L1", 2, at=h(2), reference="o-1")
    assert ledger.return_stock("A", "L1", 3, at=h(3), unavailable_reason="torn").fills == ()
    ledger.expect("A", "L1", 3, eta=h(24), at=h(3))
    ledger.configure("A", "L1", PositionSettings(safety_stock=3, allow_backorders=True), at=h(3))
    ledger.release_hold("A", "L1", 3, reason="ok", at=h(4))  # all of it is safety stock
    assert ledger.backorder_queue("A", "L1") == [("o-1", 2)]
    assert ledger.entries(kind=EntryKind.BACKORDER_FILLED) == []
    ledger.check_invariants()


def test_supply_fills_backorders_only_at_its_own_position(ledger):
    ledger.configure("A", "L1", ALLOW, at=h(0))
    ledger.configure("B", "L2", ALLOW, at=h(0))
    ledger.backorder("A", "L1", 2, at=h(1), reference="o-1")
    ledger.backorder("B", "L2", 2, at=h(1), reference="o-2")
    assert ledger.receive("A", "L2", 5, at=h(2)).fills == ()
    assert ledger.receive("B", "L1", 5, at=h(2)).fills == ()
    assert ledger.backorder_queue("A", "L1") == [("o-1", 2)]
    assert ledger.backorder_queue("B", "L2") == [("o-2", 2)]


def test_a_backorder_never_waits_while_units_are_available(ledger):
    # Backordered means "beyond what is on hand": with units available the claim is
    # committed at once, so a later commit can never jump the first-in-first-out queue.
    ledger.configure("A", "L1", ALLOW, at=h(0))
    ledger.receive("A", "L1", 3, at=h(1))
    posting = ledger.backorder("A", "L1", 5, at=h(2), reference="o-1")
    assert posting.fills == (BackorderFill("A", "L1", "o-1", 3),)
    b = ledger.balance("A", "L1")
    assert (b.committed, b.backordered, b.available) == (3, 2, 0)
    assert ledger.backorder_queue("A", "L1") == [("o-1", 2)]
    ledger.check_invariants()


def test_a_backdated_supply_fills_backorders_at_the_latest_time(ledger):
    ledger.configure("A", "L1", ALLOW, at=h(0))
    ledger.backorder("A", "L1", 2, at=h(5), reference="o-1")
    ledger.receive("A", "L1", 2, at=h(1))
    filled = ledger.entries(kind=EntryKind.BACKORDER_FILLED)
    assert [(e.at, e.quantity) for e in filled] == [(h(5), 2)]
    assert ledger.balance("A", "L1", as_of=h(3)).committed == 0
    assert ledger.balance("A", "L1", as_of=h(5)).committed == 2
    ledger.check_invariants()


# -- safety stock -----------------------------------------------------------------------------


def test_safety_stock_reduces_available_but_not_free(ledger):
    ledger.receive("A", "L1", 10, at=h(1))
    ledger.configure("A", "L1", PositionSettings(safety_stock=3), at=h(2))
    b = ledger.balance("A", "L1")
    assert (b.safety_stock, b.available, b.free) == (3, 7, 10)
    assert ledger.available("A", "L1") == 7
    with refused(ledger, InsufficientStock):
        ledger.reserve("A", "L1", 8, at=h(3))
    with refused(ledger, InsufficientStock):
        ledger.commit("A", "L1", 8, at=h(3), reference="o-1")
    ledger.commit("A", "L1", 7, at=h(3), reference="o-1")
    # Safety stock is kept from sale, not locked: it can still be held or counted away.
    ledger.hold("A", "L1", 2, reason="damaged", at=h(4))
    assert ledger.balance("A", "L1").available == 0
    ledger.check_invariants()


def test_available_is_never_below_zero(ledger):
    ledger.receive("A", "L1", 2, at=h(1))
    ledger.configure("A", "L1", PositionSettings(safety_stock=50), at=h(2))
    b = ledger.balance("A", "L1")
    assert (b.available, b.free, b.safety_stock) == (0, 2, 50)
    assert ledger.network_balance("A").available == 0


def test_network_available_sums_positions_so_one_safety_stock_hides_nothing(ledger):
    ledger.receive("A", "L1", 2, at=h(1))
    ledger.receive("A", "L2", 5, at=h(1))
    ledger.configure("A", "L1", PositionSettings(safety_stock=10), at=h(2))
    n = ledger.network_balance("A")
    assert (n.location, n.on_hand, n.safety_stock, n.available) == (None, 7, 10, 5)


# -- expected supply --------------------------------------------------------------------------


def test_expect_then_receive_in_full(ledger):
    line = ledger.expect("A", "L1", 5, eta=h(48), at=h(1), reference="po-1")
    assert (line.id, line.quantity, line.open_quantity, line.eta) == ("SUP-1", 5, 5, h(48))
    assert (ledger.balance("A", "L1").incoming, ledger.balance("A", "L1").on_hand) == (5, 0)
    entry = ledger.receive_expected(line.id, at=h(40)).entries[0]
    assert (entry.kind, entry.quantity, entry.reference) == (
        EntryKind.EXPECTED_RECEIVED,
        5,
        "SUP-1",
    )
    assert entry.deltas == (5, 0, 0, 0, -5, 0)
    b = ledger.balance("A", "L1")
    assert (b.incoming, b.on_hand) == (0, 5)
    assert ledger.supply_line(line.id).received == 5
    assert ledger.supply_line(line.id).open_quantity == 0
    assert ledger.incoming_schedule("A") == []
    ledger.check_invariants()


def test_expect_then_receive_in_parts_and_cancel_the_rest(ledger):
    line = ledger.expect("A", "L1", 6, eta=h(48), at=h(1))
    ledger.receive_expected(line.id, 2, at=h(2))
    ledger.cancel_expected(line.id, 1, at=h(3))
    line2 = ledger.supply_line(line.id)
    assert (line2.received, line2.cancelled, line2.open_quantity) == (2, 1, 3)
    assert ledger.incoming_schedule("A") == [IncomingSupply(h(48), "A", "L1", 3, "SUP-1")]
    entry = ledger.cancel_expected(line.id, at=h(4)).entries[0]
    assert (entry.kind, entry.quantity) == (EntryKind.EXPECTED_CANCELLED, 3)
    b = ledger.balance("A", "L1")
    assert (b.on_hand, b.incoming) == (2, 0)
    ledger.check_invariants()


@pytest.mark.parametrize(
    "again",
    [
        lambda ledger: ledger.receive_expected("SUP-1", at=h(5)),
        lambda ledger: ledger.cancel_expected("SUP-1", at=h(5)),
        lambda ledger: ledger.receive_expected("SUP-1", 1, at=h(5)),
        lambda ledger: ledger.cancel_expected("SUP-1", 1, at=h(5)),
    ],
    ids=["receive-rest", "cancel-rest", "receive-one", "cancel-one"],
)
def test_a_closed_supply_line_has_nothing_more_to_give(ledger, again):
    line = ledger.expect("A", "L1", 3, eta=h(48), at=h(1))
    ledger.receive_expected(line.id, 2, at=h(2))
    ledger.cancel_expected(line.id, at=h(3))
    with refused(ledger, InsufficientStock):
        again(ledger)


def test_expected_supply_may_be_due_in_the_past_or_the_future(ledger):
    ledger.expect("A", "L1", 1, eta=h(-5), at=h(1))
    ledger.expect("A", "L1", 1, eta=h(5000), at=h(1))
    assert [r.eta for r in ledger.incoming_schedule("A")] == [h(-5), h(5000)]


# -- transfers --------------------------------------------------------------------------------


def test_a_transfer_leaves_the_origin_at_once_and_is_counted_once(ledger):
    ledger.receive("A", "L1", 10, at=h(1))
    t = ledger.transfer("A", "L1", "L2", 4, eta=h(24), at=h(2), reference="move-1")
    assert (t.id, t.from_location, t.to_location, t.in_transit) == ("TRF-1", "L1", "L2", 4)
    out, incoming = ledger.entries(since=1)
    assert (out.kind, out.location, out.deltas) == (
        EntryKind.TRANSFERRED_OUT,
        "L1",
        (-4, 0, 0, 0, 0, 0),
    )
    assert (incoming.kind, incoming.location, incoming.deltas) == (
        EntryKind.TRANSFER_INCOMING,
        "L2",
        (0, 0, 0, 0, 4, 0),
    )
    assert (ledger.balance("A", "L1").on_hand, ledger.balance("A", "L1").incoming) == (6, 0)
    assert (ledger.balance("A", "L2").on_hand, ledger.balance("A", "L2").incoming) == (0, 4)
    n = ledger.network_balance("A")
    assert (n.on_hand, n.incoming) == (6, 4)
    assert n.on_hand + t.in_transit == 10
    assert ledger.incoming_schedule("A") == [IncomingSupply(h(24), "A", "L2", 4, "TRF-1")]
    assert ledger.incoming_schedule("A", "L1") == []
    ledger.check_invariants()


def test_receive_a_transfer_in_parts_then_cancel_the_rest(ledger):
    ledger.receive("A", "L1", 10, at=h(1))
    t = ledger.transfer("A", "L1", "L2", 4, eta=h(24), at=h(2))
    entry = ledger.receive_transfer(t.id, 1, at=h(3)).entries[0]
    assert (entry.kind, entry.location, entry.deltas) == (
        EntryKind.TRANSFERRED_IN,
        "L2",
        (1, 0, 0, 0, -1, 0),
    )
    assert ledger.transfer_by_id(t.id).in_transit == 3
    e1, e2 = ledger.cancel_transfer(t.id, at=h(4)).entries
    assert (e1.kind, e1.location, e1.quantity) == (EntryKind.TRANSFER_CANCELLED, "L2", 3)
    assert (e2.kind, e2.location, e2.quantity) == (EntryKind.TRANSFER_RETURNED, "L1", 3)
    t2 = ledger.transfer_by_id(t.id)
    assert (t2.received, t2.cancelled, t2.in_transit) == (1, 3, 0)
    assert ledger.balance("A", "L1").on_hand == 9
    assert (ledger.balance("A", "L2").on_hand, ledger.balance("A", "L2").incoming) == (1, 0)
    assert ledger.network_balance("A").on_hand == 10
    with refused(ledger, InsufficientStock):
        ledger.cancel_transfer(t.id, at=h(5))
    with refused(ledger, InsufficientStock):
        ledger.receive_transfer(t.id, at=h(5))
    with refused(ledger, InsufficientStock):
        ledger.receive_transfer(t.id, 1, at=h(5))
    ledger.check_invariants()


def test_receive_a_transfer_in_full(ledger):
    ledger.receive("A", "L1", 10, at=h(1))
    t = ledger.transfer("A", "L1", "L2", 4, eta=h(24), at=h(2))
    ledger.receive_transfer(t.id, at=h(20))
    assert ledger.transfer_by_id(t.id).received == 4
    assert (ledger.balance("A", "L2").on_hand, ledger.balance("A", "L2").incoming) == (4, 0)
    assert ledger.incoming_schedule("A") == []
    ledger.check_invariants()


def test_a_transfer_needs_two_locations(busy):
    with refused(busy, InvalidIdentifier, match="two different"):
        busy.transfer("A", "L1", "L1", 1, eta=h(24), at=NOW)


@pytest.mark.parametrize(
    "claim",
    [
        lambda ledger: ledger.commit("A", "L1", 2, at=h(1), reference="o-1"),
        lambda ledger: ledger.reserve("A", "L1", 2, at=h(1)),
        lambda ledger: ledger.hold("A", "L1", 2, reason="qa", at=h(1)),
    ],
    ids=["committed", "reserved", "unavailable"],
)
def test_only_free_units_may_be_transferred(ledger, claim):
    ledger.receive("A", "L1", 5, at=h(1))
    claim(ledger)
    with refused(ledger, InsufficientStock):
        ledger.transfer("A", "L1", "L2", 4, eta=h(24), at=h(2))
    ledger.transfer("A", "L1", "L2", 3, eta=h(24), at=h(2))


# -- queries ----------------------------------------------------------------------------------


def test_balances_as_of_a_past_time(ledger):
    ledger.receive("A", "L1", 10, at=h(1))
    ledger.commit("A", "L1", 3, at=h(3), reference="o-1")
    ledger.ship("A", "L1", 3, at=h(5), reference="o-1")
    ledger.receive("A", "L1", 5, at=h(7))

    def at(t):
        b = ledger.balance("A", "L1", as_of=t)
        return (b.on_hand, b.committed, b.available)

    assert at(h(0)) == (0, 0, 0)
    assert at(h(1)) == (10, 0, 10)  # an entry at exactly as_of counts
    assert at(h(2)) == (10, 0, 10)
    assert at(h(3)) == (10, 3, 7)
    assert at(h(4)) == (10, 3, 7)
    assert at(h(5)) == (7, 0, 7)
    assert at(h(7)) == (12, 0, 12)
    assert at(h(99)) == at(None) == (12, 0, 12)
    # A posting dated between others moves the past, not just the present.
    ledger.receive("A", "L1", 4, at=h(2))
    assert at(h(1)) == (10, 0, 10)
    assert at(h(2)) == (14, 0, 14)
    assert at(h(5)) == (11, 0, 11)
    assert ledger.network_balance("A", as_of=h(2)).on_hand == 14
    ledger.check_invariants()


def test_balance_of_a_known_sku_and_location_without_a_position_is_zero(busy):
    assert busy.balance("B", "L2") == StockLevel("B", "L2")
    assert busy.balance("A", "L2", as_of=h(0)) == StockLevel("A", "L2")


def test_balance_names_what_is_unknown(busy):
    with pytest.raises(UnknownSku):
        busy.balance("NOPE", "L1")
    with pytest.raises(UnknownLocation):
        busy.balance("A", "L9")
    with pytest.raises(UnknownSku):
        busy.network_balance("NOPE")


def test_network_balance_sums_every_bucket(busy):
    n = busy.network_balance("A")
    assert n == StockLevel(
        "A",
        None,
        on_hand=18,
        committed=4,
        reserved=3,
        unavailable=2,
        safety_stock=0,
        incoming=7,
        backordered=2,
        available=9,
    )
    assert busy.network_balance("B") == StockLevel("B", None)


def test_incoming_schedule_is_ordered_by_eta(ledger):
    ledger.receive("A", "L3", 10, at=h(1))
    ledger.expect("A", "L1", 5, eta=h(72), at=h(1))  # SUP-1
    ledger.expect("A", "L2", 2, eta=h(24), at=h(1))  # SUP-2
    ledger.transfer("A", "L3", "L1", 3, eta=h(48), at=h(1))  # TRF-1
    ledger.expect("B", "L1", 9, eta=h(1), at=h(1))  # another SKU
    ledger.expect("A", "L1", 1, eta=h(24), at=h(1))  # SUP-4, same ETA as SUP-2
    assert ledger.incoming_schedule("A") == [
        IncomingSupply(h(24), "A", "L1", 1, "SUP-4"),
        IncomingSupply(h(24), "A", "L2", 2, "SUP-2"),
        IncomingSupply(h(48), "A", "L1", 3, "TRF-1"),
        IncomingSupply(h(72), "A", "L1", 5, "SUP-1"),
    ]
    assert [r.source for r in ledger.incoming_schedule("A", "L1")] == ["SUP-4", "TRF-1", "SUP-1"]
    assert ledger.incoming_schedule("NOPE") == []


def test_incoming_supply_due_together_is_listed_as_it_was_expected():
    ledger = Ledger()
    ledger.add_location("L1")
    for _ in range(11):  # SUP-1 .. SUP-11, one ETA: as expected, not SUP-1, SUP-10, SUP-11, SUP-2
        ledger.expect("A", "L1", 1, eta=h(24), at=h(1))
    sources = [r.source for r in ledger.incoming_schedule("A", "L1")]
    assert sources == [f"SUP-{n}" for n in range(1, 12)]


def test_reservations_due_together_expire_as_they_were_made():
    ledger = Ledger()
    ledger.add_location("L1")
    ledger.receive("A", "L1", 11, at=h(1))
    made = [ledger.reserve("A", "L1", 1, expires_at=h(2), at=h(1)).id for _ in range(11)]
    expired = [r.id for r in ledger.expire_due(at=h(3))]
    assert expired == made == [f"RSV-{n}" for n in range(1, 12)]
    assert [e.reference for e in ledger.entries()[-11:]] == made


def test_entries_filters(ledger):
    ledger.receive("A", "L1", 5, at=h(5), reference="po-1")  # 1
    ledger.receive("B", "L1", 5, at=h(5))  # 2
    ledger.receive("A", "L2", 5, at=h(5))  # 3
    ledger.commit("A", "L1", 2, at=h(6), reference="o-1")  # 4
    ledger.commit("B", "L1", 1, at=h(6), reference="o-1")  # 5
    ledger.receive("A", "L1", 1, at=h(1))  # 6, backdated

    def seqs(**filters):
        return [e.sequence for e in ledger.entries(**filters)]

    assert seqs() == [1, 2, 3, 4, 5, 6]
    assert seqs(sku="A") == [1, 3, 4, 6]
    assert seqs(location="L1") == [1, 2, 4, 5, 6]
    assert seqs(sku="A", location="L1") == [1, 4, 6]  # sequence order despite backdating
    assert seqs(kind=EntryKind.COMMITTED) == [4, 5]
    assert seqs(reference="o-1") == [4, 5]
    assert seqs(reference="po-1") == [1]
    assert seqs(since=3) == [4, 5, 6]
    assert seqs(sku="A", location="L1", since=1) == [4, 6]
    assert seqs(sku="A", kind=EntryKind.RECEIVED, since=1) == [3, 6]
    assert seqs(since=6) == []
    assert seqs(since=-5) == [1, 2, 3, 4, 5, 6]
    assert seqs(sku="A", location="L3") == []
    assert seqs(sku="NOPE") == []


def test_entries_at_the_same_time_keep_their_sequence_order_as_of_that_time(ledger):
    ledger.receive("A", "L1", 5, at=h(5))
    ledger.commit("A", "L1", 5, at=h(5), reference="o-1")
    ledger.receive("A", "L1", 1, at=h(9))
    ledger.ship("A", "L1", 5, at=h(5), reference="o-1")  # backdated, same time as the others
    b = ledger.balance("A", "L1", as_of=h(5))
    assert (b.on_hand, b.committed) == (0, 0)
    ledger.check_invariants()


def test_registration(ledger):
    ledger.add_location("L1")  # again: nothing changes
    assert ledger.locations == ["L1", "L2", "L3"]
    assert ledger.has_location("L2")
    assert not ledger.has_location("L9")
    ledger.add_sku("A")
    ledger.add_sku("A")
    assert ledger.skus == ["A"]
    assert ledger.has_sku("A")
    assert list(ledger.positions()) == []
    assert ledger.last_sequence == 0


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_registration_refuses_malformed_ids(ledger, bad):
    with refused(ledger, InvalidIdentifier):
        ledger.add_location(bad)
    with refused(ledger, InvalidIdentifier):
        ledger.add_sku(bad)


# -- idempotency ------------------------------------------------------------------------------

KEYED = taking("key")


@pytest.mark.parametrize("name", KEYED)
def test_the_same_key_and_payload_returns_the_first_result_and_writes_nothing(busy, name):
    first = COMMANDS[name](busy, key="k-1")
    assert busy.entries()[-1].key == "k-1"
    before = snapshot(busy)
    again = COMMANDS[name](busy, key="k-1")
    assert again is first
    assert snapshot(busy) == before
    busy.check_invariants()


@pytest.mark.parametrize("name", KEYED)
def test_the_same_key_with_another_payload_is_a_conflict(busy, name):
    COMMANDS[name](busy, key="k-1")
    with refused(busy, IdempotencyConflict, match="k-1"):
        COMMANDS[name](busy, key="k-1", at=NOW + timedelta(minutes=1))


@pytest.mark.parametrize("name", sorted(set(KEYED) & set(taking("qty"))))
def test_a_key_reused_with_another_quantity_is_a_conflict(busy, name):
    COMMANDS[name](busy, key="k-1")
    with refused(busy, IdempotencyConflict):
        COMMANDS[name](busy, key="k-1", qty=2)


@pytest.mark.parametrize("bad", [True, 1.0], ids=repr)
def test_a_retry_cannot_sneak_in_a_bad_quantity(busy, bad):
    # True == 1 and 1.0 == 1 in Python: a key must not turn a refused input into a success.
    busy.receive("A", "L1", 1, at=NOW, key="k-1")
    with refused(busy, IdempotencyConflict):
        busy.receive("A", "L1", bad, at=NOW, key="k-1")


def test_a_retry_with_the_same_quantity_as_a_whole_decimal_is_the_same_payload(busy):
    first = busy.receive("A", "L1", 1, at=NOW, key="k-1")
    before = snapshot(busy)
    assert busy.receive("A", "L1", Decimal("1.0"), at=NOW, key="k-1") is first
    assert snapshot(busy) == before


def test_a_key_is_shared_across_commands(busy):
    busy.receive("A", "L1", 1, at=NOW, key="k-1")
    with refused(busy, IdempotencyConflict):
        busy.write_off("A", "L1", 1, reason="lost", at=NOW, key="k-1")


def test_a_refused_posting_does_not_use_up_its_key(busy):
    with refused(busy, InsufficientStock):
        busy.write_off("A", "L1", 100, reason="lost", at=NOW, key="k-1")
    posting = busy.write_off("A", "L1", 1, reason="lost", at=NOW, key="k-1")
    assert busy.write_off("A", "L1", 1, reason="lost", at=NOW, key="k-1") is posting


def test_a_retried_reservation_is_the_very_same_reservation(busy):
    r = busy.reserve("A", "L1", 2, at=NOW, key="cart-1")
    assert busy.reserve("A", "L1", 2, at=NOW, key="cart-1") is r
    assert len(busy.reservations()) == 2


@pytest.mark.parametrize("bad", ["", 5, "x" * 201, b"k", ["k"]], ids=repr)
def test_malformed_keys_are_refused(busy, bad):
    with refused(busy, InvalidIdentifier):
        busy.receive("A", "L1", 1, at=NOW, key=bad)


# -- backdated postings -----------------------------------------------------------------------


def test_a_backdated_posting_that_breaks_no_later_balance_is_accepted(ledger):
    ledger.receive("A", "L1", 10, at=h(1))
    ledger.commit("A", "L1", 5, at=h(5), reference="o-1")
    ledger.write_off("A", "L1", 5, reason="lost", at=h(3))
    assert ledger.balance("A", "L1", as_of=h(4)).on_hand == 5
    ledger.check_invariants()


@pytest.mark.parametrize(
    ("setup", "backdated"),
    [
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.receive("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.write_off("A", "L1", 6, reason="lost", at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.receive("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.reserve("A", "L1", 6, at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.receive("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.commit("A", "L1", 6, at=h(3), reference="o-1"),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.receive("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.hold("A", "L1", 6, reason="qa", at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.receive("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.adjust("A", "L1", -6, reason="count", at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.receive("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.transfer("A", "L1", "L2", 6, eta=h(24), at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.commit("A", "L1", 5, at=h(5), reference="o-1"),
            ),
            lambda ledger: ledger.ship("A", "L1", 1, at=h(3), reference="o-1"),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.commit("A", "L1", 5, at=h(5), reference="o-1"),
            ),
            lambda ledger: ledger.uncommit("A", "L1", 1, at=h(3), reference="o-1"),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.reserve("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.release("RSV-1", at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.reserve("A", "L1", 5, at=h(5)),
            ),
            lambda ledger: ledger.commit(
                "A", "L1", 1, at=h(3), reference="o-1", reservation_id="RSV-1"
            ),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.hold("A", "L1", 5, reason="qa", at=h(5)),
            ),
            lambda ledger: ledger.release_hold("A", "L1", 1, reason="ok", at=h(3)),
        ),
        (
            lambda ledger: ledger.expect("A", "L1", 5, eta=h(24), at=h(5)),
            lambda ledger: ledger.receive_expected("SUP-1", at=h(3)),
        ),
        (
            lambda ledger: ledger.expect("A", "L1", 5, eta=h(24), at=h(5)),
            lambda ledger: ledger.cancel_expected("SUP-1", at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.transfer("A", "L1", "L2", 5, eta=h(24), at=h(5)),
            ),
            lambda ledger: ledger.receive_transfer("TRF-1", at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.receive("A", "L1", 5, at=h(1)),
                ledger.transfer("A", "L1", "L2", 5, eta=h(24), at=h(5)),
            ),
            lambda ledger: ledger.cancel_transfer("TRF-1", at=h(3)),
        ),
        (
            lambda ledger: (
                ledger.configure("A", "L1", ALLOW, at=h(0)),
                ledger.backorder("A", "L1", 2, at=h(5), reference="o-1"),
            ),
            lambda ledger: ledger.cancel_backorder("A", "L1", 1, at=h(3), reference="o-1"),
        ),
    ],
    ids=[
        "write-off",
        "reserve",
        "commit",
        "hold",
        "adjust-down",
        "transfer",
        "ship-before-commit",
        "uncommit-before-commit",
        "release-before-reserve",
        "commit-reservation-before-reserve",
        "release-hold-before-hold",
        "receive-expected-before-expect",
        "cancel-expected-before-expect",
        "receive-transfer-before-transfer",
        "cancel-transfer-before-transfer",
        "cancel-backorder-before-backorder",
    ],
)
def test_a_backdated_posting_that_breaks_a_later_balance_is_rejected(ledger, setup, backdated):
    setup(ledger)
    with refused(ledger, BackdatedPostingRejected):
        backdated(ledger)


@pytest.mark.parametrize(
    "backdated",
    [
        lambda ledger: ledger.receive_expected("SUP-2", at=h(3)),
        lambda ledger: ledger.cancel_expected("SUP-2", at=h(3)),
        lambda ledger: ledger.receive_transfer("TRF-1", at=h(3)),
        lambda ledger: ledger.cancel_transfer("TRF-1", at=h(3)),
        lambda ledger: ledger.release("RSV-2", at=h(3)),
        lambda ledger: ledger.expire("RSV-2", at=h(3)),
        lambda ledger: ledger.commit(
            "A", "L2", 1, at=h(3), reference="o-1", reservation_id="RSV-2"
        ),
    ],
    ids=[
        "receive-expected",
        "cancel-expected",
        "receive-transfer",
        "cancel-transfer",
        "release",
        "expire",
        "commit-reservation",
    ],
)
def test_nothing_happens_to_supply_transfers_or_reservations_before_they_exist(ledger, backdated):
    # Other supply and holds at the same position would hide the gap from the balance
    # rules: as of h(3) the units would exist in two places (or be released unreserved).
    ledger.receive("A", "L1", 5, at=h(0))
    ledger.receive("A", "L2", 5, at=h(0))
    ledger.expect("A", "L2", 5, eta=h(48), at=h(0))  # SUP-1
    ledger.reserve("A", "L2", 2, at=h(0))  # RSV-1
    ledger.expect("A", "L2", 2, eta=h(48), at=h(5))  # SUP-2
    ledger.transfer("A", "L1", "L2", 2, eta=h(9), at=h(5))  # TRF-1
    ledger.reserve("A", "L2", 2, at=h(5))  # RSV-2
    with refused(ledger, BackdatedPostingRejected):
        backdated(ledger)


def test_a_refused_backdated_reservation_or_transfer_uses_no_id(ledger):
    ledger.receive("A", "L1", 5, at=h(1))
    ledger.receive("A", "L1", 5, at=h(5))
    with refused(ledger, BackdatedPostingRejected):
        ledger.reserve("A", "L1", 6, at=h(3))
    with refused(ledger, BackdatedPostingRejected):
        ledger.transfer("A", "L1", "L2", 6, eta=h(9), at=h(3))
    assert ledger.reserve("A", "L1", 1, at=h(6)).id == "RSV-1"
    assert ledger.transfer("A", "L1", "L2", 1, eta=h(9), at=h(6)).id == "TRF-1"
    assert ("A", "L2") in set(ledger.positions())


# -- savepoints -------------------------------------------------------------------------------


def everything(ledger: Ledger) -> None:
    """Every kind of change the ledger knows, on the busy ledger."""
    ledger.add_location("L9")
    ledger.add_sku("C")
    ledger.receive("D", "L9", 5, at=NOW, key="k-new")  # a new SKU and location
    ledger.receive("A", "L2", 1, at=NOW)  # fills bo-1 partially
    ledger.adjust("A", "L1", 2, reason="found", at=NOW)
    ledger.hold("A", "L1", 1, reason="qa", at=NOW)
    ledger.release_hold("A", "L1", 2, reason="ok", at=NOW)
    ledger.write_off("A", "L1", 1, reason="lost", at=NOW)
    ledger.return_stock("A", "L3", 1, at=NOW, unavailable_reason="torn")
    r = ledger.reserve("A", "L1", 2, at=NOW, expires_at=h(11))
    ledger.release("RSV-1", 1, at=NOW)
    ledger.commit("A", "L1", 1, at=NOW, reference="o-9", reservation_id=r.id)
    ledger.expire_due(at=h(11))
    ledger.commit("A", "L1", 1, at=NOW, reference="o-9")
    ledger.uncommit("A", "L1", 1, at=NOW, reference="o-1")
    ledger.ship("A", "L1", 1, at=NOW, reference="o-1")
    ledger.configure("A", "L2", PositionSettings(allow_backorders=True, backorder_limit=9), at=NOW)
    ledger.backorder("A", "L2", 3, at=NOW, reference="bo-2")
    ledger.cancel_backorder("A", "L2", 1, at=NOW, reference="bo-1")
    ledger.expect("A", "L2", 4, eta=h(30), at=NOW)
    ledger.receive_expected("SUP-1", 2, at=NOW)
    ledger.cancel_expected("SUP-1", 1, at=NOW)
    ledger.receive_expected("SUP-2", at=NOW, key="k-sup")  # fills backorders at L2
    ledger.transfer("A", "L1", "L3", 1, eta=h(30), at=NOW)
    ledger.receive_transfer("TRF-1", 1, at=NOW)
    ledger.cancel_transfer("TRF-2", at=NOW)
    ledger.configure("A", "L1", PositionSettings(safety_stock=2), at=NOW)
    ledger.receive("A", "L1", 3, at=h(2))  # backdated
    ledger.configure("C", "L2", PositionSettings(safety_stock=1), at=NOW)  # a new position
    ledger.check_invariants()


def test_rollback_restores_everything(busy):
    before = snapshot(busy)
    twin = copy.deepcopy(busy)
    sp = busy.savepoint()
    everything(busy)
    assert snapshot(busy) != before
    busy.rollback(sp)
    assert snapshot(busy) == before
    busy.check_invariants()
    assert not busy.has_location("L9")
    assert not busy.has_sku("C")
    assert not busy.has_sku("D")
    # Ids, keys and queues continue exactly as if nothing had happened.
    everything(busy)
    everything(twin)
    assert snapshot(busy) == snapshot(twin)


def test_rollback_after_refused_postings(busy):
    before = snapshot(busy)
    sp = busy.savepoint()
    busy.receive("A", "L1", 1, at=NOW)
    with pytest.raises(InsufficientStock):
        busy.ship("A", "L1", 100, at=NOW, reference="o-1")
    with pytest.raises(BackdatedPostingRejected):
        busy.write_off("A", "L1", 9, reason="lost", at=h(0.5))
    busy.rollback(sp)
    assert snapshot(busy) == before
    busy.check_invariants()


def test_release_savepoint_keeps_everything(busy):
    twin = copy.deepcopy(busy)
    sp = busy.savepoint()
    everything(busy)
    busy.release_savepoint(sp)
    everything(twin)
    assert snapshot(busy) == snapshot(twin)
    busy.check_invariants()
    # A later savepoint starts afresh.
    after = snapshot(busy)
    sp2 = busy.savepoint()
    busy.receive("A", "L1", 1, at=NOW)
    busy.rollback(sp2)
    assert snapshot(busy) == after


def test_only_one_savepoint_at_a_time(busy):
    sp = busy.savepoint()
    with pytest.raises(RuntimeError):
        busy.savepoint()
    busy.rollback(sp)


def test_rollback_without_an_open_savepoint_is_refused(busy):
    sp = busy.savepoint()
    busy.release_savepoint(sp)
    busy.receive("A", "L1", 1, at=NOW)
    after = snapshot(busy)
    with pytest.raises(RuntimeError):
        busy.rollback(sp)
    assert snapshot(busy) == after
    busy.check_invariants()


# -- check_invariants is not vacuous ------------------------------------------------------------


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda ledger: setattr(ledger._positions[("A", "L1")], "on_hand", 99),
        lambda ledger: setattr(ledger._positions[("A", "L1")], "reserved", 4),
        lambda ledger: setattr(ledger._positions[("A", "L2")], "backordered", 3),
        lambda ledger: ledger._queues[("A", "L2")].append(("bo-9", 1)),
        lambda ledger: ledger._entries.pop(),
        lambda ledger: ledger._positions[("A", "L1")].history.reverse(),
    ],
    ids=["cache", "reserved", "backordered", "queue", "entries", "history-order"],
)
def test_check_invariants_finds_corruption(busy, corrupt):
    corrupt(busy)
    with pytest.raises(InvariantViolation):
        busy.check_invariants()
