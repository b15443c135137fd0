"""Property tests of the stock ledger: random postings never break its rules.

Postings are generated as plain data (tuples) and applied with every omsims error caught:
a refused posting is fine, a refused posting that leaves a trace is not, and neither is
any other exception. The n-th posting happens at hour n, less a drawn backdating of a few
hours, so many postings are backdated across earlier ones.
"""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from omsims.domain.ledger import Ledger, SequenceSource
from omsims.domain.locations import PositionSettings
from omsims.domain.stock import EntryKind, LedgerEntry
from omsims.domain.supply import Reservation, SupplyLine, Transfer
from omsims.errors import IdempotencyConflict, InvariantViolation, NotFoundError, OmsimsError

K = EntryKind
_E = TypeVar("_E")
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
SKUS = ("A", "B", "C")  # C starts unknown
LOCATIONS = ("L1", "L2", "L3")
REFERENCES = ("o-1", "o-2", "o-3")


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# -- an independent replay: what each kind does to each bucket, written out again here -------

EFFECT: dict[EntryKind, dict[str, int]] = {
    K.RECEIVED: {"on_hand": 1},
    K.ADJUSTED: {"on_hand": 1},  # the quantity carries the sign
    K.RESERVED: {"reserved": 1},
    K.RELEASED: {"reserved": -1},
    K.EXPIRED: {"reserved": -1},
    K.COMMITTED: {"committed": 1},
    K.RESERVATION_COMMITTED: {"committed": 1, "reserved": -1},
    K.UNCOMMITTED: {"committed": -1},
    K.BACKORDERED: {"backordered": 1},
    K.BACKORDER_CANCELLED: {"backordered": -1},
    K.BACKORDER_FILLED: {"committed": 1, "backordered": -1},
    K.SHIPPED: {"on_hand": -1, "committed": -1},
    K.RETURNED: {"on_hand": 1},
    K.RETURNED_UNAVAILABLE: {"on_hand": 1, "unavailable": 1},
    K.HELD: {"unavailable": 1},
    K.HOLD_RELEASED: {"unavailable": -1},
    K.WRITTEN_OFF: {"on_hand": -1},
    K.WRITTEN_OFF_UNAVAILABLE: {"on_hand": -1, "unavailable": -1},
    K.EXPECTED: {"incoming": 1},
    K.EXPECTED_CANCELLED: {"incoming": -1},
    K.EXPECTED_RECEIVED: {"on_hand": 1, "incoming": -1},
    K.TRANSFERRED_OUT: {"on_hand": -1},
    K.TRANSFER_INCOMING: {"incoming": 1},
    K.TRANSFERRED_IN: {"on_hand": 1, "incoming": -1},
    K.TRANSFER_CANCELLED: {"incoming": -1},
    K.TRANSFER_RETURNED: {"on_hand": 1},
    K.TRANSFERRED_OUT_UNAVAILABLE: {"on_hand": -1, "unavailable": -1},
    K.TRANSFERRED_IN_UNAVAILABLE: {"on_hand": 1, "unavailable": 1, "incoming": -1},
    K.TRANSFER_RETURNED_UNAVAILABLE: {"on_hand": 1, "unavailable": 1},
}
BUCKETS = ("on_hand", "committed", "reserved", "unavailable", "incoming", "backordered")
# Units entering or leaving the network (transfers only move them inside it).
ARRIVE = {K.RECEIVED, K.RETURNED, K.RETURNED_UNAVAILABLE, K.EXPECTED_RECEIVED, K.ADJUSTED}
LEAVE = {K.SHIPPED, K.WRITTEN_OFF, K.WRITTEN_OFF_UNAVAILABLE}


def test_the_independent_replay_knows_every_entry_kind():
    assert set(EFFECT) == set(EntryKind)
    assert (ARRIVE | LEAVE).issubset(k for k, e in EFFECT.items() if "on_hand" in e)


def replay(entries: Iterable[LedgerEntry]) -> dict[tuple[str, str], dict[str, int]]:
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    for e in entries:
        b = totals[(e.sku, e.location)]
        for bucket, sign in EFFECT[e.kind].items():
            b[bucket] += sign * e.quantity
    return totals


# -- snapshots ---------------------------------------------------------------------------------


def snapshot(ledger: Ledger) -> dict[str, Any]:
    positions = list(ledger.positions())
    return {
        "last_sequence": ledger.last_sequence,
        "positions": positions,
        "skus": ledger.skus,
        "locations": ledger.locations,
        "balances": {p: ledger.balance(*p) for p in positions},
        "settings": {p: ledger.settings(*p) for p in positions},
        "queues": {p: ledger.backorder_queue(*p) for p in positions},
        "entries": ledger.entries(),
        "reservations": ledger.reservations(active_only=False),
        "incoming": {s: ledger.incoming_schedule(s) for s in ledger.skus},
        "supply": dict(ledger._supply),
        "transfers": dict(ledger._transfers),
        "ids": dict(ledger._ids),
        "keys": dict(ledger._keys),
    }


