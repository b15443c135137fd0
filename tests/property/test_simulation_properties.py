"""The simulator's shortcuts give exactly what the plain computation they replace gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from omsims.domain.values import GeoPoint
from omsims.simulation.demand import _PickupStores

# Any point on Earth, and points from a few spots: stores at one spot (or at a pole, at
# any longitude) tie, and a customer at a store's door, at a pole or on the far side of
# the Earth meets the haversine's edge cases.
_anywhere = st.builds(
    GeoPoint,
    st.floats(-90, 90, allow_nan=False),
    st.floats(-180, 180, allow_nan=False),
)
_spots = st.sampled_from(
    [
        GeoPoint(52.52, 13.40),
        GeoPoint(52.52, 13.41),
        GeoPoint(48.14, 11.58),
        GeoPoint(-52.52, -166.6),
        GeoPoint(90, 0),
        GeoPoint(90, 45),
        GeoPoint(-90, 0),
    ]
)
_near_spots = st.builds(
    lambda lat, lon: GeoPoint(52.0 + lat, 13.0 + lon),
    st.floats(-1, 1, allow_nan=False),
    st.floats(-1, 1, allow_nan=False),
)
_points = st.one_of(_anywhere, _spots, _near_spots)


@given(st.lists(_points, max_size=30), _points)
def test_the_nearest_pickup_store_is_the_first_of_the_plain_minimum(coordinates, point):
    stores = [(f"S{i}", where) for i, where in enumerate(coordinates)]
    plain = min(stores, key=lambda s: point.distance_km(s[1]))[0] if stores else None
    assert _PickupStores(stores).nearest(point) == plain
