"""Races and crashes every durable store must survive, run by each store's tests.

A store is named by a picklable spec, ``("sqlite", path)`` or ``("postgres", url)``, so
worker processes (started with "spawn", as on macOS and Windows) can open it themselves.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

from omsims import Location, Oms
from omsims.errors import InsufficientStock

UNITS, ATTEMPTS = 1_000, 10_000  # the race: 10,000 attempts, 1,000 units, 8 processes


def open_store(spec: tuple[str, Any]) -> Any:
    kind, where = spec
    if kind == "sqlite":
        from omsims.adapters.sqlite import SqliteStore

        return SqliteStore(where, busy_timeout=60)
    from omsims.adapters.postgres import PostgresStore

    return PostgresStore(where, attempts=1_000)


def _buyer(spec, worker, attempts, results):
    oms = Oms(open_store(spec))
    ok = refused = 0
    for i in range(attempts):
        try:
            oms.place_order(f"w{worker}-{i}", [("MUG", 1)], allow_partial=False)
            ok += 1
        except InsufficientStock:
            refused += 1
    oms.close()
    results.put((worker, ok, refused))


def last_unit_race(spec: tuple[str, Any]) -> None:
    """8 processes, 10,000 order attempts, 1,000 units: never oversold, every one answered."""
    oms = Oms(open_store(spec))
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", UNITS)
    oms.close()
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    workers = [ctx.Process(target=_buyer, args=(spec, n, ATTEMPTS // 8, results)) for n in range(8)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert sum(ok for _, ok, _ in outcomes) == UNITS
    assert sum(ok + refused for _, ok, refused in outcomes) == ATTEMPTS  # each one answered
    after = Oms(open_store(spec))
    assert after.stock("MUG", "a").committed == UNITS
    assert len(after.orders()) == UNITS
    after.check_invariants()  # every balance equals a replay of the ledger


def _steady_buyer(spec, done):
    oms = Oms(open_store(spec))
    for i in range(10_000):
        oms.place_order(f"c-{i}", [("MUG", 1)])
        done.put(f"c-{i}")


def killed_mid_run(spec: tuple[str, Any]) -> None:
    """kill -9 a busy worker: nothing it was told is committed is lost, nothing half-written."""
    oms = Oms(open_store(spec))
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 100_000)
    oms.close()
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Queue()
    worker = ctx.Process(target=_steady_buyer, args=(spec, done))
    worker.start()
    confirmed = [done.get(timeout=120) for _ in range(50)]  # it is busy committing
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(timeout=30)
    while not done.empty():
        confirmed.append(done.get())
    after = Oms(open_store(spec))
    placed = {o.id for o in after.orders()}
    assert set(confirmed) <= placed  # nothing it was told is committed went missing
    assert after.stock("MUG", "a").committed == len(placed)  # no order without its stock
    assert all(len(after.fulfilment_orders(o)) == 1 for o in placed)
    after.check_invariants()
