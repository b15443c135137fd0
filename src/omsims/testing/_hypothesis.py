"""Hypothesis's entry point for omsims: ``st.from_type`` for omsims's types.

Hypothesis calls :func:`register` when it is imported (the ``hypothesis`` entry point),
in any process where omsims is installed. This module imports Hypothesis only inside
it, so having omsims installed never imports Hypothesis.
"""

from __future__ import annotations

__all__ = ["register"]


def register() -> None:
    """Register the testing kit's strategies for omsims's domain types."""
    from hypothesis import strategies as st

    from omsims.domain.ledger import Ledger
    from omsims.domain.locations import Location
    from omsims.domain.orders import ShipTo
    from omsims.domain.values import Address, GeoPoint, Money
    from omsims.sourcing.plan import SourcingRequest
    from omsims.testing import strategies as kit
    from omsims.testing.network import Network

    for cls, strategy in (
        (GeoPoint, kit.geo_points()),
        (Money, kit.money()),
        (Address, kit.addresses()),
        (ShipTo, st.builds(ShipTo, point=kit.geo_points())),
        (Location, kit.locations()),
        (Network, kit.networks()),
        (SourcingRequest, kit.sourcing_requests(kit.SKU_NAMES)),
        (kit.SourcingCase, kit.sourcing_cases()),
        (kit.OrderSpec, kit.orders()),
        (Ledger, kit.ledgers()),
    ):
        st.register_type_strategy(cls, strategy)
