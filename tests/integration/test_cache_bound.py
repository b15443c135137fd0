"""A durable store's bounded cache (``cached_orders``), on SQLite and on PostgreSQL.

A long-running process keeps at most that many orders (and idempotency keys) in memory;
the rest stay in the database and are read back when a command or query asks for one.
Nothing a user sees may differ from a store that keeps everything.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from omsims import Location, ManualClock, Oms, OrderStatus
from omsims.adapters.sqlite import SqliteStore
from omsims.domain.orders import Order
from omsims.errors import IdempotencyConflict, ValidationError

BOUND = 10
START = datetime(2026, 3, 2, 9, tzinfo=UTC)

Opener = Callable[..., Oms]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path) -> Iterator[Opener]:
    """Opens Oms instances on one fresh database (each its own process's cache)."""
    opened: list[Oms] = []
    if request.param == "sqlite":
        path = tmp_path / "shop.db"

        def make(**kw: object) -> Oms:
            opened.append(Oms.sqlite(path, clock=ManualClock(START), **kw))  # type: ignore[arg-type]
            return opened[-1]
    else:
        url = request.getfixturevalue("pg_database")

        def make(**kw: object) -> Oms:
            opened.append(Oms.postgres(url, clock=ManualClock(START), **kw))  # type: ignore[arg-type]
            return opened[-1]

    yield make
    for oms in opened:
        oms.close()


def _stock(oms: Oms) -> None:
    oms.add_location(Location("dc"))
    oms.add_location(Location("store"))
    oms.receive("MUG", "dc", 500)
    oms.receive("CUP", "store", 500)


def _lifecycle(oms: Oms, n: int) -> None:
    """Place ``n`` orders, then ship and deliver the first third (long dropped by then)."""
    for i in range(n):
        oms.place_order(f"o-{i:03}", [("MUG", 1 + i % 3), ("CUP", 1)])
    for i in range(n // 3):
        for fo in oms.fulfilment_orders(f"o-{i:03}"):
            oms.accept(fo.id, idempotency_key=f"accept {fo.id}")
            oms.deliver(oms.ship(fo.id).id)


def _seen(oms: Oms) -> tuple[list[Order], list[object]]:
    return oms.orders(), [oms.stock(sku, loc) for sku, loc in oms.positions()]


def test_a_bounded_cache_holds_at_most_its_orders_and_shows_what_a_full_one_shows(opener):
    full = Oms(clock=ManualClock(START))
    bounded = opener(cached_orders=BOUND)
    for oms in (full, bounded):
        _stock(oms)
        _lifecycle(oms, 60)
    store = bounded._uow
    assert len(store.orders) <= BOUND
    assert len(store.idempotency) <= BOUND
    assert len(store.fulfilment_orders) <= 2 * BOUND  # two per order here
    # Every order comes back, in the order placed, equal to the full store's.
    assert _seen(bounded) == _seen(full)
    assert [o.id for o in bounded.orders()] == [f"o-{i:03}" for i in range(60)]
    assert bounded.order("o-000").status is OrderStatus.DELIVERED
    bounded.check_invariants()


def test_dropped_order_objects_are_freed(opener):
    oms = opener(cached_orders=BOUND)
    _stock(oms)
    before = sum(1 for o in gc.get_objects() if type(o) is Order)
    for i in range(200):
        oms.place_order(f"o-{i:03}", [("MUG", 1)])
    gc.collect()
    held = sum(1 for o in gc.get_objects() if type(o) is Order) - before
    assert held <= BOUND  # not 200: dropped orders are gone from memory, not just hidden


def test_a_dropped_order_is_placed_once_and_a_dropped_key_still_guards_its_command(opener):
    oms = opener(cached_orders=BOUND)
    _stock(oms)
    first = oms.place_order("o-first", [("MUG", 2)])
    oms.receive("MUG", "dc", 5, idempotency_key="delivery-1")
    for i in range(40):
        oms.place_order(f"o-{i:03}", [("MUG", 1)])
    store = oms._uow
    assert "o-first" not in store.orders
    assert "key:delivery-1" not in store.idempotency
    entries = len(oms.entries())
    again = oms.place_order("o-first", [("MUG", 2)])
    assert (again.id, again.lines) == (first.id, first.lines)
    oms.receive("MUG", "dc", 5, idempotency_key="delivery-1")  # the effect of one
    with pytest.raises(IdempotencyConflict):
        oms.place_order("o-first", [("MUG", 3)])
    with pytest.raises(IdempotencyConflict):
        oms.receive("MUG", "dc", 6, idempotency_key="delivery-1")
    assert len(oms.entries()) == entries  # nothing written by any of them
    assert len(oms.orders()) == 41


def test_a_dropped_order_another_process_changed_is_read_back_as_it_is_now(opener):
    mine = opener(cached_orders=BOUND)
    _stock(mine)
    mine.place_order("o-early", [("MUG", 1)])
    for i in range(30):
        mine.place_order(f"o-{i:03}", [("MUG", 1)])
    other = opener()
    fo = other.fulfilment_orders("o-early")[0]
    other.accept(fo.id)
    parcel = other.ship(fo.id)
    # This process dropped the order before the other shipped it: it reads it back as
    # shipped, and its own command on it commits (no stale version kept).
    assert mine.order("o-early").status is OrderStatus.SHIPPED
    mine.deliver(parcel.id)
    assert other.order("o-early").status is OrderStatus.DELIVERED
    mine.check_invariants()


@pytest.mark.parametrize("bound", [0, 9, -1, 1.5, "10", True, 10**10])
def test_a_bad_bound_is_refused_before_anything_is_opened(tmp_path, bound):
    path = tmp_path / "shop.db"
    with pytest.raises(ValidationError, match="cached_orders"):
        SqliteStore(path, cached_orders=bound)
    assert not path.exists()  # nothing created


def test_without_a_bound_every_order_stays_cached(tmp_path):
    oms = Oms.sqlite(tmp_path / "shop.db")
    _stock(oms)
    for i in range(30):
        oms.place_order(f"o-{i:03}", [("MUG", 1)])
    assert len(oms._uow.orders) == 30
    oms.close()