# -- postings as data --------------------------------------------------------------------------

skus = st.sampled_from(("A", "A", "B", "C"))  # few positions, so postings meet
locations = st.sampled_from(("L1", "L1", "L2", "L3"))
qtys = st.integers(1, 20)
maybe_qtys = st.none() | qtys
hours = st.sampled_from((0, 0, 0, 0, 1, 2, 4, 8))  # how far back a posting is dated
picks = st.integers(0, 7)
references = st.sampled_from(REFERENCES)
keys = st.none() | st.sampled_from(("k-1", "k-2"))

OPS = st.one_of(
    st.tuples(st.just("receive"), skus, locations, qtys, hours, keys),
    st.tuples(st.just("adjust"), skus, locations, st.integers(-20, 20).filter(bool), hours, keys),
    st.tuples(st.just("hold"), skus, locations, qtys, hours),
    st.tuples(st.just("release_hold"), skus, locations, qtys, hours),
    st.tuples(st.just("write_off"), skus, locations, qtys, hours, st.booleans()),
    st.tuples(st.just("return"), skus, locations, qtys, hours, st.booleans()),
    st.tuples(
        st.just("reserve"), skus, locations, qtys, hours, st.none() | st.integers(1, 10), keys
    ),
    st.tuples(st.just("release"), picks, maybe_qtys, hours),
    st.tuples(st.just("expire"), picks, hours),
    st.tuples(st.just("expire_due"), hours),
    st.tuples(st.just("commit"), skus, locations, qtys, hours, references, keys),
    st.tuples(st.just("commit_reserved"), picks, qtys, hours, references),
    st.tuples(st.just("uncommit"), skus, locations, qtys, hours, references),
    st.tuples(st.just("ship"), skus, locations, qtys, hours, references),
    st.tuples(
        st.just("configure"),
        skus,
        locations,
        st.integers(0, 5),
        st.booleans(),
        st.none() | st.integers(0, 20),
        hours,
    ),
    st.tuples(st.just("backorder"), skus, locations, qtys, hours, references),
    st.tuples(st.just("cancel_backorder"), skus, locations, qtys, hours, references),
    st.tuples(st.just("expect"), skus, locations, qtys, hours, st.integers(-5, 50), keys),
    st.tuples(st.just("receive_expected"), picks, maybe_qtys, hours, keys),
    st.tuples(st.just("cancel_expected"), picks, maybe_qtys, hours),
    st.tuples(st.just("transfer"), skus, locations, locations, qtys, hours, keys, st.booleans()),
    st.tuples(st.just("receive_transfer"), picks, maybe_qtys, hours),
    st.tuples(st.just("cancel_transfer"), picks, hours, keys),
)
# Long enough for chains (a transfer, then a backdated receipt of it); the surplus shrinks
# to trivial receipts.
SEQUENCES = st.lists(OPS, min_size=10, max_size=40)


def new_ledger(sequences: SequenceSource | None = None) -> Ledger:
    ledger = Ledger(sequences)
    for loc in LOCATIONS:
        ledger.add_location(loc)
    return ledger


def seeded_ledger(sequences: SequenceSource | None = None) -> Ledger:
    """A and B in stock at L1 and L2, A also expected at L2 and L3; C is unknown.

    A may be backordered everywhere (at L2 up to 15), B nowhere.
    """
    ledger = new_ledger(sequences)
    for sku in SKUS[:2]:
        for loc in LOCATIONS[:2]:
            ledger.receive(sku, loc, 20, at=h(0))
    for loc, limit in (("L1", None), ("L2", 15), ("L3", None)):
        ledger.configure(
            "A", loc, PositionSettings(allow_backorders=True, backorder_limit=limit), at=h(0)
        )
    ledger.expect("A", "L2", 10, eta=h(200), at=h(0))
    ledger.expect("A", "L3", 10, eta=h(200), at=h(0))
    return ledger


