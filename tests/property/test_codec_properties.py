"""The durable stores' codec: every value it accepts comes back equal, of the same type."""

from __future__ import annotations

import enum
import inspect
import json
import typing
from collections import deque, namedtuple
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims.adapters import codec
from omsims.adapters.codec import decode, dumps, encode, encode_value
from omsims.domain.fulfilment import FulfilmentLine, FulfilmentOrder
from omsims.domain.locations import Location, PositionSettings
from omsims.domain.orders import Order, OrderLine, OrderStatus

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: orjson refuses those, the codec must not
    st.text(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))])),
    st.timedeltas(),
    st.sampled_from(OrderStatus),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text() | st.integers(), inner, max_size=4),
        st.frozensets(st.integers() | st.text(), max_size=4),
        st.sets(st.integers() | st.text(), max_size=4),
        st.lists(inner, max_size=4).map(deque),
    ),
    max_leaves=12,
)


def _same(a: object, b: object) -> bool:
    """Equal and of the same type, all the way down (``True != 1`` here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple | deque):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, datetime):
        assert isinstance(b, datetime)
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


@given(values)
def test_every_value_comes_back_equal_and_of_the_same_type(value: object) -> None:
    assert _same(decode(encode(value)), value)


@given(values)
def test_dumps_writes_what_the_standard_library_reads(value: object) -> None:
    data = encode_value(value)
    assert json.loads(dumps(data)) == data


def test_integers_beyond_64_bits_are_stored_exactly() -> None:
    big = 2**70 + 1
    assert decode(encode(big)) == big
    assert decode(encode((date(2026, 1, 1), -big))) == (date(2026, 1, 1), -big)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot store a object"):
        encode(object())


def test_an_enum_the_codec_does_not_know_is_refused() -> None:
    class Colour(enum.Enum):
        RED = "red"

    with pytest.raises(TypeError, match=r"cannot store a .*Colour"):
        encode(Colour.RED)


def test_a_subclass_of_a_domain_class_is_refused() -> None:
    # It would come back as the domain class, losing what the subclass added.
    class Store(Location):
        pass

    with pytest.raises(TypeError, match=r"cannot store a .*Store"):
        encode(Store("s1"))
    assert decode(encode(Location("s1"))) == Location("s1")


def test_a_named_tuple_the_codec_does_not_know_comes_back_as_its_tuple() -> None:
    Point = namedtuple("Point", "x y")  # noqa: PYI024 (a plain one on purpose)
    assert _same(decode(encode(Point(1, "a"))), (1, "a"))


def test_sets_are_written_in_one_order_whatever_order_they_were_built_in() -> None:
    assert encode({3, 1, 2}) == encode({2, 3, 1}) == encode(set(range(3, 0, -1)))


# -- fields at their defaults are left out ------------------------------------------------

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_fields_at_their_defaults_are_left_out_of_the_text() -> None:
    assert encode(PositionSettings()) == '{"$":"attrs","t":"PositionSettings","v":{}}'
    assert encode(PositionSettings(safety_stock=2)) == (
        '{"$":"attrs","t":"PositionSettings","v":{"safety_stock":2}}'
    )
    assert decode(encode(PositionSettings(safety_stock=2))) == PositionSettings(safety_stock=2)


def test_an_empty_list_is_written_without_a_tag_and_reads_back_a_list() -> None:
    # An empty backorder queue is in every position row: JSON's own [] says it all.
    assert encode([]) == "[]"
    assert _same(decode(encode([])), [])
    assert _same(decode(encode(([], {"k": []}))), ([], {"k": []}))
    assert decode('{"$":"list","v":[]}') == []  # as such lists were written before
    assert encode(()) == '{"$":"tuple","v":[]}'  # a tuple still says it is one


def test_a_body_written_with_every_field_still_reads() -> None:
    # Exactly as the stores wrote these before fields at their defaults were left out.
    order = (
        '{"$":"attrs","t":"Order","v":{"id":"W-1","lines":[{"number":1,"sku":"MUG",'
        '"quantity":3,"unit_price":null,"committed":3,"backordered":0,"shipped":0,'
        '"delivered":0,"cancelled":0,"returned":0,"lost":0,"lost_resolved":0,'
        '"unclaimed":0,"replaces":null,"exchange_for":null,"listing":null}],'
        '"placed_at":"2026-03-02T09:00:00+00:00",'
        '"channel":"web","customer":null,"ship_to":null,"excluded_locations":[],'
        '"fulfilment_count":1,"payment":null,"history":[],"shipping":null,'
        '"shipping_refunded":false,"returns":[],"pickup_at":null,"sold_at":null,'
        '"ready_by":null,"ready_at":null,"pickup_deadline":null,"reservation":null}}'
    )
    fulfilment_order = (
        '{"$":"attrs","t":"FulfilmentOrder","v":{"id":"W-1-F1","order_id":"W-1",'
        '"location":"a","lines":[{"line":1,"sku":"MUG","quantity":3,"backordered":0,'
        '"shipped":0,"cancelled":0,"promised":null}],'
        '"created_at":"2026-03-02T09:00:00+00:00","status":"open","hold_reason":null,'
        '"status_before_hold":null,"rejection_reason":null,"shipment_count":0,'
        '"history":[],"events":[]}}'
    )
    line = OrderLine(1, "MUG", 3)
    line.committed = 3
    expected_order = Order("W-1", [line], T0, fulfilment_count=1)
    expected_fo = FulfilmentOrder("W-1-F1", "W-1", "a", [FulfilmentLine(1, "MUG", 3)], T0)
    assert decode(order) == expected_order
    assert decode(fulfilment_order) == expected_fo
    # and the text written today is shorter, and reads back the same
    assert len(encode(expected_order)) < len(order)
    assert decode(encode(expected_order)) == expected_order


def _stored_classes() -> dict[str, type]:
    """Every attrs class the codec stores, and every one stored inside them."""
    found: dict[str, type] = {}

    def walk(kind: object) -> None:
        if isinstance(kind, type) and attrs.has(kind):
            if kind.__name__ not in found:
                found[kind.__name__] = kind
                hints = typing.get_type_hints(kind)
                for field in attrs.fields(kind):
                    walk(hints.get(field.name, field.type))
            return
        for arg in typing.get_args(kind):
            walk(arg)

    for cls in codec._ATTRS.values():
        walk(cls)
    return found


def stored_defaults() -> dict[str, dict[str, str]]:
    """What each stored attrs class's fields default to, as text.

    A plain default as ``repr``, and what its converter makes of it (the value that is
    stored and read back); a factory by its name, or its source if it is not a builtin.
    """
    pinned: dict[str, dict[str, str]] = {}
    for name, cls in sorted(_stored_classes().items()):
        fields: dict[str, str] = {}
        for field in attrs.fields(cls):
            default = field.default
            if default is attrs.NOTHING:
                continue
            if isinstance(default, attrs.Factory):
                made_by = default.factory
                fields[field.name] = (
                    made_by.__name__
                    if made_by in (list, set, dict, tuple)
                    else inspect.getsource(made_by).strip()
                )
            elif field.converter is not None:
                fields[field.name] = f"{default!r} -> {field.converter(default)!r}"
            else:
                fields[field.name] = repr(default)
        pinned[name] = fields
    return pinned


def test_the_defaults_of_stored_classes_do_not_change_unnoticed() -> None:
    """A field at its default is not written, so it reads back as whatever the default is then.

    Changing a stored class's default would silently change every row written before. Such
    a change needs a migration that writes the old default into the rows that left it
    out; then update ``stored_defaults.json`` (see ``stored_defaults`` above).
    """
    pinned = json.loads((Path(__file__).parent / "stored_defaults.json").read_text())
    assert stored_defaults() == pinned
