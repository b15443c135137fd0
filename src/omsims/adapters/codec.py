"""The values durable adapters store, as JSON text and back, exactly.

Rows hold domain objects (orders, fulfilment orders, reservations, ...), idempotency
fingerprints (tuples of command arguments) and the results commands returned. JSON with
type tags keeps them readable in the database and safe to load: only the types listed
here can come back (nothing is unpickled), and every value comes back equal to the one
stored, tuples as tuples and ``True`` as ``True``, so a replayed command is recognised.
Times come back as the same instant with the same UTC offset (a ``ZoneInfo`` zone comes
back as its fixed offset at that instant).

attrs classes go through `cattrs <https://catt.rs>`_; the tags wrap what JSON lacks; the
text is written by `orjson <https://github.com/ijl/orjson>`_.

A field at its default is left out (cattrs' ``omit_if_default``) and reads back as the
default: most of an order's fields are (no payment, no pickup, nothing returned), so its
row is a third as long, and quicker to write. Fields defaulting to a Decimal or a float
are always written (``Decimal("0.00") == Decimal(0)``, yet it must read back as
written). Bodies written with every field, as before, read back the same. The defaults
of the stored classes are therefore part of the stored format: a test pins them, and
changing one needs a migration that writes the old default into the rows that left it
out.

>>> from datetime import datetime, UTC
>>> from omsims import Location, GeoPoint
>>> value = ("receive", "X", 3, datetime(2026, 3, 1, tzinfo=UTC), Location("a"))
>>> decode(encode(value)) == value
True
"""

from __future__ import annotations

import enum
import json
import operator
import types
import typing
from collections import deque
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import attrs
import orjson
from cattrs.fns import identity
from cattrs.gen import make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter

from omsims.domain import events as _events
from omsims.domain.fulfilment import (
    FulfilmentLine,
    FulfilmentOrder,
    FulfilmentStatus,
    Shipment,
    ShipmentStatus,
)
from omsims.domain.locations import Location, LocationKind, PositionSettings
from omsims.domain.orders import Order, OrderLine, OrderStatus, ShipTo
from omsims.domain.payments import OperationStatus, Payment, PaymentKind, PaymentOperation
from omsims.domain.returns import (
    Disposition,
    ExchangeLine,
    Inspection,
    ReturnLine,
    ReturnMethod,
    ReturnRequest,
    ReturnStatus,
)
from omsims.domain.stock import BackorderFill, EntryKind, LedgerEntry, Posting, StockLevel
from omsims.domain.supply import (
    IncomingSupply,
    Reservation,
    ReservationStatus,
    SupplyLine,
    Transfer,
)
from omsims.domain.values import Address, GeoPoint, Money

__all__ = ["decode", "decode_value", "dumps", "encode", "encode_value", "time_text"]

_CONVERTER = make_converter(omit_if_default=True)
_CONVERTER.register_unstructure_hook(Decimal, str)
_CONVERTER.register_structure_hook(Decimal, lambda value, _type: Decimal(value))


class _TimeText:
    """``datetime.isoformat``, remembering the last time written.

    One command writes its business time into every event and row it makes (a dozen
    times for an order), and ``isoformat`` is the dearest step of writing them.
    """

    __slots__ = ("last",)

    def __init__(self) -> None:
        # One tuple, swapped whole, so threads never see one time with another's text;
        # holding the time keeps its id from being reused.
        self.last: tuple[datetime | None, str] = (None, "")

    def __call__(self, value: datetime) -> str:
        last = self.last
        if last[0] is value:
            return last[1]
        text = value.isoformat()
        self.last = (value, text)
        return text

    def optional(self, value: datetime | None) -> str | None:
        return None if value is None else self(value)


time_text: Final = _TimeText()
"""``datetime.isoformat(value)``, kept for the last time written (a command's business
time recurs in every row and event it writes)."""
_CONVERTER.register_unstructure_hook(datetime, time_text)
# cattrs routes optional fields through its generic union machinery, ~10x slower than a
# direct hook; optional times are common (promised dates, expiries).
_CONVERTER.register_unstructure_hook(datetime | None, time_text.optional)
_CONVERTER.register_structure_hook(
    datetime | None, lambda value, _type: None if value is None else datetime.fromisoformat(value)
)


