"""The durable stores' codec: every value it accepts comes back equal, of the same type."""

from __future__ import annotations

import enum
import json
from collections import deque, namedtuple
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims.adapters.codec import decode, dumps, encode, encode_value
from omsims.domain.locations import Location
from omsims.domain.orders import OrderStatus

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
