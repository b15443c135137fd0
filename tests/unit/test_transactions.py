"""Every command is one transaction: all of it happens, or none of it does."""

import contextlib
import threading

import pytest

from omsims import Location, MemoryStore, Oms, OrderStatus, PriorityStrategy
from omsims.adapters.memory import MemoryUnitOfWork
from omsims.errors import IdempotencyConflict, InsufficientStock, PersistenceError


class FailingRepository:
    """Wraps a repository and fails on the n-th call of one of its methods."""

    def __init__(self, inner, method, fail_on):
        self.inner = inner
        self.method = method
        self.fail_on = fail_on
        self.calls = 0

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name != self.method:
            return attr

        def failing(*args):
            self.calls += 1
            if self.calls == self.fail_on:
                raise PersistenceError("disk full (injected)")
            return attr(*args)

        return failing


class FailingStore(MemoryStore):
    """A store whose units of work fail on the n-th call of a chosen repository method."""

    def __init__(self):
        super().__init__()
        self.failure = None  # (repository attribute, method, n)

    def __call__(self):
        uow = MemoryUnitOfWork(self)
        if self.failure is not None:
            repo, method, n = self.failure
            setattr(uow, repo, FailingRepository(getattr(uow, repo), method, n))
        return uow


def network(store=None, **kw):
    oms = Oms(store, **kw)
    for i, loc in enumerate(["a", "b", "c"], start=1):
        oms.add_location(Location(loc, priority=i))
        oms.receive("X", loc, 2)
    return oms


def everything(oms):
    return (
        oms.entries(),
        [(o.id, o.lines) for o in oms.orders()],
        [oms.stock("X", loc) for loc in "abc"],
    )


def test_a_repository_failing_half_way_leaves_no_trace():
    store = FailingStore()
    oms = network(store)
    before = everything(oms)
    # The order is saved last, after every ledger posting and fulfilment order: fail there.
    store.failure = ("orders", "save", 1)
    with pytest.raises(PersistenceError, match="injected"):
        oms.place_order("o1", [("X", 5)])
    assert everything(oms) == before
    assert oms.stock("X", "a").committed == 0
    assert oms.orders() == []
    assert store.fulfilment_orders == {}
    assert store.idempotency == {}
    oms.check_invariants()
    # The same command succeeds once the store is healthy, as if the failure never was.
    store.failure = None
    order = oms.place_order("o1", [("X", 5)])
    assert order.status is OrderStatus.ALLOCATED
    assert [fo.id for fo in oms.fulfilment_orders("o1")] == ["o1-F1", "o1-F2", "o1-F3"]
    oms.check_invariants()


def test_a_failure_during_reject_restores_the_rejected_fulfilment_order():
    store = FailingStore()
    oms = network(store)
    oms.place_order("o1", [("X", 2)])
    before = (everything(oms), oms.fulfilment_orders("o1"))
    store.failure = ("fulfilment_orders", "add", 1)  # re-sourcing adds one: fail there
    with pytest.raises(PersistenceError):
        oms.reject("o1-F1", reason="shelf empty")
    assert (everything(oms), oms.fulfilment_orders("o1")) == before
    assert oms.order("o1").excluded_locations == set()
    oms.check_invariants()


class BarrierStrategy(PriorityStrategy):
    """Plans, then waits for a second thread to plan too: forces the read/write race."""

    def __init__(self):
        super().__init__()
        self.barrier = threading.Barrier(2)

    def plan(self, request, inventory):
        plan = super().plan(request, inventory)
        # Only reachable by both threads at once if nothing serialises commands.
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=0.3)
        return plan


def race_for_the_last_unit(store=None):
    """Two threads place an order for the only unit, forced to plan at the same time."""
    oms = Oms(store, strategy=BarrierStrategy())
    oms.add_location(Location("a"))
    oms.receive("X", "a", 1)
    outcomes = []

    def buy(n):
        try:
            oms.place_order(f"o{n}", [("X", 1)], allow_partial=False)
            outcomes.append("ok")
        except InsufficientStock:
            outcomes.append("sold out")
        except Exception as exc:  # noqa: BLE001 - any other outcome is the bug under test
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return oms, sorted(outcomes)


@pytest.mark.parametrize("round_", range(3))
def test_threads_racing_for_the_last_units_never_oversell(round_):
    oms, outcomes = race_for_the_last_unit()
    assert outcomes == ["ok", "sold out"]
    level = oms.stock("X", "a")
    assert (level.committed, level.available) == (1, 0)
    oms.check_invariants()


def test_the_race_test_would_catch_missing_locking():
    """With a store whose lock does nothing, the same race goes wrong: the test has teeth."""

    class NoLock:
        def acquire(self):
            return True

        def release(self):
            pass

    store = MemoryStore()
    store.lock = NoLock()
    _, outcomes = race_for_the_last_unit(store)
    assert outcomes != ["ok", "sold out"]


def test_a_notifier_may_issue_commands_without_deadlock_and_order_is_kept():
    from datetime import timedelta

    from omsims import ManualClock

    clock = ManualClock()
    seen = []

    class Replenisher:
        """Reacts to LowStock by expecting supply: a command from inside the notifier."""

        def publish(self, event):
            seen.append(event.name)
            if event.name == "LowStock":
                oms.expect(event.sku, event.location, 10, eta=clock.now() + timedelta(days=2))

    oms = Oms(clock=clock, notifier=Replenisher())
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    oms.configure_position("X", "a", low_stock_threshold=2)
    oms.place_order("o1", [("X", 4)])
    assert oms.stock("X", "a").incoming == 10
    # The nested command's events come after everything of the command that caused them.
    assert seen.index("LowStock") < len(seen) - 1
    assert seen[-1] == "StockChanged"
    assert oms.pending_notifications == []


def test_events_wait_in_commit_order_across_threads():
    from omsims import RecordingNotifier

    notifier = RecordingNotifier()
    oms = Oms(notifier=notifier)
    oms.add_location(Location("a"))
    threads = [threading.Thread(target=oms.receive, args=("X", "a", 1)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_hand = [e.on_hand for e in notifier.events if e.name == "StockChanged"]
    assert on_hand == sorted(on_hand) == list(range(1, 9))


def test_a_finished_unit_of_work_is_handed_out_again_and_starts_clean():
    store = MemoryStore()
    oms = Oms(store)
    oms.add_location(Location("a"))
    oms.receive("X", "a", 5)
    first = store()
    assert store() is not first  # the first is still out: another is made
    with first:
        pass
    reused = store()
    assert reused is first  # the finished one comes back
    with reused:
        pass
    oms.place_order("o-1", [("X", 1)])
    with pytest.raises(IdempotencyConflict):
        oms.place_order("o-1", [("X", 2)])  # rolled back inside a spare...
    oms.place_order("o-2", [("X", 2)])  # ...which then serves the next command cleanly
    assert oms.stock("X", "a").committed == 3
    assert [o.id for o in oms.orders()] == ["o-1", "o-2"]
    assert len(store._spare) == 1  # one spare, used again and again
    assert [ln.quantity for ln in oms.order("o-1").lines] == [1]
    oms.check_invariants()
