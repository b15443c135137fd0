"""Sales channels: how a channel names products, and what it may offer.

A web shop, a marketplace, the tills and a B2B portal may each name products their own
way. A :class:`SalesChannel` maps its SKUs to internal ones at order capture, including
bundles and kits (one channel SKU that is several internal units), and says what it may
sell: the units available at the locations that serve it, less a buffer kept back so a
listing never offers the last units the network may not manage to ship.

>>> from omsims.domain.values import Money
>>> web = SalesChannel("marketplace", {"MP-TEE-M": "TSHIRT-M",
...                               "MP-DUO": Bundle({"TSHIRT-M": 1, "SOCKS": 2})}, buffer=1)
>>> for sku, units, price, listing in web.translate([("MP-DUO", 2, Money("25.00", "EUR"))]):
...     print(sku, units, price, listing)
TSHIRT-M 2 8.33 EUR MP-DUO
SOCKS 2 8.33 EUR MP-DUO
SOCKS 2 8.34 EUR MP-DUO
>>> web.offer("MP-DUO", {"TSHIRT-M": 7, "SOCKS": 9})  # min(7 // 1, 9 // 2) - buffer 1
3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Final

import attrs

from omsims.domain.values import Money, Sku, as_identifier, as_sku, non_negative_quantity, quantity
from omsims.errors import InvalidOrder, UnknownChannelSku

__all__ = ["MAX_LISTINGS", "Bundle", "SalesChannel"]

MAX_LISTINGS: Final = 1_000_000
"""The most channel SKUs one channel may list."""


def _components(value: object) -> dict[Sku, int]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidOrder(f"a bundle is {{internal sku: units}}, got {value!r}")
    return {as_sku(k): quantity(v, f"units of {k} in the bundle") for k, v in value.items()}


def _weights(value: object) -> dict[Sku, Decimal] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise InvalidOrder(f"price weights are {{internal sku: weight}}, got {value!r}")
    out = {}
    for k, v in value.items():
        if isinstance(v, bool | float) or not isinstance(v, Decimal | int | str):
            raise InvalidOrder(f"the price weight of {k} must be a Decimal, int or str")
        w = Decimal(v)
        if not w.is_finite() or w <= 0:
            raise InvalidOrder(f"the price weight of {k} must be positive, got {v!r}")
        out[as_sku(k)] = w
    return out


@attrs.frozen
class Bundle:
    """One channel SKU that is several internal units: a kit, a multipack.

    ``price_weights`` split a bundle's price over its components (default: by the
    number of units, so every unit is worth the same). The split is exact to the
    currency's minor unit: a component whose share does not divide evenly gets two
    lines, one a cent dearer, so the lines always add up to the bundle's price.
    """

    components: dict[Sku, int] = attrs.field(converter=_components)
    price_weights: dict[Sku, Decimal] | None = attrs.field(default=None, converter=_weights)

    def __attrs_post_init__(self) -> None:  # noqa: D105 (attrs hook)
        if self.price_weights is not None and set(self.price_weights) != set(self.components):
            raise InvalidOrder("a bundle's price weights must name exactly its components")

    def lines(self, bundles: int, price: Money | None) -> list[tuple[Sku, int, Money | None]]:
        """The internal lines for ``bundles`` of it at ``price`` each: (sku, units, unit price)."""
        if price is None:
            return [(sku, n * bundles, None) for sku, n in self.components.items()]
        weights = self.price_weights or {sku: Decimal(n) for sku, n in self.components.items()}
        total_weight = sum(weights.values())
        cent = price.minor_unit
        left = price.amount  # per bundle, handed out component by component
        out: list[tuple[Sku, int, Money | None]] = []
        skus = list(self.components)
        for i, sku in enumerate(skus):
            n = self.components[sku]
            share = left if i == len(skus) - 1 else price.amount * weights[sku] / total_weight
            share = share.quantize(cent, rounding=ROUND_DOWN) if i < len(skus) - 1 else share
            left -= share
            unit = (share / n).quantize(cent, rounding=ROUND_DOWN)
            dearer = int((share - unit * n) / cent)  # units that carry one more cent
            if n - dearer:
                out.append((sku, (n - dearer) * bundles, Money(unit, price.currency)))
            if dearer:
                out.append((sku, dearer * bundles, Money(unit + cent, price.currency)))
        return out


def _listings(value: object) -> dict[str, Sku | Bundle]:
    if not isinstance(value, Mapping):
        raise InvalidOrder(f"a channel's SKUs are {{channel sku: sku or Bundle}}, got {value!r}")
    if len(value) > MAX_LISTINGS:
        raise InvalidOrder(f"a channel may list at most {MAX_LISTINGS} SKUs")
    out: dict[str, Sku | Bundle] = {}
    for k, v in value.items():
        out[as_identifier(k, "channel SKU")] = v if isinstance(v, Bundle) else as_sku(v)
    return out


def _channel_name(value: object) -> str:
    return as_identifier(value, "channel")


def _buffer(value: object) -> int:
    return non_negative_quantity(value, "buffer")


@attrs.frozen
class SalesChannel:
    """A sales channel: its name, how it names products, and the buffer it keeps back.

    With no ``skus`` the channel uses the internal SKUs as they are. With some, every
    SKU an order of the channel names must be one of them (``UnknownChannelSku``).
    ``buffer`` is kept back from every listing's offer.
    """

    name: str = attrs.field(converter=_channel_name)
    skus: dict[str, Sku | Bundle] = attrs.field(factory=dict, converter=_listings)
    buffer: int = attrs.field(default=0, converter=_buffer)
    _by_sku: dict[Sku, tuple[str, ...]] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:  # noqa: D105 (attrs hook)
        by_sku: dict[Sku, list[str]] = {}
        for name, target in self.skus.items():
            for sku in target.components if isinstance(target, Bundle) else (target,):
                by_sku.setdefault(sku, []).append(name)
        object.__setattr__(self, "_by_sku", {k: tuple(v) for k, v in by_sku.items()})

    def internal(self, channel_sku: str) -> Sku | Bundle:
        """The internal SKU (or bundle) behind a channel SKU."""
        if not self.skus:
            return as_sku(channel_sku)
        found = self.skus.get(channel_sku)
        if found is None:
            raise UnknownChannelSku(
                f"channel {self.name} has no SKU {channel_sku!r} (known: {len(self.skus)} SKUs)"
            )
        return found

    def translate(self, lines: Sequence[object]) -> list[tuple[Sku, int, Money | None, str | None]]:
        """Order lines in channel SKUs as internal lines: (sku, units, unit price, listing).

        A line of a mapped SKU keeps its quantity and price; a bundle line becomes a line
        per component (two where its price share needs it), each naming the listing.
        """
        out: list[tuple[Sku, int, Money | None, str | None]] = []
        for number, raw in enumerate(lines, start=1):
            if not isinstance(raw, tuple | list) or len(raw) not in (2, 3):
                raise InvalidOrder(f"line {number} must be (sku, quantity[, unit_price])")
            name = raw[0]
            if not isinstance(name, str):
                raise InvalidOrder(f"line {number}: a channel SKU is a string, got {name!r}")
            units = quantity(raw[1], f"line {number} quantity")
            price = raw[2] if len(raw) == 3 else None
            if price is not None and not isinstance(price, Money):
                raise InvalidOrder(f"line {number}: unit_price must be Money, got {price!r}")
            target = self.internal(name)
            listing = name if self.skus else None
            if isinstance(target, Bundle):
                out.extend((sku, n, p, listing) for sku, n, p in target.lines(units, price))
            else:
                out.append((target, units, price, listing))
        return out

    def offer(self, channel_sku: str, available: Mapping[Sku, int]) -> int:
        """What the channel may sell of a listing, given ``available`` per internal SKU."""
        target = self.internal(channel_sku)
        if isinstance(target, Bundle):
            can = min(available.get(sku, 0) // n for sku, n in target.components.items())
        else:
            can = available.get(target, 0)
        return max(0, can - self.buffer)

    def listings_of(self, sku: str) -> list[str]:
        """The channel SKUs whose offer depends on internal ``sku``."""
        if not self.skus:
            return [sku]
        return list(self._by_sku.get(Sku(sku), ()))

    def internal_skus(self, channel_sku: str) -> list[Sku]:
        """The internal SKUs a listing is made of."""
        target = self.internal(channel_sku)
        return list(target.components) if isinstance(target, Bundle) else [target]
