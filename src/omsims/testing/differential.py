"""Two strategies on the same generated inputs: where their plans differ, and by how much.

>>> from hypothesis import strategies as st
>>> from omsims.sourcing import MinimizeSplits, Nearest
>>> from omsims.testing.strategies import geo_points, locations, networks, sourcing_cases
>>> on_the_map = locations(  # every location eligible and placed: where the two disagree
...     active=st.just(True), can_ship=st.just(True), channels=st.none(), coordinates=geo_points()
... )
>>> cases = sourcing_cases(
...     networks=networks(min_locations=3, location=on_the_map), destination=geo_points()
... )
>>> report = differential(Nearest(), MinimizeSplits(), kpi="shipments", cases=cases)
>>> report.cases
200
>>> report.b_better > 0  # MinimizeSplits often ships from fewer locations
True

Lower is better for every KPI. Built in: ``"shipments"`` (locations shipped from),
``"distance"`` (kilometres from each shipping location to the destination),
``"unfilled"`` (units left unfilled); :func:`cost` builds one from a carrier. Any
callable ``(plan, case) -> float`` is a KPI too.

:func:`check_no_worse` turns a comparison into a property test: it fails, with a
shrunk counterexample, on the first case where the candidate does worse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from omsims.sourcing.carriers import Carrier
from omsims.sourcing.plan import SourcingPlan, SourcingStrategy
from omsims.testing.invariants import BrokenInvariant, describe_plan, describe_request
from omsims.testing.strategies import SourcingCase, sourcing_cases

__all__ = [
    "KPIS",
    "Difference",
    "DifferentialReport",
    "Kpi",
    "check_no_worse",
    "cost",
    "differential",
]

Kpi = Callable[[SourcingPlan, SourcingCase], float]


def _shipments(plan: SourcingPlan, _case: SourcingCase) -> float:
    return float(plan.shipments)


def _distance(plan: SourcingPlan, case: SourcingCase) -> float:
    destination = case.request.destination
    if destination is None:
        return 0.0
    total = 0.0
    for loc_id in sorted({a.location for a in plan.allocations}):
        loc = case.network.location(loc_id)
        if loc is not None and loc.coordinates is not None:
            total += loc.coordinates.distance_km(destination)
    return total


def _unfilled(plan: SourcingPlan, _case: SourcingCase) -> float:
    return float(sum(units for _line, units in plan.unfilled))


KPIS: Mapping[str, Kpi] = {
    "shipments": _shipments,
    "distance": _distance,
    "unfilled": _unfilled,
}
"""The built-in KPIs by name; lower is better for each."""


def cost(
    carrier: Carrier,
    *,
    weights: Mapping[str, Decimal | float] | None = None,
    default_weight_kg: Decimal | float = 1,
) -> Kpi:
    """A KPI: what ``carrier`` quotes for each shipment of the plan, added up.

    Weights are per unit of SKU (``default_weight_kg`` for the others); a shipment the
    carrier will not quote for costs nothing, so compare ``"unfilled"`` alongside.
    """
    unit_weight = {k: Decimal(str(v)) for k, v in (weights or {}).items()}
    default = Decimal(str(default_weight_kg))

    def shipping_cost(plan: SourcingPlan, case: SourcingCase) -> float:
        kg: dict[str, Decimal] = {}
        for a in plan.allocations:
            kg[a.location] = kg.get(a.location, Decimal(0)) + a.quantity * unit_weight.get(
                a.sku, default
            )
        total = Decimal(0)
        for loc_id, weight in sorted(kg.items()):
            loc = case.network.location(loc_id)
            quote = None if loc is None else carrier.quote(loc, case.request.destination, weight)
            if quote is not None:
                total += quote.cost.amount
        return float(total)

    return shipping_cost


@attrs.frozen
class Difference:
    """One case on which the two plans differ, and each plan's KPI value."""

    case: SourcingCase
    a: SourcingPlan
    b: SourcingPlan
    a_value: float
    b_value: float

    @property
    def delta(self) -> float:
        """``b_value - a_value``: positive when ``b`` does worse."""
        return self.b_value - self.a_value

    def __str__(self) -> str:
        """The case and both plans, one per line."""
        return (
            f"on {describe_request(self.case.request)}\n"
            f"  network: {self.case.network!r}\n"
            f"  a ({self.a_value:g}): {describe_plan(self.a)}\n"
            f"  b ({self.b_value:g}): {describe_plan(self.b)}"
        )


