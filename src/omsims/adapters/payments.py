"""Payment gateways: an in-memory fake with failures on demand, for tests and simulations.

It keeps the rules a real gateway keeps (no capture beyond the authorisation, no refund
beyond the capture, a key seen twice moves money once) and can decline or go down when
told, so a shop can test what its orders do when payments fail.

>>> from omsims import Money
>>> gateway = FakeGateway()
>>> auth = gateway.authorise("web-1001", Money("59.97", "EUR"), key="web-1001-A")
>>> gateway.capture(auth, Money("19.99", "EUR"), key="web-1001-P1")
'cap-1'
>>> gateway.capture(auth, Money("19.99", "EUR"), key="web-1001-P1")  # the same key again
'cap-1'
>>> str(gateway.account(auth).captured)
'19.99'
>>> gateway.refund(auth, Money("25.00", "EUR"), key="web-1001-P2")
Traceback (most recent call last):
...
omsims.errors.PaymentDeclined: cannot refund 25.00 EUR of auth-1: 19.99 EUR was captured and ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Final

import attrs

from omsims.domain.values import Money
from omsims.errors import PaymentDeclined, PaymentUnavailable

__all__ = ["Account", "FakeGateway"]

_KINDS: Final = ("authorise", "capture", "void", "refund")


@attrs.define
class Account:
    """What the fake gateway holds under one authorisation."""

    order_id: str
    currency: str
    authorised: Decimal
    captured: Decimal = Decimal(0)
    voided: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)


class FakeGateway:
    """A payment gateway in memory: the ``PaymentGateway`` port, with failures on demand.

    Args:
        decline: a rule ``(kind, order_id, amount) -> reason or None``; a reason
            declines the call. ``kind`` is ``"authorise"``, ``"capture"``, ``"void"``
            or ``"refund"``.

    Set :attr:`down` to make every call raise ``PaymentUnavailable`` (an outage), or
    call :meth:`fail_next` for a few failures. Thread-safe.
    """

    def __init__(self, *, decline: Callable[[str, str, Money], str | None] | None = None) -> None:
        """An empty gateway that accepts everything the rules allow."""
        self.decline = decline
        self.down = False
        self.accounts: dict[str, Account] = {}
        self.calls: list[tuple[str, str, Money]] = []
        """Every call that took effect: (kind, key, amount); repeats of a key are not in it."""
        self._seen: dict[str, tuple[tuple[object, ...], str]] = {}
        self._failures: list[str | None] = []
        self._numbers = dict.fromkeys(_KINDS, 0)
        self._lock = threading.Lock()

    def fail_next(self, times: int = 1, kind: str | None = None) -> None:
        """Make the next ``times`` calls (of ``kind``, or any) raise ``PaymentUnavailable``."""
        with self._lock:
            self._failures.extend([kind] * times)

    def account(self, authorisation: str) -> Account:
        """A copy of what is held under ``authorisation`` (``KeyError`` if it is not known)."""
        with self._lock:
            return attrs.evolve(self.accounts[authorisation])

    # -- the port --------------------------------------------------------------------------

    def authorise(self, order_id: str, amount: Money, *, key: str) -> str:
        """Hold ``amount`` for the order."""
        return self._call("authorise", key, (order_id, amount), order_id, amount)

    def capture(self, authorisation: str, amount: Money, *, key: str) -> str:
        """Take ``amount`` of the authorisation."""
        return self._call("capture", key, (authorisation, amount), authorisation, amount)

    def void(self, authorisation: str, amount: Money, *, key: str) -> str:
        """Release ``amount`` of the authorisation."""
        return self._call("void", key, (authorisation, amount), authorisation, amount)

    def refund(self, authorisation: str, amount: Money, *, key: str) -> str:
        """Give back ``amount`` of what was captured."""
        return self._call("refund", key, (authorisation, amount), authorisation, amount)

    # -- inside ----------------------------------------------------------------------------

    def _call(
        self, kind: str, key: str, args: tuple[object, ...], subject: str, amount: Money
    ) -> str:
        with self._lock:
            if self.down:
                raise PaymentUnavailable(f"the payment gateway is down ({kind} {key})")
            for i, failing in enumerate(self._failures):
                if failing in (None, kind):
                    del self._failures[i]
                    raise PaymentUnavailable(f"the payment gateway timed out ({kind} {key})")
            seen = self._seen.get(key)
            if seen is not None:
                if seen[0] != (kind, *args):
                    raise PaymentDeclined(f"idempotency key {key!r} was used for another request")
                return seen[1]
            if amount.amount <= 0:
                raise PaymentDeclined(f"cannot {kind} {amount}: the amount must be positive")
            if kind == "authorise":
                reference = self._authorise(subject, amount)
            else:
                reference = self._move(kind, subject, amount)
            self._seen[key] = ((kind, *args), reference)
            self.calls.append((kind, key, amount))
            return reference

    def _authorise(self, order_id: str, amount: Money) -> str:
        self._check_rule("authorise", order_id, amount)
        reference = self._next("authorise")
        self.accounts[reference] = Account(order_id, amount.currency, amount.amount)
        return reference

    def _move(self, kind: str, authorisation: str, amount: Money) -> str:
        acct = self.accounts.get(authorisation)
        if acct is None:
            raise PaymentDeclined(f"no authorisation {authorisation!r}")
        if amount.currency != acct.currency:
            raise PaymentDeclined(f"{authorisation} is in {acct.currency}, not {amount.currency}")
        self._check_rule(kind, acct.order_id, amount)
        if kind == "refund":
            room = acct.captured - acct.refunded
            if amount.amount > room:
                raise PaymentDeclined(
                    f"cannot refund {amount} of {authorisation}: {room} {acct.currency} was "
                    "captured and not refunded"
                )
            acct.refunded += amount.amount
        else:
            room = acct.authorised - acct.captured - acct.voided
            if amount.amount > room:
                raise PaymentDeclined(
                    f"cannot {kind} {amount} of {authorisation}: {room} {acct.currency} is "
                    "still authorised"
                )
            if kind == "capture":
                acct.captured += amount.amount
            else:
                acct.voided += amount.amount
        return self._next(kind)

    def _check_rule(self, kind: str, order_id: str, amount: Money) -> None:
        reason = None if self.decline is None else self.decline(kind, order_id, amount)
        if reason is not None:
            raise PaymentDeclined(f"{kind} of {amount} for order {order_id} declined: {reason}")

    def _next(self, kind: str) -> str:
        self._numbers[kind] += 1
        prefix = {"authorise": "auth", "capture": "cap", "void": "void", "refund": "ref"}[kind]
        return f"{prefix}-{self._numbers[kind]}"
