"""Carriers: a table-rate carrier priced by distance band and weight band.

>>> from decimal import Decimal
>>> from omsims import GeoPoint, Location
>>> dhl = TableRateCarrier(
...     "dhl",
...     currency="EUR",
...     distance_bands_km=(100, 800),
...     weight_bands_kg=(Decimal(2), Decimal(20)),
...     rates=(("4.99", "7.99"), ("5.99", "9.99")),
...     transit_days=(1, 2),
... )
>>> berlin = Location("berlin-dc", coordinates=GeoPoint(52.52, 13.40))
>>> quote = dhl.quote(berlin, GeoPoint(48.14, 11.58), Decimal("3.5"))
>>> str(quote.cost), quote.transit_days
('9.99 EUR', 2)
>>> dhl.quote(berlin, GeoPoint(40.4, -3.7), Decimal(1)) is None  # beyond the last band
True
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from decimal import Decimal

from omsims.domain.locations import Location
from omsims.domain.values import GeoPoint, Money, as_identifier
from omsims.errors import ValidationError
from omsims.sourcing.carriers import Quote

__all__ = ["TableRateCarrier"]

_MAX_ROUTES = 65_536


class TableRateCarrier:
    """Prices a parcel from a table: rows are distance bands, columns weight bands.

    A band is the upper bound it includes; a parcel beyond the last distance or weight
    band, or between places without coordinates, gets no quote. Transit days are per
    distance band. Rates may not fall as the weight rises (the Carrier port's rule).
    """

    def __init__(
        self,
        name: str,
        *,
        currency: str,
        distance_bands_km: Sequence[float],
        weight_bands_kg: Sequence[Decimal],
        rates: Sequence[Sequence[str | Decimal | int]],
        transit_days: Sequence[int],
        service: str = "standard",
    ) -> None:
        """Build the table; every band must rise and every row match the weight bands."""
        self.name = as_identifier(name, "carrier name")
        self.service = service
        self.distance_bands_km = tuple(float(d) for d in distance_bands_km)
        self.weight_bands_kg = tuple(Decimal(w) for w in weight_bands_kg)
        self.rates = tuple(tuple(Money(r, currency) for r in row) for row in rates)
        self.transit_days = tuple(transit_days)
        if not _rising(self.distance_bands_km) or not _rising(self.weight_bands_kg):
            raise ValidationError("distance and weight bands must be non-empty and rising")
        if len(self.rates) != len(self.distance_bands_km) or any(
            len(row) != len(self.weight_bands_kg) for row in self.rates
        ):
            raise ValidationError(
                "rates need one row per distance band, one column per weight band"
            )
        if any(
            row[j].amount > row[j + 1].amount for row in self.rates for j in range(len(row) - 1)
        ):
            raise ValidationError(
                "a heavier parcel may not cost less: rates must not fall along a row"
            )
        if len(self.transit_days) != len(self.distance_bands_km) or any(
            type(d) is not int or d < 0 for d in self.transit_days
        ):
            raise ValidationError("transit_days needs one whole number of days per distance band")
        self._quotes = tuple(
            tuple(Quote(self.name, service, cost, days) for cost in row)
            for row, days in zip(self.rates, self.transit_days, strict=True)
        )
        self._rows: dict[tuple[GeoPoint, GeoPoint], int] = {}

    def quote(
        self, origin: Location, destination: GeoPoint | None, weight_kg: Decimal
    ) -> Quote | None:
        """The table's price and transit time, or ``None`` outside the table."""
        if origin.coordinates is None or destination is None:
            return None
        # Cost-aware sourcing asks for many weights on one route: find the route's band
        # once (a bounded memo: the table is immutable), then only look up the weight.
        route = (origin.coordinates, destination)
        row = self._rows.get(route, -1)
        if row == -1:
            km = origin.coordinates.distance_km(destination)
            row = bisect_left(self.distance_bands_km, km)
            if len(self._rows) >= _MAX_ROUTES:
                self._rows.clear()
            self._rows[route] = row
        col = bisect_left(self.weight_bands_kg, weight_kg)
        if row == len(self.distance_bands_km) or col == len(self.weight_bands_kg):
            return None
        return self._quotes[row][col]


def _rising(bands: Sequence[float | Decimal]) -> bool:
    return bool(bands) and all(a < b for a, b in itertools.pairwise(bands))
