"""deep_copy: equal to what copy.deepcopy gives, sharing nothing mutable with the original."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims import FakeGateway, Location, ManualClock, Money, Oms
from omsims.domain.copies import _immutable, deep_copy
from omsims.domain.orders import ShipTo
from omsims.domain.returns import Inspection, ReturnLine
from omsims.domain.values import GeoPoint

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def mutable_parts(value: Any, found: dict[int, Any] | None = None) -> dict[int, Any]:
    """Every mutable object reachable from ``value``, by id."""
    found = {} if found is None else found
    if isinstance(value, list | dict | set | Plain) or _mutable_attrs(value):
        if id(value) in found:
            return found
        found[id(value)] = value
    if isinstance(value, dict):
        for item in value.values():
            mutable_parts(item, found)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            mutable_parts(item, found)
    elif isinstance(value, Plain):
        mutable_parts(value.items, found)
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            mutable_parts(getattr(value, field.name), found)
    return found


def _mutable_attrs(value: Any) -> bool:
    kind = type(value)
    return attrs.has(kind) and getattr(kind.__setattr__, "__name__", "") != "_frozen_setattrs"


def assert_independent(original: Any) -> None:
    twin = deep_copy(original)
    assert twin == original
    assert twin == copy.deepcopy(original)
    shared = mutable_parts(original).keys() & mutable_parts(twin).keys()
    assert not shared, [type(mutable_parts(original)[i]).__name__ for i in shared]


def a_shop() -> Oms:
    """An Oms whose orders have payments, shipments, returns and history: every shape."""
    clock = ManualClock(T0)
    oms = Oms(clock=clock, payments=FakeGateway())
    oms.add_location(Location("berlin-dc", coordinates=GeoPoint(52.5, 13.4)))
    oms.receive("MUG", "berlin-dc", 10)
    oms.receive("TEE", "berlin-dc", 10)
    eur = Money("9.50", "EUR")
    oms.place_order("o-1", [("MUG", 2, eur), ("TEE", 1, eur)], ship_to=ShipTo(GeoPoint(52.4, 13.1)))
    fo = oms.accept(oms.fulfilment_orders("o-1")[0].id)
    parcel = oms.ship(fo.id, {1: 1}, carrier="dhl", tracking="T1")
    oms.ship(fo.id)
    oms.deliver(parcel.id)
    for later in oms.shipments("o-1")[1:]:
        oms.deliver(later.id)
    request = oms.request_return("o-1", {1: 1}, reason="changed_mind")
    oms.approve_return(request.id)
    oms.receive_return(request.id, [Inspection(1, "restock")])
    return oms


def test_every_entity_of_a_shop_copies_equal_and_independent():
    oms = a_shop()
    order = oms.order("o-1")
    assert order.payment is not None
    assert order.returns
    assert order.history
    assert_independent(order)
    for fo in oms.fulfilment_orders("o-1"):
        assert_independent(fo)
    for parcel in oms.shipments("o-1"):
        assert_independent(parcel)


def test_changing_the_copy_leaves_the_original_alone():
    order = a_shop().order("o-1")
    twin = deep_copy(order)
    twin.lines[0].shipped += 5
    twin.history.append((T0, "edited"))
    twin.excluded_locations.add("x")
    assert twin.payment is not None
    twin.payment.operations.clear()
    assert order.lines[0].shipped == 2
    assert (T0, "edited") not in order.history
    assert not order.excluded_locations
    assert order.payment is not None
    assert order.payment.operations


def test_immutable_values_are_shared_not_copied():
    money, point = Money("1.00", "EUR"), GeoPoint(1.0, 2.0)
    assert deep_copy(money) is money
    assert deep_copy(ShipTo(point)).point is point
    assert deep_copy(ReturnLine(1, "MUG", 2)) == ReturnLine(1, "MUG", 2)
    assert all(_immutable(k) for k in (Money, GeoPoint, ShipTo, ReturnLine, Inspection))


@attrs.frozen
class Frozen:
    items: list[int]  # frozen, yet holding something mutable: must be copied


@attrs.define
class Mutable:
    name: str
    children: list[Mutable] = attrs.Factory(list)
    tags: dict[str, Decimal] = attrs.Factory(dict)
    frozen: Frozen | None = None


class Plain:
    """Not attrs: copied by the standard library's deepcopy."""

    def __init__(self, items: list[int]) -> None:
        self.items = items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plain) and other.items == self.items

    __hash__ = None  # type: ignore[assignment]


