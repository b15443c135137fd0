"""Replenishment on the facade: demand history, proposals, approval, ATP and stock reviews.

The planning itself is pure (:mod:`omsims.replenishment`); this part reads what it needs
from the ledger, and turns an approved proposal into incoming supply (a purchase) or a
transfer in one command, keyed by the proposal's id so approving twice posts once.
Receiving and cancelling are the ledger's own commands: :meth:`receive_expected`,
:meth:`cancel_expected`, :meth:`receive_transfer` and :meth:`cancel_transfer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal

from omsims.domain.events import ExcessStock, SlowMoving
from omsims.domain.stock import StockLevel
from omsims.domain.supply import SupplyLine, Transfer
from omsims.errors import InvalidParameter, UnknownSku
from omsims.ports import StockLedger, UnitOfWork
from omsims.replenishment import (
    AvailableToPromise,
    DemandHistory,
    LeadTime,
    Policy,
    Proposal,
    ProposalKind,
    ReplenishmentPlan,
    ReviewLimits,
    Rule,
    Rules,
    StockReport,
    demand_history,
    plan_replenishment,
    stock_report,
    value_stock,
)
from omsims.replenishment.history import check_days
from omsims.replenishment.proposals import DEFAULT_TRANSFER_LEAD_TIME
from omsims.service._core import ServiceCore

__all__ = ["ReplenishmentCommands"]


class ReplenishmentCommands(ServiceCore):
    """Forecast-driven replenishment, available to promise and stock reviews."""

    def demand_history(
        self, *, days: int = 90, at: datetime | None = None, tz: tzinfo = UTC
    ) -> DemandHistory:
        """Units shipped per position per day over the ``days`` days before ``at``'s day.

        The window ends with yesterday (in ``tz``): today is not over yet. Days on which a
        position had nothing free to sell are flagged (see
        :func:`omsims.replenishment.demand_history`).

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("dc"))
        >>> oms.demand_history(days=7).days
        7
        """
        when = self._now(at)
        with self._read() as uow:
            return _history(uow.ledger, when, days, tz)

    def plan_replenishment(
        self,
        rules: Rules | Rule | Policy,
        *,
        history_days: int = 90,
        at: datetime | None = None,
        transfers: bool = True,
        transfer_lead_time: LeadTime = DEFAULT_TRANSFER_LEAD_TIME,
        history: Mapping[tuple[str, str], Sequence[int]] | None = None,
    ) -> ReplenishmentPlan:
        """Propose purchases and transfers for every position a rule covers; writes nothing.

        Demand is forecast from the last ``history_days`` days of shipments (stock-out
        days left out); see :func:`omsims.replenishment.plan_replenishment` for the
        rules. Approve what you accept with :meth:`approve_proposal`. A caller that
        keeps its own daily demand per position (a simulation) passes it as
        ``history`` and spares the replay of the ledger. Without a default rule only
        the positions the rules name are read.

        >>> from omsims import Oms, Location
        >>> from omsims.replenishment import MinMax, Rule, Supplier
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("dc"))
        >>> _ = oms.receive("MUG", "dc", 3)
        >>> plan = oms.plan_replenishment(Rule(MinMax(minimum=5, maximum=20), Supplier("acme")))
        >>> [(p.kind.value, p.sku, p.location, p.quantity) for p in plan.proposals]
        [('buy', 'MUG', 'dc', 17)]
        """
        when = self._now(at)
        book = rules if isinstance(rules, Rules) else Rules(rules)
        with self._read() as uow:
            ledger = uow.ledger
            self._check_named(uow, book)
            demand = history
            if demand is None:
                demand = _history(ledger, when, history_days, UTC).demand()
            if book.default is None:
                named = set(book.skus)
                covered: list[tuple[str, str]] = [
                    (s, loc) for s, loc in ledger.positions() if s in named
                ]
                known = set(covered)
                covered += [k for k in book.positions if k not in known]
            else:
                covered = list(ledger.positions())
            stock = [ledger.balance(sku, loc) for sku, loc in covered]
        return plan_replenishment(
            stock,
            demand,
            book,
            now=when,
            transfers=transfers,
            transfer_lead_time=transfer_lead_time,
        )

    def approve_proposal(
        self,
        proposal: Proposal,
        *,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> SupplyLine | Transfer:
        """Post a proposal: a purchase becomes expected supply, a transfer leaves its origin.

        The idempotency key defaults to the proposal's id, so approving the same proposal
        twice posts it once (a proposal re-planned the same day with another quantity has
        the same id: approving it too is an ``IdempotencyConflict`` unless you give it a
        key of its own). The supply (or transfer) carries the proposal's id as its
        reference and its due date as its ETA. Receive it with :meth:`receive_expected`
        (or :meth:`receive_transfer`), in full or in part; cancel it with
        :meth:`cancel_expected` (or :meth:`cancel_transfer`). A proposal for a SKU or a
        location the Oms does not know is refused, and nothing is written.

        >>> from omsims import Oms, Location
        >>> from omsims.replenishment import MinMax, Rule, Supplier
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("dc"))
        >>> _ = oms.receive("MUG", "dc", 3)
        >>> rule = Rule(MinMax(minimum=5, maximum=20), Supplier("acme"))
        >>> [buy] = oms.plan_replenishment(rule).proposals
        >>> line = oms.approve_proposal(buy)
        >>> oms.stock("MUG", "dc").incoming, oms.approve_proposal(buy) == line
        (17, True)
        """
        if not isinstance(proposal, Proposal):
            raise InvalidParameter(f"approve_proposal takes a Proposal, not {proposal!r}")
        key = proposal.id if idempotency_key is None else idempotency_key
        when = self._now(at)
        reference = proposal.id if len(proposal.id) <= 200 else None  # the ledger's limit

        def body(uow: UnitOfWork) -> SupplyLine | Transfer:
            ledger = uow.ledger
            self._location(uow, proposal.location)
            if not ledger.has_sku(proposal.sku):
                raise UnknownSku(f"proposal {proposal.id} names SKU {proposal.sku!r}, never seen")
            if proposal.kind is ProposalKind.TRANSFER:
                origin = proposal.from_location or ""
                self._location(uow, origin)
                return ledger.transfer(
                    proposal.sku,
                    origin,
                    proposal.location,
                    proposal.quantity,
                    eta=proposal.due,
                    at=when,
                    reference=reference,
                    key=key,
                )
            return ledger.expect(
                proposal.sku,
                proposal.location,
                proposal.quantity,
                eta=proposal.due,
                at=when,
                reference=reference,
                key=key,
            )

        payload = (proposal, at)
        return self._run("approve_proposal", payload, key, body)

    def available_to_promise(
        self,
        sku: str,
        location: str | None = None,
        *,
        days: int = 30,
        at: datetime | None = None,
        tz: tzinfo = UTC,
    ) -> AvailableToPromise:
        """What can be promised for each of the next ``days`` days, from ``at``'s day on.

        At one location, or summed over the network (``location=None``): available now,
        plus supply due by each day that no waiting backorder has claimed (see
        :mod:`omsims.replenishment.atp`).

        >>> from datetime import timedelta
        >>> from omsims import Oms, Location, ManualClock
        >>> from omsims.testing.plugin import T0
        >>> oms = Oms(clock=ManualClock(T0))
        >>> _ = oms.add_location(Location("dc"))
        >>> _ = oms.receive("MUG", "dc", 4)
        >>> _ = oms.expect("MUG", "dc", 10, eta=T0 + timedelta(days=2))
        >>> atp = oms.available_to_promise("MUG", days=4)
        >>> [n for _, n in atp.rows()], atp.earliest(10) == (T0 + timedelta(days=2)).date()
        ([4, 4, 14, 14], True)
        """
        when = self._now(at)
        start = when.astimezone(tz).date()
        with self._read() as uow:
            ledger = uow.ledger
            if not ledger.has_sku(sku):
                raise UnknownSku(f"SKU {sku!r} is not known")
            if location is not None:
                self._location(uow, location)
                where = [location]
            else:
                where = list(ledger.stocking(sku))
            atp = AvailableToPromise.build(
                sku, location, available=0, arrivals=(), start=start, days=days
            )
            waiting = 0  # backorders their own location's supply will not cover
            for loc in where:
                atp += AvailableToPromise.build(
                    sku,
                    location,
                    available=ledger.available(sku, loc),
                    arrivals=ledger.unpromised_supply(sku, loc),
                    start=start,
                    days=days,
                    tz=tz,
                )
                if location is None:
                    waiting += ledger.uncovered_backorders(sku, loc)
            return atp.claim(waiting) if waiting else atp

    def stock_report(
        self, *, days: int = 90, limits: ReviewLimits | None = None, at: datetime | None = None
    ) -> StockReport:
        """Days of cover, slow-moving and excess stock, stock-out risk and turnover.

        Every position of the ledger, over the last ``days`` days of shipments (see
        :mod:`omsims.replenishment.reports` for the formulas), with its value at FIFO
        cost when receipts carried a ``unit_cost``; writes nothing.

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("dc"))
        >>> _ = oms.receive("MUG", "dc", 3)
        >>> oms.stock_report().row("MUG", "dc").slow_moving  # held, never sold
        True
        """
        when = self._now(at)
        with self._read() as uow:
            return _report(uow.ledger, when, days, limits)

    def review_stock(
        self,
        *,
        days: int = 90,
        limits: ReviewLimits | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> StockReport:
        """Publish ExcessStock and SlowMoving for the positions a stock report flags.

        The same report as :meth:`stock_report`, as a command: its alerts go through the
        notifier (and a durable store's outbox) like every other event. Run it on a
        schedule, e.g. nightly with the date as the idempotency key.
        """
        when = self._now(at)

        def body(uow: UnitOfWork) -> StockReport:
            chosen = limits or ReviewLimits()
            report = _report(uow.ledger, when, days, chosen)
            for r in report.rows:
                if r.excess:
                    cover = r.days_of_cover
                    self._emit(
                        uow,
                        ExcessStock(when, r.sku, r.location, r.on_hand, cover, chosen.excess_days),
                    )
                if r.slow_moving:
                    idle = r.idle_days
                    self._emit(
                        uow, SlowMoving(when, r.sku, r.location, r.on_hand, idle, chosen.slow_days)
                    )
            return report

        return self._run("review_stock", (days, limits, at), idempotency_key, body)

    def _check_named(self, uow: UnitOfWork, book: Rules) -> None:
        """Refuse rules that name a SKU or a location the Oms does not know."""
        for sku in sorted(book.named_skus()):
            if not uow.ledger.has_sku(sku):
                raise UnknownSku(f"the rules name SKU {sku!r}, which is not known")
        for loc in sorted(book.named_locations()):
            self._location(uow, loc)


def _history(ledger: StockLedger, when: datetime, days: int, tz: tzinfo) -> DemandHistory:
    start: date = when.astimezone(tz).date() - timedelta(days=check_days(days))
    return demand_history(ledger.entries(), start=start, days=days, tz=tz)


def _report(
    ledger: StockLedger, when: datetime, days: int, limits: ReviewLimits | None
) -> StockReport:
    history = _history(ledger, when, days, UTC)
    stock: list[StockLevel] = [ledger.balance(sku, loc) for sku, loc in ledger.positions()]
    # Stock value at FIFO cost, when receipts carried costs (valuation.md has the rules).
    valuation = value_stock(ledger.entries())
    values: dict[tuple[str, str], Decimal] | None = None
    if valuation.currency is not None:
        values = {(sku, loc): p.value for (sku, loc), p in valuation.positions.items()}
    return stock_report(stock, history, limits=limits, values=values)
