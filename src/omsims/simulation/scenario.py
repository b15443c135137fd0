"""A scenario: the network, the catalogue, stock, demand, supply and operations, as data.

Scenarios are written in TOML (or JSON, the same shape) and read with
:func:`load_scenario`; every field is checked before anything runs, and an error names
the field that is wrong (``ScenarioError: demand.orders_per_day: must be more than 0,
got -5``). A scenario may list its SKUs and stock one by one, or generate them: a
catalogue of ``count`` SKUs with Zipf popularity, and stock as days of cover of the
expected demand, so a realistic network fits in a page.

>>> scenario = parse_scenario({
...     "name": "one-dc",
...     "start": "2026-12-01", "horizon_days": 7,
...     "locations": [{"id": "berlin-dc", "lat": 52.52, "lon": 13.40}],
...     "catalogue": {"skus": [{"sku": "TSHIRT-M", "price": "19.99"}]},
...     "stock": {"levels": [{"location": "berlin-dc", "sku": "TSHIRT-M", "units": 50}]},
...     "demand": {"orders_per_day": 20, "centres": [
...         {"name": "berlin", "lat": 52.52, "lon": 13.40}]},
... })
>>> scenario.name, len(scenario.locations), scenario.demand.orders_per_day
('one-dc', 1, 20.0)
>>> parse_scenario({"name": "x", "demand": {"orders_per_day": -5}})
Traceback (most recent call last):
...
omsims.simulation.scenario.ScenarioError: demand.orders_per_day: must be more than 0, got -5
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from omsims.domain.locations import Location, LocationKind
from omsims.domain.values import GeoPoint, Money
from omsims.errors import ValidationError

if TYPE_CHECKING:
    from omsims.simulation.policies import Replenishment

__all__ = [
    "CarrierTable",
    "Catalogue",
    "Centre",
    "Demand",
    "Operations",
    "Receipt",
    "Scenario",
    "ScenarioError",
    "SkuSpec",
    "StockPlan",
    "load_scenario",
    "parse_scenario",
]

MAX_HORIZON_DAYS = 3_660
"""Ten years: beyond that a horizon is a typo."""
MAX_SKUS = 1_000_000
MAX_LOCATIONS = 100_000


class ScenarioError(ValidationError):
    """A scenario field is missing, of the wrong type or out of range; the message names it."""


# -- the parts ------------------------------------------------------------------------------


@attrs.frozen
class SkuSpec:
    """One SKU of the catalogue: its price, weight and relative popularity."""

    sku: str
    price: Decimal
    weight_kg: Decimal
    popularity: float


@attrs.frozen
class Catalogue:
    """The SKUs customers buy, most popular first, with the share of demand each draws."""

    skus: tuple[SkuSpec, ...]

    @property
    def shares(self) -> tuple[float, ...]:
        """Each SKU's share of the units demanded (popularities normalised to sum to 1)."""
        total = sum(s.popularity for s in self.skus)
        return tuple(s.popularity / total for s in self.skus)


@attrs.frozen
class StockPlan:
    """The stock at the start: explicit levels, or days of cover of the expected demand.

    Warehouses hold ``warehouse_cover_days`` of the whole network's demand between
    them; each store holds ``store_cover_days`` of its share of demand for the
    ``store_assortment`` most popular SKUs (all if ``None``).
    """

    levels: tuple[tuple[str, str, int], ...] = ()
    warehouse_cover_days: float = 0.0
    store_cover_days: float = 0.0
    store_assortment: int | None = None


@attrs.frozen
class Centre:
    """A population centre customers live around (normally spread, ``spread_km``)."""

    name: str
    point: GeoPoint
    weight: float = 1.0
    spread_km: float = 15.0


