"""Replenishment proposals: what to buy and what to move, and why.

:func:`plan_replenishment` reviews every position that has a :class:`Rule`. It forecasts
the position's demand, sets the policy's levels, and compares them with the inventory
position. Short positions are first served by *transfers* from positions of the same
SKU that hold more than their own order-up-to level (free units only), then by a
*purchase* from the rule's supplier, rounded to its minimum and pack size. No proposal
lifts a position past its policy's maximum, and no transfer takes a donor below its own
order-up-to level.

>>> from datetime import datetime, UTC
>>> from omsims import StockLevel
>>> from omsims.replenishment import MinMax, Rule, Supplier, plan_replenishment
>>> stock = [StockLevel("MUG", "dc", on_hand=120), StockLevel("MUG", "store", on_hand=4)]
>>> history = {("MUG", "dc"): [0] * 28, ("MUG", "store"): [2] * 28}
>>> rule = Rule(MinMax(minimum=10, maximum=40), Supplier("acme", multiple=12))
>>> plan = plan_replenishment(stock, history, rule, now=datetime(2026, 3, 2, tzinfo=UTC))
>>> [transfer] = plan.proposals
>>> print(transfer)  # doctest: +NORMALIZE_WHITESPACE
move 36 MUG dc -> store, due 2026-03-04: store's inventory position 4 is at or below
its minimum 10; dc has 80 free units above its order-up-to 40

Everything is pure: the Oms gathers the stock and the history from its ledger
(:meth:`omsims.Oms.plan_replenishment`) and posts an approved proposal as incoming
supply (:meth:`omsims.Oms.approve_proposal`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from omsims.domain.stock import StockLevel
from omsims.domain.values import aware
from omsims.errors import InvalidParameter
from omsims.replenishment.forecast import Forecaster, MovingAverage
from omsims.replenishment.policies import (
    LeadTime,
    Levels,
    MinMax,
    Outlook,
    PeriodicReview,
    Policy,
    ReorderPoint,
    Supplier,
)

__all__ = [
    "DEFAULT_TRANSFER_LEAD_TIME",
    "Proposal",
    "ProposalKind",
    "ReplenishmentPlan",
    "Rule",
    "Rules",
    "Skipped",
    "inventory_position",
    "plan_replenishment",
]

DEFAULT_TRANSFER_LEAD_TIME: Final = LeadTime(2)
"""How long a transfer between two locations takes unless told otherwise."""

Position = tuple[str, str]


class ProposalKind(enum.Enum):
    """A purchase from a supplier, or a transfer between two locations."""

    PURCHASE = "buy"
    TRANSFER = "move"


def _policy(_instance: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, ReorderPoint | MinMax | PeriodicReview):
        raise InvalidParameter(
            f"a rule's policy must be ReorderPoint, MinMax or PeriodicReview, not {value!r}"
        )


def _supplier(_instance: Any, _attribute: Any, value: Any) -> None:
    if value is not None and not isinstance(value, Supplier):
        raise InvalidParameter(f"a rule's supplier must be a Supplier or None, not {value!r}")


@attrs.frozen
class Rule:
    """How one position is replenished: its policy, its supplier, its forecaster.

    Without a supplier the position is only ever served by transfers.
    """

    policy: Policy = attrs.field(validator=_policy)
    supplier: Supplier | None = attrs.field(default=None, validator=_supplier)
    forecaster: Forecaster = attrs.field(factory=lambda: MovingAverage(28))


def _as_rule(value: Any) -> Rule | None:
    if isinstance(value, ReorderPoint | MinMax | PeriodicReview):
        return Rule(value)
    if value is not None and not isinstance(value, Rule):
        raise InvalidParameter(f"rules must be a Rules, a Rule or a policy, not {value!r}")
    return value


@attrs.frozen
class Rules:
    """Rules for a network: per position, else per SKU, else a default (or none).

    >>> rules = Rules(MinMax(), skus={"MUG": Rule(ReorderPoint(quantity=10))})
    >>> rules.for_position("MUG", "dc").policy
    ReorderPoint(quantity=10, ...)
    >>> rules.for_position("CAP", "dc").policy
    MinMax(...)
    """

    default: Rule | None = attrs.field(default=None, converter=_as_rule)
    skus: Mapping[str, Rule] = attrs.field(factory=dict)
    positions: Mapping[Position, Rule] = attrs.field(factory=dict)

    def for_position(self, sku: str, location: str) -> Rule | None:
        """The rule for a position: its own, its SKU's, or the default."""
        rule = self.positions.get((sku, location))
        if rule is None:
            rule = self.skus.get(sku, self.default)
        return rule

    def named_skus(self) -> set[str]:
        """Every SKU a per-SKU or per-position rule names (the Oms checks they exist)."""
        return set(self.skus) | {sku for sku, _ in self.positions}

    def named_locations(self) -> set[str]:
        """Every location a per-position rule names."""
        return {loc for _, loc in self.positions}


