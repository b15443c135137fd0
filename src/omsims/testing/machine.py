"""A Hypothesis state machine that drives an Oms with your strategy and your store.

Random commands (receipts, orders by every delivery method, acceptance, rejection,
shipping, delivery, cancellation, reservations, transfers, returns, time passing) run
against one :class:`~omsims.Oms`; after every step every invariant is checked:

- every plan your strategy makes keeps the plan invariants and is deterministic
  (:class:`~omsims.testing.invariants.CheckedStrategy` wraps it in place);
- the ledger replays to its balances, order counters add up and agree with the
  fulfilment orders, no stock goes negative (:func:`~omsims.testing.invariants.check_oms`);
- a refused command raised a typed ``OmsimsError`` and changed nothing;
- a command retried with the same idempotency key has the effect of one.

Using it takes a subclass::

    from omsims.testing.machine import OmsMachine

    class MyRuleMachine(OmsMachine):
        def make_strategy(self):
            return MyRule()

    TestMyRule = MyRuleMachine.TestCase

Override :meth:`OmsMachine.make_store` to run it on your storage adapter, and
``plan_checks`` to check a split limit or capacity your rule promises.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from omsims.adapters.clock import ManualClock
from omsims.domain.locations import Location, LocationKind
from omsims.errors import InvalidPlan, InvariantViolation, OmsimsError
from omsims.oms import Oms
from omsims.ports import UnitOfWorkFactory
from omsims.sourcing.plan import SourcingStrategy
from omsims.sourcing.priority import PriorityStrategy
from omsims.testing.invariants import BrokenInvariant, CheckedStrategy, check_oms
from omsims.testing.plugin import T0
from omsims.testing.strategies import DELIVERY_METHODS
from omsims.testing.strategies import orders as order_specs

__all__ = ["OmsMachine"]

_T = TypeVar("_T")

SKUS = ("A", "B")
LOCATIONS = (
    Location("w1", priority=1),
    Location("w2", priority=2),
    Location("s1", kind=LocationKind.STORE, priority=3, can_pickup=True),
)

skus = st.sampled_from(SKUS)
location_ids = st.sampled_from([loc.id for loc in LOCATIONS])
units = st.integers(1, 6)


class OmsMachine(RuleBasedStateMachine):
    """Random commands on one Oms; every invariant checked after each step.

    Class attributes to override:
        plan_checks: options for :class:`~omsims.testing.invariants.CheckedStrategy`
            (``max_shipments``, ``split_lines``, ``capacity``, ``deterministic``).
    """

    plan_checks: ClassVar[dict[str, Any]] = {}

    orders = Bundle("orders")
    shipments = Bundle("shipments")
    reservations = Bundle("reservations")

    # -- what a subclass changes -----------------------------------------------------------

    def make_strategy(self) -> SourcingStrategy:
        """The strategy under test (default: the built-in priority strategy)."""
        return PriorityStrategy()

    def make_store(self) -> UnitOfWorkFactory | None:
        """The storage under test (default: None, the in-memory store)."""
        return None

    # -- set-up and the checks -------------------------------------------------------------

    @initialize()
    def set_up(self) -> None:
        """A fresh Oms over the store, with three locations and two SKUs."""
        self.clock = ManualClock(T0)
        self.strategy = CheckedStrategy(self.make_strategy(), **self.plan_checks)
        self.oms = Oms(self.make_store(), clock=self.clock, strategy=self.strategy)
        for loc in LOCATIONS:
            self.oms.add_location(loc)
        for sku in SKUS:
            self.oms.add_sku(sku)
        self.n = 0
        # One backorderable position from the start, so backorder paths are reached early.
        self.oms.configure_position("A", "w2", allow_backorders=True)

    def teardown(self) -> None:
        """Close the store (a durable adapter's connection)."""
        oms = getattr(self, "oms", None)
        if oms is not None:
            oms.close()

    @invariant()
    def everything_agrees(self) -> None:
        """The Oms's invariants hold after every step."""
        if hasattr(self, "oms"):
            check_oms(self.oms)

    def _state(self) -> tuple[object, ...]:
        """Everything a command could change, to prove a refusal changed nothing."""
        oms = self.oms
        orders = oms.orders()
        return (
            oms.entries(),
            [(o.id, o.lines, o.excluded_locations) for o in orders],
            [oms.fulfilment_orders(o.id) for o in orders],
            [oms.shipments(o.id) for o in orders],
            oms.reservations(active_only=False),
            [oms.stock(s, loc.id) for s in SKUS for loc in LOCATIONS],
        )

    def _try(self, call: Callable[[], _T]) -> _T | None:
        """Commands may be refused; a refusal must be typed and must change nothing.

        A broken invariant, or a plan the Oms found invalid, is a failure, not a refusal.
        """
        before = self._state()
        try:
            return call()
        except (InvariantViolation, InvalidPlan):
            raise
        except OmsimsError:
            after = self._state()
            if after != before:
                raise BrokenInvariant(
                    "a refused command writes nothing",
                    "a command raised a typed error but changed the Oms's state",
                ) from None
            return None

    def _fulfilment(self, order_id: str, newest: bool) -> str:
        fos = self.oms.fulfilment_orders(order_id)
        return (fos[-1] if newest else fos[0]).id if fos else "none"

    # -- stock -----------------------------------------------------------------------------

    @rule(sku=skus, loc=location_ids, n=units)
    def receive(self, sku: str, loc: str, n: int) -> None:
        """Receive units."""
        self.oms.receive(sku, loc, n)

    @rule(sku=skus, loc=location_ids, n=units, key=st.sampled_from(["k1", "k2"]))
    def receive_with_a_key(self, sku: str, loc: str, n: int, key: str) -> None:
        """A retried key has the effect of one call; a reused key with other data is refused."""
        first = self._try(lambda: self.oms.receive(sku, loc, n, idempotency_key=key))
        if first is not None:
            after = self._state()
            again = self.oms.receive(sku, loc, n, idempotency_key=key)
            if again != first or self._state() != after:
                raise BrokenInvariant(
                    "a retried command has the effect of one",
                    f"receive({sku!r}, {loc!r}, {n}) retried under key {key!r} changed state",
                )

    @rule(sku=skus, loc=location_ids, n=units, scrap=st.booleans())
    def hold_then_write_off(self, sku: str, loc: str, n: int, scrap: bool) -> None:
        """Put units on hold, and maybe scrap them."""
        if self._try(lambda: self.oms.hold(sku, loc, n, reason="damaged")) and scrap:
            self.oms.write_off(sku, loc, n, reason="scrapped", from_unavailable=True)

    @rule(sku=skus, loc=location_ids, n=units)
    def write_off(self, sku: str, loc: str, n: int) -> None:
        """Write off available units."""
        self._try(lambda: self.oms.write_off(sku, loc, n, reason="lost"))

    @rule(sku=skus, loc=location_ids, n=st.integers(-4, 4).filter(bool))
    def adjust(self, sku: str, loc: str, n: int) -> None:
        """Correct a count."""
        self._try(lambda: self.oms.adjust(sku, loc, n, reason="count"))

    @rule(sku=skus, loc=location_ids, limit=st.none() | st.integers(0, 5))
    def allow_backorders(self, sku: str, loc: str, limit: int | None) -> None:
        """Let a position take backorders."""
        self._try(
            lambda: self.oms.configure_position(
                sku, loc, allow_backorders=True, backorder_limit=limit
            )
        )

    @rule(sku=skus, loc=location_ids, n=st.integers(0, 3))
    def safety_stock(self, sku: str, loc: str, n: int) -> None:
        """Keep units back from sale."""
        self.oms.configure_position(sku, loc, safety_stock=n)

    @rule(sku=skus, src=location_ids, dst=location_ids, n=units)
    def transfer(self, sku: str, src: str, dst: str, n: int) -> None:
        """Move units between locations; odd transfers are cancelled, even ones received."""
        eta = self.clock.now() + timedelta(days=1)
        t = self._try(lambda: self.oms.transfer(sku, src, dst, n, eta=eta))
        if t is not None:
            if n % 2:
                self.oms.cancel_transfer(t.id)
            else:
                self.oms.receive_transfer(t.id)

    @rule(sku=skus, loc=location_ids, n=units, cancel=st.booleans())
    def expect_and_receive(self, sku: str, loc: str, n: int, cancel: bool) -> None:
        """Announce supply, then receive or cancel it."""
        line = self.oms.expect(sku, loc, n, eta=self.clock.now() + timedelta(days=3))
        if cancel:
            self.oms.cancel_expected(line.id)
        else:
            self.oms.receive_expected(line.id)

    # -- orders ----------------------------------------------------------------------------

    @rule(
        target=orders,
        spec=order_specs(sku_ids=SKUS, stores=("s1",), methods=st.sampled_from(DELIVERY_METHODS)),
        partial=st.booleans(),
    )
    def place(self, spec: Any, partial: bool) -> Any:
        """Place an order by any delivery method."""
        self.n += 1
        order_id = f"o{self.n}"
        placed = self._try(
            lambda: self.oms.place_order(
                order_id, list(spec.lines), **spec.delivery(), allow_partial=partial
            )
        )
        return placed.id if placed is not None else multiple()

    @rule(order_id=orders, newest=st.booleans())
    def accept(self, order_id: str, newest: bool) -> None:
        """A location accepts a fulfilment order."""
        self._try(lambda: self.oms.accept(self._fulfilment(order_id, newest)))

    @rule(order_id=orders, newest=st.booleans())
    def reject(self, order_id: str, newest: bool) -> None:
        """A location rejects a fulfilment order: the strategy sources it again."""
        self._try(lambda: self.oms.reject(self._fulfilment(order_id, newest), reason="cannot"))

    @rule(target=shipments, order_id=orders, newest=st.booleans())
    def accept_and_ship(self, order_id: str, newest: bool) -> Any:
        """Accept and ship a fulfilment order."""
        fo = self._fulfilment(order_id, newest)
        self._try(lambda: self.oms.accept(fo))
        s = self._try(lambda: self.oms.ship(fo, tracking="T"))
        return s.id if s is not None else multiple()

    @rule(shipment=consumes(shipments))
    def deliver(self, shipment: str) -> None:
        """A parcel arrives."""
        self._try(lambda: self.oms.deliver(shipment))

    @rule(order_id=orders, newest=st.booleans())
    def ready_and_collect(self, order_id: str, newest: bool) -> None:
        """A pickup order is made ready at the store and collected."""
        fo = self._fulfilment(order_id, newest)
        if self._try(lambda: self.oms.ready_for_pickup(fo)) is not None:
            self._try(lambda: self.oms.pick_up(order_id))

    @rule(order_id=orders, line=st.integers(1, 3), n=units, loc=location_ids, restock=st.booleans())
    def return_units(self, order_id: str, line: int, n: int, loc: str, restock: bool) -> None:
        """Units come back."""
        self._try(
            lambda: self.oms.return_units(
                order_id, line, n, location=loc, restock=restock, reason="torn"
            )
        )

    @rule(order_id=orders, line=st.integers(1, 3), n=units)
    def cancel_lines(self, order_id: str, line: int, n: int) -> None:
        """Cancel some units of a line."""
        self._try(lambda: self.oms.cancel_lines(order_id, {line: n}))

    @rule(order_id=orders)
    def cancel_order(self, order_id: str) -> None:
        """Cancel what is left of an order."""
        self._try(lambda: self.oms.cancel_order(order_id))

    @rule(order_id=orders)
    def reallocate(self, order_id: str) -> None:
        """Source an order's unallocated units again."""
        self._try(lambda: self.oms.reallocate(order_id))

    @rule(order_id=orders, newest=st.booleans())
    def hold_and_release_fulfilment(self, order_id: str, newest: bool) -> None:
        """Hold a fulfilment order and let it go."""
        fo = self._fulfilment(order_id, newest)
        if self._try(lambda: self.oms.hold_fulfilment(fo, reason="check")):
            self.oms.release_fulfilment(fo)

    # -- reservations and time -------------------------------------------------------------

    @rule(target=reservations, sku=skus, loc=location_ids, n=units, minutes=st.integers(1, 60))
    def reserve(self, sku: str, loc: str, n: int, minutes: int) -> Any:
        """Reserve units for a while."""
        until = self.clock.now() + timedelta(minutes=minutes)
        r = self._try(lambda: self.oms.reserve(sku, loc, n, expires_at=until))
        return r.id if r is not None else multiple()

    @rule(reservation=consumes(reservations))
    def release(self, reservation: str) -> None:
        """Let a reservation go."""
        self._try(lambda: self.oms.release(reservation))

    @precondition(lambda self: hasattr(self, "clock"))
    @rule(minutes=st.integers(1, 90))
    def time_passes(self, minutes: int) -> None:
        """Time passes; reservations that ran out expire."""
        self.clock.advance(minutes=minutes)
        self.oms.expire_reservations()
