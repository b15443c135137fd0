"""What sourcing asks and answers: the request, the inventory view, the plan and its explanation."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

import attrs

from omsims.domain.locations import Location
from omsims.domain.values import GeoPoint, LocationId, Sku

__all__ = [
    "Allocation",
    "Explanation",
    "InventoryView",
    "RequestLine",
    "SourcingPlan",
    "SourcingRequest",
    "SourcingStrategy",
]


@attrs.frozen
class RequestLine:
    """One order line still to source."""

    line: int
    sku: Sku
    quantity: int


@attrs.frozen
class SourcingRequest:
    """Everything a strategy may consider about the demand.

    ``excluded_locations`` are never to be used (they rejected this order before).
    """

    order_id: str
    lines: tuple[RequestLine, ...]
    at: datetime
    destination: GeoPoint | None = None
    channel: str = "web"
    excluded_locations: frozenset[str] = frozenset()
    destination_country: str | None = None
    destination_region: str | None = None


@runtime_checkable
class InventoryView(Protocol):
    """What a strategy may know about the network: read-only, as of the request."""

    def locations(self) -> Sequence[Location]:
        """Every location in a stable order, inactive ones too (strategies drop them)."""
        ...

    def available(self, sku: str, location: str) -> int:
        """Units of ``sku`` at ``location`` that can be committed now."""
        ...

    def backorder_room(self, sku: str, location: str) -> int:
        """Units of ``sku`` that ``location`` may still take as backorders (0 if none)."""
        ...

    # Optional, not part of the protocol's required surface, a view may also offer:
    # - ``stocking(sku) -> Collection[str]``: the locations that hold a position for the
    #   SKU; strategies that find it skip every other location;
    # - ``capacity_left(location) -> int | None``: fulfilment orders it may still take today;
    # - ``incoming(sku, location) -> Sequence[tuple[datetime, int]]``: arrivals expected
    #   there that no waiting backorder has claimed, earliest first, as (eta, units);
    #   backorders are then promised a date, and EarliestDelivery counts on them.


class Allocation(NamedTuple):
    """Units of one order line to be fulfilled at one location, on hand or backordered.

    ``promised`` is, for backordered units, when the supply that covers them is due at
    the location (``None``: no supply covers them yet); on-hand units are ready now.

    A ``NamedTuple`` like ledger entries: strategies make several per order on the hot
    path, and the service checks every one before it posts anything.
    """

    line: int
    sku: Sku
    location: LocationId
    quantity: int
    backorder: bool = False
    promised: datetime | None = None
    reservation: str | None = None
    """On-hand units that come out of this reservation (an in-store one being bought)."""


class Explanation:
    """Why a plan is what it is: recorded cheaply as tuples, rendered only when asked.

    >>> e = Explanation("priority")
    >>> e.candidates(["berlin-dc", "hamburg-dc"])
    >>> e.dropped("paris-store", "cannot ship")
    >>> e.took(1, "TSHIRT-M", "berlin-dc", 2, backorder=False)
    >>> print(e)
    priority: candidates in order: berlin-dc, hamburg-dc
      dropped paris-store: cannot ship
      line 1 (TSHIRT-M): 2 from berlin-dc on hand
    """

    __slots__ = ("_shared", "_steps", "strategy")

    def __init__(self, strategy: str) -> None:
        """Start an empty explanation for ``strategy``."""
        self.strategy = strategy
        # Raw values, formatted only by __str__: most plans are never read by a person.
        self._steps: list[tuple[object, ...]] = []
        # Steps many plans share (a memoised ranking of the network), kept by reference.
        self._shared: tuple[tuple[object, ...], ...] = ()

    def share(self, steps: tuple[tuple[object, ...], ...]) -> None:
        """Start with ``steps`` recorded once and shared by many plans (not copied)."""
        if self._shared or self._steps:
            self._steps.extend(steps)
        else:
            self._shared = steps

    def recorded(self) -> tuple[tuple[object, ...], ...]:
        """The steps as recorded, rankings and fills not yet expanded: for :meth:`share`.

        Sharing these costs nothing per plan; :attr:`steps` expands them if anyone reads.
        """
        return (*self._shared, *self._steps)

    def candidates(self, locations: Sequence[str]) -> None:
        """Record the locations considered, in the order they were ranked."""
        self._steps.append(("candidates", tuple(locations)))

    def ranked(self, rules: Sequence[str], keyed: Sequence[tuple[object, ...]]) -> None:
        """Record a ranking: ``keyed`` holds ``(score per rule..., location)``, sorted.

        Expanded only when read, into the candidates, the scores of every rule that
        decided an order, and the ties each later rule (or the location id) broke.
        """
        self._steps.append(("ranked", tuple(rules), keyed))

    def filled(
        self,
        lines: Sequence[RequestLine],
        allocations: Sequence[Allocation],
        unfilled: Sequence[tuple[int, str, int, str]],
    ) -> None:
        """Record a fill: its allocations and ``(line, sku, units, reason)`` left unfilled.

        Kept by reference and expanded when read into ``took`` and ``unfilled`` steps,
        line by line in the order of ``lines``.
        """
        self._steps.append(("filled", lines, allocations, unfilled))

    def dropped(self, location: str, reason: str) -> None:
        """Record that a location was ruled out, and why."""
        self._steps.append(("dropped", location, reason))

    def took(
        self,
        line: int,
        sku: str,
        location: str,
        units: int,
        *,
        backorder: bool,
        promised: datetime | None = None,
    ) -> None:
        """Record an allocation."""
        self._steps.append(("took", line, sku, location, units, backorder, promised))

    def unfilled(self, line: int, sku: str, units: int, reason: str) -> None:
        """Record units no location could take, and why."""
        self._steps.append(("unfilled", line, sku, units, reason))

    def note(self, text: str) -> None:
        """Record a free-form remark."""
        self._steps.append(("note", text))

    def record(self, step: tuple[object, ...]) -> None:
        """Record a step taken from another explanation (strategies that combine others)."""
        self._steps.append(step)

    def scored(self, rule: str, scores: Sequence[tuple[str, object]]) -> None:
        """Record each location's score under one ranking rule, in ranked order."""
        self._steps.append(("scored", rule, tuple(scores)))

    def tie(self, rule: str, locations: Sequence[str]) -> None:
        """Record locations the previous rules could not tell apart, broken by ``rule``."""
        self._steps.append(("tie", rule, tuple(locations)))

    @property
    def steps(self) -> list[tuple[object, ...]]:
        """The recorded steps as tuples, for programs to walk.

        ``("candidates", (location, ...))``, ``("dropped", location, reason)``,
        ``("scored", rule, ((location, score), ...))``, ``("tie", rule, (a, b))``,
        ``("took", line, sku, location, units, backorder, promised)``,
        ``("unfilled", line, sku, units, reason)``, ``("note", text)``.
        """
        out: list[tuple[object, ...]] = []
        for step in itertools.chain(self._shared, self._steps):
            if step[0] == "ranked":
                out.extend(_expand_ranking(step[1], step[2]))  # type: ignore[arg-type]
            elif step[0] == "filled":
                out.extend(_expand_fill(step[1], step[2], step[3]))  # type: ignore[arg-type]
            else:
                out.append(step)
        return out

    def __str__(self) -> str:
        """Render the steps as readable lines."""
        out = []
        for step in self.steps:
            match step:
                case ("candidates", locs):
                    names = ", ".join(map(str, locs)) or "none"  # type: ignore[call-overload]
                    out.append(f"{self.strategy}: candidates in order: {names}")
                case ("dropped", loc, reason):
                    out.append(f"  dropped {loc}: {reason}")
                case ("took", line, sku, loc, units, backorder, promised):
                    how = "backordered" if backorder else "on hand"
                    if backorder:
                        how += f", due {promised:%Y-%m-%d}" if promised else ", no date yet"
                    out.append(f"  line {line} ({sku}): {units} from {loc} {how}")
                case ("unfilled", line, sku, units, reason):
                    out.append(f"  line {line} ({sku}): {units} unfilled: {reason}")
                case ("scored", rule, scores):
                    shown = ", ".join(f"{loc}={score}" for loc, score in scores)  # type: ignore[attr-defined]
                    out.append(f"  ranked by {rule}: {shown}")
                case ("tie", rule, locs):
                    out.append(f"  tie between {', '.join(locs)} broken by {rule}")  # type: ignore[arg-type]
                case _:
                    out.append(f"  {step[-1]}")
        return "\n".join(out)

    def __repr__(self) -> str:
        """Show the strategy and how many steps were recorded."""
        return f"<Explanation {self.strategy}: {len(self._shared) + len(self._steps)} steps>"