@attrs.frozen
class Proposal:
    """A proposed purchase or transfer, with the reason it was made.

    ``id`` is stable for the day, SKU and locations: approving the same proposal twice
    (:meth:`omsims.Oms.approve_proposal` uses it as the idempotency key) posts it once.
    """

    id: str
    kind: ProposalKind
    sku: str
    location: str
    """Where the units go."""
    quantity: int
    due: datetime
    """When they are expected: now plus the lead time, rounded up to whole days."""
    reason: str
    supplier: str | None = None
    """Who sells them (purchases)."""
    from_location: str | None = None
    """Where they come from (transfers)."""
    policy: str = ""
    inventory_position: int = 0
    """The destination's inventory position before any proposal of this plan."""

    def __str__(self) -> str:
        """One line: what, how many, from where to where, when and why."""
        if self.kind is ProposalKind.TRANSFER:
            what = f"move {self.quantity} {self.sku} {self.from_location} -> {self.location}"
        else:
            what = f"buy {self.quantity} {self.sku} from {self.supplier} for {self.location}"
        return f"{what}, due {self.due:%Y-%m-%d}: {self.reason}"


@attrs.frozen
class Skipped:
    """A position that needed stock but got no proposal, and why."""

    sku: str
    location: str
    reason: str


@attrs.frozen
class ReplenishmentPlan:
    """The proposals of one replenishment run, and what they were based on."""

    proposals: tuple[Proposal, ...]
    skipped: tuple[Skipped, ...]
    levels: Mapping[Position, Levels]
    """The levels each reviewed position's policy set."""
    positions: Mapping[Position, int]
    """Each reviewed position's inventory position before the plan."""
    forecasts: Mapping[Position, Outlook]

    @property
    def purchases(self) -> list[Proposal]:
        """The purchase proposals."""
        return [p for p in self.proposals if p.kind is ProposalKind.PURCHASE]

    @property
    def transfers(self) -> list[Proposal]:
        """The transfer proposals."""
        return [p for p in self.proposals if p.kind is ProposalKind.TRANSFER]

    def incoming(self, sku: str, location: str) -> int:
        """Units this plan proposes to bring to a position."""
        return sum(p.quantity for p in self.proposals if (p.sku, p.location) == (sku, location))

    def outgoing(self, sku: str, location: str) -> int:
        """Units this plan proposes to move away from a position."""
        return sum(
            p.quantity for p in self.proposals if (p.sku, p.from_location) == (sku, location)
        )

    def __str__(self) -> str:
        """One line per proposal, then one per skipped position."""
        lines = [str(p) for p in self.proposals]
        lines += [f"skipped {s.sku} at {s.location}: {s.reason}" for s in self.skipped]
        return "\n".join(lines) if lines else "nothing to propose"


def inventory_position(level: StockLevel) -> int:
    """Free units less the kept safety stock, plus incoming, less backordered.

    >>> inventory_position(StockLevel("A", "l", on_hand=10, committed=3, incoming=5,
    ...                               backordered=2, safety_stock=1))
    9
    """
    return level.free - level.safety_stock + level.incoming - level.backordered


