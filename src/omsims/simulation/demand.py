"""Demand: the orders a scenario's customers place, the same for every strategy.

Orders arrive as a non-homogeneous Poisson process whose rate follows the scenario's
hourly and weekly profiles, drawn by thinning (Lewis and Shedler): candidate arrivals
at the peak rate, each kept with the probability ``rate(t) / peak``. Each order draws
its lines by SKU popularity (distinct SKUs), units per line, a customer near a
population centre, a channel and a delivery method.

Everything comes from one ``random.Random`` seeded from the scenario's seed, and the
stream does not depend on the strategy, so strategies are compared on identical demand
(common random numbers). It is a generator: a million orders need no memory.

>>> from omsims.simulation import load_scenario
>>> orders = list(demand(load_scenario("tiny"), seed=1))
>>> orders[0].id, orders[0].at.isoformat(), orders[0].lines[0][:2]
('d0000001', '2026-12-01T06:02:14.428505+00:00', ('TEE-M', 1))
>>> orders == list(demand(load_scenario("tiny"), seed=1))
True
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from omsims.domain.locations import LocationKind
from omsims.domain.values import EARTH_RADIUS_KM, GeoPoint
from omsims.simulation.scenario import Scenario

__all__ = ["DemandOrder", "demand", "expected_daily_units"]

_KM_PER_DEGREE = 111.32
_ROUNDING_KM = 1.0
"""More than a haversine in floats can be off by (a tenth of a metre at the antipode)."""


@attrs.frozen
class DemandOrder:
    """One order a customer places: when, what, where to and how."""

    id: str
    at: datetime
    lines: tuple[tuple[str, int, Decimal], ...]
    """``(sku, units, unit price)``, distinct SKUs."""
    point: GeoPoint
    channel: str
    delivery: str
    """``ship`` (to ``point``) or ``pickup`` (at ``pickup_at``)."""
    pickup_at: str | None = None


def _mean(weights: tuple[float, ...]) -> float:
    return sum(i * w for i, w in enumerate(weights, 1)) / sum(weights)


def expected_daily_units(scenario: Scenario) -> dict[str, float]:
    """The units of each SKU customers are expected to ask for per day."""
    d = scenario.demand
    per_day = d.orders_per_day * _mean(d.lines) * _mean(d.units)
    return {
        s.sku: per_day * share
        for s, share in zip(scenario.catalogue.skus, scenario.catalogue.shares, strict=True)
    }


def demand(scenario: Scenario, *, seed: int | None = None) -> Iterator[DemandOrder]:
    """The scenario's orders over its horizon, in time order (see the module docstring)."""
    rng = random.Random(f"omsims-demand:{scenario.seed if seed is None else seed}")  # noqa: S311
    d = scenario.demand
    hourly = [w * 24 / sum(d.hourly) for w in d.hourly]
    weekly = [w * 7 / sum(d.weekly) for w in d.weekly]
    per_hour = d.orders_per_day / 24
    peak = per_hour * max(hourly) * max(weekly)
    skus = [s.sku for s in scenario.catalogue.skus]
    prices = [s.price for s in scenario.catalogue.skus]
    sku_cum = list(itertools.accumulate(s.popularity for s in scenario.catalogue.skus))
    line_cum = list(itertools.accumulate(d.lines))
    unit_cum = list(itertools.accumulate(d.units))
    centres = d.centres
    centre_cum = list(itertools.accumulate(c.weight for c in centres))
    channels, channel_cum = _mix(d.channels)
    methods, method_cum = _mix(d.delivery)
    stores = _PickupStores(
        (loc.id, loc.coordinates)
        for loc in scenario.locations
        if loc.kind is LocationKind.STORE and loc.can_pickup and loc.coordinates is not None
    )
    start = scenario.start
    horizon_hours = scenario.horizon_days * 24
    t = 0.0  # hours since the start
    number = 0
    while True:
        t += rng.expovariate(peak)
        if t >= horizon_hours:
            return
        moment = start + timedelta(hours=t)
        rate = per_hour * hourly[moment.hour] * weekly[moment.weekday()]
        if rng.random() * peak > rate:
            continue  # thinned: the rate is below its peak now
        number += 1
        n_lines = min(_pick(rng, line_cum) + 1, len(skus))
        chosen: dict[int, int] = {}
        while len(chosen) < n_lines:
            i = _pick(rng, sku_cum)
            if i not in chosen:
                chosen[i] = _pick(rng, unit_cum) + 1
        centre = centres[_pick(rng, centre_cum)]
        point = _around(rng, centre.point, centre.spread_km)
        method = methods[_pick(rng, method_cum)]
        pickup = None
        if method == "pickup" and stores:
            pickup = stores.nearest(point)
        yield DemandOrder(
            f"d{number:07d}",
            moment,
            tuple((skus[i], units, prices[i]) for i, units in chosen.items()),
            point,
            channels[_pick(rng, channel_cum)],
            "pickup" if pickup else "ship",
            pickup,
        )


