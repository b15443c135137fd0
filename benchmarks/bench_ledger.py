"""Ledger postings/s, absolute and as a ratio to the plain-dict baseline.

Four cases, each on a fresh ``Ledger`` per repeat:

* receive, hot: every posting is ``Ledger.receive`` on one position;
* receive, spread: ``Ledger.receive`` on positions drawn at random from 100,000
  (1,000 SKUs x 100 locations), every position primed with one receive first;
* mixed, hot / spread: cycles of receive 3, commit 2, reserve 1, ship 2, release on one
  position (so 1/5 each of receive, commit, reserve, ship, release), the position of each
  cycle hot or drawn at random from the same 100,000.

The operation lists are built once, before any timing, and handed to omsims and to the
baseline (``baseline.py``) alike. Priming (creating the 100,000 positions) happens in the
untimed setup of both sides. Every posting has the same business time, so none is
backdated. Reported: best of ``repeats`` runs after a warm-up run, time.perf_counter.

Run alone: ``.venv/bin/python benchmarks/bench_ledger.py [--quick]``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import baseline
from _harness import Row, race, run_alone
from baseline import COMMIT, RECEIVE, RELEASE, RESERVE, SHIP

from omsims.domain.ledger import Ledger

MIN_RATIO = 0.10
SKUS, LOCATIONS = 1_000, 100  # 100,000 positions
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)
SEED = 20260301

ReceiveOp = tuple[str, str, int]
MixedOp = tuple[int, str, str, int, str | None]


# -- the key sequences (built once, outside every timed loop) ------------------------------


def _names() -> tuple[list[str], list[str]]:
    return [f"SKU-{i:05d}" for i in range(SKUS)], [f"LOC-{j:03d}" for j in range(LOCATIONS)]


def _positions(*, spread: bool) -> list[tuple[str, str]]:
    skus, locations = _names()
    if not spread:
        return [(skus[0], locations[0])]
    return [(s, loc) for s in skus for loc in locations]


def prime_ops(*, spread: bool) -> list[ReceiveOp]:
    """One receive of 1 unit per position: creates the positions, in the untimed setup."""
    return [(s, loc, 1) for s, loc in _positions(spread=spread)]


def receive_ops(n: int, *, spread: bool, rng: random.Random) -> list[ReceiveOp]:
    """``n`` receives of 1-5 units."""
    positions = _positions(spread=spread)
    picks = [rng.choice(positions) for _ in range(n)] if spread else positions * n
    return [(s, loc, rng.randint(1, 5)) for s, loc in picks]


def mixed_ops(n: int, *, spread: bool, rng: random.Random) -> list[MixedOp]:
    """``n // 5`` cycles of receive, commit, reserve, ship, release on one position each."""
    positions = _positions(spread=spread)
    timed: list[MixedOp] = []
    for c in range(n // 5):
        s, loc = rng.choice(positions) if spread else positions[0]
        ref = f"ORD-{c}-F1#1"
        timed += [
            (RECEIVE, s, loc, 3, None),
            (COMMIT, s, loc, 2, ref),
            (RESERVE, s, loc, 1, None),
            (SHIP, s, loc, 2, ref),
            (RELEASE, s, loc, 1, None),  # releases all the reservation above holds (1)
        ]
    return timed


# -- the measured side --------------------------------------------------------------------


def _new_ledger() -> Ledger:
    ledger = Ledger()
    for loc in _names()[1]:
        ledger.add_location(loc)
    return ledger


def ledger_receive(ledger: Ledger, ops: Sequence[ReceiveOp]) -> None:
    receive, at = ledger.receive, AT
    for sku, location, qty in ops:
        receive(sku, location, qty, at=at)


def ledger_mixed(ledger: Ledger, ops: Sequence[MixedOp]) -> None:
    receive, commit, reserve, ship, release = (
        ledger.receive,
        ledger.commit,
        ledger.reserve,
        ledger.ship,
        ledger.release,
    )
    at = AT
    rid = ""
    for op, sku, location, qty, reference in ops:
        if op == RECEIVE:
            receive(sku, location, qty, at=at)
        elif op == COMMIT:
            commit(sku, location, qty, at=at, reference=reference)
        elif op == RESERVE:
            rid = reserve(sku, location, qty, at=at).id
        elif op == SHIP:
            ship(sku, location, qty, at=at, reference=reference)
        else:
            release(rid, at=at)


# -- the race ------------------------------------------------------------------------------


def _verify(ledger: Ledger, state: tuple[dict[tuple[str, str], list[int]], list[Any]]) -> None:
    """Both sides did the same work: same positions, same buckets, one log line per entry."""
    buckets, log = state
    assert ledger.last_sequence == len(log), (ledger.last_sequence, len(log))
    assert sum(1 for _ in ledger.positions()) == len(buckets)
    for (sku, loc), b in buckets.items():
        lvl = ledger.balance(sku, loc)
        got = [lvl.on_hand, lvl.committed, lvl.reserved, lvl.unavailable, lvl.incoming]
        assert [*got, lvl.backordered] == b, (sku, loc, got, b)
    ledger.check_invariants()


def _case(kind: str, *, spread: bool, n: int, repeats: int) -> Row:
    rng = random.Random(SEED)
    prime = prime_ops(spread=spread)
    timed: list[Any]
    if kind == "receive":
        timed = receive_ops(n, spread=spread, rng=rng)
        run_ledger, run_base = ledger_receive, baseline.receive
    else:
        timed = mixed_ops(n, spread=spread, rng=rng)
        run_ledger, run_base = ledger_mixed, baseline.mixed

    def setup_ledger() -> Ledger:
        ledger = _new_ledger()
        ledger_receive(ledger, prime)
        return ledger

    def setup_base() -> tuple[dict[tuple[str, str], list[int]], list[Any]]:
        buckets: dict[tuple[str, str], list[int]] = {}
        log: list[Any] = []
        baseline.receive(buckets, log, prime)
        return buckets, log

    t_ledger, t_base = race(
        (setup_ledger, lambda led: run_ledger(led, timed)),
        (setup_base, lambda st: run_base(st[0], st[1], timed)),
        repeats=repeats,
        verify=_verify,
    )
    where = "spread over 100,000 positions" if spread else "1 hot position"
    what = "receive" if kind == "receive" else "mixed r/c/rsv/s/rel"
    return Row.throughput(
        "ledger",
        f"{what}, {where}",
        "postings/s",
        len(timed) / t_ledger,
        len(timed) / t_base,
        min_ratio=MIN_RATIO,
        detail={
            "postings": len(timed),
            "positions": len(prime),
            "repeats": repeats,
            "best_seconds": t_ledger,
            "baseline_best_seconds": t_base,
        },
    )


def run(*, quick: bool = False) -> list[Row]:
    n = 50_000 if quick else 200_000
    repeats = 2 if quick else 5
    return [
        _case(kind, spread=spread, n=n, repeats=repeats)
        for kind in ("receive", "mixed")
        for spread in (False, True)
    ]


if __name__ == "__main__":
    run_alone(run)