@attrs.frozen
class Demand:
    """Orders arriving as a Poisson process, with daily and weekly seasonality.

    ``hourly`` (24 weights) and ``weekly`` (7 weights, Monday first) shape the rate
    around ``orders_per_day``; ``lines`` and ``units`` are weights of 1, 2, 3, ...
    lines per order and units per line. ``channels`` and ``delivery`` are mixes
    (``delivery``: ``ship`` or ``pickup`` at the customer's nearest pickup store).
    ``on_shortage`` says what a customer does when units cannot be sourced: ``lose``
    (the sale is lost) or ``wait`` (a backorder, filled when supply arrives).
    """

    orders_per_day: float
    centres: tuple[Centre, ...]
    hourly: tuple[float, ...] = (1.0,) * 24
    weekly: tuple[float, ...] = (1.0,) * 7
    lines: tuple[float, ...] = (0.6, 0.25, 0.1, 0.05)
    units: tuple[float, ...] = (0.85, 0.1, 0.05)
    channels: tuple[tuple[str, float], ...] = (("web", 1.0),)
    delivery: tuple[tuple[str, float], ...] = (("ship", 1.0),)
    on_shortage: str = "lose"


@attrs.frozen
class Receipt:
    """Scheduled supply: ``units`` of ``sku``, or ``cover_days`` of every SKU the location holds."""

    day: int
    location: str
    sku: str | None = None
    units: int = 0
    cover_days: float = 0.0


@attrs.frozen
class Operations:
    """How the network works: delays, rejections, returns and what holding stock costs.

    A fulfilment order is accepted ``accept_hours`` after it is created (unless the
    location rejects it, with ``reject_probability[kind]``; its lines are sourced
    again), shipped ``ship_hours`` after that, and delivered after the carrier's
    transit days. ``return_rate`` of delivered units come back ``return_days`` later.
    An order is on time when its last unit arrives within ``promise_days``.
    """

    accept_hours: float = 2.0
    ship_hours: float = 20.0
    reject_probability: tuple[tuple[str, float], ...] = (("store", 0.05),)
    return_rate: float = 0.0
    return_days: float = 10.0
    promise_days: float = 3.0
    holding_cost_per_year: float = 0.25
    """Holding cost as a share of a unit's price per year."""


@attrs.frozen
class CarrierTable:
    """The table-rate carrier every strategy ships with (so costs compare)."""

    distance_bands_km: tuple[float, ...] = (150.0, 400.0, 900.0)
    weight_bands_kg: tuple[Decimal, ...] = (Decimal(2), Decimal(10), Decimal("31.5"))
    rates: tuple[tuple[Decimal, ...], ...] = (
        (Decimal("4.50"), Decimal("6.90"), Decimal("9.90")),
        (Decimal("5.50"), Decimal("7.90"), Decimal("11.90")),
        (Decimal("6.50"), Decimal("8.90"), Decimal("13.90")),
    )
    transit_days: tuple[int, ...] = (1, 2, 3)


