"""Queries: balances, ledger entries, orders, fulfilment, and the cross-checked invariants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omsims.domain.channels import SalesChannel
from omsims.domain.copies import deep_copy
from omsims.domain.fulfilment import (
    FulfilmentOrder,
    Shipment,
)
from omsims.domain.locations import Location
from omsims.domain.orders import Order, OrderStatus
from omsims.domain.stock import EntryKind, LedgerEntry, StockLevel
from omsims.domain.supply import IncomingSupply, Reservation, SupplyLine, Transfer
from omsims.domain.timeline import Timeline, build_timeline
from omsims.errors import (
    InvalidIdentifier,
    InvariantViolation,
    UnknownFulfilmentOrder,
    UnknownOrder,
)
from omsims.service._core import ServiceCore, _id, serving_available, serving_locations

__all__ = ["Queries"]


class Queries(ServiceCore):
    """Read-only questions; each runs in a unit of work of its own."""

    def stock(
        self, sku: str, location: str | None = None, *, as_of: datetime | None = None
    ) -> StockLevel:
        """Every bucket of a position, or of a SKU across the network (``location=None``).

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> oms.stock("TSHIRT-M").on_hand
        10
        """
        with self._read() as uow:
            if location is None:
                return uow.ledger.network_balance(sku, as_of)
            return uow.ledger.balance(sku, location, as_of)

    def available(self, sku: str, location: str | None = None) -> int:
        """Units that can be promised now, at one location or across the network."""
        return self.stock(sku, location).available

    def incoming(self, sku: str, location: str | None = None) -> list[IncomingSupply]:
        """Expected supply and transfers in transit for ``sku``, by ETA."""
        with self._read() as uow:
            return uow.ledger.incoming_schedule(sku, location)

    def entries(
        self,
        *,
        sku: str | None = None,
        location: str | None = None,
        kind: EntryKind | None = None,
        reference: str | None = None,
        since: int = 0,
    ) -> list[LedgerEntry]:
        """Ledger entries in sequence order, filtered; ``since`` skips sequences <= it."""
        if kind is not None and not isinstance(kind, EntryKind):
            raise InvalidIdentifier(f"kind must be an EntryKind, got {kind!r}")
        if type(since) is not int or since < 0:
            raise InvalidIdentifier(f"since must be a sequence number >= 0, got {since!r}")
        with self._read() as uow:
            return uow.ledger.entries(
                sku=sku, location=location, kind=kind, reference=reference, since=since
            )

    def order(self, order_id: str) -> Order:
        """A copy of an order as it stands (``UnknownOrder`` if there is none)."""
        with self._read() as uow:
            return self._snapshot(self._order(uow, order_id))

    def order_status(self, order_id: str) -> OrderStatus:
        """The status of an order as it stands, without copying the order.

        The same as ``order(order_id).status``, for a caller that polls for it (a
        storefront's "where is my order", a simulator waiting for the last parcel).

        >>> from omsims import Oms, Location
        >>> oms = Oms()
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("MUG", "berlin-dc", 5)
        >>> _ = oms.place_order("web-1", [("MUG", 2)])
        >>> oms.order_status("web-1").value
        'allocated'
        """
        with self._read() as uow:
            return self._order(uow, order_id).status

    def orders(self) -> list[Order]:
        """Copies of every order, in the order they were placed."""
        with self._read() as uow:
            return [self._snapshot(o) for o in uow.orders.list()]

    def fulfilment_orders(self, order_id: str) -> list[FulfilmentOrder]:
        """Copies of an order's fulfilment orders, oldest first."""
        with self._read() as uow:
            self._order(uow, order_id)
            return [deep_copy(fo) for fo in uow.fulfilment_orders.for_order(order_id)]

    def fulfilment_order(self, fulfilment_order_id: str) -> FulfilmentOrder:
        """A copy of one fulfilment order."""
        with self._read() as uow:
            fo = uow.fulfilment_orders.get(_id(fulfilment_order_id, "fulfilment order id"))
            if fo is None:
                raise UnknownFulfilmentOrder(f"no fulfilment order {fulfilment_order_id!r}")
            return deep_copy(fo)

    def timeline(self, order_id: str) -> Timeline:
        """What happened to an order, when, and where every unit of it is now.

        >>> from datetime import datetime, UTC
        >>> from omsims import Oms, Location, ManualClock
        >>> oms = Oms(clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> _ = oms.place_order("web-1001", [("TSHIRT-M", 2)])
        >>> fo = oms.accept(oms.fulfilment_orders("web-1001")[0].id)
        >>> _ = oms.ship(fo.id, {1: 1}, carrier="dhl", tracking="JD1")
        >>> print(oms.timeline("web-1001"))
        order web-1001 (partially_shipped)
          2026-03-01 09:00 UTC  placed on web: 1 line(s), 2 unit(s)
          2026-03-01 09:00 UTC  web-1001-F1: sent to berlin-dc: 2 unit(s)
          2026-03-01 09:00 UTC  web-1001-F1: accepted
          2026-03-01 09:00 UTC  web-1001-F1-S1: shipped 1 unit(s) from berlin-dc with dhl, ...
          where the units are:
            line 1 TSHIRT-M: 1 ready at berlin-dc
            line 1 TSHIRT-M: 1 in transit in web-1001-F1-S1

        Runtime complexity: O(f + s + m log m) in its fulfilment orders, shipments and moments.
        """
        with self._read() as uow:
            order = uow.orders.get(_id(order_id, "order id"))
            if order is None:
                raise UnknownOrder(f"no order {order_id!r}")
            return build_timeline(
                order, uow.fulfilment_orders.for_order(order.id), uow.shipments.for_order(order.id)
            )

    def shipments(self, order_id: str) -> list[Shipment]:
        """Copies of an order's shipments, oldest first (``UnknownOrder`` if none such)."""
        with self._read() as uow:
            self._order(uow, order_id)
            return [deep_copy(s) for s in uow.shipments.for_order(order_id)]

    def location(self, location_id: str) -> Location:
        """A location by id."""
        with self._read() as uow:
            return self._location(uow, location_id)

    def locations(self) -> list[Location]:
        """Every location, in the order they were added."""
        with self._read() as uow:
            return list(uow.locations.list())

    def reservation(self, reservation_id: str) -> Reservation:
        """A reservation by id."""
        with self._read() as uow:
            return uow.ledger.reservation(reservation_id)

    def channel_availability(
        self, channel: str, skus: Sequence[str] | None = None
    ) -> dict[str, int]:
        """What a sales channel may offer, per channel SKU: its stock feed, as it is now.

        Available at the active locations that serve the channel and ship or take
        pickups, summed; a bundle offers as many as its scarcest component allows; the
        channel's buffer is kept back. ``skus`` limits it to some of the channel's SKUs.
        The same numbers are published as ``ChannelAvailabilityChanged`` when they move.

        >>> from omsims import Oms, Location, SalesChannel, Bundle
        >>> amazon = SalesChannel("amazon", {"AMZ-1": "TEE", "AMZ-2": Bundle({"TEE": 2})},
        ...                       buffer=1)
        >>> oms = Oms(channels=[amazon])
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TEE", "berlin-dc", 9)
        >>> oms.channel_availability("amazon")
        {'AMZ-1': 8, 'AMZ-2': 3}

        Runtime complexity: O(locations + listings x components).
        """
        sold_as = self.channels.get(channel) or SalesChannel(channel)
        with self._read() as uow:
            serving = serving_locations(uow.locations.list(), sold_as.name)
            names = (
                list(skus)
                if skus is not None
                else (list(sold_as.skus) if sold_as.skus else list(uow.ledger.skus))
            )
            return {
                name: sold_as.offer(
                    name,
                    {
                        sku: serving_available(uow.ledger, sku, serving)
                        for sku in sold_as.internal_skus(name)
                    },
                )
                for name in names
            }

    def skus(self) -> list[str]:
        """Every SKU the network knows, in the order it became known."""
        with self._read() as uow:
            return list(uow.ledger.skus)

    def positions(self) -> list[tuple[str, str]]:
        """Every (sku, location) that has a position in the ledger."""
        with self._read() as uow:
            return list(uow.ledger.positions())

    def reservations(self, *, active_only: bool = True) -> list[Reservation]:
        """Reservations in creation order (only active ones unless told otherwise)."""
        with self._read() as uow:
            return uow.ledger.reservations(active_only=active_only)

    def supply_line(self, supply_id: str) -> SupplyLine:
        """An expected supply line by id."""
        with self._read() as uow:
            return uow.ledger.supply_line(supply_id)

    def transfer_by_id(self, transfer_id: str) -> Transfer:
        """A transfer by id."""
        with self._read() as uow:
            return uow.ledger.transfer_by_id(transfer_id)

    def backorder_queue(self, sku: str, location: str) -> list[tuple[str, int]]:
        """The backorders waiting at a position, oldest first: (fulfilment line, units)."""
        with self._read() as uow:
            self._location(uow, location)
            return uow.ledger.backorder_queue(_id(sku, "SKU"), location)

    def check_invariants(self) -> None:
        """Prove the ledger replays to its balances and agrees with every open order.

        Per position, committed equals the ready units and backordered the backordered
        units of the open fulfilment orders there; per order line, the counters add up
        to the fulfilment lines. Raises ``InvariantViolation``. Runtime: O(entries + orders).
        """
        with self._read() as uow:
            uow.ledger.check_invariants()
            committed: dict[tuple[str, str], int] = {}
            backordered: dict[tuple[str, str], int] = {}
            for order in uow.orders.list():
                order.check_invariants()
                per_line: dict[int, list[int]] = {}
                for fo in uow.fulfilment_orders.for_order(order.id):
                    fo.check_invariants()
                    for fl in fo.lines:
                        k = (fl.sku, fo.location)
                        committed[k] = committed.get(k, 0) + fl.ready
                        backordered[k] = backordered.get(k, 0) + fl.backordered
                        c = per_line.setdefault(fl.line, [0, 0, 0])
                        c[0] += fl.ready
                        c[1] += fl.backordered
                        c[2] += fl.shipped
                for ln in order.lines:
                    c = per_line.get(ln.number, [0, 0, 0])
                    if (ln.committed, ln.backordered, ln.shipped) != tuple(c):
                        raise InvariantViolation(
                            f"order {order.id} line {ln.number}: committed/backordered/shipped "
                            f"{(ln.committed, ln.backordered, ln.shipped)} but fulfilment "
                            f"orders say {tuple(c)}"
                        )
            for sku, loc in uow.ledger.positions():
                level = uow.ledger.balance(sku, loc)
                if level.committed != committed.get((sku, loc), 0) or level.backordered != (
                    backordered.get((sku, loc), 0)
                ):
                    raise InvariantViolation(
                        f"{sku} at {loc}: ledger committed/backordered "
                        f"{(level.committed, level.backordered)} but fulfilment orders hold "
                        f"{(committed.get((sku, loc), 0), backordered.get((sku, loc), 0))}"
                    )
