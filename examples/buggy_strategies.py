"""Three sourcing rules with the bugs real rules have, and the testing kit catching each.

- ``PerLineGreedy`` fills every line from what the view says is available, forgetting
  what the lines before it took: it oversells when two lines share a SKU.
- ``SkipsFullLocations`` promises to skip locations with no capacity left today, but
  reads the capacity of the wrong location.
- ``CoinFlipOnTies`` breaks ties between equally ranked locations at random.

For each, ``find_bug`` runs a property test written with the kit (generated networks
and requests, the plan invariants, the determinism check); Hypothesis finds a failing
case and shrinks it, and the kit's message names the broken invariant, the input and
why. Run it: ``python examples/buggy_strategies.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from omsims import Location
from omsims.sourcing import (
    Allocation,
    Explanation,
    InventoryView,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)
from omsims.testing.invariants import BrokenInvariant, check_deterministic, check_plan
from omsims.testing.strategies import SourcingCase, networks, sourcing_cases

Take = Callable[[RequestLine], Iterator[tuple[str, int]]]


def _eligible(request: SourcingRequest, inventory: InventoryView) -> list[Location]:
    """Active, shipping, not excluded locations, by priority then id."""
    usable = [
        loc
        for loc in inventory.locations()
        if loc.active and loc.can_ship and loc.id not in request.excluded_locations
    ]
    return sorted(usable, key=lambda loc: (loc.priority, loc.id))


def _plan(name: str, request: SourcingRequest, take: Take) -> SourcingPlan:
    """A plan from ``take(line) -> [(location, units)]``; what is not taken is unfilled."""
    allocations: list[Allocation] = []
    unfilled: list[tuple[int, int]] = []
    for rl in request.lines:
        got = 0
        for loc, units in take(rl):
            allocations.append(Allocation(rl.line, rl.sku, loc, units))
            got += units
        if got < rl.quantity:
            unfilled.append((rl.line, rl.quantity - got))
    return SourcingPlan(tuple(allocations), tuple(unfilled), Explanation(name))


def _fill(
    rl: RequestLine,
    ranked: list[Location],
    inventory: InventoryView,
    taken: dict[tuple[str, str], int],
) -> Iterator[tuple[str, int]]:
    """Take the line from the locations in order, counting what earlier lines took."""
    left = rl.quantity
    for loc in ranked:
        units = min(left, inventory.available(rl.sku, loc.id) - taken.get((rl.sku, loc.id), 0))
        if units > 0:
            taken[rl.sku, loc.id] = taken.get((rl.sku, loc.id), 0) + units
            left -= units
            yield loc.id, units


class PerLineGreedy:
    """Bug: each line sees the full available stock, whatever earlier lines took."""

    name = "per-line greedy"

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        def take(rl: RequestLine) -> Iterator[tuple[str, int]]:
            left = rl.quantity
            for loc in _eligible(request, inventory):
                units = min(left, inventory.available(rl.sku, loc.id))
                if units:
                    left -= units
                    yield loc.id, units

        return _plan(self.name, request, take)


class SkipsFullLocations:
    """Bug: checks the capacity of the first location for every location."""

    name = "skips full locations"

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        ranked = _eligible(request, inventory)
        first = ranked[0] if ranked else None
        usable = [loc for loc in ranked if inventory.capacity_left(first) != 0]  # wrong one
        taken: dict[tuple[str, str], int] = {}
        return _plan(self.name, request, lambda rl: _fill(rl, usable, inventory, taken))


class CoinFlipOnTies:
    """Bug: among locations of equal priority, picks one at random for each line."""

    name = "coin flip on ties"

    def __init__(self) -> None:
        self._rng = random.Random(7)  # noqa: S311 (seeded: the script prints the same every run)

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        taken: dict[tuple[str, str], int] = {}

        def take(rl: RequestLine) -> Iterator[tuple[str, int]]:
            ranked = _eligible(request, inventory)
            self._rng.shuffle(ranked)
            ranked.sort(key=lambda loc: loc.priority)  # stable: the shuffle breaks ties
            return _fill(rl, ranked, inventory, taken)

        return _plan(self.name, request, take)


# What each rule promises besides the plan invariants: the capacity one, to skip full
# locations. Channels are not part of these rules.
PROMISES = {
    "per-line greedy": {"channels": False},
    "skips full locations": {"channels": False, "capacity": True},
    "coin flip on ties": {"channels": False},
}


def find_bug(strategy: SourcingStrategy, *, max_examples: int = 300) -> BrokenInvariant | None:
    """Run the kit's property test on ``strategy``; the BrokenInvariant it finds, or None."""
    cases = sourcing_cases(networks=networks(stock=st.integers(0, 4)))

    # Derandomized, no example database: the same counterexamples every run. Without the
    # explain phase, which reruns a failure many times to say which parts mattered.
    phases = [p for p in Phase if p is not Phase.explain]

    @settings(
        max_examples=max_examples, database=None, derandomize=True, deadline=None, phases=phases
    )
    @given(cases)
    def test_rule(case: SourcingCase) -> None:
        plan = check_deterministic(strategy, case.request, case.network)
        check_plan(plan, case.request, case.network, **PROMISES[strategy.name])

    try:
        test_rule()
    except BrokenInvariant as e:
        return e
    return None


def main() -> None:
    for strategy in (PerLineGreedy(), SkipsFullLocations(), CoinFlipOnTies()):
        broken = find_bug(strategy)
        print(f"== {strategy.name}")
        print(broken if broken is not None else "no bug found")
        print()


if __name__ == "__main__":
    main()
