from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims import GeoPoint, Location, Money
from omsims.adapters.carriers import TableRateCarrier
from omsims.errors import ValidationError
from omsims.sourcing import Carrier

BERLIN = Location("berlin", coordinates=GeoPoint(52.52, 13.40))
POTSDAM, MUNICH = GeoPoint(52.39, 13.06), GeoPoint(48.14, 11.58)


def carrier(**kw):
    args = {
        "currency": "EUR",
        "distance_bands_km": (100, 800),
        "weight_bands_kg": (Decimal(2), Decimal(20)),
        "rates": (("4.99", "7.99"), ("5.99", "9.99")),
        "transit_days": (1, 2),
    }
    args.update(kw)
    return TableRateCarrier("dhl", **args)


@pytest.mark.parametrize(
    ("destination", "kg", "cost", "days"),
    [
        (POTSDAM, Decimal(2), "4.99", 1),  # band bounds are inclusive
        (POTSDAM, Decimal("2.01"), "7.99", 1),
        (MUNICH, Decimal(1), "5.99", 2),
        (MUNICH, Decimal(20), "9.99", 2),
    ],
)
def test_prices_by_distance_band_and_weight_band(destination, kg, cost, days):
    quote = carrier().quote(BERLIN, destination, kg)
    assert quote.cost == Money(cost, "EUR")
    assert quote.transit_days == days
    assert (quote.carrier, quote.service) == ("dhl", "standard")


def test_no_quote_outside_the_table_or_without_coordinates():
    assert carrier().quote(BERLIN, MUNICH, Decimal(21)) is None
    assert carrier().quote(BERLIN, GeoPoint(40.4, -3.7), Decimal(1)) is None
    assert carrier().quote(Location("nowhere"), MUNICH, Decimal(1)) is None
    assert carrier().quote(BERLIN, None, Decimal(1)) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"distance_bands_km": (800, 100)},
        {"weight_bands_kg": ()},
        {"rates": (("4.99",), ("5.99", "9.99"))},
        {"transit_days": (1,)},
        {"transit_days": (1, -2)},
        {"rates": (("4.99", 7.5), ("5.99", "9.99"))},
    ],
)
def test_a_malformed_table_is_refused(bad):
    with pytest.raises(ValidationError):
        carrier(**bad)


def test_the_table_rate_carrier_is_a_carrier():
    assert isinstance(carrier(), Carrier)


def test_a_rate_card_where_heavier_parcels_cost_less_is_refused():
    with pytest.raises(ValidationError, match="heavier parcel may not cost less"):
        carrier(rates=(("7.99", "4.99"), ("5.99", "9.99")))


@given(
    st.floats(min_value=-85, max_value=85),
    st.floats(min_value=-179, max_value=179),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(30), places=2),
)
def test_a_quote_for_a_measured_distance_is_the_quote_for_the_route(lat, lon, kg):
    table, destination = carrier(), GeoPoint(lat, lon)
    km = BERLIN.coordinates.distance_km(destination)
    assert table.quote_distance(km, kg) == table.quote(BERLIN, destination, kg)


@pytest.mark.parametrize("km", [-1.0, float("nan")])
def test_a_distance_below_zero_or_not_a_number_is_refused(km):
    with pytest.raises(ValidationError, match="a distance is a number of km"):
        carrier().quote_distance(km, Decimal(1))
