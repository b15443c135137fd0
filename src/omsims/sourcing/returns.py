"""Return routing: where a returned parcel goes, pluggable like sourcing strategies.

A :class:`ReturnRouting` gets the request (what comes back, why, how, and from where)
and the network, and names the location that will receive it. Pure and deterministic.

>>> from omsims import GeoPoint, Location, LocationKind
>>> network = [
...     Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40)),
...     Location("leipzig-returns", kind=LocationKind.RETURNS_CENTRE,
...              coordinates=GeoPoint(51.34, 12.37)),
...     Location("erfurt-refurb", kind=LocationKind.REFURBISHMENT_CENTRE,
...              coordinates=GeoPoint(50.98, 11.03)),
... ]
>>> munich = GeoPoint(48.14, 11.58)
>>> routing = DefaultReturnRouting()
>>> mail = ReturnMethod.MAIL
>>> routing.route(ReturnRouteRequest("web-1001", (("TSHIRT-M", 1),), "too_small",
...                                  mail, None, munich), network)
'leipzig-returns'
>>> routing.route(ReturnRouteRequest("web-1001", (("TSHIRT-M", 1),), "defective",
...                                  mail, None, munich), network)
'erfurt-refurb'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from omsims.domain.locations import Location, LocationKind
from omsims.domain.returns import ReturnMethod
from omsims.domain.values import GeoPoint, LocationId, Sku

__all__ = [
    "DefaultReturnRouting",
    "NearestOfKind",
    "ReturnRouteRequest",
    "ReturnRouting",
    "RouteByReason",
    "nearest",
]


@attrs.frozen
class ReturnRouteRequest:
    """What a return-routing strategy is told about a return."""

    order_id: str
    lines: tuple[tuple[Sku, int], ...]
    """(SKU, units) coming back."""
    reason: str
    method: ReturnMethod
    store: LocationId | None
    """For a store return: the store it is handed in at."""
    origin: GeoPoint | None
    """Where a mailed parcel starts: the order's delivery address, if it has coordinates."""
    shipped_from: tuple[LocationId, ...] = ()
    """The locations the returned units were shipped from."""


@runtime_checkable
class ReturnRouting(Protocol):
    """Decides which location receives a return. ``None``: no location can."""

    @property
    def name(self) -> str:
        """A short name for explanations and errors."""
        ...

    def route(
        self, request: ReturnRouteRequest, locations: Sequence[Location]
    ) -> LocationId | None:
        """The location the parcel should go to."""
        ...


def nearest(origin: GeoPoint | None, candidates: Sequence[Location]) -> LocationId | None:
    """The candidate nearest ``origin`` (ties and no coordinates: priority, then id)."""
    if not candidates:
        return None

    def key(loc: Location) -> tuple[float, int, str]:
        far = (
            float("inf")
            if origin is None or loc.coordinates is None
            else origin.distance_km(loc.coordinates)
        )
        return (far, loc.priority, loc.id)

    return min(candidates, key=key).id


@attrs.frozen
class NearestOfKind:
    """The nearest active location of the first of ``kinds`` that has one.

    A store return always goes to its store.
    """

    kinds: tuple[LocationKind, ...] = (LocationKind.RETURNS_CENTRE, LocationKind.WAREHOUSE)
    name: str = "nearest-of-kind"

    def route(
        self, request: ReturnRouteRequest, locations: Sequence[Location]
    ) -> LocationId | None:
        """See the class docstring."""
        if request.method is ReturnMethod.STORE:
            return request.store
        kinds = self.kinds
        # One pass over the network for every kind wanted (a tuple test: no enum hashing),
        # then the few candidates by kind, in order.
        wanted = [loc for loc in locations if loc.kind in kinds and loc.active]
        for kind in kinds:
            found = nearest(request.origin, [loc for loc in wanted if loc.kind is kind])
            if found is not None:
                return found
        return None


@attrs.frozen
class RouteByReason:
    """Route by the return's reason; any other reason goes to ``otherwise``.

    >>> from omsims import Location
    >>> routing = RouteByReason({"defective": NearestOfKind((LocationKind.STORE,))})
    >>> routing.name
    'by-reason'
    """

    routes: Mapping[str, ReturnRouting] = attrs.field(converter=dict)
    otherwise: ReturnRouting = attrs.field(factory=NearestOfKind)
    name: str = "by-reason"

    def route(
        self, request: ReturnRouteRequest, locations: Sequence[Location]
    ) -> LocationId | None:
        """See the class docstring."""
        if request.method is ReturnMethod.STORE:
            return request.store
        return self.routes.get(request.reason, self.otherwise).route(request, locations)


@attrs.frozen
class DefaultReturnRouting:
    """What omsims does unless told otherwise.

    - Handed in at a store: that store.
    - Defective (``defect_reasons``): the nearest refurbishment centre, if there is one.
    - Otherwise the nearest returns centre, else the nearest warehouse, else the
      first active location the units were shipped from.
    """

    defect_reasons: frozenset[str] = frozenset({"defective"})
    name: str = "default"

    def route(
        self, request: ReturnRouteRequest, locations: Sequence[Location]
    ) -> LocationId | None:
        """See the class docstring."""
        kinds: tuple[LocationKind, ...] = (LocationKind.RETURNS_CENTRE, LocationKind.WAREHOUSE)
        if request.reason in self.defect_reasons:
            kinds = (LocationKind.REFURBISHMENT_CENTRE, *kinds)
        found = NearestOfKind(kinds).route(request, locations)
        if found is None:
            active = {loc.id for loc in locations if loc.active}
            found = next((loc for loc in request.shipped_from if loc in active), None)
        return found
