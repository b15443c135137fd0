"""The fixed plain-Python baseline every throughput benchmark is compared with.

The baseline is the least work that could still be called "a stock ledger" in Python:

* the state is one ``dict`` mapping ``(sku, location)`` to a ``list`` of the 6 bucket ints
  (on_hand, committed, reserved, unavailable, incoming, backordered), a position being
  created on its first posting;
* every posting updates the buckets its operation moves, with the same signs as
  ``omsims.domain.stock.SIGNS``, and appends one ``tuple`` to a ``list`` (the log);
* it validates nothing, checks no rule, keeps no per-position index, no reservations,
  no journal and no idempotency keys.

The benchmarks feed it the very same pre-built operation lists they feed omsims (same
order, same key objects), so "ratio" means: omsims postings/s / baseline postings/s on the
same machine, in the same run, on the same sequence of keys. A ratio of 0.10 means omsims
costs 10x the bare dict-and-list work.

Do not "optimise" this file: it is the yardstick. Changing it changes every ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "COMMIT",
    "OPS",
    "RECEIVE",
    "RELEASE",
    "RESERVE",
    "SHIP",
    "mixed",
    "place_orders",
    "receive",
]

# Operation codes of the mixed sequence (shared with bench_ledger, which dispatches on them
# with the same if-chain).
RECEIVE, COMMIT, RESERVE, SHIP, RELEASE = range(5)
OPS = ("receive", "commit", "reserve", "ship", "release")


def receive(
    buckets: dict[tuple[str, str], list[int]],
    log: list[tuple[object, ...]],
    ops: Sequence[tuple[str, str, int]],
) -> None:
    """``ops`` are ``(sku, location, qty)``: on_hand += qty, one log tuple each."""
    for sku, location, qty in ops:
        key = (sku, location)
        b = buckets.get(key)
        if b is None:
            b = buckets[key] = [0, 0, 0, 0, 0, 0]
        b[0] += qty
        log.append((RECEIVE, sku, location, qty))


def mixed(
    buckets: dict[tuple[str, str], list[int]],
    log: list[tuple[object, ...]],
    ops: Sequence[tuple[int, str, str, int, str | None]],
) -> None:
    """``ops`` are ``(op, sku, location, qty, reference)`` with ``op`` one of the codes above.

    receive: on_hand += q; commit: committed += q; reserve: reserved += q;
    ship: on_hand -= q and committed -= q; release: reserved -= q.
    """
    for op, sku, location, qty, reference in ops:
        key = (sku, location)
        b = buckets.get(key)
        if b is None:
            b = buckets[key] = [0, 0, 0, 0, 0, 0]
        if op == RECEIVE:
            b[0] += qty
        elif op == COMMIT:
            b[1] += qty
        elif op == RESERVE:
            b[2] += qty
        elif op == SHIP:
            b[0] -= qty
            b[1] -= qty
        else:
            b[2] -= qty
        log.append((op, sku, location, qty, reference))


def place_orders(
    stock: dict[tuple[str, str], int],
    log: list[tuple[object, ...]],
    orders: Sequence[tuple[str, tuple[str, str], int, tuple[str, str], int, tuple[str, str], int]],
) -> None:
    """Per 3-line order: 3 dict decrements (at the locations omsims sources from) + 1 tuple."""
    for order_id, k1, q1, k2, q2, k3, q3 in orders:
        stock[k1] -= q1
        stock[k2] -= q2
        stock[k3] -= q3
        log.append((order_id, k1, q1, k2, q2, k3, q3))
