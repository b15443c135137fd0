"""Hypothesis strategies for omsims's domain: from one SKU to a whole scenario.

Every strategy takes its parts as keyword arguments that are themselves strategies (as
``xarray.testing.strategies`` does), so you narrow what you test without writing a new
generator, and bounds for its sizes. Each shrinks toward a small readable example: one
location, one SKU, quantity 1, no stock, default flags.

>>> from hypothesis import given, settings
>>> from omsims.sourcing import Nearest
>>> from omsims.testing.invariants import check_plan
>>> @settings(max_examples=20, database=None)
... @given(sourcing_cases(networks=networks(max_locations=3)))
... def test_nearest_keeps_every_plan_invariant(case):
...     check_plan(Nearest().plan(case.request, case.network), case.request, case.network)
>>> test_nearest_keeps_every_plan_invariant()

Requires the ``testing`` extra (Hypothesis).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import attrs
from hypothesis import strategies as st

from omsims.domain.ledger import Ledger
from omsims.domain.locations import Location, LocationKind
from omsims.domain.orders import ShipTo
from omsims.domain.values import Address, GeoPoint, Money, Sku
from omsims.errors import OmsimsError
from omsims.sourcing.plan import RequestLine, SourcingRequest
from omsims.testing.network import Network
from omsims.testing.plugin import T0

__all__ = [
    "DELIVERY_METHODS",
    "EPOCH",
    "SKU_NAMES",
    "OrderSpec",
    "SourcingCase",
    "addresses",
    "geo_points",
    "ledgers",
    "location_ids",
    "locations",
    "money",
    "networks",
    "orders",
    "quantities",
    "request_lines",
    "scenarios",
    "skus",
    "sourcing_cases",
    "sourcing_requests",
    "stock_levels",
]

EPOCH = T0
"""When generated requests are made and from when generated supply is due (the kit's T0)."""

DELIVERY_METHODS = ("ship", "pickup", "in_store", "endless_aisle", "unaddressed")
"""How a generated order reaches its customer, as ``Oms.place_order`` allows:
sent to an address; picked up at a store; handed over at the till; bought at a
store and sent home; no destination given."""

_S = st.SearchStrategy


def skus() -> _S[str]:
    """Well-formed SKUs, shrinking to ``"A"``."""
    return st.from_regex(r"[A-Z][A-Z0-9\-]{0,7}", fullmatch=True)


def location_ids() -> _S[str]:
    """Well-formed location ids, shrinking to ``"a"``."""
    return st.from_regex(r"[a-z][a-z0-9\-]{0,7}", fullmatch=True)


def quantities(*, min_value: int = 1, max_value: int = 10) -> _S[int]:
    """Whole units from ``min_value`` to ``max_value``, shrinking to ``min_value``."""
    return st.integers(min_value, max_value)


def money(*, currency: str = "EUR", min_value: int = 0, max_value: int = 1_000) -> _S[Money]:
    """Amounts in whole cents between the bounds (in major units), shrinking to the minimum."""
    cents = st.integers(min_value * 100, max_value * 100)
    return cents.map(lambda c: Money(Decimal(c) / 100, currency))


def geo_points(
    *,
    min_latitude: float = 47.0,
    max_latitude: float = 55.0,
    min_longitude: float = 6.0,
    max_longitude: float = 15.0,
) -> _S[GeoPoint]:
    """Points inside a box (by default around Germany), to four decimals."""

    def point(lat: int, lon: int) -> GeoPoint:
        return GeoPoint(lat / 10_000, lon / 10_000)

    return st.builds(
        point,
        st.integers(round(min_latitude * 10_000), round(max_latitude * 10_000)),
        st.integers(round(min_longitude * 10_000), round(max_longitude * 10_000)),
    )


def addresses(
    *, countries: _S[str | None] | None = None, coordinates: _S[GeoPoint | None] | None = None
) -> _S[Address]:
    """Postal addresses with a country and, usually, coordinates."""
    return st.builds(
        Address,
        line1=st.sampled_from(["1 Main St", "Hauptstr. 5"]),
        city=st.sampled_from(["Berlin", "Munich"]),
        postal_code=st.sampled_from(["10117", "80331"]),
        country=countries if countries is not None else st.sampled_from(["DE", "AT", None]),
        coordinates=coordinates if coordinates is not None else geo_points() | st.none(),
    )


def _first_is_default(values: Sequence[Any]) -> _S[Any]:
    # sampled_from shrinks to its first element: put the default there.
    return st.sampled_from(list(values))


def _mostly(usual: Any, *others: Any) -> _S[Any]:
    # Three times in four the usual value (and shrinking goes to it): networks whose
    # locations are mostly eligible make plans that differ, which tests need.
    return st.sampled_from([usual, usual, usual, *others])


def _mostly_true() -> _S[bool]:
    return _mostly(True, False)  # noqa: FBT003 (values to sample, not flags)


def locations(
    *,
    ids: _S[str] | None = None,
    kinds: _S[LocationKind] | None = None,
    coordinates: _S[GeoPoint | None] | None = None,
    countries: _S[str | None] | None = None,
    priorities: _S[int] | None = None,
    can_ship: _S[bool] | None = None,
    can_pickup: _S[bool] | None = None,
    active: _S[bool] | None = None,
    daily_capacity: _S[int | None] | None = None,
    channels: _S[frozenset[str] | None] | None = None,
    handling_cost: _S[Money | None] | None = None,
) -> _S[Location]:
    """Locations; every field a strategy you may replace.

    Shrinks toward a default location: an active warehouse that ships, priority 100.
    """
    return st.builds(
        Location,
        ids if ids is not None else location_ids(),
        kind=kinds if kinds is not None else st.sampled_from(list(LocationKind)),
        coordinates=coordinates if coordinates is not None else st.none() | geo_points(),
        country=countries if countries is not None else _first_is_default([None, "DE", "AT"]),
        priority=priorities if priorities is not None else _first_is_default([100, 1, 2, 3]),
        can_ship=can_ship if can_ship is not None else _mostly_true(),
        can_pickup=can_pickup if can_pickup is not None else st.booleans(),
        active=active if active is not None else _mostly_true(),
        daily_capacity=daily_capacity if daily_capacity is not None else st.none(),
        channels=channels
        if channels is not None
        else _mostly(None, frozenset({"web"}), frozenset({"pos"})),
        handling_cost=handling_cost if handling_cost is not None else st.none(),
    )


def stock_levels(
    sku_ids: Sequence[str],
    place_ids: Sequence[str],
    *,
    units: _S[int] | None = None,
    max_positions: int | None = None,
) -> _S[dict[tuple[str, str], int]]:
    """Units at some ``(sku, location)`` positions (none elsewhere), shrinking to none.

    Drawn as a short list of positions rather than a value for every pair, so that a
    failing example shrinks to the one or two positions that matter.
    """
    if not sku_ids or not place_ids:
        return st.just({})
    position = st.tuples(
        st.sampled_from(list(sku_ids)),
        st.sampled_from(list(place_ids)),
        units if units is not None else st.integers(1, 10),
    )
    most = len(sku_ids) * len(place_ids) if max_positions is None else max_positions
    return st.lists(position, max_size=most, unique_by=lambda p: p[:2]).map(
        lambda ps: {(s, loc): n for s, loc, n in ps}
    )


SKU_NAMES = ("A", "B", "C", "D", "E")
"""The SKUs generated networks use unless given ``sku_ids`` (short, so failures read well)."""


def _sparse(
    skus_: int, locations_: int, units: _S[int], most: int | None
) -> _S[list[tuple[int, int, int]]]:
    """``(sku index, location index, units)`` at distinct positions."""
    entry = st.tuples(st.integers(0, skus_ - 1), st.integers(0, locations_ - 1), units)
    return st.lists(
        entry, max_size=skus_ * locations_ if most is None else most, unique_by=lambda e: e[:2]
    )


def _positions(
    entries: list[tuple[int, int, int]], catalogue: Sequence[str], ids: Sequence[str]
) -> dict[tuple[str, str], int]:
    return {(catalogue[s], ids[loc]): n for s, loc, n in entries}


_any_location = locations(ids=st.just("l0"))  # built once (validated on first draw); ids replaced


@st.composite
def networks(
    draw: st.DrawFn,
    *,
    min_locations: int = 1,
    max_locations: int = 5,
    min_skus: int = 1,
    max_skus: int = 3,
    sku_ids: _S[str] | None = None,
    location: _S[Location] | None = None,
    stock: _S[int] | None = None,
    backorder_room: _S[int] | None = None,
    capacity: _S[int] | None = None,
    incoming: _S[list[tuple[int, int]]] | None = None,
) -> Network:
    """A :class:`~omsims.testing.network.Network`: locations, stock and the optional parts.

    Locations are named ``l0``, ``l1``, ... (readable counterexamples); ``location`` draws
    the rest of each (its id is replaced). SKUs come from ``sku_ids`` (default: the
    short :data:`SKU_NAMES`). ``stock`` draws the units at each stocked position,
    ``backorder_room`` the room at up to two backorderable positions, ``capacity`` what
    is left today at some locations (the rest have no limit), and ``incoming``
    ``[(days after EPOCH, units), ...]`` per stocked position (by default none).
    """
    catalogue = draw(
        st.lists(
            sku_ids if sku_ids is not None else st.sampled_from(SKU_NAMES),
            min_size=min_skus,
            max_size=max_skus,
            unique=True,
        )
    )
    # Positions and limits come first, naming SKUs and locations by index; the locations
    # are drawn last, at least as many as named. Hypothesis shrinks the indexes toward 0
    # and then drops the locations at the end, so failures shrink to the locations that
    # matter (drawn first, the locations would not shrink away).
    units = stock if stock is not None else st.integers(1, 10)
    stocked = draw(_sparse(len(catalogue), max_locations, units, None))
    room_units = backorder_room if backorder_room is not None else st.integers(1, 3)
    backorderable = draw(_sparse(len(catalogue), max_locations, room_units, 2))
    caps = st.tuples(
        st.integers(0, max_locations - 1),
        capacity if capacity is not None else st.integers(0, 2),
    )
    limits = draw(st.lists(caps, max_size=max_locations, unique_by=lambda c: c[0]))
    named = [e[1] + 1 for e in (*stocked, *backorderable)] + [i + 1 for i, _n in limits]
    drawn = draw(
        st.lists(
            location if location is not None else _any_location,
            min_size=max([min_locations, *named]),
            max_size=max_locations,
        )
    )
    locs = [attrs.evolve(loc, id=f"l{i}", name=f"l{i}") for i, loc in enumerate(drawn)]
    ids: list[str] = [loc.id for loc in locs]
    levels = _positions(stocked, catalogue, ids)
    room = _positions(backorderable, catalogue, ids)
    capacity_left = {ids[i]: n for i, n in limits}
    arriving: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    if incoming is not None:
        for pos in sorted(levels):
            due = draw(incoming)
            if due:
                arriving[pos] = [(EPOCH + timedelta(days=d), u) for d, u in due]
    return Network(
        locs,
        levels,
        backorder_room=room,
        capacity=capacity_left,
        incoming=arriving,
        catalogue=catalogue,
    )


_any_network = networks()  # sourcing_cases's default, named apart from its argument


def request_lines(
    sku_ids: Sequence[str] | _S[str],
    *,
    quantity: _S[int] | None = None,
    min_lines: int = 1,
    max_lines: int = 4,
) -> _S[tuple[RequestLine, ...]]:
    """Lines numbered 1, 2, ...; two lines may ask for the same SKU."""
    sku = st.sampled_from(list(sku_ids)) if isinstance(sku_ids, Sequence) else sku_ids
    pair = st.tuples(sku, quantity if quantity is not None else quantities(max_value=8))
    return st.lists(pair, min_size=min_lines, max_size=max_lines).map(
        lambda pairs: tuple(RequestLine(i, Sku(s), n) for i, (s, n) in enumerate(pairs, start=1))
    )


def sourcing_requests(
    sku_ids: Sequence[str] | _S[str] | None = None,
    *,
    lines: _S[tuple[RequestLine, ...]] | None = None,
    destination: _S[GeoPoint | None] | None = None,
    channel: _S[str] | None = None,
    excluded: _S[frozenset[str]] | None = None,
    country: _S[str | None] | None = None,
) -> _S[SourcingRequest]:
    """Requests made at :data:`EPOCH` for order ``o1``."""
    return st.builds(
        SourcingRequest,
        st.just("o1"),
        lines if lines is not None else request_lines(sku_ids if sku_ids is not None else skus()),
        st.just(EPOCH),
        destination if destination is not None else st.none() | geo_points(),
        channel if channel is not None else _first_is_default(["web", "pos"]),
        excluded if excluded is not None else st.just(frozenset()),
        country if country is not None else _first_is_default([None, "DE"]),
    )


class SourcingCase(NamedTuple):
    """A request and the network it is sourced from, drawn together."""

    request: SourcingRequest
    network: Network

    def __repr__(self) -> str:
        """Both, short: what Hypothesis prints for a failing case."""
        from omsims.testing.invariants import describe_request

        return f"SourcingCase(request=<{describe_request(self.request)}>, network={self.network!r})"


@st.composite
def sourcing_cases(
    draw: st.DrawFn,
    *,
    networks: _S[Network] | None = None,
    quantity: _S[int] | None = None,
    max_lines: int = 4,
    destination: _S[GeoPoint | None] | None = None,
    channel: _S[str] | None = None,
    exclude: bool = True,
) -> SourcingCase:
    """A network, and a request for SKUs of that network (some locations excluded)."""
    net = draw(networks if networks is not None else _any_network)
    lines = request_lines(net.skus(), quantity=quantity, max_lines=max_lines)
    ids = [loc.id for loc in net.locations()]
    excluded = st.just(frozenset[str]())
    if exclude:
        excluded = st.sets(st.sampled_from(ids), max_size=min(1, len(ids) - 1)).map(frozenset)
    request = draw(
        sourcing_requests(lines=lines, destination=destination, channel=channel, excluded=excluded)
    )
    return SourcingCase(request, net)


# -- ledgers --------------------------------------------------------------------------------

_POSTINGS = ("receive", "adjust", "hold", "release_hold", "write_off", "commit", "ship")


@st.composite
def ledgers(
    draw: st.DrawFn,
    *,
    sku_ids: Sequence[str] = ("A", "B"),
    place_ids: Sequence[str] = ("l0", "l1"),
    max_postings: int = 20,
    units: _S[int] | None = None,
) -> Ledger:
    """A :class:`~omsims.Ledger` after random postings, each a minute after the last.

    Postings the ledger refuses (more than available, say) are skipped, as a real
    system's refused commands leave nothing: what you get has only accepted entries.
    """
    ledger = Ledger()
    for loc in place_ids:
        ledger.add_location(loc)
    for sku in sku_ids:
        ledger.add_sku(sku)
    n = units if units is not None else st.integers(1, 5)
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(_POSTINGS),
                st.sampled_from(list(sku_ids)),
                st.sampled_from(list(place_ids)),
                n,
            ),
            max_size=max_postings,
        )
    )
    for i, (kind, sku, loc, qty) in enumerate(steps):
        with contextlib.suppress(OmsimsError):
            _post(ledger, kind, sku, loc, qty, EPOCH + timedelta(minutes=i), f"o{i}")
    return ledger


