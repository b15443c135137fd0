"""Value objects and the validators that guard the boundary.

Identifiers (SKUs, location ids, order ids) are plain ``str`` at run time, typed with
``NewType`` so mypy keeps them apart; quantities are plain ``int``. Both are checked once,
where outside data enters, by the functions below.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final, NewType

import attrs

from omsims.errors import (
    InvalidCoordinates,
    InvalidIdentifier,
    InvalidMoney,
    InvalidQuantity,
    InvalidTime,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "MAX_QUANTITY",
    "Address",
    "GeoPoint",
    "LocationId",
    "Money",
    "OrderId",
    "Sku",
    "as_identifier",
    "as_location_id",
    "as_order_id",
    "as_sku",
    "aware",
    "non_negative_quantity",
    "optional_point",
    "quantity",
    "signed_quantity",
    "weight_kg",
]

MAX_QUANTITY: Final = 10**9
"""The largest quantity omsims accepts in one posting, line or setting."""

Sku = NewType("Sku", str)
LocationId = NewType("LocationId", str)
OrderId = NewType("OrderId", str)

_IDENTIFIER = re.compile(r"[A-Za-z0-9#][A-Za-z0-9._:/#@+\-]{0,99}")


def as_identifier(value: object, what: str = "identifier") -> str:
    """Return ``value`` if it is a well-formed identifier, else raise ``InvalidIdentifier``.

    An identifier is 1 to 100 characters: letters, digits and ``. _ : / # @ + -``,
    starting with a letter, a digit or ``#``.

    >>> as_identifier("TSHIRT-M")
    'TSHIRT-M'
    >>> as_identifier(" spaced ", "SKU")
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidIdentifier: SKU ' spaced ' is malformed: use 1-100 letters, ...
    """
    if type(value) is not str:
        raise InvalidIdentifier(f"{what} must be a string, got {type(value).__name__}")
    if _IDENTIFIER.fullmatch(value) is None:
        raise InvalidIdentifier(
            f"{what} {value!r} is malformed: use 1-100 letters, digits or ._:/#@+- "
            "starting with a letter, digit or #"
        )
    return value


def as_sku(value: object) -> Sku:
    """Validate a SKU (see :func:`as_identifier`)."""
    return Sku(as_identifier(value, "SKU"))


def as_location_id(value: object) -> LocationId:
    """Validate a location id (see :func:`as_identifier`)."""
    return LocationId(as_identifier(value, "location id"))


def as_order_id(value: object) -> OrderId:
    """Validate an external order id (see :func:`as_identifier`)."""
    return OrderId(as_identifier(value, "order id"))


def _whole(value: object, what: str) -> int:
    # bool is an int subclass and float(2.0) looks whole: both are refused outright,
    # because a caller passing them almost certainly has a bug upstream.
    if type(value) is int:
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidQuantity(f"{what} must be a whole number of units, got {value}")
        # Range first: int(Decimal("1e2000000")) would take minutes.
        if value.adjusted() > 9 or value.copy_abs() > MAX_QUANTITY:
            raise InvalidQuantity(f"{what} {value} is absurdly large (the limit is {MAX_QUANTITY})")
        if value != value.to_integral_value():
            raise InvalidQuantity(f"{what} must be a whole number of units, got {value}")
        return int(value)
    raise InvalidQuantity(f"{what} must be an int, got {type(value).__name__} {value!r}")


def quantity(value: object, what: str = "quantity") -> int:
    """Validate an amount of units: an int from 1 to ``MAX_QUANTITY``.

    Whole ``Decimal`` values are accepted and converted; bool, float, fractions, NaN,
    zero, negatives and anything above ``MAX_QUANTITY`` raise ``InvalidQuantity``.

    >>> quantity(3)
    3
    >>> quantity(2.0)
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidQuantity: quantity must be an int, got float 2.0
    """
    n = _whole(value, what)
    if n <= 0:
        raise InvalidQuantity(f"{what} must be positive, got {n}")
    if n > MAX_QUANTITY:
        raise InvalidQuantity(f"{what} {n} is absurdly large (the limit is {MAX_QUANTITY})")
    return n


def non_negative_quantity(value: object, what: str = "quantity") -> int:
    """Validate a setting such as a safety stock: an int from 0 to ``MAX_QUANTITY``.

    >>> non_negative_quantity(0)
    0
    """
    n = _whole(value, what)
    if n < 0:
        raise InvalidQuantity(f"{what} must not be negative, got {n}")
    if n > MAX_QUANTITY:
        raise InvalidQuantity(f"{what} {n} is absurdly large (the limit is {MAX_QUANTITY})")
    return n


def signed_quantity(value: object, what: str = "delta") -> int:
    """Validate a signed change such as an adjustment: a non-zero int within +-``MAX_QUANTITY``.

    >>> signed_quantity(-4)
    -4
    """
    n = _whole(value, what)
    if n == 0:
        raise InvalidQuantity(f"{what} must not be zero")
    if abs(n) > MAX_QUANTITY:
        raise InvalidQuantity(f"{what} {n} is absurdly large (the limit is {MAX_QUANTITY})")
    return n


def aware(value: object, what: str = "at") -> datetime:
    """Validate a business time: a timezone-aware ``datetime``.

    >>> from datetime import datetime
    >>> aware(datetime(2026, 1, 1))
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidTime: at must be timezone-aware, got the naive datetime 2026-01-01 00:00:00
    """
    if not isinstance(value, datetime):
        raise InvalidTime(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTime(f"{what} must be timezone-aware, got the naive datetime {value}")
    return value


# ISO 4217 active currencies and their minor units (digits after the decimal point).
_CURRENCY_DIGITS: Final[dict[str, int]] = {
    **dict.fromkeys(
        [
            "AED",
            "AFN",
            "ALL",
            "AMD",
            "ANG",
            "AOA",
            "ARS",
            "AUD",
            "AWG",
            "AZN",
            "BAM",
            "BBD",
            "BDT",
            "BGN",
            "BMD",
            "BND",
            "BOB",
            "BRL",
            "BSD",
            "BTN",
            "BWP",
            "BYN",
            "BZD",
            "CAD",
            "CDF",
            "CHF",
            "CNY",
            "COP",
            "CRC",
            "CUP",
            "CVE",
            "CZK",
            "DKK",
            "DOP",
            "DZD",
            "EGP",
            "ERN",
            "ETB",
            "EUR",
            "FJD",
            "FKP",
            "GBP",
            "GEL",
            "GHS",
            "GIP",
            "GMD",
            "GTQ",
            "GYD",
            "HKD",
            "HNL",
            "HTG",
            "HUF",
            "IDR",
            "ILS",
            "INR",
            "IRR",
            "JMD",
            "KES",
            "KGS",
            "KHR",
            "KPW",
            "KYD",
            "KZT",
            "LAK",
            "LBP",
            "LKR",
            "LRD",
            "LSL",
            "MAD",
            "MDL",
            "MGA",
            "MKD",
            "MMK",
            "MNT",
            "MOP",
            "MRU",
            "MUR",
            "MVR",
            "MWK",
            "MXN",
            "MYR",
            "MZN",
            "NAD",
            "NGN",
            "NIO",
            "NOK",
            "NPR",
            "NZD",
            "PEN",
            "PGK",
            "PHP",
            "PKR",
            "PLN",
            "QAR",
            "RON",
            "RSD",
            "RUB",
            "SAR",
            "SBD",
            "SCR",
            "SDG",
            "SEK",
            "SGD",
            "SHP",
            "SLE",
            "SOS",
            "SRD",
            "SSP",
            "STN",
            "SVC",
            "SYP",
            "SZL",
            "THB",
            "TJS",
            "TMT",
            "TOP",
            "TRY",
            "TTD",
            "TWD",
            "TZS",
            "UAH",
            "USD",
            "UYU",
            "UZS",
            "VES",
            "WST",
            "XCD",
            "YER",
            "ZAR",
            "ZMW",
            "ZWG",
        ],
        2,
    ),
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


_MAX_MONEY: Final = 10**15


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool | float):
        raise InvalidMoney(
            f"money amounts must be Decimal, int or str, not {type(value).__name__} "
            f"{value!r}: floats cannot hold cents exactly"
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise InvalidMoney(f"{value!r} is not a decimal amount") from None
    else:
        raise InvalidMoney(f"money amounts must be Decimal, int or str, not {type(value).__name__}")
    if not amount.is_finite():
        raise InvalidMoney(f"money amounts must be finite, got {amount}")
    if abs(amount) >= _MAX_MONEY:
        raise InvalidMoney(f"{amount} is absurdly large (the limit is {_MAX_MONEY:,})")
    return amount


def _currency(value: object) -> str:
    if not isinstance(value, str) or value not in _CURRENCY_DIGITS:
        raise InvalidMoney(f"{value!r} is not an ISO 4217 currency code such as 'EUR'")
    return value


@attrs.frozen(order=False)
class Money:
    """An exact amount in one ISO 4217 currency.

    >>> Money("19.99", "EUR")
    Money(amount=Decimal('19.99'), currency='EUR')
    >>> Money("19.99", "EUR") * 3
    Money(amount=Decimal('59.97'), currency='EUR')
    >>> Money(1.5, "EUR")
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidMoney: money amounts must be Decimal, int or str, not float 1.5: ...
    """

    amount: Decimal = attrs.field(converter=_to_decimal)
    currency: str = attrs.field(validator=lambda _i, _a, v: _currency(v))

    def __attrs_post_init__(self) -> None:  # noqa: D105 (attrs hook)
        digits = _CURRENCY_DIGITS[self.currency]
        if self.amount != self.amount.quantize(Decimal(1).scaleb(-digits)):
            raise InvalidMoney(
                f"{self.amount} has more decimal places than {self.currency} allows ({digits})"
            )

    def __add__(self, other: Money) -> Money:
        """Add two amounts of the same currency."""
        if not isinstance(other, Money):
            raise InvalidMoney(f"cannot add {type(other).__name__} to Money")
        if self.currency != other.currency:
            raise InvalidMoney(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __mul__(self, units: int) -> Money:
        """Multiply by a whole number of units."""
        return Money(self.amount * _whole(units, "units"), self.currency)

    @property
    def minor_unit(self) -> Decimal:
        """The currency's smallest amount, e.g. ``Decimal('0.01')`` for EUR.

        >>> Money("5", "JPY").minor_unit
        Decimal('1')
        """
        return Decimal(1).scaleb(-_CURRENCY_DIGITS[self.currency])

    def __str__(self) -> str:
        """Render as ``19.99 EUR``."""
        return f"{self.amount} {self.currency}"


MAX_WEIGHT_KG: Final = Decimal(100_000)


def weight_kg(value: object, what: str = "weight") -> Decimal:
    """A weight in kilograms: a positive Decimal, int or decimal string up to 100 t.

    >>> weight_kg("0.35")
    Decimal('0.35')
    >>> weight_kg(0.35)
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidQuantity: weight must be a Decimal, int or decimal string, ...
    """
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise InvalidQuantity(
            f"{what} must be a Decimal, int or decimal string, not {type(value).__name__} "
            f"{value!r} (floats cannot hold weight bands exactly)"
        )
    try:
        kg = Decimal(value)
    except InvalidOperation:
        raise InvalidQuantity(f"{what} {value!r} is not a decimal number of kilograms") from None
    if not kg.is_finite() or not 0 < kg <= MAX_WEIGHT_KG:
        raise InvalidQuantity(f"{what} must be above 0 and at most {MAX_WEIGHT_KG} kg, got {kg}")
    return kg


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidCoordinates(f"coordinates must be numbers, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidCoordinates(f"coordinate {value} is out of range") from None


EARTH_RADIUS_KM: Final = 6371.0088
"""The Earth's mean radius, in km: what :meth:`GeoPoint.distance_km` measures with."""


