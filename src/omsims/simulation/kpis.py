"""The KPIs of a simulation run: counted as it goes, each defined here once.

Counts are totals over the run; rates are derived from them, so a KPI table and the
daily rows always agree. Money is in the scenario's currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

__all__ = ["KPI_COLUMNS", "Kpis"]


@attrs.define
class Kpis:
    """Counters of one run (or one day of it) and the rates derived from them."""

    currency: str = "EUR"
    orders: int = 0
    """Orders placed."""
    orders_filled_complete: int = 0
    """Orders whose every unit was sourced when they were placed."""
    units_demanded: int = 0
    units_filled: int = 0
    """Units sourced (at placement, or later from a backorder); not lost."""
    units_lost: int = 0
    """Units no location could source: the customer went elsewhere (lost sales)."""
    units_backordered: int = 0
    """Units that waited for supply (``on_shortage = "wait"``)."""
    stock_outs: int = 0
    """Order lines that, when placed, met too little stock anywhere in the network.

    Units left unsourced later, after a rejection, count in ``units_lost`` or
    ``units_backordered`` only."""
    shipments: int = 0
    """Parcels shipped (a pickup at the store's own counter is not a parcel)."""
    shipping_cost: Decimal = Decimal(0)
    """What the carrier charges for every parcel, plus each location's handling cost."""
    distance_km: float = 0.0
    """Great-circle kilometres from each parcel's origin to its destination."""
    orders_delivered: int = 0
    """Orders whose every kept unit reached the customer (delivered or collected)."""
    orders_on_time: int = 0
    """Of those, orders complete within the promise (``operations.promise_days``)."""
    orders_split: int = 0
    """Of those, orders that came in more than one parcel."""
    rejections: int = 0
    """Fulfilment orders a location rejected (their lines were sourced again)."""
    capacity_breaches: int = 0
    """Fulfilment orders accepted beyond a location's daily capacity."""
    units_returned: int = 0
    units_received: int = 0
    """Units of supply received: scheduled receipts and replenishment's purchases."""
    purchase_orders: int = 0
    """Purchase proposals replenishment approved (one SKU for one location each)."""
    units_ordered: int = 0
    """Units on those purchase orders."""
    transfers: int = 0
    """Transfer proposals replenishment approved."""
    units_transferred: int = 0
    """Units sent on those transfers."""
    stock_units_days: int = 0
    """Units on hand summed over the days of the horizon (for the average held)."""
    stock_value_days: Decimal = Decimal(0)
    """The value on hand (at the SKUs' prices) summed over the days of the horizon."""
    days: int = 0
    holding_cost: Decimal = Decimal(0)
    """The value on hand each day times the holding rate, summed over the horizon."""
    stock_units_end: int = 0
    """Units on hand when the run ended."""

    @property
    def fill_rate(self) -> float:
        """Units filled / units demanded."""
        return self.units_filled / self.units_demanded if self.units_demanded else 1.0

    @property
    def order_fill_rate(self) -> float:
        """Orders sourced in full at placement / orders placed."""
        return self.orders_filled_complete / self.orders if self.orders else 1.0

    @property
    def shipments_per_order(self) -> float:
        """Parcels per order placed."""
        return self.shipments / self.orders if self.orders else 0.0

    @property
    def split_rate(self) -> float:
        """Delivered orders that came in more than one parcel / delivered orders."""
        return self.orders_split / self.orders_delivered if self.orders_delivered else 0.0

    @property
    def cost_per_order(self) -> float:
        """Shipping and handling cost per order placed."""
        return float(self.shipping_cost) / self.orders if self.orders else 0.0

    @property
    def km_per_order(self) -> float:
        """Parcel kilometres per order placed."""
        return self.distance_km / self.orders if self.orders else 0.0

    @property
    def on_time_rate(self) -> float:
        """Orders complete within the promise / orders complete."""
        return self.orders_on_time / self.orders_delivered if self.orders_delivered else 1.0

    @property
    def average_stock_units(self) -> float:
        """Units on hand on an average day of the horizon."""
        return self.stock_units_days / self.days if self.days else 0.0

    @property
    def average_stock_value(self) -> float:
        """The value on hand on an average day of the horizon."""
        return float(self.stock_value_days) / self.days if self.days else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Every KPI of :data:`KPI_COLUMNS` by name, rates rounded to six places."""
        return {name: _value(getattr(self, name)) for name in KPI_COLUMNS}


def _value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return round(value, 6)
    return value


KPI_COLUMNS = (
    "orders",
    "units_demanded",
    "units_filled",
    "units_lost",
    "fill_rate",
    "order_fill_rate",
    "units_backordered",
    "stock_outs",
    "shipments",
    "shipments_per_order",
    "split_rate",
    "cost_per_order",
    "km_per_order",
    "on_time_rate",
    "rejections",
    "capacity_breaches",
    "units_returned",
    "average_stock_units",
    "average_stock_value",
    "holding_cost",
    "units_received",
    "purchase_orders",
    "units_ordered",
    "transfers",
    "units_transferred",
)
"""The KPIs every result table reports, in order."""