def _post(ledger: Ledger, kind: str, sku: str, loc: str, qty: int, at: datetime, ref: str) -> None:
    """One posting of ``ledgers``; the ledger may refuse it."""
    match kind:
        case "receive":
            ledger.receive(sku, loc, qty, at=at)
        case "adjust":
            ledger.adjust(sku, loc, -qty, reason="count", at=at)
        case "hold":
            ledger.hold(sku, loc, qty, reason="damaged", at=at)
        case "release_hold":
            ledger.release_hold(sku, loc, qty, reason="fine", at=at)
        case "write_off":
            ledger.write_off(sku, loc, qty, reason="lost", at=at)
        case "commit":
            ledger.commit(sku, loc, qty, at=at, reference=ref)
        case _:
            ledger.ship(sku, loc, qty, at=at, reference=ref)


# -- orders ---------------------------------------------------------------------------------


@attrs.frozen
class OrderSpec:
    """What to pass to ``Oms.place_order``: a generated order, by delivery method.

    ``method`` is one of :data:`DELIVERY_METHODS`; :meth:`place` places it.
    """

    order_id: str
    lines: tuple[tuple[str, int], ...]
    method: str
    ship_to: GeoPoint | ShipTo | None = None
    store: str | None = None
    channel: str = "web"

    def delivery(self) -> dict[str, Any]:
        """``place_order``'s keyword arguments for the channel and delivery method."""
        where: dict[str, Any] = {"channel": self.channel}
        if self.method in ("ship", "endless_aisle"):
            where["ship_to"] = self.ship_to
        if self.method == "pickup":
            where["pickup_at"] = self.store
        if self.method in ("in_store", "endless_aisle"):
            where["sold_at"] = self.store
        return where

    def place(self, oms: Any, **options: Any) -> Any:
        """Place this order on ``oms`` (extra ``options`` go to ``place_order``)."""
        return oms.place_order(self.order_id, list(self.lines), **self.delivery(), **options)


