"""Replenishment inside a simulation: the rules, the demand they forecast from, arrivals.

The simulator reviews the covered positions once a day through
:meth:`omsims.Oms.plan_replenishment`, approves every proposal with
:meth:`omsims.Oms.approve_proposal`, and receives each when it arrives (see
:mod:`omsims.simulation.engine`). This module holds what that needs besides the Oms:

- the :class:`~omsims.replenishment.Rules` for the covered positions;
- :class:`DailyDemand`, the units each covered position shipped per day and its
  stock-out days, kept as the ledger entries come in. It gives the same history as
  :meth:`omsims.Oms.demand_history` would by replaying the whole ledger (days counted
  from the scenario's start), at the cost of a few dictionary lookups per entry, so a
  daily review does not replay the ledger every simulated day;
- the arrival of an approved proposal: its due date, moved by the lead time's
  deviation with a generator seeded by the run's seed and the proposal's id, so every
  strategy and policy that makes the same proposal sees it arrive at the same time.

Before the start each position is given ``prior_days`` of history: draws from a Poisson
distribution whose mean is its share of the SKU's expected demand, the share being its
share of the SKU's opening stock (what the scenario stocked it for). Without them the
first reviews would forecast from a day or two.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs

from omsims.domain.stock import FREE_SIGNS, EntryKind, LedgerEntry
from omsims.replenishment import LeadTime, Proposal, ProposalKind, Rule, Rules
from omsims.simulation.policies import PolicySpec, Replenishment

__all__ = ["DailyDemand", "Replenisher"]

_ONE_DAY = timedelta(days=1)
_SHIPPED = EntryKind.SHIPPED
Position = tuple[str, str]


@attrs.define
class _Track:
    """One position's days: units shipped (from ``-prior`` on), stock-out days, free now."""

    units: list[int]
    stockouts: list[int] = attrs.field(factory=list)
    """Days with nothing free after an entry, or all day long; ascending."""
    free: int = 0
    last: int = -1
    """The last day with an entry."""


