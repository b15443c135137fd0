"""Deep copies of domain objects, an order of magnitude faster than :func:`copy.deepcopy`.

The core copies an entity twice in most commands: before changing it in place (so a
failed command can put it back) and when handing it to the caller (so the caller cannot
change what the store holds). :func:`copy.deepcopy` spends most of its time on what
never needs copying (money, points in time, enums, frozen value objects) and on its
memo of every object visited. :func:`deep_copy` knows the shapes of the domain: it
copies lists, dicts, sets and attrs instances field by field, shares what is immutable,
and keeps a plan per type so the decision is made once.

It does not preserve aliasing inside the copied graph (two references to one mutable
object become two copies); domain entities never alias, which the tests check.

>>> from omsims.domain.orders import Order
>>> from datetime import datetime, UTC
>>> order = Order.new("A-1", [("MUG", 2)], placed_at=datetime(2026, 1, 1, tzinfo=UTC))
>>> twin = deep_copy(order)
>>> twin == order, twin is order, twin.lines[0] is order.lines[0]
(True, False, False)
>>> twin.placed_at is order.placed_at  # immutable: shared, not copied
True
"""

from __future__ import annotations

import copy
import enum
import types
import typing
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any, TypeVar

import attrs

__all__ = ["deep_copy"]

_T = TypeVar("_T")

_ATOMIC: tuple[type, ...] = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    range,
    Decimal,
    date,
    datetime,
    time,
    timedelta,
    tzinfo,
    enum.Enum,
    type,
)
"""Immutable all the way down: shared, never copied (subclasses included)."""

_Copier = Callable[[Any], Any]
_PLANS: dict[type, _Copier] = {}
_SHARED: set[type] = set()
"""The exact types met so far that are shared as they are: one set lookup decides."""
_BUILDING: set[type] = set()
"""The attrs classes whose copier is being written (a list of one of them inside it is
copied through :func:`deep_copy`, which finds the copier once it exists)."""


def deep_copy(value: _T) -> _T:
    """An independent copy of ``value``: changing one never changes the other."""
    kind = type(value)
    if kind in _SHARED:
        return value
    plan = _PLANS.get(kind) or _planned(kind)
    return plan(value)  # type: ignore[no-any-return]


def _planned(kind: type) -> _Copier:
    """The copier of ``kind``, made and kept the first time it is asked for."""
    plan = _PLANS.get(kind)
    if plan is None:
        plan = _PLANS[kind] = _plan(kind)
        if plan is _same:
            _SHARED.add(kind)
    return plan


def _same(value: Any) -> Any:
    return value


def _list(value: list[Any]) -> list[Any]:
    return [item if type(item) in _SHARED else deep_copy(item) for item in value]