@st.composite
def orders(
    draw: st.DrawFn,
    *,
    sku_ids: Sequence[str] = ("A", "B"),
    stores: Sequence[str] = ("s1",),
    methods: _S[str] | None = None,
    ids: _S[str] | None = None,
    quantity: _S[int] | None = None,
    max_lines: int = 3,
) -> OrderSpec:
    """Orders over ``sku_ids``, by every delivery method (``methods`` narrows them).

    The store methods (pickup, in-store, endless aisle) use one of ``stores``.
    """
    method = draw(methods if methods is not None else st.sampled_from(DELIVERY_METHODS))
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(list(sku_ids)),
                quantity if quantity is not None else quantities(max_value=5),
            ),
            min_size=1,
            max_size=max_lines,
        )
    )
    ship_to: GeoPoint | ShipTo | None = None
    if method in ("ship", "endless_aisle"):
        ship_to = draw(geo_points() | st.builds(ShipTo, address=addresses()))
    store = (
        draw(st.sampled_from(list(stores)))
        if method in ("pickup", "in_store", "endless_aisle")
        else None
    )
    return OrderSpec(
        draw(ids if ids is not None else st.just("o1")),
        tuple(pairs),
        method,
        ship_to,
        store,
        "pos" if method == "in_store" else "web",
    )