def _expand_fill(
    lines: Sequence[RequestLine],
    allocations: Sequence[Allocation],
    unfilled: Sequence[tuple[int, str, int, str]],
) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for rl in lines:
        out.extend(("took", *a[:6]) for a in allocations if a.line == rl.line)
        out.extend(("unfilled", *u) for u in unfilled if u[0] == rl.line)
    return out


def _expand_ranking(
    rules: tuple[str, ...], keyed: Sequence[tuple[object, ...]]
) -> list[tuple[object, ...]]:
    """A raw ranking as readable steps: candidates, deciding scores, broken ties."""
    out: list[tuple[object, ...]] = [("candidates", tuple(k[-1] for k in keyed))]
    ties: list[tuple[object, ...]] = []
    deciding = {0}
    for a, b in itertools.pairwise(keyed):
        if a[0] != b[0]:
            continue  # the first rule decided: no tie to explain
        k = 1
        while k < len(rules) and a[k] == b[k]:
            k += 1
        ties.append(("tie", rules[k] if k < len(rules) else "location id", (a[-1], b[-1])))
        if k < len(rules):
            deciding.add(k)
    # The first rule's scores always; a later rule's only if it broke a tie.
    if rules and len(keyed) > 1:
        out.extend(
            ("scored", rules[i], tuple((key[-1], key[i]) for key in keyed))
            for i in sorted(deciding)
        )
    out.extend(ties)
    return out


@attrs.frozen
class SourcingPlan:
    """A strategy's answer: allocations, what stays unfilled, and why.

    ``unfilled`` maps order line -> units no location could take.
    """

    allocations: tuple[Allocation, ...]
    unfilled: tuple[tuple[int, int], ...]
    explanation: Explanation = attrs.field(eq=False)

    @property
    def shipments(self) -> int:
        """The number of locations the plan ships from (one shipment each)."""
        return len({a.location for a in self.allocations})

    def explain(self) -> str:
        """The explanation as readable text (the same as ``str(plan.explanation)``)."""
        return str(self.explanation)

    @property
    def is_complete(self) -> bool:
        """True when every requested unit is allocated."""
        return not self.unfilled

    def allocated(self, line: int) -> int:
        """Units of ``line`` the plan allocates (on hand and backordered)."""
        return sum(a.quantity for a in self.allocations if a.line == line)


@runtime_checkable
class SourcingStrategy(Protocol):
    """Decides which locations fulfil each line. Pure and deterministic.

    Implement ``plan`` on any object (or use a built-in); the same request and inventory
    must always give the same plan.
    """

    name: str

    def plan(self, request: SourcingRequest, inventory: InventoryView) -> SourcingPlan:
        """Return the plan for ``request`` given ``inventory``."""
        ...