class _PickupStores:
    """The stores a customer may collect at, to find the nearest one to a point fast.

    ``nearest(point)`` is the store ``min(stores, key=point.distance_km)`` would give, the
    first of those at the same distance, measured by :meth:`GeoPoint.distance_km` itself.
    But only the stores near the point's latitude are measured: the stores are kept in
    latitude order, and taken outwards from the point's latitude, closest in latitude
    first, until one is farther in latitude alone (a great circle is at least as long
    as the meridian arc between the two latitudes) than the nearest so far, with a
    kilometre to spare for rounding (a haversine in floats is off by far less). Measuring
    every store (90 in the example) was most of what demand cost a pickup order.

    >>> stores = _PickupStores([("BER", GeoPoint(52.52, 13.40)), ("MUC", GeoPoint(48.14, 11.58))])
    >>> stores.nearest(GeoPoint(50.11, 8.68)), bool(stores), bool(_PickupStores([]))
    ('MUC', True, False)
    """

    __slots__ = ("_latitudes", "_stores")

    def __init__(self, stores: Iterable[tuple[str, GeoPoint]]) -> None:
        """``(id, coordinates)`` of each store, in the order ties are broken in."""
        # (latitude in radians, rank among equals, id, coordinates), by latitude
        self._stores = sorted(
            (math.radians(where.latitude), rank, store, where)
            for rank, (store, where) in enumerate(stores)
        )
        self._latitudes = [latitude for latitude, *_rest in self._stores]

    def __bool__(self) -> bool:
        """Whether there is any store to collect at."""
        return bool(self._stores)

    def nearest(self, point: GeoPoint) -> str | None:
        """The id of the store nearest ``point`` (the first of equals); ``None`` without one."""
        here = math.radians(point.latitude)
        best, shortest, first = None, math.inf, len(self._stores)
        for latitude, rank, store, where in self._outwards(here):
            if EARTH_RADIUS_KM * abs(latitude - here) > shortest + _ROUNDING_KM:
                break  # this store and every one left are farther in latitude alone
            km = point.distance_km(where)
            if km < shortest or (km == shortest and rank < first):
                best, shortest, first = store, km, rank
        return best

    def _outwards(self, latitude: float) -> Iterator[tuple[float, int, str, GeoPoint]]:
        """The stores, those closest to ``latitude`` (in radians) first."""
        stores, latitudes = self._stores, self._latitudes
        above = bisect.bisect_left(latitudes, latitude)  # the first not south of it
        below = above - 1
        while below >= 0 or above < len(stores):
            if above == len(stores) or (
                below >= 0 and latitude - latitudes[below] <= latitudes[above] - latitude
            ):
                yield stores[below]
                below -= 1
            else:
                yield stores[above]
                above += 1


def _mix(mix: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    return [name for name, _ in mix], list(itertools.accumulate(share for _, share in mix))


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn with the weights whose running sums are ``cumulative``.

    The search stops at the last index: a draw that rounds up to the total (or past
    trailing zero weights) takes the last, and the weights are not negative, so the
    sums never fall and no earlier index changes.
    """
    return bisect.bisect_right(cumulative, rng.random() * cumulative[-1], 0, len(cumulative) - 1)


def _around(rng: random.Random, centre: GeoPoint, spread_km: float) -> GeoPoint:
    """A point normally spread around ``centre`` (``spread_km`` standard deviation)."""
    lat = centre.latitude + rng.gauss(0, spread_km) / _KM_PER_DEGREE
    lon = centre.longitude + rng.gauss(0, spread_km) / (
        _KM_PER_DEGREE * max(0.1, math.cos(math.radians(centre.latitude)))
    )
    return GeoPoint(max(-90.0, min(90.0, lat)), (lon + 180.0) % 360.0 - 180.0)