@attrs.define
class _Review:
    """One position under review: mutable while the plan is built."""

    level: StockLevel
    rule: Rule
    levels: Levels
    position: int
    need: int
    moved_in: int = 0
    moved_out: int = 0

    @property
    def location(self) -> str:
        return self.level.location or ""

    def target(self) -> int:
        """The level above which a position has units to spare."""
        lv = self.levels
        if lv.order_up_to is not None:
            return lv.order_up_to
        if lv.maximum is not None:
            return lv.maximum
        return (lv.reorder_point or 0) + (lv.quantity or 0)

    def surplus(self) -> int:
        spare = self.position - self.moved_out - self.target()
        free = max(0, self.level.free - self.level.safety_stock) - self.moved_out
        return max(0, min(spare, free))

    def room(self) -> int | None:
        cap = self.levels.maximum
        return None if cap is None else cap - self.position - self.moved_in


def plan_replenishment(
    stock: Iterable[StockLevel],
    history: Mapping[Position, Sequence[int]],
    rules: Rules | Rule | Policy,
    *,
    now: datetime,
    transfers: bool = True,
    transfer_lead_time: LeadTime = DEFAULT_TRANSFER_LEAD_TIME,
    forecasts: Mapping[Position, Outlook] | None = None,
) -> ReplenishmentPlan:
    """Review every position with a rule, and propose transfers and purchases.

    Args:
        stock: the balances of the positions (``StockLevel`` with a location).
        history: daily units demanded per position, oldest first (the Oms uses units
            shipped, without days the position was out of stock).
        rules: a :class:`Rules` book, one :class:`Rule` for every position, or a policy.
        now: when the plan is made (timezone-aware); due dates count from it.
        transfers: whether short positions may be served from others' surplus first.
        transfer_lead_time: how long a transfer takes.
        forecasts: forecasts to use instead of the rules' forecasters, per position.

    A position with a rule but no history is forecast with no demand; a policy whose
    levels are all given does not need one. Positions are reviewed in a stable order
    (SKU, then location), so the same input always gives the same plan.

    Runtime complexity: O(n * h) for n positions with h days of history (the
    forecasts), plus O(n log n) for the ordering.
    """
    aware(now, "now")
    if not isinstance(transfer_lead_time, LeadTime):
        raise InvalidParameter(f"transfer_lead_time must be a LeadTime, not {transfer_lead_time!r}")
    book = rules if isinstance(rules, Rules) else Rules(rules)
    day = now.date().toordinal()
    by_sku: dict[str, list[_Review]] = {}
    levels: dict[Position, Levels] = {}
    positions: dict[Position, int] = {}
    used: dict[Position, Outlook] = {}
    skipped: list[Skipped] = []
    for level in sorted(stock, key=_stock_order):
        review = _review(level, book, history, forecasts, day, used)
        if review is None:
            continue
        key = (level.sku, review.location)
        levels[key] = review.levels
        positions[key] = review.position
        by_sku.setdefault(level.sku, []).append(review)
    proposals: list[Proposal] = []
    for sku, reviews in by_sku.items():
        if transfers:
            proposals += _transfers(sku, reviews, now, transfer_lead_time)
        for r in reviews:
            proposals += _purchase(r, now, day, skipped)
    return ReplenishmentPlan(tuple(proposals), tuple(skipped), levels, positions, used)


def _stock_order(level: StockLevel) -> tuple[str, str]:
    if level.location is None:
        raise InvalidParameter(f"stock for {level.sku} must be per location, not network-wide")
    return (level.sku, level.location)


def _review(
    level: StockLevel,
    book: Rules,
    history: Mapping[Position, Sequence[int]],
    forecasts: Mapping[Position, Outlook] | None,
    day: int,
    used: dict[Position, Outlook],
) -> _Review | None:
    loc = level.location or ""
    rule = book.for_position(level.sku, loc)
    if rule is None:
        return None
    key = (level.sku, loc)
    outlook = forecasts.get(key) if forecasts is not None else None
    if outlook is None:
        outlook = rule.forecaster.forecast(history.get(key) or _NO_DEMAND)
    used[key] = outlook
    lead = rule.supplier.lead_time_to(loc) if rule.supplier else DEFAULT_TRANSFER_LEAD_TIME
    lv = rule.policy.levels(outlook, lead)
    position = inventory_position(level)
    need = rule.policy.raw_need(position, lv, day_number=day)
    return _Review(level, rule, lv, position, need)


