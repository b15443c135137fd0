"""Checks to call on your own sourcing plans, strategies, ledgers, orders and Oms.

Each check returns nothing when the invariant holds and raises :class:`BrokenInvariant`
(an ``AssertionError``, so pytest and Hypothesis treat it as a test failure) naming the
invariant, the input and why it is broken::

    plan = my_strategy.plan(request, network)
    check_plan(plan, request, network)                 # every plan invariant at once
    check_deterministic(my_strategy, request, network)

The plan invariants, each also a function of its own:

- :func:`well_formed`: a ``SourcingPlan`` whose allocations name lines of the request,
  with the line's SKU and a positive whole quantity;
- :func:`within_available`: on-hand units never exceed what the view says is available
  at the position, backordered units never exceed its backorder room;
- :func:`accounts_for_every_unit`: per line, allocated + unfilled == requested;
- :func:`only_eligible_locations`: only known, active, shipping locations that serve the
  order's channel and were not excluded;
- :func:`within_split_limit`: at most ``max_shipments`` locations, and one location per
  line when lines may not split;
- :func:`within_capacity`: no location whose capacity for today is used up.

>>> from omsims import Location
>>> from omsims.sourcing import Allocation, Explanation, PriorityStrategy, RequestLine
>>> from omsims.sourcing import SourcingPlan, SourcingRequest
>>> from omsims.testing.network import Network
>>> from datetime import UTC, datetime
>>> net = Network([Location("berlin")], {("TEE", "berlin"): 2})
>>> request = SourcingRequest("o1", (RequestLine(1, "TEE", 3),), datetime(2026, 3, 1, tzinfo=UTC))
>>> check_plan(PriorityStrategy().plan(request, net), request, net)
>>> greedy = SourcingPlan((Allocation(1, "TEE", "berlin", 3),), (), Explanation("greedy"))
>>> check_plan(greedy, request, net)
Traceback (most recent call last):
...
omsims.testing.invariants.BrokenInvariant: within available: the plan takes 3 on-hand
units of TEE at berlin, which has 2 available
  request: order o1, lines [1: 3 x TEE], channel web
  network: Network([Location('berlin')], stock={('TEE', 'berlin'): 2})
  plan: 3 x TEE (line 1) from berlin
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from omsims.domain.ledger import Ledger
from omsims.domain.locations import Location
from omsims.domain.orders import Order
from omsims.errors import InvariantViolation
from omsims.sourcing.plan import (
    Allocation,
    InventoryView,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)
from omsims.testing.network import Network

__all__ = [
    "BrokenInvariant",
    "CheckedStrategy",
    "accounts_for_every_unit",
    "check_deterministic",
    "check_ledger",
    "check_oms",
    "check_order",
    "check_plan",
    "describe_plan",
    "describe_request",
    "describe_view",
    "only_eligible_locations",
    "well_formed",
    "within_available",
    "within_capacity",
    "within_split_limit",
]


class BrokenInvariant(InvariantViolation):
    """A check of the testing kit failed: which invariant, on which input, and why.

    Attributes:
        invariant: the invariant's name, e.g. ``"within available"``.
        why: what exactly is wrong.
        inputs: ``(label, description)`` of what the check was given.
    """

    def __init__(self, invariant: str, why: str, inputs: tuple[tuple[str, str], ...] = ()) -> None:
        """Build the message from the parts; see the class docstring."""
        self.invariant = invariant
        self.why = why
        self.inputs = inputs
        lines = [f"{invariant}: {why}", *(f"  {label}: {text}" for label, text in inputs)]
        super().__init__("\n".join(lines))


def describe_request(request: SourcingRequest) -> str:
    """A one-line summary of a request, for failure messages."""
    lines = ", ".join(f"{rl.line}: {rl.quantity} x {rl.sku}" for rl in request.lines)
    text = f"order {request.order_id}, lines [{lines}], channel {request.channel}"
    if request.destination is not None:
        text += f", to {request.destination.latitude:g},{request.destination.longitude:g}"
    if request.excluded_locations:
        text += f", excluding {', '.join(sorted(request.excluded_locations))}"
    return text


def describe_plan(plan: SourcingPlan) -> str:
    """A one-line summary of a plan, for failure messages."""
    parts = [
        f"{a.quantity} x {a.sku} (line {a.line}) from {a.location}"
        + (" backordered" if a.backorder else "")
        for a in plan.allocations
    ]
    parts.extend(f"{units} of line {line} unfilled" for line, units in plan.unfilled)
    return "; ".join(parts) or "nothing"


def describe_view(inventory: InventoryView, request: SourcingRequest) -> str:
    """What a view holds for a request, as a :class:`Network` repr (any view, not just one).

    A :class:`Network` is shown whole; another view (the Oms's own, say) as the network
    it shows for the request's SKUs: every location, and the stock, backorder room and
    capacity left there.
    """
    if isinstance(inventory, Network):
        return repr(inventory)
    locations = list(inventory.locations())
    skus = sorted({rl.sku for rl in request.lines})
    capacity = getattr(inventory, "capacity_left", None)
    seen = Network(
        locations,
        {(s, loc.id): inventory.available(s, loc.id) for s in skus for loc in locations},
        backorder_room={
            (s, loc.id): inventory.backorder_room(s, loc.id) for s in skus for loc in locations
        },
        capacity={} if capacity is None else {loc.id: capacity(loc) for loc in locations},
    )
    return repr(seen)


def _inputs(
    request: SourcingRequest, inventory: InventoryView | None, plan: SourcingPlan | None
) -> tuple[tuple[str, str], ...]:
    out = [("request", describe_request(request))]
    if inventory is not None:
        out.append(("network", describe_view(inventory, request)))
    if plan is not None:
        out.append(("plan", describe_plan(plan)))
    return tuple(out)


def _fail(
    invariant: str,
    why: str,
    request: SourcingRequest,
    inventory: InventoryView | None = None,
    plan: SourcingPlan | None = None,
) -> BrokenInvariant:
    return BrokenInvariant(invariant, why, _inputs(request, inventory, plan))


# -- the plan invariants ---------------------------------------------------------------------


def well_formed(plan: object, request: SourcingRequest) -> None:
    """A ``SourcingPlan``; each allocation names a line of the request, its SKU, units > 0."""
    if not isinstance(plan, SourcingPlan):
        raise _fail("well formed", f"the strategy returned {plan!r}, not a SourcingPlan", request)
    lines = {rl.line: rl for rl in request.lines}
    for a in plan.allocations:
        if not isinstance(a, Allocation):
            raise _fail("well formed", f"{a!r} is not an Allocation", request, plan=plan)
        rl = lines.get(a.line)
        if rl is None:
            raise _fail("well formed", f"an allocation names line {a.line}", request, plan=plan)
        if a.sku != rl.sku:
            why = f"line {a.line} is {rl.sku} but an allocation for it says {a.sku}"
            raise _fail("well formed", why, request, plan=plan)
        if type(a.quantity) is not int or a.quantity <= 0:
            why = f"an allocation of line {a.line} has quantity {a.quantity!r}"
            raise _fail("well formed", why, request, plan=plan)
    for line, units in plan.unfilled:
        if line not in lines or type(units) is not int or units <= 0:
            why = f"unfilled names line {line!r} with {units!r} units"
            raise _fail("well formed", why, request, plan=plan)


def within_available(
    plan: SourcingPlan, request: SourcingRequest, inventory: InventoryView
) -> None:
    """On-hand units within what is available; backordered units within backorder room.

    Units of one SKU at one location are added up over every line first: two lines of
    the same SKU share the same stock.
    """
    on_hand: dict[tuple[str, str], int] = {}
    backordered: dict[tuple[str, str], int] = {}
    for a in plan.allocations:
        if a.reservation is not None:
            continue  # units out of a reservation the Oms holds, not out of available
        book = backordered if a.backorder else on_hand
        book[a.sku, a.location] = book.get((a.sku, a.location), 0) + a.quantity
    for (sku, loc), units in on_hand.items():
        have = inventory.available(sku, loc)
        if units > have:
            why = f"the plan takes {units} on-hand units of {sku} at {loc}, which has {have}"
            why += " available"
            raise _fail("within available", why, request, inventory, plan)
    for (sku, loc), units in backordered.items():
        room = inventory.backorder_room(sku, loc)
        if units > room:
            why = f"the plan backorders {units} units of {sku} at {loc}, which has room for {room}"
            raise _fail("within available", why, request, inventory, plan)


def accounts_for_every_unit(plan: SourcingPlan, request: SourcingRequest) -> None:
    """Per line: units allocated + units unfilled == units requested."""
    unfilled: dict[int, int] = {}
    for line, units in plan.unfilled:
        unfilled[line] = unfilled.get(line, 0) + units
    for rl in request.lines:
        allocated = plan.allocated(rl.line)
        left = unfilled.get(rl.line, 0)
        if allocated + left != rl.quantity:
            why = (
                f"line {rl.line} asks for {rl.quantity} x {rl.sku}; the plan allocates "
                f"{allocated} and leaves {left} unfilled"
            )
            raise _fail("accounts for every unit", why, request, plan=plan)


def only_eligible_locations(
    plan: SourcingPlan, request: SourcingRequest, inventory: InventoryView, *, channels: bool = True
) -> None:
    """Only locations of the view that are active, ship and were not excluded.

    With ``channels`` (the default) also only those serving the request's channel; pass
    False for a rule that, like ``PriorityStrategy``, ignores ``Location.channels``.
    """
    known = {loc.id: loc for loc in inventory.locations()}
    for a in plan.allocations:
        loc = known.get(a.location)
        if loc is None:
            why = f"it allocates from {a.location}, which the network does not have"
        elif a.location in request.excluded_locations:
            why = f"it allocates from {a.location}, which the request excludes"
        elif not loc.active:
            why = f"it allocates from {a.location}, which is inactive"
        elif not loc.can_ship:
            why = f"it allocates from {a.location}, which cannot ship"
        elif channels and not loc.serves(request.channel):
            why = f"it allocates from {a.location}, which does not serve {request.channel!r}"
        else:
            continue
        raise _fail("only eligible locations", why, request, inventory, plan)


def within_split_limit(
    plan: SourcingPlan,
    request: SourcingRequest,
    *,
    max_shipments: int | None = None,
    split_lines: bool = True,
) -> None:
    """At most ``max_shipments`` locations; one location per line unless lines may split."""
    if max_shipments is not None and plan.shipments > max_shipments:
        why = f"the plan ships from {plan.shipments} locations; the limit is {max_shipments}"
        raise _fail("within split limit", why, request, plan=plan)
    if not split_lines:
        where: dict[int, set[str]] = {}
        for a in plan.allocations:
            where.setdefault(a.line, set()).add(a.location)
        for line, locs in sorted(where.items()):
            if len(locs) > 1:
                why = f"line {line} comes from {', '.join(sorted(locs))}; lines may not split"
                raise _fail("within split limit", why, request, plan=plan)


def within_capacity(plan: SourcingPlan, request: SourcingRequest, inventory: InventoryView) -> None:
    """No allocation at a location that may take no more fulfilment orders today."""
    ask: Callable[[Any], int | None] | None = getattr(inventory, "capacity_left", None)
    if ask is None:
        return
    used = {a.location for a in plan.allocations}
    for loc in inventory.locations():
        if loc.id in used and ask(loc) == 0:
            why = f"it allocates from {loc.id}, which has no capacity left today"
            raise _fail("within capacity", why, request, inventory, plan)


def check_plan(
    plan: object,
    request: SourcingRequest,
    inventory: InventoryView,
    *,
    max_shipments: int | None = None,
    split_lines: bool = True,
    capacity: bool = False,
    channels: bool = True,
) -> None:
    """Check every plan invariant; raise :class:`BrokenInvariant` for the first broken.

    Well formed, every unit accounted for, only eligible locations (serving the channel
    unless ``channels=False``), within available, the split limit, and (with
    ``capacity=True``) capacity.
    """
    well_formed(plan, request)
    assert isinstance(plan, SourcingPlan)  # for the type checker: well_formed proved it
    accounts_for_every_unit(plan, request)
    only_eligible_locations(plan, request, inventory, channels=channels)
    within_available(plan, request, inventory)
    within_split_limit(plan, request, max_shipments=max_shipments, split_lines=split_lines)
    if capacity:
        within_capacity(plan, request, inventory)


class _Reversed:
    """The same view with its locations listed in reverse, as a database may list them."""

    def __init__(self, view: InventoryView) -> None:
        self._view = view

    def locations(self) -> Sequence[Location]:
        return list(reversed(self._view.locations()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)  # available, backorder_room and the optional parts


def check_deterministic(
    strategy: SourcingStrategy,
    request: SourcingRequest,
    inventory: InventoryView,
    *,
    runs: int = 10,
) -> SourcingPlan:
    """Check the same request and network always give the same plan.

    The strategy plans ``runs`` times, and once more with the view's locations listed in
    reverse order, as a database may return them.

    Returns the first plan. Raises :class:`BrokenInvariant` naming both plans.
    """
    first = strategy.plan(request, inventory)
    reordered = _Reversed(inventory)
    views: list[InventoryView] = [*([inventory] * (runs - 1)), reordered]
    for n, view in enumerate(views, start=2):
        again = strategy.plan(request, view)
        if (again.allocations, again.unfilled) != (first.allocations, first.unfilled):
            how = "with the locations listed in reverse" if view is reordered else f"on run {n}"
            why = f"{how} the plan was {describe_plan(again)}, not {describe_plan(first)}"
            raise _fail("deterministic", why, request, inventory)
    return first


class CheckedStrategy:
    """A strategy that checks every plan it makes; give it to an Oms to test yours in place.

    >>> from omsims import Oms
    >>> from omsims.sourcing import PriorityStrategy
    >>> oms = Oms(strategy=CheckedStrategy(PriorityStrategy()))
    >>> oms.strategy.name
    'priority'
    """

    def __init__(
        self,
        strategy: SourcingStrategy,
        *,
        max_shipments: int | None = None,
        split_lines: bool = True,
        capacity: bool = False,
        channels: bool = True,
        deterministic: bool = True,
    ) -> None:
        """Wrap ``strategy``; the options are :func:`check_plan`'s."""
        self.strategy = strategy
        self.name = strategy.name
        self.options: dict[str, Any] = {
            "max_shipments": max_shipments,
            "split_lines": split_lines,
            "capacity": capacity,
            "channels": channels,
        }
        self.deterministic = deterministic
        self.plans = 0

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        """The wrapped strategy's plan, once every invariant held on it."""
        if self.deterministic:
            plan = check_deterministic(self.strategy, request, inventory, runs=2)
        else:
            plan = self.strategy.plan(request, inventory)
        check_plan(plan, request, inventory, **self.options)
        self.plans += 1
        return plan


# -- ledgers, orders and whole systems --------------------------------------------------------


def check_ledger(ledger: Ledger) -> None:
    """Cached balances equal a replay of the entries, and every ledger rule holds."""
    try:
        ledger.check_invariants()
    except InvariantViolation as e:
        raise BrokenInvariant("ledger replays to its balances", str(e)) from e


def check_order(order: Order) -> None:
    """Check an order's counters add up, and its payment's.

    Per line none of committed, backordered, shipped, cancelled and unallocated is
    negative (they sum to the quantity), returned <= delivered <= shipped, and lost and
    unclaimed parcels fit in what is in transit: ``Order.check_invariants``'s rules,
    reported as a :class:`BrokenInvariant` naming the order.
    """
    try:
        order.check_invariants()
    except InvariantViolation as e:
        raise BrokenInvariant("order counters add up", str(e), (("order", order.id),)) from e


def check_oms(oms: Any) -> None:
    """Everything an :class:`~omsims.Oms` promises about its state.

    The ledger replays to its balances, every order's counters add up and agree with its
    fulfilment orders, and no position shows negative available or free stock.
    """
    try:
        oms.check_invariants()
    except InvariantViolation as e:
        raise BrokenInvariant("the Oms agrees with its ledger", str(e)) from e
    for order in oms.orders():
        check_order(order)
    for sku, loc in oms.positions():
        level = oms.stock(sku, loc)
        if level.available < 0 or level.free < 0:
            why = f"{sku} at {loc} shows available {level.available}, free {level.free}"
            raise BrokenInvariant("stock never negative", why)