def test_a_frozen_class_holding_a_list_is_copied():
    value = Frozen([1, 2])
    assert not _immutable(Frozen)
    twin = deep_copy(value)
    assert twin == value
    assert twin is not value
    assert twin.items is not value.items


atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(),
)


def _grow(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=3), children, max_size=3),
        st.builds(Frozen, st.lists(st.integers(), max_size=3)),
        st.builds(
            Mutable,
            st.text(max_size=3),
            st.lists(st.builds(Mutable, st.text(max_size=3)), max_size=2),
            st.dictionaries(st.text(max_size=2), st.decimals(allow_nan=False), max_size=2),
        ),
        st.builds(Plain, st.lists(st.integers(), max_size=3)),
    )


@given(st.recursive(atoms, _grow, max_leaves=20))
def test_any_nesting_copies_equal_and_independent(value):
    assert_independent(value)


@pytest.mark.parametrize("value", [frozenset({1, 2}), (1, "a", T0), {1, 2}, range(3)])
def test_containers_of_immutables(value):
    twin = deep_copy(value)
    assert twin == value
    if isinstance(value, set):
        assert twin is not value


def test_the_hand_written_copies_share_nothing_mutable_either():
    """Order, Payment and ReturnRequest.copy() keep the contract of deep_copy, which they use."""
    order = a_shop().order("o-1")
    assert order.payment is not None
    for value in (order, order.payment, order.returns[0]):
        twin = value.copy()
        assert twin == value
        assert not mutable_parts(value).keys() & mutable_parts(twin).keys()


@attrs.define
class Logged:
    history: list[tuple[datetime, str]] = attrs.Factory(list)
    lines: tuple[tuple[int, str], ...] = ()
    when: datetime | None = None
    notes: list[list[str]] = attrs.Factory(list)  # a list of mutables: copied deeply


def test_fields_declared_as_plain_values_are_shared_and_their_lists_copied_shallowly():
    entry = (T0, "placed")
    logged = Logged([entry], ((1, "MUG"),), T0, [["a"]])
    twin = deep_copy(logged)
    assert twin == logged
    assert twin.history is not logged.history
    assert twin.history[0] is entry  # immutable: shared, not walked
    assert twin.lines is logged.lines
    assert twin.notes[0] is not logged.notes[0]
    twin.history.append((T0, "shipped"))
    twin.notes[0].append("b")
    assert logged.history == [entry]
    assert logged.notes == [["a"]]
    assert_independent(logged)


@attrs.define
class Item:
    count: int
    tags: list[str] = attrs.Factory(list)


@attrs.define
class SpecialItem(Item):
    extra: list[int] = attrs.Factory(list)


@attrs.define
class Basket:
    items: list[Item] = attrs.Factory(list)
    seen: set[str] = attrs.Factory(set)
    nested: list[Basket] = attrs.Factory(list)  # its own class: copied through deep_copy


def test_a_list_of_one_attrs_class_copies_each_item_and_a_subclass_as_itself():
    inner = Basket([Item(1)], {"x"})
    basket = Basket([Item(2, ["a"]), SpecialItem(3, ["b"], [7])], {"MUG", "TEE"}, [inner])
    twin = deep_copy(basket)
    assert type(twin.items[1]) is SpecialItem
    assert twin == basket
    assert twin.seen is not basket.seen
    twin.items[0].tags.append("z")
    twin.items[1].extra.append(8)  # the subclass's own field: copied too
    twin.seen.add("CAP")
    twin.nested[0].items[0].count = 99
    assert basket == Basket([Item(2, ["a"]), SpecialItem(3, ["b"], [7])], {"MUG", "TEE"}, [inner])
    assert inner.items[0].count == 1
    assert_independent(basket)


@attrs.define
class Named:
    instance: list[Item] = attrs.Factory(list)  # the name of deep_copy's generated function
    kind: list[Item] = attrs.Factory(list)
    shared: list[Item] = attrs.Factory(list)


def test_a_field_named_like_the_copiers_own_names_is_copied_all_the_same():
    named = Named([Item(1, ["a"])], [Item(2)], [Item(3)])
    twin = deep_copy(named)
    assert twin == named
    twin.instance[0].tags.append("b")
    assert named.instance[0].tags == ["a"]
    assert_independent(named)