@attrs.frozen
class Scenario:
    """Everything a simulation needs, checked. Build with :func:`load_scenario`."""

    name: str
    start: datetime
    horizon_days: int
    currency: str
    locations: tuple[Location, ...]
    catalogue: Catalogue
    stock: StockPlan
    demand: Demand
    supply: tuple[Receipt, ...] = ()
    operations: Operations = Operations()
    carrier: CarrierTable = CarrierTable()
    strategies: tuple[str, ...] = ("priority", "nearest", "minimize-splits")
    seed: int = 0
    replenishment: Replenishment | None = None
    """Supply by a stock policy (see :mod:`omsims.simulation.policies`); ``None``: none."""

    def with_changes(self, changes: Mapping[str, object]) -> Scenario:
        """This scenario with dotted fields replaced: ``{"demand.orders_per_day": 500}``.

        Sweeps use it; the result is checked like a loaded scenario.
        """
        raw = self.to_dict()
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            node: Any = raw
            for part in parents:
                if not isinstance(node, dict) or part not in node:
                    raise ScenarioError(f"{dotted}: no such field")
                node = node[part]
            if not isinstance(node, dict) or last not in node:
                raise ScenarioError(f"{dotted}: no such field")
            node[last] = value
        return parse_scenario(raw)

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data (what :func:`parse_scenario` reads back)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "horizon_days": self.horizon_days,
            "currency": self.currency,
            "strategies": list(self.strategies),
            "locations": [_location_dict(loc) for loc in self.locations],
            "catalogue": {
                "skus": [
                    {
                        "sku": s.sku,
                        "price": str(s.price),
                        "weight": str(s.weight_kg),
                        "popularity": s.popularity,
                    }
                    for s in self.catalogue.skus
                ]
            },
            "stock": {
                "levels": [
                    {"location": loc, "sku": sku, "units": n} for loc, sku, n in self.stock.levels
                ],
                "warehouse_cover_days": self.stock.warehouse_cover_days,
                "store_cover_days": self.stock.store_cover_days,
                **(
                    {}
                    if self.stock.store_assortment is None
                    else {"store_assortment": self.stock.store_assortment}
                ),
            },
            "demand": {
                "orders_per_day": self.demand.orders_per_day,
                "centres": [
                    {
                        "name": c.name,
                        "lat": c.point.latitude,
                        "lon": c.point.longitude,
                        "weight": c.weight,
                        "spread_km": c.spread_km,
                    }
                    for c in self.demand.centres
                ],
                "hourly": list(self.demand.hourly),
                "weekly": list(self.demand.weekly),
                "lines": list(self.demand.lines),
                "units": list(self.demand.units),
                "channels": dict(self.demand.channels),
                "delivery": dict(self.demand.delivery),
                "on_shortage": self.demand.on_shortage,
            },
            "supply": {
                "receipts": [
                    {"day": r.day, "location": r.location, "cover_days": r.cover_days}
                    if r.sku is None
                    else {"day": r.day, "location": r.location, "sku": r.sku, "units": r.units}
                    for r in self.supply
                ]
            },
            "operations": {
                **attrs.asdict(self.operations),
                "reject_probability": dict(self.operations.reject_probability),
            },
            "carrier": {
                "distance_bands_km": list(self.carrier.distance_bands_km),
                "weight_bands_kg": [str(w) for w in self.carrier.weight_bands_kg],
                "rates": [[str(r) for r in row] for row in self.carrier.rates],
                "transit_days": list(self.carrier.transit_days),
            },
            **(
                {}
                if self.replenishment is None
                else {"replenishment": self.replenishment.to_dict()}
            ),
        }


def _location_dict(loc: Location) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": loc.id,
        "kind": loc.kind.value,
        "can_ship": loc.can_ship,
        "can_pickup": loc.can_pickup,
        "priority": loc.priority,
    }
    if loc.coordinates is not None:
        out["lat"], out["lon"] = loc.coordinates.latitude, loc.coordinates.longitude
    if loc.daily_capacity is not None:
        out["daily_capacity"] = loc.daily_capacity
    if loc.handling_cost is not None:
        out["handling_cost"] = str(loc.handling_cost.amount)
    return out