class Ids:
    """The ids the postings so far created, to be picked by index."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[str]] = {"RSV": [], "SUP": [], "TRF": []}

    def pick(self, kind: str, i: int) -> str:
        found = self.by_kind[kind]
        return found[-1 - i % len(found)] if found else f"{kind}-404"  # newest first

    def learn(self, result: object) -> None:
        for cls, kind in ((Reservation, "RSV"), (SupplyLine, "SUP"), (Transfer, "TRF")):
            if isinstance(result, cls):
                self.by_kind[kind].append(result.id)


def apply(  # noqa: C901, PLR0911, PLR0912, PLR0915 (one case per posting kind)
    ledger: Ledger, ids: Ids, op: tuple[Any, ...], now: int
) -> Any:
    """Apply one posting given as data at hour ``now`` (less its backdating)."""
    name, *a = op

    def h(back: int) -> datetime:
        return T0 + timedelta(hours=now - back)

    match name:
        case "receive":
            sku, loc, q, t, key = a
            return ledger.receive(sku, loc, q, at=h(t), key=key)
        case "adjust":
            sku, loc, d, t, key = a
            return ledger.adjust(sku, loc, d, reason="count", at=h(t), key=key)
        case "hold":
            sku, loc, q, t = a
            return ledger.hold(sku, loc, q, reason="qa", at=h(t))
        case "release_hold":
            sku, loc, q, t = a
            return ledger.release_hold(sku, loc, q, reason="ok", at=h(t))
        case "write_off":
            sku, loc, q, t, unavailable = a
            return ledger.write_off(
                sku, loc, q, reason="lost", at=h(t), from_unavailable=unavailable
            )
        case "return":
            sku, loc, q, t, unavailable = a
            why = "torn" if unavailable else None
            return ledger.return_stock(sku, loc, q, at=h(t), unavailable_reason=why)
        case "reserve":
            sku, loc, q, t, ttl, key = a
            expires = None if ttl is None else h(t - ttl)
            return ledger.reserve(sku, loc, q, at=h(t), expires_at=expires, key=key)
        case "release":
            i, q, t = a
            return ledger.release(ids.pick("RSV", i), q, at=h(t))
        case "expire":
            i, t = a
            return ledger.expire(ids.pick("RSV", i), at=h(t))
        case "expire_due":
            (t,) = a
            return ledger.expire_due(at=h(t))
        case "commit":
            sku, loc, q, t, ref, key = a
            return ledger.commit(sku, loc, q, at=h(t), reference=ref, key=key)
        case "commit_reserved":
            i, q, t, ref = a
            rid = ids.pick("RSV", i)
            r = ledger.reservation(rid)
            return ledger.commit(r.sku, r.location, q, at=h(t), reference=ref, reservation_id=rid)
        case "uncommit":
            sku, loc, q, t, ref = a
            return ledger.uncommit(sku, loc, q, at=h(t), reference=ref)
        case "ship":
            sku, loc, q, t, ref = a
            return ledger.ship(sku, loc, q, at=h(t), reference=ref)
        case "configure":
            sku, loc, safety, allow, limit, t = a
            s = PositionSettings(safety_stock=safety, allow_backorders=allow, backorder_limit=limit)
            return ledger.configure(sku, loc, s, at=h(t))
        case "backorder":
            sku, loc, q, t, ref = a
            return ledger.backorder(sku, loc, q, at=h(t), reference=ref)
        case "cancel_backorder":
            sku, loc, q, t, ref = a
            return ledger.cancel_backorder(sku, loc, q, at=h(t), reference=ref)
        case "expect":
            sku, loc, q, t, eta, key = a
            return ledger.expect(sku, loc, q, eta=h(t - eta), at=h(t), key=key)
        case "receive_expected":
            i, q, t, key = a
            return ledger.receive_expected(ids.pick("SUP", i), q, at=h(t), key=key)
        case "cancel_expected":
            i, q, t = a
            return ledger.cancel_expected(ids.pick("SUP", i), q, at=h(t))
        case "transfer":
            sku, origin, destination, q, t, key, damaged = a
            return ledger.transfer(
                sku,
                origin,
                destination,
                q,
                eta=h(t - 24),
                at=h(t),
                key=key,
                unavailable_reason="refurbish" if damaged else None,
            )
        case "receive_transfer":
            i, q, t = a
            return ledger.receive_transfer(ids.pick("TRF", i), q, at=h(t))
        case "cancel_transfer":
            i, t, key = a
            return ledger.cancel_transfer(ids.pick("TRF", i), at=h(t), key=key)
    raise AssertionError(name)


def run(
    ledger: Ledger,
    ids: Ids,
    ops: Iterable[tuple[Any, ...]],
    after_each: Callable[[], None],
    start: int = 0,
) -> None:
    """Apply ``ops``: a refused one must leave no trace; ``after_each`` checks the rest."""
    for now, op in enumerate(ops, start=start + 1):
        before = snapshot(ledger)
        try:
            ids.learn(apply(ledger, ids, op, now))
        except OmsimsError:
            assert snapshot(ledger) == before, f"{op} was refused but left a trace"
        after_each()


# -- the checks --------------------------------------------------------------------------------


def check_entries(ledger: Ledger) -> None:
    """Entries are numbered 1..n, dated in an aware time, and each moves some units."""
    entries = ledger.entries()
    assert [e.sequence for e in entries] == list(range(1, ledger.last_sequence + 1))
    for e in entries:
        assert e.at.tzinfo is not None, e
        assert e.quantity != 0, e
        assert e.quantity > 0 or e.kind is K.ADJUSTED, e


def check_replay(ledger: Ledger) -> None:
    """Cached balances equal an independent replay of the entries, now and as of each time."""
    entries = ledger.entries()
    replayed = replay(entries)
    assert set(replayed) <= set(ledger.positions())
    for p in ledger.positions():
        b = ledger.balance(*p)
        assert {k: getattr(b, k) for k in BUCKETS} == replayed[p], p
    for t in {e.at for e in entries}:
        as_of = replay(e for e in entries if e.at <= t)
        for p, want in as_of.items():
            b = ledger.balance(*p, as_of=t)
            assert {k: getattr(b, k) for k in BUCKETS} == want, (p, t)


def check_never_negative(ledger: Ledger, *, as_of: Iterable[datetime | None] = (None,)) -> None:
    """No bucket, no available and no free is ever negative; available is free less safety."""
    for t in as_of:
        for p in ledger.positions():
            b = ledger.balance(*p, as_of=t)
            assert b.free >= 0, (p, t, b)
            assert b.available >= 0, (p, t, b)
            assert b.available == max(0, b.free - b.safety_stock), (p, t, b)
            assert min(getattr(b, k) for k in BUCKETS) >= 0, (p, t, b)
            if t is None:
                assert b.available == ledger.available(*p)


def check_backorders_wait_only_for_stock(ledger: Ledger) -> None:
    for p in ledger.positions():
        queue = ledger.backorder_queue(*p)
        assert sum(n for _, n in queue) == ledger.balance(*p).backordered
        if queue:
            assert ledger.available(*p) == 0, (p, queue)


def _entities(ledger: Ledger) -> tuple[list[SupplyLine], list[Transfer]]:
    lines = [ledger.supply_line(e.reference) for e in ledger.entries(kind=K.EXPECTED)]
    moves = [ledger.transfer_by_id(e.reference) for e in ledger.entries(kind=K.TRANSFER_INCOMING)]
    return lines, moves


def check_conservation(ledger: Ledger) -> None:
    """Per SKU: on hand + in transit == arrived - left; in transit is counted exactly once."""
    entries = ledger.entries()
    lines, moves = _entities(ledger)
    for sku in ledger.skus:
        mine = [e for e in entries if e.sku == sku]
        net = sum(e.quantity for e in mine if e.kind in ARRIVE) - sum(
            e.quantity for e in mine if e.kind in LEAVE
        )
        in_transit = sum(t.in_transit for t in moves if t.sku == sku)
        expected = sum(s.open_quantity for s in lines if s.sku == sku)
        n = ledger.network_balance(sku)
        assert n.on_hand + in_transit == net, sku
        # Units in transit are not on hand anywhere and incoming only at their destination.
        assert n.incoming == expected + in_transit, sku
        assert sum(r.quantity for r in ledger.incoming_schedule(sku)) == n.incoming
        assert n.on_hand == sum(
            ledger.balance(sku, loc).on_hand for loc in ledger.locations_of(sku)
        )


def check_conservation_as_of(ledger: Ledger) -> None:
    """The same as of every business time, from entries alone, and per entity."""
    entries = ledger.entries()
    times = sorted({e.at for e in entries} | {h(-1)})
    for t in times:
        past = [e for e in entries if e.at <= t]
        # Per transfer: what left the origin is what is incoming at the destination.
        by_ref: dict[str, dict[EntryKind, int]] = defaultdict(lambda: defaultdict(int))
        for e in past:
            if e.reference is not None:
                by_ref[e.reference][e.kind] += e.quantity
            if e.kind is K.RESERVATION_COMMITTED:
                by_ref[e.reason or ""][e.kind] += e.quantity
        in_transit: dict[str, int] = defaultdict(int)
        for ref, n in by_ref.items():
            if ref.startswith("TRF-"):
                arrived = n[K.TRANSFERRED_IN] + n[K.TRANSFERRED_IN_UNAVAILABLE]
                sent = n[K.TRANSFERRED_OUT] + n[K.TRANSFERRED_OUT_UNAVAILABLE]
                back = n[K.TRANSFER_RETURNED] + n[K.TRANSFER_RETURNED_UNAVAILABLE]
                gone = sent - arrived - back
                coming = n[K.TRANSFER_INCOMING] - arrived - n[K.TRANSFER_CANCELLED]
                assert gone == coming >= 0, (ref, t, dict(n))
                in_transit[ledger.transfer_by_id(ref).sku] += gone
            elif ref.startswith("SUP-"):
                still = n[K.EXPECTED] - n[K.EXPECTED_RECEIVED] - n[K.EXPECTED_CANCELLED]
                assert still >= 0, (ref, t, dict(n))
            elif ref.startswith("RSV-"):
                held = n[K.RESERVED] - n[K.RELEASED] - n[K.EXPIRED] - n[K.RESERVATION_COMMITTED]
                assert held >= 0, (ref, t, dict(n))
        for sku in ledger.skus:
            mine = [e for e in past if e.sku == sku]
            net = sum(e.quantity for e in mine if e.kind in ARRIVE) - sum(
                e.quantity for e in mine if e.kind in LEAVE
            )
            n = ledger.network_balance(sku, as_of=t)
            assert n.on_hand + in_transit[sku] == net, (sku, t)


# -- (1) every step keeps the invariants, and a refused step leaves no trace --------------------


@given(SEQUENCES)
def test_random_postings_keep_the_invariants_after_every_step(ops):
    ledger = seeded_ledger()

    def check() -> None:
        ledger.check_invariants()
        check_entries(ledger)

    run(ledger, Ids(), ops, check)


# -- (2) cache == replay, checked independently of check_invariants -----------------------------


@given(SEQUENCES)
def test_cached_balances_equal_an_independent_replay(ops):
    ledger = seeded_ledger()
    run(ledger, Ids(), ops, lambda: check_replay(ledger))


# -- (3) available and free never negative ------------------------------------------------------


@given(SEQUENCES)
def test_available_and_free_are_never_negative_now_or_in_the_past(ops):
    ledger = seeded_ledger()

    def check() -> None:
        check_never_negative(ledger)
        check_backorders_wait_only_for_stock(ledger)

    run(ledger, Ids(), ops, check)
    check_never_negative(ledger, as_of=[h(t) for t in range(-9, len(ops) + 1)])


# -- (4) conservation ---------------------------------------------------------------------------


@given(SEQUENCES)
def test_units_are_conserved_and_in_transit_counted_once(ops):
    ledger = seeded_ledger()
    run(ledger, Ids(), ops, lambda: check_conservation(ledger))
    check_conservation_as_of(ledger)


# -- (6) savepoint, random postings, rollback ---------------------------------------------------


@given(before=SEQUENCES, during=SEQUENCES, after=st.lists(OPS, max_size=15))
def test_rollback_leaves_the_ledger_as_it_was(before, during, after):
    ledger, ids = seeded_ledger(), Ids()
    run(ledger, ids, before, lambda: None)
    was = snapshot(ledger)
    twin, twin_ids = copy.deepcopy(ledger), copy.deepcopy(ids)
    sp = ledger.savepoint()
    run(ledger, copy.deepcopy(ids), during, lambda: None, start=len(before))
    ledger.rollback(sp)
    assert snapshot(ledger) == was
    ledger.check_invariants()
    # Ids, keys and queues carry on as if the rolled-back postings never happened.
    for now, op in enumerate(after, start=len(before) + 1):
        results = []
        for led, i in ((ledger, ids), (twin, twin_ids)):
            try:
                result = apply(led, i, op, now)
            except OmsimsError as e:
                results.append((type(e), str(e)))
            else:
                i.learn(result)
                results.append(result)
        assert results[0] == results[1], op
    assert snapshot(ledger) == snapshot(twin)


# -- (7) numbered by a shared source (as on PostgreSQL) ------------------------------------------


class Jumps:
    """A source like a shared database's: gaps where other processes took numbers."""

    def __init__(self, gaps: list[int]) -> None:
        self.gaps = itertools.cycle(gaps)
        self.last = 0

    def next_after(self, floor: int) -> int:
        self.last = max(self.last, floor) + next(self.gaps)
        return self.last


