"""Carriers: a table-rate carrier priced by distance band and weight band, and a fake.

Both issue labels in memory (numbered, idempotent by key), so simulations and tests run
the whole shipping path without a network; a shop plugs in its real carrier through
the ``ShippingCarrier`` port.

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

import abc
import itertools
import threading
from bisect import bisect_left
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from omsims.domain.locations import Location
from omsims.domain.shipping import Label, Parcel
from omsims.domain.values import GeoPoint, Money, as_identifier
from omsims.errors import CarrierUnavailable, ValidationError
from omsims.sourcing.carriers import Quote

__all__ = ["FakeCarrier", "TableRateCarrier"]


class _LabelDesk(abc.ABC):
    """Issues numbered labels, once per key, and takes cancelled ones back."""

    name: str

    def __init__(self) -> None:
        self.labels: dict[str, Label] = {}
        """Every label issued, by the key it was asked for under."""
        self.cancelled: set[str] = set()
        """References of cancelled labels."""
        self.down = False
        self._desk_lock = threading.Lock()

    @abc.abstractmethod
    def _quote_parcel(self, parcel: Parcel) -> Quote | None:
        """The price and transit time of the parcel (``None``: it cannot be carried)."""

    def create_shipment(self, parcel: Parcel, *, key: str) -> Label:
        """A label for the parcel: priced by :meth:`quote`, tracking ``<name>-<n>``."""
        with self._desk_lock:
            if self.down:
                raise CarrierUnavailable(f"carrier {self.name} is not answering")
            if key in self.labels:
                return self.labels[key]
            quote = self._quote_parcel(parcel)
            if quote is None:
                raise CarrierUnavailable(
                    f"carrier {self.name} cannot carry {parcel.shipment_id} from "
                    f"{parcel.origin.id}: outside its table or no coordinates"
                )
            number = len(self.labels) + 1
            label = Label(
                self.name,
                quote.service,
                f"{self.name}-label-{number}",
                f"{self.name.upper()}{number:010d}",
                quote.cost,
                parcel.shipped_at + timedelta(days=quote.transit_days),
            )
            self.labels[key] = label
            return label

    def cancel_label(self, label: Label, *, key: str) -> None:  # noqa: ARG002 (port)
        """Take back a label that will not be used."""
        with self._desk_lock:
            self.cancelled.add(label.reference)


_MAX_ROUTES = 65_536


class TableRateCarrier(_LabelDesk):
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
        super().__init__()
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
        return self._priced(row, weight_kg)

    def quote_distance(self, km: float, weight_kg: Decimal) -> Quote | None:
        """What :meth:`quote` gives for a route of ``km``, for a caller who measured it.

        The simulator measures every parcel's distance for its own figures, and its
        routes rarely repeat: it asks here rather than have :meth:`quote` measure again.

        >>> table = TableRateCarrier("dhl", currency="EUR", distance_bands_km=[100, 500],
        ...     weight_bands_kg=[Decimal(5)], rates=[["4.90"], ["6.90"]], transit_days=[1, 2])
        >>> table.quote_distance(230.0, Decimal("1.2")).transit_days
        2
        >>> table.quote_distance(900.0, Decimal("1.2")) is None  # beyond the last band
        True
        """
        if not km >= 0:  # written so that NaN is refused too
            raise ValidationError(f"a distance is a number of km of at least 0, got {km!r}")
        return self._priced(bisect_left(self.distance_bands_km, km), weight_kg)

    def _priced(self, row: int, weight_kg: Decimal) -> Quote | None:
        """The quote of distance band ``row`` for ``weight_kg``; ``None`` outside the table."""
        col = bisect_left(self.weight_bands_kg, weight_kg)
        if row == len(self.distance_bands_km) or col == len(self.weight_bands_kg):
            return None
        return self._quotes[row][col]

    def _quote_parcel(self, parcel: Parcel) -> Quote | None:
        destination = None if parcel.destination is None else parcel.destination.coordinates
        weight = self.weight_bands_kg[0] if parcel.weight_kg is None else parcel.weight_kg
        return self.quote(parcel.origin, destination, weight)


class FakeCarrier(_LabelDesk):
    """A carrier for tests: one price and transit time for every parcel, down on demand.

    >>> from datetime import datetime, UTC
    >>> from omsims import Location, Money
    >>> from omsims.domain.shipping import Parcel
    >>> fake = FakeCarrier("fake", cost=Money("4.90", "EUR"), transit_days=2)
    >>> at = datetime(2026, 3, 1, tzinfo=UTC)
    >>> parcel = Parcel("o1-F1-S1", "o1", Location("a"), None, (("X", 1),), None, at)
    >>> label = fake.create_shipment(parcel, key="o1-F1-S1")
    >>> label.tracking, str(label.cost), label.eta.day
    ('FAKE0000000001', '4.90 EUR', 3)
    """

    def __init__(
        self,
        name: str = "fake",
        *,
        cost: Money | None = None,
        transit_days: int = 1,
        service: str = "standard",
    ) -> None:
        """A carrier that charges ``cost`` (default 0 EUR) and takes ``transit_days``."""
        super().__init__()
        self.name = as_identifier(name, "carrier name")
        self._quote = Quote(self.name, service, cost or Money(0, "EUR"), transit_days)

    def quote(
        self,
        origin: Location,  # noqa: ARG002 (the port's signature)
        destination: GeoPoint | None,  # noqa: ARG002
        weight_kg: Decimal,  # noqa: ARG002
    ) -> Quote | None:
        """The one price, for any parcel."""
        return self._quote

    def _quote_parcel(self, parcel: Parcel) -> Quote | None:  # noqa: ARG002
        return self._quote


def _rising(bands: Sequence[float | Decimal]) -> bool:
    return bool(bands) and all(a < b for a, b in itertools.pairwise(bands))