# -- reading --------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario from a ``.toml`` or ``.json`` file.

    A name without a path or suffix (``"example"``, ``"tiny"``) is one of the scenarios
    bundled with omsims.
    """
    source = Path(path)
    if source.suffix == "" and not source.exists():
        from omsims.simulation import bundled  # (a cycle: bundled names only)

        source = bundled.path(str(path))
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {source}: {exc.strerror}") from None
    try:
        raw = json.loads(text) if source.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{source}: not valid {source.suffix[1:].upper()}: {exc}") from None
    return parse_scenario(raw)


def parse_scenario(raw: Mapping[str, Any]) -> Scenario:
    """Check plain data (as TOML or JSON give it) and build the :class:`Scenario`."""
    top = _Reader(raw, "")
    name = top.text("name")
    currency = top.text("currency", "EUR")
    horizon = top.integer("horizon_days", 28)
    if not 1 <= horizon <= MAX_HORIZON_DAYS:
        raise ScenarioError(f"horizon_days: must be 1 to {MAX_HORIZON_DAYS}, got {horizon}")
    demand = _demand(top.section("demand"))
    locations = _locations(top.items("locations", required=True), currency)
    catalogue = _catalogue(top.section("catalogue"))
    known_skus = {s.sku for s in catalogue.skus}
    known_locations: set[str] = {str(loc.id) for loc in locations}
    scenario = Scenario(
        name=name,
        start=top.moment("start", datetime(2026, 1, 5, tzinfo=UTC)),
        horizon_days=horizon,
        currency=currency,
        locations=locations,
        catalogue=catalogue,
        stock=_stock(top.section("stock"), known_locations, known_skus),
        demand=demand,
        supply=_supply(top.section("supply"), known_locations, known_skus, horizon),
        operations=_operations(top.section("operations")),
        carrier=_carrier(top.section("carrier")),
        strategies=tuple(top.texts("strategies", ("priority", "nearest", "minimize-splits"))),
        seed=top.integer("seed", 0),
        replenishment=_replenishment(top, known_locations),
    )
    top.done()
    _check_strategies(scenario)
    return scenario


def _replenishment(top: _Reader, locations: set[str]) -> Replenishment | None:
    if "replenishment" not in top.raw:
        return None
    from omsims.simulation.policies import parse_replenishment  # a cycle: it reads with _Reader

    return parse_replenishment(top.section("replenishment").raw, "replenishment", locations)


def _check_strategies(scenario: Scenario) -> None:
    from omsims.simulation.strategies import DISTANCE_BASED, known

    for i, name in enumerate(scenario.strategies):
        known(name, f"strategies[{i}]")
    by_distance = [s for s in scenario.strategies if s in DISTANCE_BASED]
    for i, loc in enumerate(scenario.locations):
        if loc.coordinates is None and by_distance:
            raise ScenarioError(
                f"locations[{i}] ({loc.id}): no coordinates, but strategy "
                f"{by_distance[0]!r} ranks locations by distance"
            )


def _locations(items: list[_Reader], currency: str) -> tuple[Location, ...]:
    if len(items) > MAX_LOCATIONS:
        raise ScenarioError(f"locations: at most {MAX_LOCATIONS}, got {len(items)}")
    out: list[Location] = []
    seen: set[str] = set()
    for r in items:
        kind = r.choice("kind", [k.value for k in LocationKind], "warehouse")
        lat, lon = r.number("lat", None), r.number("lon", None)
        if (lat is None) != (lon is None):
            raise ScenarioError(f"{r.path}: give both lat and lon, or neither")
        capacity = r.integer("daily_capacity", None)
        handling = r.decimal("handling_cost", None)
        try:
            loc = Location(
                r.text("id"),
                kind=LocationKind(kind),
                coordinates=None if lat is None or lon is None else GeoPoint(lat, lon),
                can_ship=r.flag("can_ship", kind != "returns_centre"),
                can_pickup=r.flag("can_pickup", kind == "store"),
                priority=r.integer("priority", 100),
                daily_capacity=capacity,
                handling_cost=None if handling is None else Money(handling, currency),
            )
        except ValidationError as exc:
            raise ScenarioError(f"{r.path}: {exc}") from None
        if loc.id in seen:
            raise ScenarioError(f"{r.path}.id: {loc.id!r} is listed twice")
        seen.add(loc.id)
        r.done()
        out.append(loc)
    return tuple(out)


def _catalogue(r: _Reader) -> Catalogue:
    """The SKUs, listed or generated; prices are in the scenario's currency."""
    listed = r.items("skus")
    generate = r.section("generate") if "generate" in r.raw else None
    if bool(listed) == (generate is not None):
        raise ScenarioError(f"{r.path}: give either skus or generate")
    if generate is not None:
        return _generated(generate)
    skus: list[SkuSpec] = []
    seen: set[str] = set()
    for item in listed:
        spec = SkuSpec(
            item.text("sku"),
            item.decimal("price", Decimal(0), minimum=Decimal(0)),
            item.decimal("weight", Decimal("0.5"), minimum=Decimal(0)),
            item.number("popularity", 1.0, minimum=0.0) or 0.0,
        )
        if spec.sku in seen:
            raise ScenarioError(f"{item.path}.sku: {spec.sku!r} is listed twice")
        seen.add(spec.sku)
        item.done()
        skus.append(spec)
    if not any(s.popularity for s in skus):
        raise ScenarioError(f"{r.path}.skus: no SKU has any popularity")
    r.done()
    return Catalogue(tuple(sorted(skus, key=lambda s: -s.popularity)))