_IDENTITY: Final[Any] = identity  # cattrs' "written as it is": a field it inlines


def _is_optional_scalar(kind: Any) -> bool:
    """``str | None``, ``int | None`` and the like: written as they are, or ``null``."""
    args = typing.get_args(kind)
    return (
        typing.get_origin(kind) in (types.UnionType, typing.Union)
        and len(args) == 2
        and type(None) in args
        and all(_CONVERTER.get_unstructure_hook(a) is _IDENTITY for a in args)
    )


# cattrs inlines a field whose hook is ``identity`` (``instance.x``) and calls one for
# an optional scalar otherwise; a third of the domain's optional fields are such.
_CONVERTER.register_unstructure_hook_factory(_is_optional_scalar, lambda _kind: _IDENTITY)


def _list_hook(kind: Any) -> Callable[[Any], object]:
    """A list field's items: one list comprehension (cattrs' own feeds a generator)."""
    (item,) = typing.get_args(kind) or (Any,)
    hook = _CONVERTER.get_unstructure_hook(item)
    if hook is _IDENTITY:
        return list
    return lambda values: [hook(v) for v in values]


def _is_list(kind: Any) -> bool:
    return typing.get_origin(kind) is list


_CONVERTER.register_unstructure_hook_factory(_is_list, _list_hook)


def _unstructure_attrs(cls: type) -> Callable[[Any], object]:
    """An attrs class's fields, those at their defaults left out, except exact numbers.

    ``Decimal("0.00") == Decimal("0")`` and ``-0.0 == 0.0``: a field equal to such a
    default may still be written differently, and must read back as it was.
    """
    exact: dict[str, Any] = {  # overrides; typed loosely, as cattrs takes them by name
        field.name: override(omit_if_default=False)
        for field in attrs.fields(cls)
        if isinstance(field.default, Decimal | float)
    }
    return make_dict_unstructure_fn(cls, _CONVERTER, _cattrs_omit_if_default=True, **exact)


_CONVERTER.register_unstructure_hook_factory(attrs.has, _unstructure_attrs)

_ATTRS: Final[dict[str, type]] = {
    cls.__name__: cls
    for cls in (
        Address,
        ExchangeLine,
        FulfilmentLine,
        FulfilmentOrder,
        GeoPoint,
        Inspection,
        Location,
        Money,
        Order,
        OrderLine,
        Payment,
        PaymentOperation,
        PositionSettings,
        Reservation,
        ReturnLine,
        ReturnRequest,
        Shipment,
        ShipTo,
        StockLevel,
        SupplyLine,
        Transfer,
        IncomingSupply,
        *(getattr(_events, name) for name in _events.__all__),
    )
}
_TUPLES: Final[dict[str, type]] = {
    cls.__name__: cls for cls in (BackorderFill, LedgerEntry, Posting)
}
_ENUMS: Final[dict[str, type[enum.Enum]]] = {
    cls.__name__: cls
    for cls in (
        Disposition,
        EntryKind,
        FulfilmentStatus,
        LocationKind,
        OperationStatus,
        OrderStatus,
        PaymentKind,
        ReservationStatus,
        ReturnMethod,
        ReturnStatus,
        ShipmentStatus,
    )
}


_JSON: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # built once


def encode(value: object) -> str:
    """``value`` as JSON text; see :func:`encode_value` for what may be in it."""
    return dumps(encode_value(value))


def dumps(data: object) -> str:
    """Compact JSON text of JSON-ready ``data`` (what :func:`encode_value` returns).

    orjson writes it about ten times faster than the standard library, which matters
    when every command writes a dozen rows. It refuses integers beyond 64 bits; the
    standard library writes those.
    """
    try:
        return orjson.dumps(data).decode()
    except orjson.JSONEncodeError:
        return _JSON.encode(data)


def decode(text: str) -> Any:
    """The value :func:`encode` wrote."""
    # The standard library, not orjson: orjson reads integers beyond 64 bits as floats.
    return decode_value(json.loads(text))