_NO_DEMAND: Final = (0,)


def _transfers(sku: str, reviews: list[_Review], now: datetime, lead: LeadTime) -> list[Proposal]:
    """Serve short positions from the surplus of others, most urgent first."""
    short = [r for r in reviews if r.need > 0]
    if not short:
        return []
    donors = [r for r in reviews if r.need == 0 and r.surplus() > 0]
    if not donors:
        return []
    short.sort(key=lambda r: (r.position - _trigger(r), r.location))
    due = _due(now, lead)
    out = []
    for r in short:
        for d in sorted(donors, key=lambda d: (-d.surplus(), d.location)):
            room = r.room()
            want = r.need - r.moved_in if room is None else min(r.need - r.moved_in, room)
            n = min(want, d.surplus())
            if n <= 0:
                break
            spare = d.surplus()
            r.moved_in += n
            d.moved_out += n
            why = (
                f"{r.location}'s inventory position {r.position} is {_short_of(r)}; "
                f"{d.location} has {spare} free units above its order-up-to {d.target()}"
            )
            out.append(
                Proposal(
                    f"move/{now:%Y-%m-%d}/{sku}/{d.location}/{r.location}",
                    ProposalKind.TRANSFER,
                    sku,
                    r.location,
                    n,
                    due,
                    why,
                    from_location=d.location,
                    policy=r.rule.policy.name,
                    inventory_position=r.position,
                )
            )
    return out


def _purchase(r: _Review, now: datetime, day: int, skipped: list[Skipped]) -> list[Proposal]:
    """What is still needed after transfers, bought from the rule's supplier."""
    if r.need <= 0:
        return []
    lifted = r.position + r.moved_in
    need = r.rule.policy.raw_need(lifted, r.levels, day_number=day) if r.moved_in else r.need
    if need <= 0:
        return []
    supplier = r.rule.supplier
    sku, loc = r.level.sku, r.location
    if supplier is None:
        skipped.append(Skipped(sku, loc, f"needs {need} but its rule names no supplier"))
        return []
    room = r.room()
    q = supplier.round(need, cap=room)
    if q <= 0:
        skipped.append(
            Skipped(
                sku,
                loc,
                f"needs {need}, but {supplier.id}'s minimum {supplier.minimum} and multiple "
                f"{supplier.multiple} would lift it past its maximum {r.levels.maximum}",
            )
        )
        return []
    why = f"inventory position {r.position}"
    if r.moved_in:
        why += f" (+{r.moved_in} by transfer)"
    why += f" is {_short_of(r)}: {_how(r, need, q)}"
    lead = supplier.lead_time_to(loc)
    return [
        Proposal(
            f"buy/{now:%Y-%m-%d}/{sku}/{loc}",
            ProposalKind.PURCHASE,
            sku,
            loc,
            q,
            _due(now, lead),
            why,
            supplier=supplier.id,
            policy=r.rule.policy.name,
            inventory_position=r.position,
        )
    ]


def _trigger(r: _Review) -> int:
    lv = r.levels
    if lv.reorder_point is not None:
        return lv.reorder_point
    return lv.order_up_to or 0


def _short_of(r: _Review) -> str:
    lv = r.levels
    policy = r.rule.policy
    if isinstance(policy, PeriodicReview):
        return f"below its order-up-to {lv.order_up_to} on a review day"
    name = "minimum" if isinstance(policy, MinMax) else "reorder point"
    return f"at or below its {name} {lv.reorder_point}"


def _how(r: _Review, need: int, q: int) -> str:
    lv = r.levels
    if isinstance(r.rule.policy, ReorderPoint):
        text = f"order {need // (lv.quantity or 1)} x {lv.quantity}"
    else:
        text = f"order up to {lv.order_up_to}"
    if q != need:
        supplier = r.rule.supplier
        assert supplier is not None  # noqa: S101 (only purchases are rounded)
        text += (
            f", {need} rounded to {q} (minimum {supplier.minimum}, multiple {supplier.multiple})"
        )
    return text


def _due(now: datetime, lead: LeadTime) -> datetime:
    return now + timedelta(days=math.ceil(lead.days))
