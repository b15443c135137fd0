"""Sourcing: decide which locations fulfil each order line, and explain why."""

from omsims.sourcing.plan import (
    Allocation,
    Explanation,
    InventoryView,
    RequestLine,
    SourcingPlan,
    SourcingRequest,
    SourcingStrategy,
)
from omsims.sourcing.priority import PriorityStrategy

__all__ = [
    "Allocation",
    "Explanation",
    "InventoryView",
    "PriorityStrategy",
    "RequestLine",
    "SourcingPlan",
    "SourcingRequest",
    "SourcingStrategy",
]
