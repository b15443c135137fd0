"""The command machinery every part of the Oms service shares.

One unit of work per command, idempotency keys, events published after commit, and the
helpers the commands have in common (sourcing a plan, settling backorder fills).
"""

from __future__ import annotations

import contextlib
import inspect
import operator
import threading
from collections import deque
from collections.abc import Callable, Collection, Hashable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import TypeVar

from omsims.domain.archive import ArchivedOrder
from omsims.domain.channels import SalesChannel
from omsims.domain.copies import deep_copy
from omsims.domain.events import (
    BackInStock,
    BackorderFilled,
    ChannelAvailabilityChanged,
    Event,
    FulfilmentOrderCreated,
    LowStock,
    OutOfStock,
    StockChanged,
)
from omsims.domain.fulfilment import (
    FulfilmentLine,
    FulfilmentOrder,
    FulfilmentStatus,
    Shipment,
    ShipmentStatus,
    line_reference,
    parse_line_reference,
)
from omsims.domain.idempotency import same_payload
from omsims.domain.locations import Location
from omsims.domain.orders import Order
from omsims.domain.pickup import PickupPolicy
from omsims.domain.returns import RefundPolicy
from omsims.domain.stock import FREE_SIGNS, BackorderFill, Posting
from omsims.domain.supply import Reservation
from omsims.domain.values import Address, GeoPoint, LocationId, Sku, as_identifier, aware
from omsims.errors import (
    BackdatedPostingRejected,
    IdempotencyConflict,
    InsufficientStock,
    InvalidIdentifier,
    InvalidPlan,
    InvalidQuantity,
    InvalidTime,
    OmsimsError,
    StaleRead,
    UnknownFulfilmentOrder,
    UnknownLocation,
    UnknownOrder,
    ValidationError,
)
from omsims.ports import (
    Clock,
    Notifier,
    OrderArchive,
    Outbox,
    PaymentGateway,
    ShippingCarrier,
    StockLedger,
    UnitOfWork,
    UnitOfWorkFactory,
)
from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)
from omsims.sourcing.returns import DefaultReturnRouting, ReturnRouting

__all__ = ["ServiceCore"]

_R = TypeVar("_R")
_set_field = object.__setattr__  # how attrs itself sets a frozen field

_STOCK_TOPICS = frozenset(
    {StockChanged, BackInStock, OutOfStock, LowStock, ChannelAvailabilityChanged}
)
"""The events found by comparing stock before and after a command (``_stock_events``)."""


def notifier_topics(notifier: Notifier) -> frozenset[type[Event]] | None:
    """The event classes ``notifier`` subscribes to (its ``topics``); ``None``: every one.

    A class stands for itself and every class derived from it (``PaymentMoved`` for
    each kind of payment event). Refuses anything but a collection of event classes, so
    a misspelt topic (a name as a string, say) fails when the notifier is given to the
    Oms instead of silently never matching; and refuses a one-shot iterator, which a
    second Oms would find empty.
    """
    # Only an attribute the notifier really has: a test double (unittest.mock) makes up
    # any attribute asked for, and is meant to hear every event.
    if inspect.getattr_static(notifier, "topics", None) is None:
        return None
    topics = getattr(notifier, "topics", None)
    if topics is None:
        return None
    if isinstance(topics, str | type) or not isinstance(topics, Collection):
        raise ValidationError(
            f"a notifier's topics must be a collection of event classes, got {topics!r}"
        )
    chosen: set[type[Event]] = set()
    for topic in topics:
        if not (isinstance(topic, type) and issubclass(topic, Event)):
            raise ValidationError(
                f"a notifier's topics must be event classes from omsims.events, got {topic!r}"
            )
        kinds = [topic]
        while kinds:  # the class and every class derived from it
            kind = kinds.pop()
            chosen.add(kind)
            kinds.extend(kind.__subclasses__())
    return frozenset(chosen)


class _LedgerInventory:
    """The inventory view a strategy sees: the locations and ledger availability."""

    def __init__(self, uow: UnitOfWork, day: date) -> None:
        self._ledger = uow.ledger
        self._capacity = uow.capacity
        self._day = day
        # Every location, inactive ones too: strategies drop them and say why.
        self._locations = uow.locations.list()
        # Bound straight to the ledger: strategies call these once per probe.
        self.available = uow.ledger.available
        self.stocking = uow.ledger.stocking

    def locations(self) -> Sequence[Location]:
        return self._locations

    def capacity_left(self, location: Location) -> int | None:
        """Fulfilment orders ``location`` may still accept today (``None``: no limit)."""
        if location.daily_capacity is None:
            return None
        return max(0, location.daily_capacity - self._capacity.used(location.id, self._day))

    def incoming(self, sku: str, location: str) -> list[tuple[datetime, int]]:
        """Arrivals due at the position that no waiting backorder has claimed yet."""
        return self._ledger.unpromised_supply(sku, location)

    def backorder_room(self, sku: str, location: str) -> int:
        settings = self._ledger.settings(sku, location)
        if not settings.allow_backorders:  # the common case: skip building a StockLevel
            return 0
        return settings.backorder_room(self._ledger.balance(sku, location).backordered)