# -- scenarios ------------------------------------------------------------------------------


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    max_days: int = 3,
    max_orders_per_day: int = 30,
    seeds: _S[int] | None = None,
) -> Any:
    """Small simulation scenarios, drawn from the bundled ``tiny`` one.

    A subset of its network and catalogue, a short horizon, and drawn demand, shortage
    rule and return rate.

    Returns a :class:`omsims.simulation.Scenario` (needs the ``sim`` extra's parts only
    to plot; building one needs none).
    """
    from omsims.simulation.scenario import load_scenario, parse_scenario

    raw = load_scenario("tiny").to_dict()
    locs = raw["locations"]
    keep = draw(st.lists(st.sampled_from(range(len(locs))), min_size=1, unique=True))
    raw["locations"] = [locs[i] for i in sorted(keep)]
    kept_ids = {loc["id"] for loc in raw["locations"]}
    skus_ = raw["catalogue"]["skus"]
    chosen = draw(st.lists(st.sampled_from(range(len(skus_))), min_size=1, unique=True))
    raw["catalogue"]["skus"] = [skus_[i] for i in sorted(chosen)]
    horizon = raw["horizon_days"] = draw(st.integers(1, max_days))
    raw["supply"]["receipts"] = [
        r for r in raw["supply"]["receipts"] if r["location"] in kept_ids and r["day"] < horizon
    ]
    raw["seed"] = draw(seeds if seeds is not None else st.integers(0, 2**16))
    raw["demand"]["orders_per_day"] = draw(st.integers(1, max_orders_per_day))
    raw["demand"]["on_shortage"] = draw(st.sampled_from(["lose", "wait"]))
    raw["operations"]["return_rate"] = draw(st.sampled_from([0.0, 0.1, 0.5]))
    return parse_scenario(raw)