def _generated(r: _Reader) -> Catalogue:
    count = r.integer("count")
    if not 1 <= count <= MAX_SKUS:
        raise ScenarioError(f"{r.path}.count: must be 1 to {MAX_SKUS}, got {count}")
    prefix = r.text("prefix", "SKU")
    low, high = r.pair("price", (Decimal(5), Decimal(100)))
    light, heavy = r.pair("weight", (Decimal("0.1"), Decimal(3)))
    zipf = r.number("zipf", 1.0, minimum=0.0) or 0.0
    r.done()
    width = len(str(count))
    skus = []
    for rank in range(1, count + 1):
        # Spread prices and weights evenly, in a fixed shuffle (a multiplicative hash),
        # so popularity does not follow price; no random numbers, so no seed is needed.
        t = ((rank * 2_654_435_761) % 2**32) / 2**32
        price = (low + (high - low) * Decimal(t)).quantize(Decimal("0.01"))
        weight = (light + (heavy - light) * Decimal(t)).quantize(Decimal("0.01"))
        skus.append(SkuSpec(f"{prefix}-{rank:0{width}d}", price, weight, 1.0 / rank**zipf))
    return Catalogue(tuple(skus))


def _stock(r: _Reader, locations: set[str], skus: set[str]) -> StockPlan:
    levels = []
    for item in r.items("levels"):
        loc, sku = item.text("location"), item.text("sku")
        if loc not in locations:
            raise ScenarioError(f"{item.path}.location: unknown location {loc!r}")
        if sku not in skus:
            raise ScenarioError(f"{item.path}.sku: unknown SKU {sku!r}")
        levels.append((loc, sku, item.integer("units", minimum=0)))
        item.done()
    assortment = r.integer("store_assortment", None, minimum=1)
    plan = StockPlan(
        tuple(levels),
        r.number("warehouse_cover_days", 0.0, minimum=0.0) or 0.0,
        r.number("store_cover_days", 0.0, minimum=0.0) or 0.0,
        assortment,
    )
    r.done()
    return plan


def _demand(r: _Reader) -> Demand:
    rate = r.number("orders_per_day")
    if rate is None or rate <= 0:
        raise ScenarioError(f"{r.path}.orders_per_day: must be more than 0, got {_show(rate)}")
    centres = []
    for item in r.items("centres", required=True):
        lat, lon = item.number("lat"), item.number("lon")
        try:
            point = GeoPoint(lat or 0.0, lon or 0.0)
        except ValidationError as exc:
            raise ScenarioError(f"{item.path}: {exc}") from None
        centres.append(
            Centre(
                item.text("name"),
                point,
                item.number("weight", 1.0, minimum=0.0) or 0.0,
                item.number("spread_km", 15.0, minimum=0.0) or 0.0,
            )
        )
        item.done()
    demand = Demand(
        orders_per_day=rate,
        centres=tuple(centres),
        hourly=r.weights("hourly", (1.0,) * 24, length=24),
        weekly=r.weights("weekly", (1.0,) * 7, length=7),
        lines=r.weights("lines", (0.6, 0.25, 0.1, 0.05)),
        units=r.weights("units", (0.85, 0.1, 0.05)),
        channels=r.mix("channels", (("web", 1.0),)),
        delivery=r.mix("delivery", (("ship", 1.0),), allowed=("ship", "pickup")),
        on_shortage=r.choice("on_shortage", ["lose", "wait"], "lose"),
    )
    if not any(c.weight for c in demand.centres):
        raise ScenarioError(f"{r.path}.centres: no centre has any weight")
    r.done()
    return demand


def _supply(r: _Reader, locations: set[str], skus: set[str], horizon: int) -> tuple[Receipt, ...]:
    out = []
    for item in r.items("receipts"):
        day = item.integer("day", minimum=0)
        if day >= horizon:
            raise ScenarioError(f"{item.path}.day: {day} is past the horizon ({horizon} days)")
        loc = item.text("location")
        if loc not in locations:
            raise ScenarioError(f"{item.path}.location: unknown location {loc!r}")
        sku = item.text("sku") if "sku" in item.raw else None
        if sku is not None and sku not in skus:
            raise ScenarioError(f"{item.path}.sku: unknown SKU {sku!r}")
        units = item.integer("units", 0, minimum=0)
        cover = item.number("cover_days", 0.0, minimum=0.0) or 0.0
        by_units = sku is not None and units > 0 and not cover
        by_cover = sku is None and units == 0 and cover > 0
        if not (by_units or by_cover):
            raise ScenarioError(f"{item.path}: give sku and units, or cover_days")
        out.append(Receipt(day, loc, sku, units, cover))
        item.done()
    r.done()
    return tuple(out)