@attrs.frozen
class GeoPoint:
    """A point on Earth in decimal degrees (WGS 84).

    >>> berlin, munich = GeoPoint(52.52, 13.40), GeoPoint(48.14, 11.58)
    >>> round(berlin.distance_km(munich))
    504
    >>> GeoPoint(91, 0)
    Traceback (most recent call last):
    ...
    omsims.errors.InvalidCoordinates: latitude must be between -90.0 and 90.0, got 91.0
    """

    latitude: float = attrs.field(converter=_float)
    longitude: float = attrs.field(converter=_float)

    def __attrs_post_init__(self) -> None:  # noqa: D105 (attrs hook)
        # Written out, not looped: a simulation makes a point per customer. The
        # comparisons are false for NaN, and infinities lie outside the ranges.
        if not -90.0 <= self.latitude <= 90.0:
            raise InvalidCoordinates(
                f"latitude must be between -90.0 and 90.0, got {self.latitude}"
            )
        if not -180.0 <= self.longitude <= 180.0:
            raise InvalidCoordinates(
                f"longitude must be between -180.0 and 180.0, got {self.longitude}"
            )

    def distance_km(self, other: GeoPoint) -> float:
        """Great-circle (haversine) distance in kilometres. Runtime complexity: O(1)."""
        lat1, lat2 = math.radians(self.latitude), math.radians(other.latitude)
        dlat = lat2 - lat1
        dlon = math.radians(other.longitude - self.longitude)
        h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_COUNTRY = re.compile(r"[A-Z]{2}")


