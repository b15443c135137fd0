"""The simulator's shortcuts give exactly what the plain computation they replace gives."""

from __future__ import annotations

import bisect
import itertools

from hypothesis import given
from hypothesis import strategies as st

from omsims.domain.values import GeoPoint
from omsims.simulation.demand import _pick, _PickupStores

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


class _Draw:
    """A generator whose next number is ``u``."""

    def __init__(self, u):
        self.u = u

    def random(self):
        return self.u


@given(
    st.lists(st.one_of(st.just(0.0), st.floats(0, 1e6)), min_size=1, max_size=8),
    st.one_of(st.just(0.0), st.floats(0, 1, exclude_max=True), st.just(1 - 2**-53)),
)
def test_a_weighted_pick_is_the_first_index_past_the_draw_and_never_past_the_last(weights, u):
    cumulative = list(itertools.accumulate(weights))
    plain = min(bisect.bisect_right(cumulative, u * cumulative[-1]), len(cumulative) - 1)
    assert _pick(_Draw(u), cumulative) == plain