GAPS = st.lists(st.integers(1, 1_000), min_size=1, max_size=5)


def without_numbers(ledger: Ledger) -> dict[str, Any]:
    shot = snapshot(ledger)
    del shot["last_sequence"]
    shot["keys"] = {k: fingerprint for k, (fingerprint, _posting) in shot["keys"].items()}
    shot["entries"] = [e[1:] for e in ledger.entries_from(0)]
    return shot


@given(SEQUENCES, GAPS)
def test_a_ledger_numbered_by_a_shared_source_behaves_like_one_numbered_1_2_3(ops, gaps):
    plain, shared = seeded_ledger(), seeded_ledger(Jumps(gaps))
    plain_ids, shared_ids = Ids(), Ids()
    run(plain, plain_ids, ops, lambda: None)
    run(shared, shared_ids, ops, shared.check_invariants)
    check_replay(shared)
    assert without_numbers(shared) == without_numbers(plain)
    numbers = [e.sequence for e in shared.entries_from(0)]
    assert numbers == sorted(set(numbers)), "one source, one process: numbers only grow"
    assert shared.last_sequence == numbers[-1]
    assert shared.entries() == sorted(shared.entries_from(0), key=lambda e: e.sequence)
    middle = numbers[len(numbers) // 2]
    assert [e.sequence for e in shared.entries_since(middle)] == [n for n in numbers if n > middle]


@given(SEQUENCES, SEQUENCES, GAPS)
def test_rollback_of_a_shared_source_ledger_leaves_it_as_it_was(before, during, gaps):
    ledger = seeded_ledger(Jumps(gaps))
    run(ledger, Ids(), before, lambda: None)
    was = snapshot(ledger)
    sp = ledger.savepoint()
    run(ledger, Ids(), during, lambda: None, start=len(before))
    ledger.rollback(sp)
    assert snapshot(ledger) == was
    ledger.check_invariants()


def test_a_source_that_goes_backwards_is_refused():
    class Stuck:
        def next_after(self, floor: int) -> int:
            return 1

    ledger = new_ledger(Stuck())
    ledger.receive("A", "L1", 5, at=h(0))
    with pytest.raises(InvariantViolation, match="not above 1"):
        ledger.receive("A", "L1", 5, at=h(1))
    assert ledger.balance("A", "L1").on_hand == 5
    assert len(ledger.entries()) == 1


# -- (5) the state machine ----------------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    """Drive the ledger with a clock that mostly moves forward, and a model of its buckets.

    The model tracks what no backorder fill can move: on hand, unavailable, incoming,
    reserved, and promised (committed + backordered), per position.
    """

    reservations = Bundle("reservations")
    supply = Bundle("supply")
    transfers = Bundle("transfers")

    def __init__(self) -> None:
        super().__init__()
        self.ledger = seeded_ledger()
        self.clock = 1
        self.model: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(("on_hand", "unavailable", "incoming", "reserved", "promised"), 0)
        )
        for p in self.ledger.positions():
            self.model[p].update(self.observe(*p))
        self.keyed: list[tuple[Callable[..., Any], datetime, str, Any]] = []
        self.keys_used = 0
        self.open: tuple[Any, ...] | None = None

    # helpers

    def at(self, backdate: int) -> datetime:
        return h(self.clock - backdate)

    def attempt(self, call: Callable[[], Any]) -> Any:
        before = snapshot(self.ledger)
        try:
            return call()
        except OmsimsError:
            assert snapshot(self.ledger) == before
            return None

    def keyed_attempt(self, f: Callable[[datetime, str], Any], at: datetime) -> Any:
        """Post with a fresh idempotency key, remembering the call for a retry."""
        self.keys_used += 1
        key = f"key-{self.keys_used}"
        result = self.attempt(lambda: f(at, key))
        if result is not None:
            self.keyed.append((f, at, key, result))
        return result

    def find(self, lookup: Callable[[str], _E], entity_id: str) -> _E | None:
        """The entity, or None when a rollback removed it (postings on it must then fail)."""
        try:
            return lookup(entity_id)
        except NotFoundError:
            return None

    def observe(self, sku: str, loc: str) -> dict[str, int]:
        b = self.ledger.balance(sku, loc)
        return {
            "on_hand": b.on_hand,
            "unavailable": b.unavailable,
            "incoming": b.incoming,
            "reserved": b.reserved,
            "promised": b.committed + b.backordered,
        }

    def move(self, sku: str, loc: str, **deltas: int) -> None:
        m = self.model[(sku, loc)]
        for bucket, d in deltas.items():
            m[bucket] += d

    # time

    @rule(hours=st.integers(1, 5))
    def tick(self, hours):
        self.clock += hours

    # stock on hand

    @rule(sku=skus, loc=locations, q=qtys, back=st.integers(0, 3))
    def receive(self, sku, loc, q, back):
        f = lambda at, key: self.ledger.receive(sku, loc, q, at=at, key=key)  # noqa: E731
        if self.keyed_attempt(f, self.at(back)) is not None:
            self.move(sku, loc, on_hand=q)

    @rule(sku=skus, loc=locations, d=st.integers(-20, 20).filter(bool), back=st.integers(0, 3))
    def adjust(self, sku, loc, d, back):
        call = lambda: self.ledger.adjust(sku, loc, d, reason="count", at=self.at(back))  # noqa: E731
        if self.attempt(call) is not None:
            self.move(sku, loc, on_hand=d)

    @rule(sku=skus, loc=locations, q=qtys, back=st.integers(0, 3))
    def hold(self, sku, loc, q, back):
        if self.attempt(lambda: self.ledger.hold(sku, loc, q, reason="qa", at=self.at(back))):
            self.move(sku, loc, unavailable=q)

    @rule(sku=skus, loc=locations, q=qtys, back=st.integers(0, 3))
    def release_hold(self, sku, loc, q, back):
        call = lambda: self.ledger.release_hold(sku, loc, q, reason="ok", at=self.at(back))  # noqa: E731
        if self.attempt(call):
            self.move(sku, loc, unavailable=-q)

    @rule(sku=skus, loc=locations, q=qtys, unavailable=st.booleans(), back=st.integers(0, 3))
    def write_off(self, sku, loc, q, unavailable, back):
        call = lambda: self.ledger.write_off(  # noqa: E731
            sku, loc, q, reason="lost", at=self.at(back), from_unavailable=unavailable
        )
        if self.attempt(call):
            self.move(sku, loc, on_hand=-q, unavailable=-q if unavailable else 0)

    @rule(sku=skus, loc=locations, q=qtys, unavailable=st.booleans(), back=st.integers(0, 3))
    def return_stock(self, sku, loc, q, unavailable, back):
        why = "torn" if unavailable else None
        call = lambda: self.ledger.return_stock(  # noqa: E731
            sku, loc, q, at=self.at(back), unavailable_reason=why
        )
        if self.attempt(call):
            self.move(sku, loc, on_hand=q, unavailable=q if unavailable else 0)

    # promises

    @rule(
        target=reservations,
        sku=skus,
        loc=locations,
        q=qtys,
        ttl=st.none() | st.integers(1, 6),
        back=st.integers(0, 3),
    )
    def reserve(self, sku, loc, q, ttl, back):
        at = self.at(back)
        expires = None if ttl is None else at + timedelta(hours=ttl)
        f = lambda at, key: self.ledger.reserve(sku, loc, q, at=at, expires_at=expires, key=key)  # noqa: E731
        r = self.keyed_attempt(f, at)
        if r is None:
            return multiple()
        self.move(sku, loc, reserved=q)
        return r.id

    @rule(rid=reservations, q=maybe_qtys, back=st.integers(0, 3))
    def release(self, rid, q, back):
        r = self.find(self.ledger.reservation, rid)
        if self.attempt(lambda: self.ledger.release(rid, q, at=self.at(back))):
            assert r is not None
            self.move(r.sku, r.location, reserved=-(r.remaining if q is None else q))

    @rule(rid=reservations, back=st.integers(0, 3))
    def expire(self, rid, back):
        r = self.find(self.ledger.reservation, rid)
        if self.attempt(lambda: self.ledger.expire(rid, at=self.at(back))):
            assert r is not None
            self.move(r.sku, r.location, reserved=-r.remaining)

    @rule()
    def expire_due(self):
        left = {r.id: r.remaining for r in self.ledger.reservations()}
        for r in self.attempt(lambda: self.ledger.expire_due(at=self.at(0))) or ():
            self.move(r.sku, r.location, reserved=-left[r.id])

    @rule(sku=skus, loc=locations, q=qtys, ref=references, back=st.integers(0, 3))
    def commit(self, sku, loc, q, ref, back):
        f = lambda at, key: self.ledger.commit(sku, loc, q, at=at, reference=ref, key=key)  # noqa: E731
        if self.keyed_attempt(f, self.at(back)) is not None:
            self.move(sku, loc, promised=q)

    @rule(rid=reservations, q=qtys, ref=references, back=st.integers(0, 3))
    def commit_reserved(self, rid, q, ref, back):
        r = self.find(self.ledger.reservation, rid)
        if r is None:
            r = Reservation(rid, "A", "L1", q, q, h(0))  # gone: the commit must be refused
        call = lambda: self.ledger.commit(  # noqa: E731
            r.sku, r.location, q, at=self.at(back), reference=ref, reservation_id=rid
        )
        if self.attempt(call):
            self.move(r.sku, r.location, reserved=-q, promised=q)

    @rule(sku=skus, loc=locations, q=qtys, ref=references, back=st.integers(0, 3))
    def uncommit(self, sku, loc, q, ref, back):
        if self.attempt(lambda: self.ledger.uncommit(sku, loc, q, at=self.at(back), reference=ref)):
            self.move(sku, loc, promised=-q)

    @rule(sku=skus, loc=locations, q=qtys, ref=references, back=st.integers(0, 3))
    def ship(self, sku, loc, q, ref, back):
        if self.attempt(lambda: self.ledger.ship(sku, loc, q, at=self.at(back), reference=ref)):
            self.move(sku, loc, on_hand=-q, promised=-q)

    @rule(
        sku=skus,
        loc=locations,
        safety=st.integers(0, 5),
        allow=st.booleans(),
        limit=st.none() | st.integers(0, 20),
    )
    def configure(self, sku, loc, safety, allow, limit):
        s = PositionSettings(safety_stock=safety, allow_backorders=allow, backorder_limit=limit)
        if self.attempt(lambda: self.ledger.configure(sku, loc, s, at=self.at(0))) is not None:
            assert self.ledger.settings(sku, loc) == s

    @rule(sku=skus, loc=locations, q=qtys, ref=references, back=st.integers(0, 3))
    def backorder(self, sku, loc, q, ref, back):
        call = lambda: self.ledger.backorder(sku, loc, q, at=self.at(back), reference=ref)  # noqa: E731
        if self.attempt(call):
            self.move(sku, loc, promised=q)

    @rule(sku=skus, loc=locations, q=qtys, ref=references, back=st.integers(0, 3))
    def cancel_backorder(self, sku, loc, q, ref, back):
        call = lambda: self.ledger.cancel_backorder(sku, loc, q, at=self.at(back), reference=ref)  # noqa: E731
        if self.attempt(call):
            self.move(sku, loc, promised=-q)

    # supply

    @rule(
        target=supply,
        sku=skus,
        loc=locations,
        q=qtys,
        eta=st.integers(-5, 50),
        back=st.integers(0, 3),
    )
    def expect(self, sku, loc, q, eta, back):
        at = self.at(back)
        f = lambda at, key: self.ledger.expect(  # noqa: E731
            sku, loc, q, eta=at + timedelta(hours=eta), at=at, key=key
        )
        line = self.keyed_attempt(f, at)
        if line is None:
            return multiple()
        self.move(sku, loc, incoming=q)
        return line.id

    @rule(sid=supply, q=maybe_qtys, back=st.integers(0, 3))
    def receive_expected(self, sid, q, back):
        line = self.find(self.ledger.supply_line, sid)
        if self.attempt(lambda: self.ledger.receive_expected(sid, q, at=self.at(back))):
            assert line is not None
            n = line.open_quantity if q is None else q
            self.move(line.sku, line.location, on_hand=n, incoming=-n)

    @rule(sid=supply, q=maybe_qtys, back=st.integers(0, 3))
    def cancel_expected(self, sid, q, back):
        line = self.find(self.ledger.supply_line, sid)
        if self.attempt(lambda: self.ledger.cancel_expected(sid, q, at=self.at(back))):
            assert line is not None
            n = line.open_quantity if q is None else q
            self.move(line.sku, line.location, incoming=-n)

    @rule(
        target=transfers,
        sku=skus,
        origin=locations,
        destination=locations,
        q=qtys,
        back=st.integers(0, 3),
        damaged=st.booleans(),
    )
    def transfer(self, sku, origin, destination, q, back, damaged):
        why = "refurbish" if damaged else None
        f = lambda at, key: self.ledger.transfer(  # noqa: E731
            sku,
            origin,
            destination,
            q,
            eta=at + timedelta(hours=24),
            at=at,
            key=key,
            unavailable_reason=why,
        )
        t = self.keyed_attempt(f, self.at(back))
        if t is None:
            return multiple()
        self.move(sku, origin, on_hand=-q, unavailable=-q if damaged else 0)
        self.move(sku, destination, incoming=q)
        return t.id

    @rule(tid=transfers, q=maybe_qtys, back=st.integers(0, 3))
    def receive_transfer(self, tid, q, back):
        t = self.find(self.ledger.transfer_by_id, tid)
        if self.attempt(lambda: self.ledger.receive_transfer(tid, q, at=self.at(back))):
            assert t is not None
            n = t.in_transit if q is None else q
            damaged = n if t.unavailable_reason else 0
            self.move(t.sku, t.to_location, on_hand=n, incoming=-n, unavailable=damaged)

    @rule(tid=transfers, back=st.integers(0, 3))
    def cancel_transfer(self, tid, back):
        t = self.find(self.ledger.transfer_by_id, tid)
        if self.attempt(lambda: self.ledger.cancel_transfer(tid, at=self.at(back))):
            assert t is not None
            back = t.in_transit
            self.move(t.sku, t.to_location, incoming=-back)
            self.move(
                t.sku,
                t.from_location,
                on_hand=back,
                unavailable=back if t.unavailable_reason else 0,
            )

    # idempotency

    @precondition(lambda self: self.keyed)
    @rule(i=picks)
    def retry_is_a_no_op(self, i):
        f, at, key, result = self.keyed[i % len(self.keyed)]
        before = snapshot(self.ledger)
        assert f(at, key) is result
        assert snapshot(self.ledger) == before

    @precondition(lambda self: self.keyed)
    @rule(i=picks)
    def reused_key_with_another_payload_conflicts(self, i):
        f, at, key, _ = self.keyed[i % len(self.keyed)]
        before = snapshot(self.ledger)
        with pytest.raises(IdempotencyConflict):
            f(at + timedelta(minutes=1), key)
        assert snapshot(self.ledger) == before

    # savepoints

    @precondition(lambda self: self.open is None)
    @rule()
    def savepoint(self):
        sp = self.ledger.savepoint()
        model = copy.deepcopy(dict(self.model))
        self.open = (sp, snapshot(self.ledger), model, len(self.keyed))

    @precondition(lambda self: self.open is not None)
    @rule()
    def rollback(self):
        assert self.open is not None
        sp, was, model, n_keyed = self.open
        self.ledger.rollback(sp)
        self.open = None
        assert snapshot(self.ledger) == was
        self.model.clear()
        self.model.update(model)
        del self.keyed[n_keyed:]

    @precondition(lambda self: self.open is not None)
    @rule()
    def release_savepoint(self):
        assert self.open is not None
        self.ledger.release_savepoint(self.open[0])
        self.open = None

    # invariants

    @invariant()
    def invariants_hold(self):
        self.ledger.check_invariants()
        check_entries(self.ledger)

    @invariant()
    def the_model_agrees(self):
        zero = dict.fromkeys(("on_hand", "unavailable", "incoming", "reserved", "promised"), 0)
        for p in set(self.model) | set(self.ledger.positions()):
            if p in set(self.ledger.positions()):
                assert self.observe(*p) == self.model.get(p, zero), p
            else:
                assert self.model[p] == zero, p

    @invariant()
    def nothing_is_negative(self):
        check_never_negative(self.ledger)
        check_backorders_wait_only_for_stock(self.ledger)

    @invariant()
    def units_are_conserved(self):
        check_conservation(self.ledger)

    def teardown(self):
        # O(entries x times): once per run rather than after every step.
        check_conservation_as_of(self.ledger)
        check_replay(self.ledger)


TestLedgerMachine = LedgerMachine.TestCase