def _operations(r: _Reader) -> Operations:
    kinds = [k.value for k in LocationKind]
    rejects = r.mix("reject_probability", (("store", 0.05),), allowed=kinds, normalise=False)
    for kind, p in rejects:
        if not 0 <= p <= 1:
            raise ScenarioError(f"{r.path}.reject_probability.{kind}: must be 0 to 1, got {p}")
    ops = Operations(
        accept_hours=r.number("accept_hours", 2.0, minimum=0.0) or 0.0,
        ship_hours=r.number("ship_hours", 20.0, minimum=0.0) or 0.0,
        reject_probability=rejects,
        return_rate=r.number("return_rate", 0.0, minimum=0.0, maximum=1.0) or 0.0,
        return_days=r.number("return_days", 10.0, minimum=0.0) or 0.0,
        promise_days=r.number("promise_days", 3.0, minimum=0.0) or 0.0,
        holding_cost_per_year=r.number("holding_cost_per_year", 0.25, minimum=0.0) or 0.0,
    )
    r.done()
    return ops


def _carrier(r: _Reader) -> CarrierTable:
    default = CarrierTable()
    if not r.raw:
        return default
    try:
        table = CarrierTable(
            tuple(float(d) for d in r.raw.get("distance_bands_km", default.distance_bands_km)),
            tuple(Decimal(str(w)) for w in r.raw.get("weight_bands_kg", default.weight_bands_kg)),
            tuple(tuple(Decimal(str(x)) for x in row) for row in r.raw.get("rates", default.rates)),
            tuple(int(d) for d in r.raw.get("transit_days", default.transit_days)),
        )
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ScenarioError(f"{r.path}: {exc}") from None
    from omsims.adapters.carriers import TableRateCarrier

    try:
        TableRateCarrier(
            "check",
            currency="EUR",
            distance_bands_km=table.distance_bands_km,
            weight_bands_kg=table.weight_bands_kg,
            rates=table.rates,
            transit_days=table.transit_days,
        )
    except ValidationError as exc:
        raise ScenarioError(f"{r.path}: {exc}") from None
    for key in r.raw:
        if key not in ("distance_bands_km", "weight_bands_kg", "rates", "transit_days"):
            raise ScenarioError(f"{r.path}.{key}: unknown field")
    return table


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


_REQUIRED: Any = object()