def _country(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or _COUNTRY.fullmatch(value) is None):
        raise InvalidIdentifier(
            f"country must be an ISO 3166-1 alpha-2 code like 'DE', got {value!r}"
        )


def _short_text(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidIdentifier(f"{attribute.name} must be a string of at most 200 characters")


def optional_point(
    _instance: object, attribute: attrs.Attribute[GeoPoint | None], value: GeoPoint | None
) -> None:
    """An attrs validator: ``value`` is a GeoPoint or None (else ``InvalidCoordinates``)."""
    if value is not None and not isinstance(value, GeoPoint):
        raise InvalidCoordinates(
            f"{attribute.name} must be a GeoPoint (e.g. GeoPoint(52.52, 13.40)), got {value!r}"
        )


@attrs.frozen
class Address:
    """A postal address, optionally with coordinates for distance-based sourcing.

    >>> Address(line1="Unter den Linden 1", city="Berlin", postal_code="10117", country="DE")
    Address(line1='Unter den Linden 1', city='Berlin', postal_code='10117', country='DE', ...)
    """

    line1: str = attrs.field(default="", validator=_short_text)
    city: str = attrs.field(default="", validator=_short_text)
    postal_code: str = attrs.field(default="", validator=_short_text)
    country: str | None = attrs.field(default=None, validator=_country)
    region: str = attrs.field(default="", validator=_short_text)
    line2: str = attrs.field(default="", validator=_short_text)
    coordinates: GeoPoint | None = attrs.field(default=None, validator=optional_point)
