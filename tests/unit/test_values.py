from decimal import Decimal

import pytest

from omsims import GeoPoint, Money
from omsims.domain.values import MAX_QUANTITY, as_sku, quantity, signed_quantity
from omsims.errors import (
    InvalidCoordinates,
    InvalidIdentifier,
    InvalidMoney,
    InvalidQuantity,
    ValidationError,
)


@pytest.mark.parametrize(
    "bad",
    [
        True,
        False,
        1.0,
        2.5,
        float("nan"),
        Decimal("1.5"),
        Decimal("NaN"),
        0,
        -1,
        MAX_QUANTITY + 1,
        "3",
        None,
    ],
)
def test_quantity_refuses_everything_but_a_positive_whole_number(bad):
    with pytest.raises(InvalidQuantity):
        quantity(bad)


def test_quantity_accepts_whole_decimals_and_the_limit():
    assert quantity(Decimal(4)) == 4
    assert type(quantity(Decimal(4))) is int
    assert quantity(MAX_QUANTITY) == MAX_QUANTITY


def test_signed_quantity_refuses_zero_and_absurd_sizes():
    with pytest.raises(InvalidQuantity, match="zero"):
        signed_quantity(0)
    with pytest.raises(InvalidQuantity, match="absurdly large"):
        signed_quantity(-(MAX_QUANTITY + 1))


@pytest.mark.parametrize("bad", ["", " x", "a b", "x" * 101, "é", 5, None])
def test_malformed_skus_are_refused(bad):
    with pytest.raises(InvalidIdentifier):
        as_sku(bad)


def test_errors_are_also_builtins():
    with pytest.raises(ValueError):
        quantity(-1)
    assert issubclass(InvalidQuantity, ValidationError)


def test_money_is_exact_and_refuses_floats_and_unknown_currencies():
    assert Money("0.10", "EUR") + Money("0.20", "EUR") == Money("0.30", "EUR")
    with pytest.raises(InvalidMoney, match="float"):
        Money(0.1, "EUR")
    with pytest.raises(InvalidMoney, match="ISO 4217"):
        Money("1", "EURO")
    with pytest.raises(InvalidMoney, match="decimal places"):
        Money("1.001", "EUR")
    with pytest.raises(InvalidMoney, match="cannot add"):
        Money("1", "EUR") + Money("1", "USD")
    assert Money("1.001", "KWD").amount == Decimal("1.001")


def test_geopoint_validates_and_measures():
    with pytest.raises(InvalidCoordinates):
        GeoPoint(0, 181)
    with pytest.raises(InvalidCoordinates):
        GeoPoint(float("nan"), 0)
    for lat, lon in ((0, float("nan")), (float("inf"), 0), (0, float("-inf")), (-90.5, 0)):
        with pytest.raises(InvalidCoordinates, match="must be between"):
            GeoPoint(lat, lon)
    assert GeoPoint(-90, -180) == GeoPoint(-90.0, -180.0)  # the bounds themselves are points
    assert GeoPoint(0, 0).distance_km(GeoPoint(0, 0)) == 0
    # A quarter of the equator.
    assert round(GeoPoint(0, 0).distance_km(GeoPoint(0, 90))) == 10008
