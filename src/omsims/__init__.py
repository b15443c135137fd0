"""omsims: an embeddable order- and inventory-management core.

The public API lives here; everything else is an implementation detail.
"""

from omsims.domain.values import Address, GeoPoint, Money

__all__ = ["Address", "GeoPoint", "Money"]