def encode_value(value: object) -> object:
    """A JSON-ready form of ``value``.

    JSON's own scalars stand as they are; everything else becomes ``{"$": tag, ...}``:
    tuples, lists, sets, frozensets, deques, dicts (any keys), datetimes, dates,
    timedeltas, Decimals, the domain's enums, named tuples and attrs classes. Anything
    else raises ``TypeError``: a type the adapters do not know is a bug, not data.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    # One dict lookup per value: every command writes a dozen rows, each a tree of these.
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        encoder = _encoder_for(value)
    return encoder(value)


_PLAIN: Final = frozenset({type(None), bool, int, str})


def _items(values: Iterable[object]) -> list[object]:
    # Scalars inline: most items in a fingerprint or a key are strings and numbers.
    return [v if type(v) in _PLAIN else encode_value(v) for v in values]


def _tagged(tag: str, text: Callable[[Any], object]) -> Callable[[Any], object]:
    return lambda value: {"$": tag, "v": text(value)}


def _named(tag: str, name: str, text: Callable[[Any], object]) -> Callable[[Any], object]:
    return lambda value: {"$": tag, "t": name, "v": text(value)}


def _encode_dict(value: dict[Any, Any]) -> object:
    return {"$": "dict", "v": [[encode_value(k), encode_value(v)] for k, v in value.items()]}


_ENCODERS: Final[dict[type, Callable[[Any], object]]] = {
    float: _tagged("float", repr),
    datetime: _tagged("datetime", time_text),
    date: _tagged("date", date.isoformat),
    timedelta: _tagged("timedelta", lambda v: [v.days, v.seconds, v.microseconds]),
    Decimal: _tagged("decimal", str),
    tuple: _tagged("tuple", _items),
    # An empty list needs no tag: JSON's own [] reads back as an empty list.
    list: lambda v: {"$": "list", "v": _items(v)} if v else [],
    deque: _tagged("deque", _items),
    # Sets in a stable order, so equal sets write equal text.
    set: _tagged("set", lambda v: _items(sorted(v, key=repr))),
    frozenset: _tagged("frozenset", lambda v: _items(sorted(v, key=repr))),
    dict: _encode_dict,
    **{cls: _named("enum", name, operator.attrgetter("value")) for name, cls in _ENUMS.items()},
    **{cls: _named("nt", name, _items) for name, cls in _TUPLES.items()},
    **{
        cls: _named("attrs", name, _CONVERTER.get_unstructure_hook(cls))
        for name, cls in _ATTRS.items()
    },
}


def _encoder_for(value: object) -> Callable[[Any], object]:
    """The encoder of a type not in the table: a subclass of a container, or an error."""
    kind = type(value)
    for base in (datetime, date, tuple, list, deque, set, frozenset, dict):
        # Exact types only for the domain's own; a subclass of a builtin stores as it.
        if issubclass(kind, base) and not issubclass(kind, enum.Enum):
            return _ENCODERS[base]
    raise TypeError(f"cannot store a {kind.__qualname__}: {value!r}")


_CONTAINERS: Final = {
    "tuple": tuple,
    "list": list,
    "set": set,
    "frozenset": frozenset,
    "deque": deque,
}


_SCALARS: Final[dict[str, Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "decimal": Decimal,
    "float": float,
}


def decode_value(data: object) -> Any:
    """The value :func:`encode_value` made ``data`` from."""
    if not isinstance(data, dict):
        return data
    tag: str = data["$"]
    value: Any = data.get("v")
    if tag in _CONTAINERS:
        return _CONTAINERS[tag](decode_value(v) for v in value)
    if tag in _SCALARS:
        return _SCALARS[tag](value)
    if tag == "dict":
        return {decode_value(k): decode_value(v) for k, v in value}
    return _decode_typed(tag, data.get("t"), value)


def _decode_typed(tag: str, name: object, value: Any) -> Any:
    """A value of a named domain type: attrs class, named tuple or enum."""
    if tag == "attrs" and name in _ATTRS:
        return _CONVERTER.structure(value, _ATTRS[name])
    if tag == "nt" and name in _TUPLES:
        return _TUPLES[name](*(decode_value(v) for v in value))
    if tag == "enum" and name in _ENUMS:
        return _ENUMS[name](value)
    raise ValueError(f"unknown stored value {tag!r} {name!r}")
