"""omsims: an embeddable order- and inventory-management core.

>>> from omsims import Oms, Location
>>> oms = Oms()
>>> _ = oms.add_location(Location("berlin-dc"))
>>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
>>> oms.available("TSHIRT-M")
10

The public API is the names below; modules whose names start with an underscore, and
anything not listed here or in a subpackage's ``__all__``, may change without notice.
"""

from omsims.adapters.archive import JsonLinesArchive, MemoryArchive
from omsims.adapters.clock import ManualClock, SystemClock
from omsims.adapters.memory import MemoryStore
from omsims.adapters.notifiers import NullNotifier, RecordingNotifier
from omsims.adapters.payments import FakeGateway
from omsims.domain import events
from omsims.domain.archive import ArchivedOrder
from omsims.domain.channels import Bundle, SalesChannel
from omsims.domain.fulfilment import (
    FulfilmentLine,
    FulfilmentOrder,
    FulfilmentStatus,
    Shipment,
    ShipmentStatus,
)
from omsims.domain.ledger import Ledger
from omsims.domain.locations import Location, LocationKind, PositionSettings
from omsims.domain.orders import Order, OrderLine, OrderStatus, ShipTo
from omsims.domain.payments import (
    Authorisation,
    OperationStatus,
    Payment,
    PaymentKind,
    PaymentOperation,
)
from omsims.domain.returns import (
    Disposition,
    ExchangeLine,
    Inspection,
    RefundPolicy,
    ReturnMethod,
    ReturnRequest,
    ReturnStatus,
)
from omsims.domain.stock import EntryKind, LedgerEntry, Posting, StockLevel
from omsims.domain.supply import (
    IncomingSupply,
    Reservation,
    ReservationStatus,
    SupplyLine,
    Transfer,
)
from omsims.domain.values import MAX_QUANTITY, Address, GeoPoint, Money
from omsims.oms import Oms
from omsims.service import OmsService
from omsims.sourcing import (
    Allocation,
    Explanation,
    InventoryView,
    PriorityStrategy,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)
from omsims.sourcing.returns import (
    DefaultReturnRouting,
    NearestOfKind,
    ReturnRouteRequest,
    ReturnRouting,
    RouteByReason,
)

__all__ = [
    "MAX_QUANTITY",
    "Address",
    "Allocation",
    "ArchivedOrder",
    "Authorisation",
    "Bundle",
    "DefaultReturnRouting",
    "Disposition",
    "EntryKind",
    "ExchangeLine",
    "Explanation",
    "FakeGateway",
    "FulfilmentLine",
    "FulfilmentOrder",
    "FulfilmentStatus",
    "GeoPoint",
    "IncomingSupply",
    "Inspection",
    "InventoryView",
    "JsonLinesArchive",
    "Ledger",
    "LedgerEntry",
    "Location",
    "LocationKind",
    "ManualClock",
    "MemoryArchive",
    "MemoryStore",
    "Money",
    "NearestOfKind",
    "NullNotifier",
    "Oms",
    "OmsService",
    "OperationStatus",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Payment",
    "PaymentKind",
    "PaymentOperation",
    "PositionSettings",
    "Posting",
    "PriorityStrategy",
    "RecordingNotifier",
    "RefundPolicy",
    "RequestLine",
    "Reservation",
    "ReservationStatus",
    "ReturnMethod",
    "ReturnRequest",
    "ReturnRouteRequest",
    "ReturnRouting",
    "ReturnStatus",
    "RouteByReason",
    "SalesChannel",
    "ShipTo",
    "Shipment",
    "ShipmentStatus",
    "SourcingPlan",
    "SourcingRequest",
    "SourcingStrategy",
    "StockLevel",
    "SupplyLine",
    "SystemClock",
    "Transfer",
    "events",
]
