"""How long a store takes to prepare a pickup, a transfer takes to reach it, and it waits.

>>> from datetime import timedelta
>>> PickupPolicy(hold=timedelta(days=3)).hold
datetime.timedelta(days=3)
>>> PickupPolicy(hold=timedelta(0))
Traceback (most recent call last):
...
omsims.errors.InvalidTime: a pickup policy's hold must be a positive timedelta, got ...
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from omsims.errors import InvalidTime

__all__ = ["PickupPolicy"]


def _positive(_instance: object, attribute: attrs.Attribute[timedelta], value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidTime(
            f"a pickup policy's {attribute.name} must be a positive timedelta, got {value!r}"
        )


@attrs.frozen
class PickupPolicy:
    """The promises of buy online, pick up in store.

    - ``prepare``: how long the store takes to pick units it holds (the promised ready
      time of a pickup from stock at the store).
    - ``transfer``: how long units sent from another location take to reach the store.
    - ``hold``: how long a ready order waits; then ``Oms.expire_pickups`` puts its units
      back in the store's stock and refunds them.
    """

    prepare: timedelta = attrs.field(default=timedelta(hours=2), validator=_positive)
    transfer: timedelta = attrs.field(default=timedelta(days=2), validator=_positive)
    hold: timedelta = attrs.field(default=timedelta(days=7), validator=_positive)
