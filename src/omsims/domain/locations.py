"""Locations (warehouses, stores, ...) and the settings of one position at a location."""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from omsims.domain.values import (
    GeoPoint,
    LocationId,
    Money,
    as_identifier,
    as_location_id,
    non_negative_quantity,
    optional_point,
)
from omsims.errors import InvalidIdentifier, InvalidMoney, InvalidQuantity

__all__ = ["Location", "LocationKind", "PositionSettings"]


class LocationKind(enum.Enum):
    """What kind of place a location is; sourcing rules may treat kinds differently."""

    WAREHOUSE = "warehouse"
    STORE = "store"
    DROPSHIP = "dropship"
    RETURNS_CENTRE = "returns_centre"
    REFURBISHMENT_CENTRE = "refurbishment_centre"
    SUPPLIER = "supplier"


def _name(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidIdentifier(
            f"a location name must be a string of at most 200 characters, got {value!r}"
        )


def _kind(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, LocationKind):
        raise InvalidIdentifier(
            f"kind must be a LocationKind (e.g. LocationKind.STORE), got {value!r}"
        )


def _channels(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidIdentifier(f"channels must be a set of channel names, got {value!r}")
    return frozenset(as_identifier(c, "channel") for c in value)


def _optional_capacity(value: object) -> int | None:
    return None if value is None else non_negative_quantity(value, "daily capacity")


def _priority(value: object) -> int:
    if type(value) is not int or not 0 <= value <= 1_000_000:
        raise InvalidQuantity(f"priority must be an int from 0 to 1000000, got {value!r}")
    return value


def _optional_money(
    _instance: object, attribute: attrs.Attribute[Money | None], value: object
) -> None:
    if value is not None and not isinstance(value, Money):
        raise InvalidIdentifier(
            f"{attribute.name} must be Money (e.g. Money('1.50', 'EUR')) or None, got {value!r}"
        )
    if value is not None and value.amount < 0:
        raise InvalidMoney(f"{attribute.name} may not be negative, got {value}")


def _flag(_instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if type(value) is not bool:
        raise InvalidIdentifier(f"{attribute.name} must be True or False, got {value!r}")


@attrs.frozen
class Location:
    """A place that holds stock: a warehouse, a store, a drop-shipper, a returns centre.

    ``priority`` orders locations for the priority strategy: lower numbers are tried first.

    >>> Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40), priority=1)
    Location(id='berlin-dc', name='berlin-dc', kind=<LocationKind.WAREHOUSE: 'warehouse'>, ...)
    >>> Location("bad id")
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidIdentifier: location id 'bad id' is malformed: ...
    """

    id: LocationId = attrs.field(converter=as_location_id)
    name: str = attrs.field(
        default=attrs.Factory(lambda self: self.id, takes_self=True), validator=_name
    )
    kind: LocationKind = attrs.field(default=LocationKind.WAREHOUSE, validator=_kind)
    coordinates: GeoPoint | None = attrs.field(default=None, validator=optional_point)
    country: str | None = attrs.field(default=None)
    region: str = attrs.field(default="", validator=_name)
    can_ship: bool = attrs.field(default=True, validator=_flag)
    can_pickup: bool = attrs.field(default=False, validator=_flag)
    priority: int = attrs.field(default=100, converter=_priority)
    daily_capacity: int | None = attrs.field(default=None, converter=_optional_capacity)
    active: bool = attrs.field(default=True, validator=_flag)
    channels: frozenset[str] | None = attrs.field(default=None, converter=_channels)
    """The sales channels this location may serve (``None``: every channel)."""
    handling_cost: Money | None = attrs.field(default=None, validator=_optional_money)
    """What picking and packing one shipment here costs (cost-aware sourcing adds it)."""

    def serves(self, channel: str) -> bool:
        """Whether this location may fulfil orders from ``channel``.

        >>> Location("franchise-1", channels={"pos"}).serves("web")
        False
        """
        return self.channels is None or channel in self.channels

    @country.validator
    def _check_country(self, _attribute: object, value: str | None) -> None:
        if value is not None and (
            not isinstance(value, str)
            or len(value) != 2
            or not value.isascii()
            or not value.isupper()
        ):
            raise InvalidIdentifier(
                f"country must be an ISO 3166-1 alpha-2 code like 'DE', got {value!r}"
            )


def _safety_stock(value: object) -> int:
    return non_negative_quantity(value, "safety stock")


def _optional_limit(value: object) -> int | None:
    return None if value is None else non_negative_quantity(value, "backorder limit")


def _optional_threshold(value: object) -> int | None:
    return None if value is None else non_negative_quantity(value, "low-stock threshold")


@attrs.frozen
class PositionSettings:
    """Per-position settings: what is kept back from sale and whether backorders are allowed.

    >>> PositionSettings(safety_stock=2, allow_backorders=True, backorder_limit=50)
    PositionSettings(safety_stock=2, allow_backorders=True, backorder_limit=50, ...)
    """

    safety_stock: int = attrs.field(default=0, converter=_safety_stock)
    allow_backorders: bool = attrs.field(default=False, validator=_flag)
    backorder_limit: int | None = attrs.field(default=None, converter=_optional_limit)
    low_stock_threshold: int | None = attrs.field(default=None, converter=_optional_threshold)

    def backorder_room(self, backordered: int) -> int:
        """How many more units may be backordered given ``backordered`` already.

        >>> PositionSettings(allow_backorders=True, backorder_limit=5).backorder_room(3)
        2
        >>> PositionSettings().backorder_room(0)
        0
        """
        if not self.allow_backorders:
            return 0
        if self.backorder_limit is None:
            return 10**9
        return max(0, self.backorder_limit - backordered)


DEFAULT_SETTINGS = PositionSettings()
