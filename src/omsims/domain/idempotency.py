"""Comparing the payloads of repeated commands, for idempotency keys.

The same key with the same payload is a retry; with another payload it is a conflict.
"Same" is stricter than ``==``: ``True == 1`` and ``1.0 == 1`` in Python, but a bool or a
float is no quantity, and a retry must not turn an input the first call would have
refused into a success.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["same_payload"]


def same_payload(first: Hashable, again: Hashable) -> bool:
    """Whether ``again`` repeats ``first`` exactly (types of bools and floats included).

    >>> same_payload(("receive", "X", 1), ("receive", "X", 1))
    True
    >>> same_payload(("receive", "X", 1), ("receive", "X", True))
    False
    >>> same_payload(("cancel", ((1, 2),)), ("cancel", ((1, 2.0),)))
    False
    """
    if first != again:
        return False
    if isinstance(first, tuple) and isinstance(again, tuple):
        return all(same_payload(a, b) for a, b in zip(first, again, strict=True))
    return type(first) is type(again) or not (
        isinstance(first, bool | float) or isinstance(again, bool | float)
    )