def _unless_changed(build: Callable[[list[Any]], Any]) -> _Copier:
    """An immutable container: shared when nothing inside needed a copy, else rebuilt."""

    def copy_items(value: Any) -> Any:
        shared = _SHARED
        for item in value:
            if type(item) not in shared:
                break
        else:
            return value  # the common case (history entries, keys): one pass, no list
        items = [deep_copy(item) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return build(items)

    return copy_items


def _dict(value: dict[Any, Any]) -> dict[Any, Any]:
    return {key: deep_copy(item) for key, item in value.items()}


def _set(value: set[Any]) -> set[Any]:
    return {deep_copy(item) for item in value}


def _plan(kind: type) -> _Copier:
    if issubclass(kind, _ATOMIC) or _immutable(kind):
        return _same
    containers: dict[type, _Copier] = {
        list: _list,
        tuple: _unless_changed(tuple),
        dict: _dict,
        set: _set,
        frozenset: _unless_changed(frozenset),
    }
    if kind in containers:
        return containers[kind]
    # Slotted attrs classes only: an instance with a __dict__ may carry more than its fields.
    if attrs.has(kind) and kind.__dictoffset__ == 0 and not hasattr(kind, "__deepcopy__"):
        return _attrs_plan(kind)
    return copy.deepcopy  # anything else: the standard library's general answer


def _immutable(kind: type, seen: frozenset[type] = frozenset()) -> bool:
    """Whether ``kind`` is a frozen attrs class whose fields' declared types are immutable.

    Money, GeoPoint and the like: shared without looking inside. A type hint that
    cannot be resolved, or names anything mutable, makes the answer no.
    """
    if not (attrs.has(kind) and _is_frozen(kind)) or kind in seen:
        return False
    try:
        hints = typing.get_type_hints(kind)
    except (NameError, TypeError):
        return False
    seen |= {kind}
    return all(_immutable_hint(hints.get(f.name), seen) for f in attrs.fields(kind))


def _immutable_hint(hint: Any, seen: frozenset[type] | None) -> bool:
    """Whether a declared type admits only immutable values.

    Atomic types, NewTypes of them, and tuples, frozensets, unions and literals of such;
    and frozen attrs classes whose own fields are so, unless ``seen`` is ``None``: then
    classes of the domain are not trusted (a subclass could add a mutable field).
    """
    supertype = getattr(hint, "__supertype__", None)  # a NewType such as Sku
    if supertype is not None:
        return _immutable_hint(supertype, seen)
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return True
    if origin in (typing.Union, types.UnionType, tuple, frozenset):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return bool(args) and all(_immutable_hint(a, seen) for a in args)
    if isinstance(hint, type):
        if issubclass(hint, _ATOMIC):
            return True
        return seen is not None and _immutable(hint, seen)
    return False


def _attrs_plan(kind: type) -> _Copier:
    """Field by field, by a function written for ``kind`` (as attrs writes ``__init__``).

    No validator or converter runs: a copy is not a new value. Fields are assigned
    directly where the class allows it, else with ``object.__setattr__`` (as attrs' own
    ``__init__`` does on a frozen class or one with on-setattr hooks). A frozen
    instance whose fields need no copy is shared as it is.
    """
    names = [field.name for field in attrs.fields(kind)]
    try:
        hints = typing.get_type_hints(kind)
    except (NameError, TypeError):
        hints = {}
    scope: dict[str, Any] = {
        "kind": kind,
        "new": kind.__new__,
        "put": object.__setattr__,
        "shared": _SHARED,
        "deep_copy": deep_copy,
    }
    _BUILDING.add(kind)
    try:
        body = [f"    f_{name} = {_field_copy(name, hints.get(name), scope)}" for name in names]
    finally:
        _BUILDING.discard(kind)
    if _is_frozen(kind):
        same = " and ".join(f"f_{name} is value.{name}" for name in names) or "True"
        body.append(f"    if {same}:\n        return value")
    body.append("    twin = new(kind)")
    plain_setattr: object = kind.__setattr__
    if plain_setattr is object.__setattr__:
        body += [f"    twin.{name} = f_{name}" for name in names]
    else:
        body += [f"    put(twin, {name!r}, f_{name})" for name in names]
    body.append("    return twin")
    source = "def copy_instance(value):\n" + "\n".join(body) + "\n"
    exec(compile(source, f"<omsims deep_copy of {kind.__qualname__}>", "exec"), scope)  # noqa: S102
    return scope["copy_instance"]  # type: ignore[no-any-return]


def _field_copy(name: str, hint: Any, scope: dict[str, Any]) -> str:
    """An expression copying one field (``scope``: the generated function's globals).

    A field declared as plain values (times, strings, tuples of them) is shared, and a
    list or set of them copied shallowly, without looking inside: histories are such
    lists, and most of a copy's time went to walking them. A list of one slotted attrs
    class (an order's lines) calls that class's copier itself for each item of exactly
    that class. Otherwise shared types by one set lookup, the rest deeply.
    """
    if _plain_hint(hint):
        return f"value.{name}"
    origin = typing.get_origin(hint)
    (item, *_rest) = typing.get_args(hint) or (None,)
    if origin is list and _plain_hint(item):
        return f"(x[:] if type(x := value.{name}) is list else deep_copy(x))"
    if origin is set and _plain_hint(item):
        return f"(set(x) if type(x := value.{name}) is set else deep_copy(x))"
    if origin is list and isinstance(item, type) and item not in _BUILDING:
        plan = _planned(item)
        if plan is not copy.deepcopy:
            # Prefixed so that no field's name can make them collide with copy_instance
            # or the other names of the scope.
            scope[f"item_class_{name}"], scope[f"item_copy_{name}"] = item, plan
            return (
                f"([item_copy_{name}(i) if type(i) is item_class_{name} else deep_copy(i)"
                f" for i in x] if type(x := value.{name}) is list else deep_copy(x))"
            )
    return f"(x if type(x := value.{name}) in shared else deep_copy(x))"


def _plain_hint(hint: Any) -> bool:
    """Whether a declared type admits only immutable values of builtin types."""
    return _immutable_hint(hint, None)


def _is_frozen(kind: type) -> bool:
    """Whether attrs refuses assignment on ``kind``'s instances (``@attrs.frozen``)."""
    return getattr(kind.__setattr__, "__name__", "") == "_frozen_setattrs"