def _commit_order(event: Event) -> tuple[int, str]:
    """Events in the order they were committed: by the number in their id."""
    number = event.id.rsplit("-", 1)[-1]
    return (int(number), event.id) if number.isdigit() else (0, event.id)


def _later(a: datetime | None, b: datetime | None, *, first: bool) -> datetime | None:
    """The promise of a line's backorders so far (``a``) with more units due ``b``."""
    if first:
        return b
    return None if a is None or b is None else max(a, b)


def _address(order: Order) -> Address | None:
    return None if order.ship_to is None else order.ship_to.address


def _fo_age(uow: UnitOfWork, fo_id: str) -> tuple[datetime, str]:
    fo = uow.fulfilment_orders.get(fo_id)
    assert fo is not None  # noqa: S101 (the ledger's claim names an existing order)
    return (fo.created_at, fo.id)


def not_before(at: datetime, earliest: datetime, what: str) -> None:
    """Refuse a command dated before the thing it acts on came to be."""
    if at < earliest:
        raise BackdatedPostingRejected(f"{at} is before {what} ({earliest})")


_N = TypeVar("_N")


def _by_name(values: Sequence[_N], kind: type, what: str) -> dict[str, _N]:
    """``values`` by their ``name``; each of ``kind``, every name once."""
    out: dict[str, _N] = {}
    for v in values:
        if not isinstance(v, kind):
            raise InvalidIdentifier(f"{what} must be {kind.__name__} values, got {v!r}")
        name = getattr(v, "name", None)
        if not isinstance(name, str) or name in out:
            raise InvalidIdentifier(f"two {what} are named {name!r}")
        out[name] = v
    return out


def held_in_store(uow: UnitOfWork, reference: str, store: str) -> list[Reservation]:
    """The active reservations made under ``reference`` at ``store`` (to try on)."""
    return [
        r for r in uow.ledger.reservations() if r.reference == reference and r.location == store
    ]


def _held_for(uow: UnitOfWork, order: Order, store: str) -> dict[str, list[tuple[str, list[int]]]]:
    """A till sale's in-store reservation: per SKU, (reservation id, [units left])."""
    held: dict[str, list[tuple[str, list[int]]]] = {}
    if order.reservation is None or order.pickup_at is not None:
        return held
    for r in held_in_store(uow, order.reservation, store):
        held.setdefault(r.sku, []).append((r.id, [r.remaining]))
    return held


def _backorder_at(
    uow: UnitOfWork,
    store: str,
    unfilled: Sequence[tuple[int, int]],
    lines: Sequence[RequestLine],
    *,
    usable: bool,
) -> tuple[list[Allocation], list[tuple[int, int]]]:
    """Wait at the pickup store for what nothing can send, where its position allows.

    Promised by the store's own unpromised supply, when it covers them.
    """
    skus = {rl.line: rl.sku for rl in lines}
    waiting: list[Allocation] = []
    left: list[tuple[int, int]] = []
    room: dict[str, int] = {}
    for line, units in unfilled:
        sku = skus[line]
        if not usable:
            left.append((line, units))
            continue
        if sku not in room:
            level = uow.ledger.balance(sku, store) if store in uow.ledger.stocking(sku) else None
            room[sku] = (
                0
                if level is None
                else uow.ledger.settings(sku, store).backorder_room(level.backordered)
            )
        n = min(units, room[sku])
        if n:
            room[sku] -= n
            supply = 0
            promised = None
            for eta, q in uow.ledger.unpromised_supply(sku, store):
                supply += q
                if supply >= n:
                    promised = eta
                    break
            waiting.append(
                Allocation(line, Sku(sku), LocationId(store), n, backorder=True, promised=promised)
            )
        if units > n:
            left.append((line, units - n))
    return waiting, left


def _available_before(uow: UnitOfWork, sku: str, loc: str, free_moved: int) -> int:
    """A position's available before a command moved its free units by ``free_moved``."""
    level = uow.ledger.balance(sku, loc)
    return max(0, level.free - free_moved - level.safety_stock)


def serving_locations(locations: Sequence[Location], channel: str) -> frozenset[str]:
    """The locations whose stock a channel may sell: active, serving it, shipping or pickup."""
    return frozenset(
        loc.id
        for loc in locations
        if loc.active and loc.serves(channel) and (loc.can_ship or loc.can_pickup)
    )


def serving_available(ledger: StockLedger, sku: str, serving: frozenset[str]) -> int:
    """Available of ``sku`` summed over the ``serving`` locations."""
    return sum(ledger.available(sku, loc) for loc in ledger.stocking(sku) if loc in serving)


def not_before_delivery(uow: UnitOfWork, order_id: str, line: int, at: datetime) -> None:
    """Refuse ``at`` before a parcel carrying units of ``line`` was delivered."""
    for shipment in uow.shipments.for_order(order_id):
        if shipment.delivered_at is not None and any(n == line for n, _, _ in shipment.lines):
            not_before(at, shipment.delivered_at, f"shipment {shipment.id} was delivered")


def placement_key(order_id: str) -> str:
    """Where place_order keeps an order's fingerprint (its natural idempotency key)."""
    return f"order:{order_id}"


