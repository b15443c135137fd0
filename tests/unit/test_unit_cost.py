"""Unit costs on receipts: on the ledger's entries and supply lines, and through the Oms."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omsims import EntryKind, Ledger, Location, ManualClock, Money, Oms
from omsims.adapters.codec import decode, encode
from omsims.errors import IdempotencyConflict, InvalidMoney

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
ETA = T0 + timedelta(days=3)
EUR2 = Money("2.00", "EUR")
EUR3 = Money("3.00", "EUR")


@pytest.fixture
def ledger():
    ledger = Ledger()
    ledger.add_location("a")
    return ledger


@pytest.fixture
def oms():
    oms = Oms(clock=ManualClock(T0))
    oms.add_location(Location("a"))
    oms.add_location(Location("b"))
    return oms


def test_a_receipt_keeps_its_unit_cost_on_its_entry(ledger):
    posting = ledger.receive("X", "a", 10, at=T0, unit_cost=EUR2)
    assert posting.entries[0].unit_cost == EUR2
    assert ledger.receive("X", "a", 1, at=T0).entries[0].unit_cost is None
    assert [e.unit_cost for e in ledger.entries()] == [EUR2, None]
    # Free goods (samples) cost nothing, which is a cost.
    free = ledger.receive("X", "a", 1, at=T0, unit_cost=Money("0", "EUR")).entries[0]
    assert free.unit_cost == Money("0", "EUR")


def test_entries_without_a_cost_are_what_they_were(ledger):
    received = ledger.receive("X", "a", 1, at=T0).entries[0]
    assert len(received) == 10
    assert received[:9] == (1, T0, "X", "a", EntryKind.RECEIVED, 1, None, None, None)


def test_a_supply_line_keeps_its_cost_and_every_receipt_of_it_carries_it(ledger):
    line = ledger.expect("X", "a", 10, eta=ETA, at=T0, unit_cost=EUR3)
    assert line.unit_cost == EUR3
    assert ledger.entries()[-1].unit_cost == EUR3  # the EXPECTED entry
    first = ledger.receive_expected(line.id, 4, at=T0).entries[0]
    rest = ledger.receive_expected(line.id, at=T0).entries[0]
    assert (first.kind, first.quantity, first.unit_cost) == (EntryKind.EXPECTED_RECEIVED, 4, EUR3)
    assert (rest.quantity, rest.unit_cost) == (6, EUR3)
    assert ledger.supply_line(line.id).received == 10


def test_a_cancelled_supply_line_posts_no_cost(ledger):
    line = ledger.expect("X", "a", 10, eta=ETA, at=T0, unit_cost=EUR3)
    assert ledger.cancel_expected(line.id, at=T0).entries[0].unit_cost is None


def test_a_supply_line_without_a_cost_receives_without_one(ledger):
    line = ledger.expect("X", "a", 2, eta=ETA, at=T0)
    assert line.unit_cost is None
    assert ledger.receive_expected(line.id, at=T0).entries[0].unit_cost is None


def test_transfers_carry_no_cost_of_their_own(ledger):
    ledger.add_location("b")
    ledger.receive("X", "a", 5, at=T0, unit_cost=EUR2)
    t = ledger.transfer("X", "a", "b", 5, eta=ETA, at=T0)
    ledger.receive_transfer(t.id, at=T0)
    assert [e.unit_cost for e in ledger.entries()[1:]] == [None, None, None]


@pytest.mark.parametrize(
    "bad",
    [2.5, Decimal("2.50"), "2.50", 2, Money("-0.01", "EUR"), ("2.50", "EUR"), True],
    ids=repr,
)
def test_a_bad_unit_cost_is_refused_and_writes_nothing(ledger, bad):
    ledger.receive("X", "a", 1, at=T0)
    before = (ledger.entries(), ledger.balance("X", "a"), ledger.last_sequence)
    with pytest.raises(InvalidMoney, match="unit cost"):
        ledger.receive("X", "a", 5, at=T0, unit_cost=bad, key="grn-1")
    with pytest.raises(InvalidMoney, match="unit cost"):
        ledger.expect("X", "a", 5, eta=ETA, at=T0, unit_cost=bad, key="po-1")
    assert (ledger.entries(), ledger.balance("X", "a"), ledger.last_sequence) == before
    assert ledger.incoming_schedule("X") == []
    # The keys were not taken by the refused calls.
    ledger.receive("X", "a", 5, at=T0, key="grn-1")
    ledger.expect("X", "a", 5, eta=ETA, at=T0, key="po-1")
    ledger.check_invariants()


def test_the_unit_cost_is_part_of_the_idempotency_payload(ledger):
    first = ledger.receive("X", "a", 5, at=T0, unit_cost=EUR2, key="grn-1")
    assert ledger.receive("X", "a", 5, at=T0, unit_cost=Money("2", "EUR"), key="grn-1") == first
    for other in (EUR3, Money("2.00", "USD"), None):
        with pytest.raises(IdempotencyConflict):
            ledger.receive("X", "a", 5, at=T0, unit_cost=other, key="grn-1")
    line = ledger.expect("X", "a", 5, eta=ETA, at=T0, unit_cost=EUR2, key="po-1")
    assert ledger.expect("X", "a", 5, eta=ETA, at=T0, unit_cost=EUR2, key="po-1") == line
    with pytest.raises(IdempotencyConflict):
        ledger.expect("X", "a", 5, eta=ETA, at=T0, unit_cost=EUR3, key="po-1")
    with pytest.raises(IdempotencyConflict):
        ledger.expect("X", "a", 5, eta=ETA, at=T0, key="po-1")
    assert ledger.balance("X", "a").on_hand == 5
    ledger.check_invariants()


def test_a_retry_without_a_cost_matches_a_key_stored_before_costs_existed(ledger):
    # Payloads without a cost are the ones stored before unit costs existed.
    ledger.receive("X", "a", 5, at=T0, key="grn-1")
    assert ledger._keys["grn-1"][0] == ("receive", "X", "a", 5, T0, None)
    ledger.expect("X", "a", 5, eta=ETA, at=T0, key="po-1")
    assert ledger._keys["po-1"][0] == ("expect", "X", "a", 5, ETA, T0, None)


def test_entries_and_supply_lines_with_costs_round_trip_through_the_codec(ledger):
    line = ledger.expect("X", "a", 10, eta=ETA, at=T0, unit_cost=Money("1.999", "KWD"))
    posting = ledger.receive_expected(line.id, 3, at=T0)
    assert decode(encode(line)) == line
    assert decode(encode(posting)) == posting
    # Rows written before the field existed still decode, without a cost.
    old_line = encode(line).replace(',"unit_cost":{"amount":"1.999","currency":"KWD"}', "")
    assert "unit_cost" not in old_line
    assert decode(old_line).unit_cost is None
    old_entry = encode(posting.entries[0]).replace(
        ',{"$":"attrs","t":"Money","v":{"amount":"1.999","currency":"KWD"}}', ""
    )
    assert decode(old_entry) == posting.entries[0]._replace(unit_cost=None)


# -- through the Oms -----------------------------------------------------------------------


def test_oms_receive_takes_a_unit_cost_in_its_idempotency_payload(oms):
    first = oms.receive("X", "a", 5, unit_cost=EUR2, idempotency_key="grn-1")
    assert first.entries[0].unit_cost == EUR2
    assert oms.receive("X", "a", 5, unit_cost=EUR2, idempotency_key="grn-1") == first
    with pytest.raises(IdempotencyConflict):
        oms.receive("X", "a", 5, unit_cost=EUR3, idempotency_key="grn-1")
    with pytest.raises(IdempotencyConflict):
        oms.receive("X", "a", 5, idempotency_key="grn-1")
    assert oms.stock("X", "a").on_hand == 5


@pytest.mark.parametrize("bad", [2.5, Decimal(2), Money("-1", "EUR")], ids=repr)
def test_oms_refuses_a_bad_unit_cost_and_writes_nothing(oms, bad):
    oms.receive("X", "a", 1)
    before = (oms.entries(), oms.stock("X", "a"), len(oms.published_events))
    with pytest.raises(InvalidMoney):
        oms.receive("X", "a", 5, unit_cost=bad, idempotency_key="k1")
    with pytest.raises(InvalidMoney):
        oms.expect("X", "a", 5, eta=ETA, unit_cost=bad, idempotency_key="k2")
    with pytest.raises(InvalidMoney, match="line 2"):
        oms.receive_many([("X", "a", 1), ("X", "b", 1, bad)], idempotency_key="k3")
    with pytest.raises(InvalidMoney):
        oms.receive_many([("X", "a", 1)], unit_cost=bad, idempotency_key="k4")
    assert (oms.entries(), oms.stock("X", "a"), len(oms.published_events)) == before
    assert oms.positions() == [("X", "a")]
    oms.check_invariants()


def test_oms_expect_keeps_the_cost_on_the_supply_line(oms):
    line = oms.expect("X", "a", 8, eta=ETA, unit_cost=EUR3, idempotency_key="po-1")
    assert oms.supply_line(line.id).unit_cost == EUR3
    assert oms.expect("X", "a", 8, eta=ETA, unit_cost=EUR3, idempotency_key="po-1") == line
    with pytest.raises(IdempotencyConflict):
        oms.expect("X", "a", 8, eta=ETA, unit_cost=EUR2, idempotency_key="po-1")
    posting = oms.receive_expected(line.id, 3)
    assert posting.entries[0].unit_cost == EUR3


def test_receive_many_takes_a_cost_per_line_or_one_for_every_line(oms):
    postings = oms.receive_many(
        [("X", "a", 2, EUR3), ("Y", "a", 1), ("X", "b", 4, None)],
        unit_cost=EUR2,
        idempotency_key="asn-1",
    )
    assert [p.entries[0].unit_cost for p in postings] == [EUR3, EUR2, EUR2]
    # The same delivery spelled another way is the same command.
    again = oms.receive_many(
        [("X", "a", 2, EUR3), ("Y", "a", 1, EUR2), ("X", "b", 4, EUR2)],
        idempotency_key="asn-1",
    )
    assert again == postings
    with pytest.raises(IdempotencyConflict):
        oms.receive_many([("X", "a", 2), ("Y", "a", 1), ("X", "b", 4)], idempotency_key="asn-1")
    plain = oms.receive_many([("X", "a", 1), ("Y", "b", 1)])
    assert [p.entries[0].unit_cost for p in plain] == [None, None]
    assert oms.stock("X").on_hand == 7
