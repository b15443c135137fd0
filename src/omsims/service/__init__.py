"""The Oms service: commands in, events out, one transaction per command.

Every command runs in one unit of work: it validates, changes the ledger and the
aggregates, and commits, or raises and leaves no trace. Events are collected during the
command and handed to the notifier only after commit; a notifier that fails never
undoes a command, and what it failed to take is kept for :meth:`OmsService.retry_notifications`.

Build it through :class:`omsims.Oms`, which wires the in-memory defaults.
"""

from __future__ import annotations

from omsims.service._archive import ArchiveCommands
from omsims.service._orders import OrderCommands
from omsims.service._payments import PaymentCommands
from omsims.service._pickup import PickupCommands
from omsims.service._queries import Queries
from omsims.service._replenishment import ReplenishmentCommands
from omsims.service._returns import ReturnCommands
from omsims.service._stock import StockCommands
from omsims.service._valuation import ValuationQueries

__all__ = ["OmsService"]


class OmsService(
    StockCommands,
    OrderCommands,
    PickupCommands,
    ReturnCommands,
    PaymentCommands,
    ArchiveCommands,
    ReplenishmentCommands,
    Queries,
    ValuationQueries,
):
    """The order- and inventory-management facade.

    Args:
        unit_of_work: makes one unit of work per command (e.g. a ``MemoryStore``).
        clock: business time for commands that are not given ``at``.
        notifier: receives events after each command commits; with a ``topics``
            attribute (event classes), only those, and the Oms records no others.
        strategy: the sourcing strategy ``place_order`` and ``reject`` use.
        payments: the payment gateway (``None``: orders carry no payment). With one,
            placing an order authorises its total, shipping captures, cancelling voids
            and returning refunds.
        carriers: the carriers ``ship`` may buy labels from, by name.
        return_routing: decides where returns go (default: ``DefaultReturnRouting``).
        refund_policy: what returns refund beyond the units (default: ``RefundPolicy()``).
        pickup: how pickups are promised and how long they wait (``PickupPolicy()``).
        channels: sales channels with their SKU mappings, bundles and buffers; their
            orders are translated at capture, and their stock feeds published.
        keep_events: how many of the latest published events :attr:`published_events`
            keeps (0 keeps none). Bounded on purpose: a shop process runs for months, and
            the notifier, not the Oms, is where events are meant to go.
        archive: where :meth:`archive` moves finished orders (``None``: no archiving);
            only with the in-memory store.
    """