def _id(value: object, what: str) -> str:
    """Refuse an id that is not even a string before it reaches a repository lookup."""
    if type(value) is not str:
        as_identifier(value, what)
    return value  # type: ignore[return-value]


class ServiceCore:
    """What every command shares: the ports, the transaction runner, event hand-over.

    :class:`omsims.OmsService` combines it with the stock, order, fulfilment and query
    commands; its docstring describes the arguments.
    """

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        clock: Clock,
        notifier: Notifier,
        strategy: SourcingStrategy,
        payments: PaymentGateway | None = None,
        carriers: Sequence[ShippingCarrier] = (),
        return_routing: ReturnRouting | None = None,
        refund_policy: RefundPolicy | None = None,
        pickup: PickupPolicy | None = None,
        channels: Sequence[SalesChannel] = (),
        keep_events: int = 10_000,
        archive: OrderArchive | None = None,
    ) -> None:
        """Wire the service to its ports."""
        self._uow = unit_of_work
        self.clock = clock
        self.notifier = notifier  # (a property: reads the notifier's topics)
        self.strategy = strategy
        if payments is not None and not isinstance(payments, PaymentGateway):
            raise InvalidIdentifier(
                f"payments must implement the PaymentGateway port, got {payments!r}"
            )
        self.payments = payments
        self.carriers: dict[str, ShippingCarrier] = _by_name(carriers, ShippingCarrier, "carriers")
        self.return_routing = (
            return_routing if return_routing is not None else DefaultReturnRouting()
        )
        if not isinstance(self.return_routing, ReturnRouting):
            raise InvalidIdentifier(
                f"return_routing must implement ReturnRouting, got {return_routing!r}"
            )
        self.refund_policy = refund_policy if refund_policy is not None else RefundPolicy()
        if not isinstance(self.refund_policy, RefundPolicy):
            raise InvalidIdentifier(f"refund_policy must be a RefundPolicy, got {refund_policy!r}")
        self.channels: dict[str, SalesChannel] = _by_name(channels, SalesChannel, "channels")
        self.pickup = pickup if pickup is not None else PickupPolicy()
        if not isinstance(self.pickup, PickupPolicy):
            raise InvalidIdentifier(f"pickup must be a PickupPolicy, got {pickup!r}")
        if type(keep_events) is not int or keep_events < 0:
            raise InvalidQuantity(f"keep_events must be an int >= 0, got {keep_events!r}")
        self.published_events: deque[Event] = deque(maxlen=keep_events)
        if archive is not None and not isinstance(archive, OrderArchive):
            raise InvalidIdentifier(
                f"archive must implement the OrderArchive port, got {archive!r}"
            )
        if archive is not None and not getattr(unit_of_work, "archives", False):
            raise ValidationError(
                f"{type(unit_of_work).__name__} does not archive orders: a durable store keeps "
                "them in its database; the archive is for the in-memory store"
            )
        self.archive_port = archive
        # A durable store keeps committed events in its outbox (written in the command's
        # transaction); otherwise they wait here, in memory, numbered by this service.
        self._outbox: Outbox | None = getattr(unit_of_work, "outbox", None)
        self._pending: deque[Event] = deque()
        self._numbered = 0
        # A store working inside a host's transaction: its commits are not final yet.
        self._host_commits = bool(getattr(unit_of_work, "host_commits", False))
        # Guards the queue of events waiting for the notifier and who is delivering them.
        self._notify_lock = threading.Lock()
        self._delivering = False

    @property
    def notifier(self) -> Notifier:
        """Receives events after each command commits; replaceable between commands.

        A notifier with a ``topics`` attribute (a collection of event classes) subscribes
        to those events alone: the Oms records no others, so they are never built where
        finding them costs work (the stock events), written to a durable store's outbox,
        numbered or delivered. The topics are read when the notifier is given.
        """
        return self._told[0]

    @notifier.setter
    def notifier(self, notifier: Notifier) -> None:
        topics = notifier_topics(notifier)  # first: a refused notifier changes nothing
        # The notifier, its topics, and whether any stock event is among them (if not, a
        # command skips looking for them): one assignment, so nothing ever pairs a
        # notifier with another's topics.
        stock = topics is None or not topics.isdisjoint(_STOCK_TOPICS)
        self._told = (notifier, topics, stock)

    def _emit(self, uow: UnitOfWork, event: Event) -> None:
        """Record ``event`` in ``uow`` if the notifier subscribes to its kind."""
        topics = self._told[1]
        if topics is None or type(event) in topics:
            uow.collect(event)

    def _now(self, at: datetime | None) -> datetime:
        now = self.clock.now()
        if at is None:
            return now
        aware(at)
        if at > now:
            raise InvalidTime(f"business time {at} is in the future (now is {now})")
        return at

    def _run(
        self,
        name: str,
        payload: tuple[Hashable, ...],
        key: str | None,
        body: Callable[[UnitOfWork], _R],
    ) -> _R:
        self._check_key(key)
        # A store without a global lock (PostgreSQL) refuses a commit whose reads another
        # process changed meanwhile; the command then runs again on fresh state. Every
        # refusal means some other command committed, so the system as a whole progresses.
        # Read per command: a store's attempts may be changed while it is in use. (The
        # in-memory store declares its 1, so this lookup finds it without an exception.)
        attempts: int = getattr(self._uow, "attempts", 1)
        for attempt in range(1, attempts + 1):
            try:
                result = self._attempt(name, payload, key, body)
            except StaleRead:
                if attempt == attempts:
                    raise
            else:
                # Outside the retry loop: once committed, nothing may run the command
                # again or report it failed, whatever delivering its events does.
                self.retry_notifications()
                return result
        raise AssertionError  # pragma: no cover (the loop returns or raises)

    def _attempt(
        self,
        name: str,
        payload: tuple[Hashable, ...],
        key: str | None,
        body: Callable[[UnitOfWork], _R],
    ) -> _R:
        with self._uow() as uow:
            # User keys and natural keys (order ids) live in separate namespaces.
            stored_key = None if key is None else f"key:{key}"
            if stored_key is not None and (hit := uow.idempotency.get(stored_key)) is not None:
                if not same_payload(hit[0], (name, payload)):
                    raise IdempotencyConflict(
                        f"idempotency key {key!r} was first used for {hit[0][0]} "  # type: ignore[index]
                        "with other arguments"
                    )
                # A copy: what the caller does to it must not change the stored result.
                return deep_copy(hit[1])  # type: ignore[no-any-return]
            first = uow.ledger.cursor
            result = body(uow)
            if uow.ledger.cursor != first:  # it posted: supply may move backorders
                self._replan_backorders(uow, first)
                if self._told[2]:
                    self._stock_events(uow, first)
            if stored_key is not None:
                uow.idempotency.put(stored_key, (name, payload), deep_copy(result))
            uow.commit()
            if self._host_commits:
                # Inside a host's transaction nothing is final until the host commits:
                # the events wait in the outbox for the host's relay() after its commit.
                return result
            # Queued while the store is still held, so events wait in commit order. A
            # durable store's outbox numbered them; otherwise this service does.
            events = uow.committed_events()
            if events:
                with self._notify_lock:
                    numbered = self._numbered
                    for event in events:
                        if not event.id:
                            # Numbered in place: this command made the event and nobody
                            # else holds it yet (attrs itself sets frozen fields this way).
                            numbered += 1
                            _set_field(event, "id", f"evt-{numbered}")
                    self._numbered = numbered
                    self._pending.extend(events)
        return result

    @staticmethod
    def _check_key(key: str | None) -> None:
        if key is not None and (type(key) is not str or not key or len(key) > 200):
            raise InvalidIdentifier(f"an idempotency key must be a non-empty string, got {key!r}")

    @staticmethod
    def _replayed(uow: UnitOfWork, key: str | None) -> bool:
        """Whether a command under idempotency ``key`` already ran (``_run`` will replay it)."""
        return key is not None and uow.idempotency.get(f"key:{key}") is not None

    def _read(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work to read in: the store's read-only one if it has one.

        A store may offer ``read()``, a context manager giving a unit of work that only
        reads (SQLite: a snapshot that does not take the write lock); otherwise queries
        run in a unit of work like commands, and leave it without committing.
        """
        # The store's context manager itself, not one wrapped around it: queries are
        # most of what a simulation asks, and each wrapper costs a generator.
        reader = getattr(self._uow, "read", None)
        return reader() if reader is not None else self._uow()

    def close(self) -> None:
        """Close the storage (a durable store's connection); the Oms is unusable after."""
        close = getattr(self._uow, "close", None)
        if close is not None:
            close()

    def retry_notifications(self) -> int:
        """Hand waiting events to the notifier, oldest first; returns how many went.

        Stops at the first failure so events are never delivered out of order. One
        thread delivers at a time; a command issued from inside the notifier (or from
        another thread meanwhile) only queues its events, and the delivering loop hands
        them over after the ones before them.
        """
        if not self._pending:
            # Nothing waits (read without the lock: whoever queues an event delivers it).
            return 0
        with self._notify_lock:
            if self._delivering or not self._pending:
                return 0
            self._delivering = True
            batch = list(self._pending)  # taken off the queue once delivered
        sent = 0
        accepted: list[str] | None = [] if self._outbox is not None else None
        # Events recorded before the notifier was replaced by one with narrower topics,
        # or left in an outbox by another process, may not be this notifier's: those are
        # passed over, and count as done.
        notifier, topics, _stock = self._told
        try:
            while batch:
                delivered = 0
                told: list[Event] = []  # the delivered events the notifier was given
                failed = True
                try:
                    for event in batch:
                        if topics is None or type(event) in topics:
                            notifier.publish(event)  # never under a lock: it may call us back
                            told.append(event)
                        delivered += 1
                    failed = False
                except Exception:  # noqa: BLE001, S110 (any notifier failure: "try later")
                    pass  # the rest waits, in order, for the next call
                finally:
                    went = batch[:delivered] if failed else batch
                    sent += len(told)
                    if accepted is not None:
                        accepted.extend(event.id for event in went)
                    # One lock to take the delivered part off the queue and to decide
                    # whether to go on: an event queued meanwhile is either seen here or
                    # finds nobody delivering.
                    batch = self._published(went, told, go_on=not failed)
            return sent
        finally:
            if batch:  # our own bookkeeping failed part-way: let the next call deliver
                with self._notify_lock:
                    self._delivering = False
            if accepted:
                # One write for the lot. If it fails (the database is unreachable, say),
                # the events were delivered all the same and only come again later, with
                # the same ids: at least once, never an error here.
                with contextlib.suppress(OmsimsError):
                    self._outbox.delivered(accepted)  # type: ignore[union-attr]

    def _published(self, events: list[Event], told: list[Event], *, go_on: bool) -> list[Event]:
        """Take delivered events off the queue; the next batch, or ``[]`` and stop delivering.

        The ones the notifier was ``told`` go to :attr:`published_events` (the rest were
        not for its topics). With ``go_on`` false (the notifier failed) or nothing left
        waiting, delivering stops here, under the same lock.
        """
        with self._notify_lock:
            pending = self._pending
            whole = len(pending) == len(events) and all(map(operator.is_, pending, events))
            if whole:
                pending.clear()  # the usual case: the whole queue went, in order
            for event in () if whole else events:
                # By identity (equal events may differ in id); usually the first, but
                # relay() may have re-sorted the queue meanwhile.
                if pending and pending[0] is event:
                    pending.popleft()
                else:
                    at = next(i for i, e in enumerate(pending) if e is event)
                    del pending[at]
            self.published_events.extend(told)
            if go_on and pending:
                return list(pending)
            self._delivering = False
            return []

    def relay(self) -> int:
        """Deliver every event still waiting in a durable store's outbox, then this process's.

        For events committed by a process that stopped before its notifier took them
        (a crash, a notifier that was down): run it when a process starts, or from one
        relay process now and then. Delivery is at least once: an event another process
        is delivering at that moment may be delivered twice, with the same ``id``.
        Returns how many events went out.
        """
        if self._outbox is not None:
            stored = self._outbox.pending(10**9)  # the store's lock first, never under ours
            with self._notify_lock:
                known = {e.id for e in self._pending}
                waiting = [e for e in stored if e.id not in known]
                merged = sorted([*self._pending, *waiting], key=_commit_order)
                self._pending.clear()
                self._pending.extend(merged)
        sent = self.retry_notifications()
        flush = getattr(self._outbox, "flush", None)
        if flush is not None:  # a relay may be all this process does: save the marks now
            with contextlib.suppress(OmsimsError):
                flush()
        return sent

    @property
    def pending_notifications(self) -> list[Event]:
        """Events this process committed that the notifier has not accepted yet.

        With a durable store, events other processes left behind are in its outbox until
        :meth:`relay` picks them up.
        """
        return list(self._pending)

    def _stock_events(self, uow: UnitOfWork, first: int) -> None:
        """Publish what the command did to stock.

        One StockChanged per position it touched, OutOfStock or BackInStock where available
        reached or left zero, LowStock where it crossed its threshold, and
        ChannelAvailabilityChanged for every listing whose offer moved.
        """
        ledger = uow.ledger
        entries = ledger.entries_from(first)
        if not entries:
            return
        # position -> the change of its free units (on hand nobody claims), in entry order
        touched: dict[tuple[str, str], int] = {}
        at = entries[0].at  # the latest of the entries' times, found in the same pass
        for e in entries:
            k = (e.sku, e.location)
            touched[k] = touched.get(k, 0) + FREE_SIGNS[e.kind] * e.quantity
            if e.at > at:  # noqa: PLR1730 (hot path: no call)
                at = e.at
        moved: dict[tuple[str, str], int] = {}  # position -> change of available
        for (sku, loc), d_free in touched.items():
            on_hand, available = ledger.on_hand_and_available(sku, loc)
            self._emit(uow, StockChanged(at, sku, loc, on_hand, available))
            if available and d_free > 0 and available <= d_free:
                # available = free - safety stock when above 0, so before = available - d_free
                self._emit(uow, BackInStock(at, sku, loc, available))
            elif not available and d_free < 0 and _available_before(uow, sku, loc, d_free):
                self._emit(uow, OutOfStock(at, sku, loc, on_hand))
            threshold = ledger.settings(sku, loc).low_stock_threshold
            watched = threshold is not None and available <= threshold
            if watched or self.channels:
                before = _available_before(uow, sku, loc, d_free)
                moved[(sku, loc)] = available - before
                if threshold is not None and available <= threshold < before:
                    self._emit(uow, LowStock(at, sku, loc, available, threshold))
        if self.channels:
            self._channel_events(uow, moved, at)

    def _channel_events(
        self, uow: UnitOfWork, moved: dict[tuple[str, str], int], at: datetime
    ) -> None:
        """Publish each channel listing whose offer this command changed."""
        locations = uow.locations.list()
        for channel in self.channels.values():
            serving = serving_locations(locations, channel.name)
            delta: dict[str, int] = {}
            for (sku, loc), d in moved.items():
                if d and loc in serving:
                    delta[sku] = delta.get(sku, 0) + d
            listings = dict.fromkeys(
                name for sku, d in delta.items() if d for name in channel.listings_of(sku)
            )
            for listing in listings:
                now = {
                    sku: serving_available(uow.ledger, sku, serving)
                    for sku in channel.internal_skus(listing)
                }
                was = {sku: n - delta.get(sku, 0) for sku, n in now.items()}
                offer = channel.offer(listing, now)
                if offer != channel.offer(listing, was):
                    self._emit(uow, ChannelAvailabilityChanged(at, channel.name, listing, offer))

    # -- shared by the commands --------------------------------------------------------

    @staticmethod
    def _snapshot(order: Order | None) -> Order:
        assert order is not None  # noqa: S101 (callers looked it up)
        return order.copy()

    @staticmethod
    def _location(uow: UnitOfWork, location_id: str) -> Location:
        loc = uow.locations.get(_id(location_id, "location id"))
        if loc is None:
            raise UnknownLocation(f"location {location_id!r} was never added")
        return loc

    def _order_for_update(
        self, uow: UnitOfWork, order_id: str, at: datetime | None = None
    ) -> Order:
        order = uow.orders.get_for_update(_id(order_id, "order id"))
        if order is None:
            raise self._no_order(order_id)
        if at is not None:
            not_before(at, order.placed_at, f"order {order.id} was placed")
        return order

    def _order(self, uow: UnitOfWork, order_id: str) -> Order:
        order = uow.orders.get(_id(order_id, "order id"))
        if order is None:
            raise self._no_order(order_id)
        return order

    def _placed_before(self, order_id: str, fingerprint: object) -> ArchivedOrder | None:
        """The archived order placed under ``order_id`` with these contents, if archived.

        Other contents under an archived id raise ``IdempotencyConflict``.
        """
        if self.archive_port is None:
            return None
        record = self.archive_port.get(order_id)
        if record is None:
            return None
        if record.placement != fingerprint:
            raise IdempotencyConflict(
                f"order {order_id!r} was already placed (and archived) with other contents"
            )
        return record

    def _no_order(self, order_id: str) -> UnknownOrder:
        """The error for an order the store lacks, saying so if it was archived."""
        archive = self.archive_port
        if archive is not None and archive.get(order_id) is not None:
            return UnknownOrder(
                f"order {order_id!r} is archived: read it with archived_order(); "
                "nothing more can happen to it"
            )
        return UnknownOrder(f"no order {order_id!r}")

    @staticmethod
    def _fulfilment_for_update(
        uow: UnitOfWork, fulfilment_order_id: str, at: datetime | None = None
    ) -> FulfilmentOrder:
        fo = uow.fulfilment_orders.get_for_update(_id(fulfilment_order_id, "fulfilment order id"))
        if fo is None:
            raise UnknownFulfilmentOrder(f"no fulfilment order {fulfilment_order_id!r}")
        if at is not None:
            not_before(at, fo.created_at, f"fulfilment order {fo.id} was created")
        return fo

    def _plan(
        self,
        uow: UnitOfWork,
        order: Order,
        when: datetime,
        lines: tuple[RequestLine, ...] | None = None,
    ) -> SourcingPlan:
        """Ask the strategy about ``lines`` (default: every unallocated unit of the order).

        An order picked up or carried out at a store takes what that store has first;
        a pickup asks the strategy for the rest (sent to the store), a carry-out leaves
        it unfilled.
        """
        if lines is None:
            lines = tuple(
                RequestLine(ln.number, ln.sku, ln.unallocated)
                for ln in order.lines
                if ln.unallocated
            )
        store = order.pickup_at or (order.sold_at if order.ship_to is None else None)
        if store is None:
            address = _address(order)
            destination = None if order.ship_to is None else order.ship_to.coordinates
            return self._ask_strategy(uow, order, when, lines, destination, address)
        return self._plan_at_store(uow, order, when, lines, store)

    def _plan_at_store(
        self,
        uow: UnitOfWork,
        order: Order,
        when: datetime,
        lines: tuple[RequestLine, ...],
        store: str,
    ) -> SourcingPlan:
        explanation = Explanation("in-store")
        here: list[Allocation] = []
        rest: list[RequestLine] = []
        location = self._location(uow, store)
        usable = store not in order.excluded_locations and location.active
        taken: dict[str, int] = {}
        held = _held_for(uow, order, store)
        for rl in lines:
            want = rl.quantity
            for rid, left in held.get(rl.sku, []):
                n = min(want, left[0])
                if n:  # the customer is buying what they reserved to try on
                    here.append(Allocation(rl.line, rl.sku, LocationId(store), n, reservation=rid))
                    left[0] -= n
                    want -= n
                    explanation.note(f"line {rl.line}: {n} from reservation {rid}")
            free = 0
            if usable and store in uow.ledger.stocking(rl.sku):
                free = max(0, uow.ledger.available(rl.sku, store) - taken.get(rl.sku, 0))
            n = min(want, free)
            if n:
                here.append(Allocation(rl.line, rl.sku, LocationId(store), n))
                taken[rl.sku] = taken.get(rl.sku, 0) + n
                explanation.took(rl.line, rl.sku, store, n, backorder=False)
            if want > n:
                rest.append(RequestLine(rl.line, rl.sku, want - n))
        if not rest:
            return SourcingPlan(tuple(here), (), explanation)
        if order.pickup_at is None:  # carried out: only what the store has
            unfilled = tuple((rl.line, rl.quantity) for rl in rest)
            explanation.note(f"{store} cannot hand over the rest now")
            return SourcingPlan(tuple(here), unfilled, explanation)
        explanation.note(f"the rest is sent to {store} from elsewhere")
        elsewhere = self._ask_strategy(
            uow, order, when, tuple(rest), location.coordinates, None, exclude=store
        )
        waiting, short = _backorder_at(uow, store, elsewhere.unfilled, lines, usable=usable)
        return SourcingPlan(
            (*here, *elsewhere.allocations, *waiting), tuple(short), elsewhere.explanation
        )

    def _ask_strategy(
        self,
        uow: UnitOfWork,
        order: Order,
        when: datetime,
        lines: tuple[RequestLine, ...],
        destination: GeoPoint | None,
        address: Address | None,
        *,
        exclude: str | None = None,
    ) -> SourcingPlan:
        excluded = frozenset(order.excluded_locations)
        request = SourcingRequest(
            order.id,
            lines,
            when,
            destination,
            order.channel,
            excluded if exclude is None else excluded | {exclude},
            address.country if address else None,
            address.region or None if address else None,
        )
        plan = self.strategy.plan(request, _LedgerInventory(uow, when.astimezone(UTC).date()))
        if not isinstance(plan, SourcingPlan) or not isinstance(plan.allocations, tuple):
            raise InvalidPlan(
                f"strategy {getattr(self.strategy, 'name', self.strategy)!r} returned "
                f"{plan!r}, not a SourcingPlan"
            )
        if exclude is not None and any(a.location == exclude for a in plan.allocations):
            raise InvalidPlan(f"the plan for order {order.id} uses a location it may not")
        return plan

    def _shortfall(self, uow: UnitOfWork, order: Order, plan: SourcingPlan) -> list[str]:
        """What the plan leaves unsourced, counted from its allocations (not its word)."""
        allocated: dict[int, int] = {}
        for a in plan.allocations:
            self._check_allocation(uow, order, a)
            allocated[a.line] = allocated.get(a.line, 0) + a.quantity
        return [
            f"line {ln.number}: {ln.unallocated - allocated.get(ln.number, 0)} units"
            for ln in order.lines
            if ln.unallocated > allocated.get(ln.number, 0)
        ]

    def _apply_plan(
        self, uow: UnitOfWork, order: Order, plan: SourcingPlan, when: datetime
    ) -> None:
        """Commit / backorder each allocation and group them into fulfilment orders."""
        by_location: dict[str, list[Allocation]] = {}
        per_line: dict[int, int] = {}
        for a in plan.allocations:
            self._check_allocation(uow, order, a)
            per_line[a.line] = per_line.get(a.line, 0) + a.quantity
            if per_line[a.line] > order.line(a.line).unallocated:
                raise InvalidPlan(
                    f"the plan for order {order.id} allocates {per_line[a.line]} units of line "
                    f"{a.line}, which has only {order.line(a.line).unallocated} to source"
                )
            by_location.setdefault(a.location, []).append(a)
        postings: list[tuple[Allocation, str]] = []
        for location, allocations in by_location.items():
            order.fulfilment_count += 1
            fo = FulfilmentOrder(
                f"{order.id}-F{order.fulfilment_count}", order.id, LocationId(location), [], when
            )
            merged: dict[int, FulfilmentLine] = {}
            for a in allocations:
                fl = merged.get(a.line)
                if fl is None:
                    fl = merged[a.line] = FulfilmentLine(a.line, a.sku, 0)
                    fo.lines.append(fl)
                fl.quantity += a.quantity
                if a.backorder:
                    fl.promised = _later(fl.promised, a.promised, first=not fl.backordered)
                    fl.backordered += a.quantity
                    order.allocate(a.line, backordered=a.quantity)
                else:
                    order.allocate(a.line, committed=a.quantity)
                postings.append((a, line_reference(fo.id, a.line)))
            uow.fulfilment_orders.add(fo)
            self._emit(
                uow,
                FulfilmentOrderCreated(
                    when,
                    fo.id,
                    order.id,
                    location,
                    tuple(
                        (fl.line, fl.sku, fl.quantity, fl.backordered, fl.promised)
                        for fl in fo.lines
                    ),
                ),
            )
        # Stock first, backorders after: a backorder the ledger can fill at once (a strategy
        # backordering where stock is free) is then settled on fulfilment orders that exist.
        for a, ref in sorted(postings, key=lambda p: p[0].backorder):
            if a.backorder:
                posting = uow.ledger.backorder(
                    a.sku, a.location, a.quantity, at=when, reference=ref
                )
                self._settle(uow, posting, when)
            else:
                try:
                    uow.ledger.commit(
                        a.sku,
                        a.location,
                        a.quantity,
                        at=when,
                        reference=ref,
                        reservation_id=a.reservation,
                    )
                except InsufficientStock as exc:
                    raise InvalidPlan(
                        f"the plan for order {order.id} takes more than is available: {exc}"
                    ) from exc

    @staticmethod
    def _check_allocation(uow: UnitOfWork, order: Order, a: Allocation) -> None:
        if (
            not isinstance(a, Allocation)
            or type(a.quantity) is not int
            or a.quantity <= 0
            or type(a.line) is not int
            or type(a.location) is not str
            or type(a.backorder) is not bool
        ):
            raise InvalidPlan(f"the plan for order {order.id} holds a bad allocation {a!r}")
        if not 1 <= a.line <= len(order.lines) or order.line(a.line).sku != a.sku:
            raise InvalidPlan(
                f"the plan for order {order.id} allocates a line it does not have: {a}"
            )
        if a.location in order.excluded_locations or uow.locations.get(a.location) is None:
            raise InvalidPlan(f"the plan for order {order.id} uses a location it may not: {a}")

    def _replan_backorders(self, uow: UnitOfWork, first: int) -> None:
        """Supply arrived: move waiting backorders elsewhere to stock that can ship now.

        For every SKU whose free stock rose in this command, the backorders waiting for it
        at *other* locations (those at the same position were filled first-in-first-out
        by the ledger) are withdrawn, oldest first, and their units sourced again; the
        strategy may take them from the new stock, or backorder them again.
        """
        ledger = uow.ledger
        entries = ledger.entries_from(first)
        if not entries:
            return
        grew: dict[str, set[str]] = {}
        for e in entries:
            if FREE_SIGNS[e.kind] * e.quantity > 0:  # (an adjustment's quantity is signed)
                grew.setdefault(e.sku, set()).add(e.location)
        if not grew:
            return
        when = max(e.at for e in entries)
        for sku, locations in grew.items():
            if not any(ledger.available(sku, loc) for loc in locations):
                continue
            waiting = [
                (fo_id, line, loc, n)
                for loc, ref, n in ledger.backorders_of(sku)
                for fo_id, line in (parse_line_reference(ref),)
                if loc not in locations
            ]
            for fo_id, number, loc, n in sorted(waiting, key=lambda w: _fo_age(uow, w[0])):
                if not any(ledger.available(sku, x) for x in locations):
                    break
                self._move_backorder(uow, fo_id, number, loc, n, when)

    def _move_backorder(
        self, uow: UnitOfWork, fo_id: str, number: int, location: str, n: int, when: datetime
    ) -> None:
        """Move what stock on hand can take of one backordered fulfilment line; keep the rest.

        Only units the strategy would now take from stock move: a backorder the strategy
        would place again keeps its place in its queue.
        """
        fo = self._fulfilment_for_update(uow, fo_id)
        order = self._order_for_update(uow, fo.order_id)
        sku = order.line(number).sku
        plan = self._plan(uow, order, when, (RequestLine(number, sku, n),))
        on_hand = tuple(a for a in plan.allocations if not a.backorder)
        moved = sum(a.quantity for a in on_hand)
        if moved == 0:
            return
        uow.ledger.cancel_backorder(
            sku, location, moved, at=when, reference=line_reference(fo.id, number)
        )
        fo.cancel_units(number, backordered=moved, ready=0, at=when)
        order.deallocate(number, backordered=moved)
        self._drain(uow, fo)
        plan.explanation.note(f"{moved} backordered units moved from {location} to stock")
        self._apply_plan(uow, order, SourcingPlan(on_hand, (), plan.explanation), when)
        uow.fulfilment_orders.save(fo)
        uow.orders.save(order)

    def _drain(self, uow: UnitOfWork, aggregate: FulfilmentOrder | Shipment) -> None:
        """Hand the events an aggregate recorded to the unit of work, in order."""
        for event in aggregate.events:
            self._emit(uow, event)
        aggregate.events.clear()

    @staticmethod
    def _deliver_if_complete(uow: UnitOfWork, fo: FulfilmentOrder) -> None:
        """SHIPPED -> DELIVERED once every parcel of it arrived, or was lost and resolved."""
        if fo.status is FulfilmentStatus.SHIPPED and all(
            s.status in (ShipmentStatus.DELIVERED, ShipmentStatus.UNCLAIMED)
            or s.resolution is not None
            for s in uow.shipments.for_order(fo.order_id)
            if s.fulfilment_order_id == fo.id
        ):
            fo.mark_delivered()

    def _settle(self, uow: UnitOfWork, posting: Posting, when: datetime) -> None:
        if posting.fills:
            self._apply_fills(uow, posting.fills, when)

    def _apply_fills(self, uow: UnitOfWork, fills: Sequence[BackorderFill], when: datetime) -> None:
        """Backorders the ledger filled: move their units to committed on the order side."""
        for fill in fills:
            fo_id, number = parse_line_reference(fill.reference)
            fo = self._fulfilment_for_update(uow, fo_id)
            order = self._order_for_update(uow, fo.order_id)
            fo.fill_backorder(number, fill.quantity)
            order.fill_backorder(number, fill.quantity)
            uow.fulfilment_orders.save(fo)
            uow.orders.save(order)
            self._emit(
                uow, BackorderFilled(when, order.id, fo.id, number, fill.location, fill.quantity)
            )