class _Reader:
    """Reads one table of raw data, naming every field it complains about by its path."""

    def __init__(self, raw: object, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{path or 'scenario'}: must be a table, got {_show(raw)}")
        self.raw: Mapping[str, Any] = raw
        self.path = path
        self._read: set[str] = set()

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, default: object, *, required: bool = False) -> Any:
        self._read.add(key)
        if key in self.raw:
            return self.raw[key]
        if required or default is _REQUIRED:
            raise ScenarioError(f"{self._at(key)}: missing")
        return default

    def done(self) -> None:
        """Refuse fields nobody read: a typo must not pass silently."""
        for key in self.raw:
            if key not in self._read:
                raise ScenarioError(f"{self._at(key)}: unknown field")

    def section(self, key: str) -> _Reader:
        return _Reader(self._get(key, {}), self._at(key))

    def items(self, key: str, *, required: bool = False) -> list[_Reader]:
        value = self._get(key, [], required=required)
        if not isinstance(value, list):
            raise ScenarioError(f"{self._at(key)}: must be a list, got {_show(value)}")
        if required and not value:
            raise ScenarioError(f"{self._at(key)}: needs at least one entry")
        return [_Reader(v, f"{self._at(key)}[{i}]") for i, v in enumerate(value)]

    def text(self, key: str, default: object = None) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str) or not value.strip():
            raise ScenarioError(f"{self._at(key)}: must be text, got {_show(value)}")
        return value

    def texts(self, key: str, default: Sequence[str]) -> list[str]:
        value = self._get(key, list(default))
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ScenarioError(f"{self._at(key)}: must be a non-empty list of names")
        return value

    def choice(self, key: str, allowed: Sequence[str], default: str) -> str:
        value = self._get(key, default)
        if value not in allowed:
            raise ScenarioError(
                f"{self._at(key)}: must be one of {', '.join(allowed)}, got {_show(value)}"
            )
        return str(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise ScenarioError(f"{self._at(key)}: must be true or false, got {_show(value)}")
        return value

    def integer(self, key: str, default: object = _REQUIRED, *, minimum: int | None = None) -> Any:
        value = self._get(key, default)
        if value is None and default is None:
            return None
        if type(value) is not int:
            raise ScenarioError(f"{self._at(key)}: must be a whole number, got {_show(value)}")
        if minimum is not None and value < minimum:
            raise ScenarioError(f"{self._at(key)}: must be at least {minimum}, got {value}")
        return value

    def number(
        self,
        key: str,
        default: object = _REQUIRED,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        value = self._get(key, default)
        if value is None and default is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ScenarioError(f"{self._at(key)}: must be a number, got {_show(value)}")
        if minimum is not None and value < minimum:
            raise ScenarioError(f"{self._at(key)}: must be at least {_show(minimum)}, got {value}")
        if maximum is not None and value > maximum:
            raise ScenarioError(f"{self._at(key)}: must be at most {_show(maximum)}, got {value}")
        return float(value)

    def decimal(
        self, key: str, default: object = _REQUIRED, *, minimum: Decimal | None = None
    ) -> Any:
        value = self._get(key, default)
        if value is None and default is None:
            return None
        try:
            amount = Decimal(str(value)) if isinstance(value, str | int | float | Decimal) else None
        except InvalidOperation:
            amount = None
        if amount is None or isinstance(value, bool) or not amount.is_finite():
            raise ScenarioError(f"{self._at(key)}: must be an amount, got {_show(value)}")
        if minimum is not None and amount < minimum:
            raise ScenarioError(f"{self._at(key)}: must be at least {minimum}, got {amount}")
        return amount

    def pair(self, key: str, default: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
        value = self._get(key, list(default))
        try:
            low, high = (Decimal(str(v)) for v in value)
        except (TypeError, ValueError, InvalidOperation):
            raise ScenarioError(
                f"{self._at(key)}: must be [low, high], got {_show(value)}"
            ) from None
        if not 0 <= low <= high:
            raise ScenarioError(f"{self._at(key)}: must be [low, high] with 0 <= low <= high")
        return low, high

    def weights(
        self, key: str, default: tuple[float, ...], *, length: int | None = None
    ) -> tuple[float, ...]:
        value = self._get(key, list(default))
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise ScenarioError(f"{self._at(key)}: must be a list of weights, got {_show(value)}")
        if length is not None and len(value) != length:
            raise ScenarioError(f"{self._at(key)}: needs {length} weights, got {len(value)}")
        if any(v < 0 or not math.isfinite(v) for v in value) or not any(value):
            raise ScenarioError(f"{self._at(key)}: weights must be 0 or more, and not all 0")
        return tuple(float(v) for v in value)

    def mix(
        self,
        key: str,
        default: tuple[tuple[str, float], ...],
        *,
        allowed: Sequence[str] | None = None,
        normalise: bool = True,
    ) -> tuple[tuple[str, float], ...]:
        value = self._get(key, dict(default))
        if not isinstance(value, Mapping) or not value:
            raise ScenarioError(f"{self._at(key)}: must be a table of name = share")
        for name, share in value.items():
            if allowed is not None and name not in allowed:
                raise ScenarioError(f"{self._at(key)}.{name}: must be one of {', '.join(allowed)}")
            if isinstance(share, bool) or not isinstance(share, int | float) or share < 0:
                raise ScenarioError(
                    f"{self._at(key)}.{name}: must be 0 or more, got {_show(share)}"
                )
        if normalise and not any(value.values()):
            raise ScenarioError(f"{self._at(key)}: the shares are all 0")
        return tuple((str(k), float(v)) for k, v in value.items())

    def moment(self, key: str, default: datetime) -> datetime:
        value = self._get(key, default)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        raise ScenarioError(f"{self._at(key)}: must be a date (2026-12-01), got {_show(value)}")
