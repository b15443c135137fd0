"""A small in-test inventory view for sourcing tests."""

from datetime import UTC, datetime

from omsims import Location
from omsims.sourcing import RequestLine, SourcingRequest

T = datetime(2026, 3, 1, tzinfo=UTC)


class View:
    """Locations and available units, given as plain data."""

    def __init__(self, locations, stock, backorders=None, capacity=None, arrivals=None):
        self._locations = list(locations)
        self.stock = dict(stock)  # (sku, location) -> units
        self.backorders = dict(backorders or {})
        self.capacity = dict(capacity or {})  # location -> fulfilment orders left today
        self.arrivals = dict(arrivals or {})  # (sku, location) -> [(eta, units), ...]

    def locations(self):
        return self._locations

    def available(self, sku, location):
        return self.stock.get((sku, location), 0)

    def backorder_room(self, sku, location):
        return self.backorders.get((sku, location), 0)

    def capacity_left(self, location):
        return self.capacity.get(location.id)

    def incoming(self, sku, location):
        return self.arrivals.get((sku, location), [])


def request(*lines, **kw):
    return SourcingRequest(
        "o1", tuple(RequestLine(i, sku, n) for i, (sku, n) in enumerate(lines, 1)), T, **kw
    )


def loc(name, **kw):
    return Location(name, **kw)