@attrs.frozen
class DifferentialReport:
    """What :func:`differential` found: counts, the mean change and every difference."""

    a_name: str
    b_name: str
    kpi: str
    cases: int
    differences: tuple[Difference, ...]

    @property
    def differing(self) -> int:
        """Cases on which the plans allocate differently."""
        return len(self.differences)

    @property
    def b_better(self) -> int:
        """Cases on which ``b`` scores lower (better) than ``a``."""
        return sum(1 for d in self.differences if d.delta < 0)

    @property
    def b_worse(self) -> int:
        """Cases on which ``b`` scores higher (worse) than ``a``."""
        return sum(1 for d in self.differences if d.delta > 0)

    @property
    def mean_delta(self) -> float:
        """The mean of ``b - a`` over every case (0 where the plans agree)."""
        return sum(d.delta for d in self.differences) / self.cases if self.cases else 0.0

    @property
    def worst(self) -> Difference | None:
        """The difference where ``b`` does worst against ``a`` (None if it never does)."""
        worse = [d for d in self.differences if d.delta > 0]
        return max(worse, key=lambda d: d.delta) if worse else None

    def __str__(self) -> str:
        """A short summary, and the worst case for ``b`` if there is one."""
        text = (
            f"{self.a_name} (a) against {self.b_name} (b) on {self.kpi}, lower is better: "
            f"{self.cases} cases, plans differ in {self.differing}; b better in "
            f"{self.b_better}, worse in {self.b_worse}; mean change b - a {self.mean_delta:+.3g}"
        )
        if self.worst is not None:
            text += f"\nworst for b, by {self.worst.delta:+g}: {self.worst}"
        return text


def _kpi(kpi: str | Kpi) -> tuple[str, Kpi]:
    if isinstance(kpi, str):
        if kpi not in KPIS:
            known = ", ".join(sorted(KPIS))
            raise ValueError(f"unknown KPI {kpi!r}: use one of {known}, or a callable")
        return kpi, KPIS[kpi]
    return getattr(kpi, "__name__", "kpi"), kpi


def _settings(max_examples: int) -> settings:
    # No example database: a comparison is a measurement, not a search for a bug.
    return settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        # The explain phase reruns a failure many times to say which parts mattered; the
        # kit's message already says what is wrong, and the reruns cost seconds.
        phases=[p for p in Phase if p is not Phase.explain],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def differential(
    a: SourcingStrategy,
    b: SourcingStrategy,
    *,
    kpi: str | Kpi = "shipments",
    cases: st.SearchStrategy[SourcingCase] | None = None,
    max_examples: int = 200,
) -> DifferentialReport:
    """Plan the same generated cases with ``a`` and ``b``; report where they differ.

    Cases come from ``cases`` (default: :func:`~omsims.testing.strategies.sourcing_cases`),
    drawn deterministically, so a report is reproducible.
    """
    name, measure = _kpi(kpi)
    found: list[Difference] = []
    seen = 0

    @_settings(max_examples)
    @given(cases if cases is not None else sourcing_cases())
    def run(case: SourcingCase) -> None:
        nonlocal seen
        seen += 1
        pa = a.plan(case.request, case.network)
        pb = b.plan(case.request, case.network)
        if (pa.allocations, pa.unfilled) != (pb.allocations, pb.unfilled):
            found.append(Difference(case, pa, pb, measure(pa, case), measure(pb, case)))

    run()
    return DifferentialReport(a.name, b.name, name, seen, tuple(found))


def check_no_worse(
    candidate: SourcingStrategy,
    baseline: SourcingStrategy,
    *,
    kpi: str | Kpi = "shipments",
    cases: st.SearchStrategy[SourcingCase] | None = None,
    max_examples: int = 200,
    tolerance: float = 1e-9,
) -> None:
    """Fail if ``candidate`` ever scores worse than ``baseline`` on ``kpi``.

    Hypothesis searches the cases and shrinks a failure to a small one; the
    :class:`~omsims.testing.invariants.BrokenInvariant` names both plans.
    """
    name, measure = _kpi(kpi)

    @_settings(max_examples)
    @given(cases if cases is not None else sourcing_cases())
    def run(case: SourcingCase) -> None:
        pc = candidate.plan(case.request, case.network)
        pb = baseline.plan(case.request, case.network)
        worse = measure(pc, case) - measure(pb, case)
        if worse > tolerance:
            raise BrokenInvariant(
                f"{candidate.name} no worse than {baseline.name} on {name}",
                f"{candidate.name} scores {measure(pc, case):g}, {baseline.name} "
                f"{measure(pb, case):g}",
                (
                    ("request", describe_request(case.request)),
                    ("network", repr(case.network)),
                    (candidate.name, describe_plan(pc)),
                    (baseline.name, describe_plan(pb)),
                ),
            )

    run()