class DailyDemand:
    """Units shipped per position per day, and stock-out days, fed entry by entry.

    >>> from datetime import UTC, datetime
    >>> from omsims import Ledger
    >>> start = datetime(2026, 3, 1, tzinfo=UTC)
    >>> ledger = Ledger()
    >>> ledger.add_location("dc")
    >>> _ = ledger.receive("MUG", "dc", 3, at=start)
    >>> for day, units in [(0, 1), (1, 2)]:
    ...     at = start + timedelta(days=day, hours=12)
    ...     _ = ledger.commit("MUG", "dc", units, at=at, reference=f"o{day}/1")
    ...     _ = ledger.ship("MUG", "dc", units, at=at, reference=f"o{day}/1")
    >>> demand = DailyDemand([("MUG", "dc")], start)
    >>> for entry in ledger.entries():
    ...     demand.observe(entry)
    >>> demand.history(4, days=4)[("MUG", "dc")]  # days 1 to 3 ran out: day 0 is left
    [1]

    Runtime complexity: O(1) per entry; a history is O(p * days) for p positions.
    """

    def __init__(
        self,
        positions: Iterable[Position],
        start: datetime,
        prior: Mapping[Position, list[int]] | None = None,
        prior_days: int = 0,
    ) -> None:
        """Track ``positions`` from ``start``, with ``prior_days`` of ``prior`` before it."""
        self.start = start
        self.prior_days = prior_days
        given = prior or {}
        self.tracks: dict[Position, _Track] = {
            pos: _Track(list(given.get(pos, [0] * prior_days))) for pos in positions
        }

    def observe(self, entry: LedgerEntry) -> None:
        """Count one ledger entry: a shipment's units, and what it did to the free units."""
        track = self.tracks.get((entry.sku, entry.location))
        if track is None:
            return
        day = (entry.at - self.start) // _ONE_DAY
        if day > track.last:
            if track.free <= 0 and track.last + 1 < day:
                track.stockouts.extend(range(max(track.last + 1, 0), day))
            track.last = day
        track.free += FREE_SIGNS[entry.kind] * entry.quantity
        if entry.kind is _SHIPPED:
            i = day + self.prior_days
            units = track.units
            if len(units) <= i:
                units.extend([0] * (i + 1 - len(units)))
            units[i] += entry.quantity
        if track.free <= 0 and (not track.stockouts or track.stockouts[-1] != day):
            track.stockouts.append(day)

    def history(self, today: int, *, days: int) -> dict[Position, list[int]]:
        """Each position's units over the ``days`` days before day ``today``, oldest first.

        Stock-out days are left out, unless every day of the window is one (then the
        whole window, as :meth:`omsims.replenishment.DemandHistory.series` does).
        """
        low = today - days
        prior = self.prior_days
        before = max(0, -prior - low)  # days before the prior: nothing known, out
        first = max(low, -prior)
        out: dict[Position, list[int]] = {}
        for pos, t in self.tracks.items():
            units = t.units
            if len(units) < today + prior:
                units.extend([0] * (today + prior - len(units)))
            values = units[first + prior : today + prior]
            lo = bisect.bisect_left(t.stockouts, first)
            hi = bisect.bisect_left(t.stockouts, today)
            dry = max(t.last + 1 if t.free <= 0 else today, first, 0)
            dropped = (hi - lo) + (today - dry)
            if not dropped:
                out[pos] = values
            elif dropped + before >= days:
                out[pos] = [0] * before + values
            else:
                skip = set(t.stockouts[lo:hi])
                skip.update(range(dry, today))
                out[pos] = [v for d, v in enumerate(values, first) if d not in skip]
        return out


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's product of uniforms; a rounded normal for large means)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Replenisher:
    """What a run needs to replenish: the rules, the demand history, arrival times."""

    def __init__(
        self,
        section: Replenishment,
        spec: PolicySpec,
        *,
        seed: int,
        start: datetime,
        opening: list[tuple[str, str, int]],
        kinds: Mapping[str, str],
        daily_units: Mapping[str, float],
    ) -> None:
        """Cover the positions ``opening`` stocks (sku, location, units) at covered kinds.

        ``kinds`` gives each location's kind, ``daily_units`` each SKU's expected units
        per day (the prior's mean).
        """
        self.section = section
        self.seed = seed
        self.start = start
        self.review_offset = timedelta(
            hours=section.review_at.hour, minutes=section.review_at.minute
        )
        wanted = set(section.location_kinds)
        held: dict[Position, int] = {}
        total: dict[str, int] = {}
        for sku, loc, units in opening:
            total[sku] = total.get(sku, 0) + units
            if kinds[loc] in wanted:
                held[sku, loc] = held.get((sku, loc), 0) + units
        covered = sorted(pos for pos, units in held.items() if units > 0)
        rule = Rule(spec.policy, section.supplier, spec.forecaster)
        self.rules = Rules(positions=dict.fromkeys(covered, rule))
        prior_days = section.prior_days
        prior = {}
        for sku, loc in covered:
            mean = daily_units.get(sku, 0.0) * held[sku, loc] / total[sku]
            rng = random.Random(f"omsims:{seed}:prior:{sku}:{loc}")  # noqa: S311
            prior[sku, loc] = [_poisson(rng, mean) for _ in range(prior_days)]
        self.demand = DailyDemand(covered, start, prior, prior_days)

    def history(self, day: int) -> dict[Position, list[int]]:
        """The demand history for the review on day ``day`` (days count from the start)."""
        return self.demand.history(day, days=self.section.history_days)

    def arrival(self, proposal: Proposal, now: datetime) -> datetime:
        """When an approved proposal arrives: its due date, moved by the lead time's noise."""
        lead: LeadTime = self.section.transfer_lead_time
        if proposal.kind is ProposalKind.PURCHASE:
            lead = self.section.supplier.lead_time_to(proposal.location)
        when = proposal.due
        if lead.sd > 0:
            rng = random.Random(f"omsims:{self.seed}:lead:{proposal.id}")  # noqa: S311
            when += timedelta(days=rng.gauss(0.0, lead.sd))
        return max(when, now)
