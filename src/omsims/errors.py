"""The omsims error tree: one root, and each error also the builtin it resembles.

Every error says what was wrong and, where it helps, what to do about it. Catch
``OmsimsError`` to catch everything omsims raises on purpose::

    OmsimsError
    ├── ValidationError (ValueError)          bad input; nothing was written
    │   ├── InvalidQuantity                   bool, float, fraction, NaN, <= 0, > 10**9
    │   ├── InvalidIdentifier                 a malformed SKU, location or order id
    │   ├── InvalidMoney                      float amounts, unknown currencies
    │   ├── InvalidCoordinates                latitude/longitude out of range or not finite
    │   ├── InvalidTime                       naive datetimes, postings in the future
    │   ├── InvalidOrder                      no lines, too many lines, a bad line
    │   ├── InvalidParameter                  a setting out of range: a negative lead time,
    │   │                                     a service level outside (0, 1), a window of 0
    │   └── InsufficientHistory               a forecast or backtest over too short a history
    ├── NotFoundError (LookupError)
    │   ├── UnknownSku
    │   │   └── UnknownChannelSku             a SKU a sales channel does not list
    │   ├── UnknownLocation
    │   ├── UnknownOrder
    │   ├── UnknownFulfilmentOrder
    │   ├── UnknownShipment
    │   ├── UnknownReservation
    │   ├── UnknownSupplyLine
    │   ├── UnknownTransfer
    │   └── UnknownReturn
    ├── RuleViolation                         the input is well formed but breaks a rule
    │   ├── InsufficientStock                 more than is available / free / committed
    │   ├── BackorderNotAllowed               the position does not allow (more) backorders
    │   ├── BackdatedPostingRejected          a backdated entry would break a later balance
    │   ├── InvalidPlan                       a sourcing strategy returned an impossible plan
    │   ├── PaymentLimitExceeded              capturing more than authorised, refunding more
    │   │                                     than captured
    │   ├── PickupRefused                     collecting someone else's order, or at another store
    │   └── IllegalTransition (RuntimeError)  e.g. shipping a rejected fulfilment order
    ├── ConflictError
    │   ├── IdempotencyConflict               a key reused with a different payload
    │   ├── AlreadyExists                     e.g. a location id that is taken
    │   └── StaleRead                         another process wrote first; retried for you
    ├── PaymentError                          the payment gateway did not do what was asked
    │   ├── PaymentDeclined                   it refused (a declined card, an expired hold)
    │   └── PaymentUnavailable (ConnectionError) it could not be reached; try again later
    ├── CarrierUnavailable (ConnectionError)  no label could be bought; nothing was shipped
    ├── InvariantViolation (AssertionError)   check_invariants() found a broken invariant
    └── PersistenceError (RuntimeError)       a storage adapter failed; the command left no trace
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "BackdatedPostingRejected",
    "BackorderNotAllowed",
    "CarrierUnavailable",
    "ConflictError",
    "IdempotencyConflict",
    "IllegalTransition",
    "InsufficientHistory",
    "InsufficientStock",
    "InvalidCoordinates",
    "InvalidIdentifier",
    "InvalidMoney",
    "InvalidOrder",
    "InvalidParameter",
    "InvalidPlan",
    "InvalidQuantity",
    "InvalidTime",
    "InvariantViolation",
    "NotFoundError",
    "OmsimsError",
    "PaymentDeclined",
    "PaymentError",
    "PaymentLimitExceeded",
    "PaymentUnavailable",
    "PersistenceError",
    "PickupRefused",
    "RuleViolation",
    "StaleRead",
    "UnknownChannelSku",
    "UnknownFulfilmentOrder",
    "UnknownLocation",
    "UnknownOrder",
    "UnknownReservation",
    "UnknownReturn",
    "UnknownShipment",
    "UnknownSku",
    "UnknownSupplyLine",
    "UnknownTransfer",
    "ValidationError",
]


class OmsimsError(Exception):
    """The root of every error omsims raises on purpose."""


class ValidationError(OmsimsError, ValueError):
    """Input that is malformed; raised before anything is written."""


class InvalidQuantity(ValidationError):
    """A quantity that is not a whole number of units in the allowed range."""


class InvalidIdentifier(ValidationError):
    """A malformed identifier (SKU, location id, order id, ...)."""


class InvalidMoney(ValidationError):
    """A money amount that is not an exact decimal, or an unknown currency."""


class InvalidCoordinates(ValidationError):
    """A latitude or longitude out of range or not a finite number."""


class InvalidTime(ValidationError):
    """A naive datetime, or a business time that is not allowed here."""


class InvalidOrder(ValidationError):
    """An order that cannot be accepted as written (no lines, too many lines, ...)."""


class InvalidParameter(ValidationError):
    """A setting out of its range: a negative lead time, a service level outside (0, 1)."""


class InsufficientHistory(ValidationError):
    """A forecast or backtest asked of a history too short for it (or empty)."""


class NotFoundError(OmsimsError, LookupError):
    """Something named by id does not exist."""


class UnknownSku(NotFoundError):
    """A SKU the network has never heard of."""


class UnknownChannelSku(UnknownSku):
    """A SKU that a sales channel does not list (its mapping has no such SKU)."""


class UnknownLocation(NotFoundError):
    """A location id that was never added."""


class UnknownOrder(NotFoundError):
    """An order id that was never placed."""


class UnknownFulfilmentOrder(NotFoundError):
    """A fulfilment order id that does not exist."""


class UnknownShipment(NotFoundError):
    """A shipment id that does not exist."""


class UnknownReservation(NotFoundError):
    """A reservation id that does not exist."""


class UnknownSupplyLine(NotFoundError):
    """An expected supply line id that does not exist."""


class UnknownTransfer(NotFoundError):
    """A transfer id that does not exist."""


class UnknownReturn(NotFoundError):
    """A return request id that does not exist."""


class RuleViolation(OmsimsError):
    """Well-formed input that would break a business rule; nothing was written."""


class InsufficientStock(RuleViolation):
    """A posting asked for more units than the position can give."""


class BackorderNotAllowed(RuleViolation):
    """The position does not allow backorders, or its backorder limit is reached."""


class BackdatedPostingRejected(RuleViolation):
    """A backdated posting would make a later balance break a rule."""


class InvalidPlan(RuleViolation):
    """A sourcing strategy's plan allocates units it may not (a bug in the strategy)."""


class PaymentLimitExceeded(RuleViolation):
    """A capture or void beyond what is still authorised, a refund beyond what was captured."""


class PickupRefused(RuleViolation):
    """Someone tried to collect an order that is not theirs, or at the wrong store."""


class IllegalTransition(RuleViolation, RuntimeError):
    """A command that the current status of an order or fulfilment order forbids."""


class ConflictError(OmsimsError):
    """The command conflicts with what is already recorded."""


class IdempotencyConflict(ConflictError):
    """An idempotency key (or external order id) reused with a different payload."""


class AlreadyExists(ConflictError):
    """An entity with that id already exists."""


class StaleRead(ConflictError):
    """Another process changed what the command read before it could commit.

    The store rolled the command back; nothing was written. The Oms runs the command
    again on fresh state (a bounded number of times) before letting this through.
    """


class PaymentError(OmsimsError):
    """The payment gateway did not do what was asked."""


class PaymentDeclined(PaymentError):
    """The gateway refused: a declined card, an expired authorisation. Retrying will not help."""


class PaymentUnavailable(PaymentError, ConnectionError):
    """The gateway could not be reached or did not answer; the same request may be retried."""


class CarrierUnavailable(OmsimsError, ConnectionError):
    """The carrier could not issue a label (down, or it refused the parcel); nothing shipped."""


class InvariantViolation(OmsimsError, AssertionError):
    """``check_invariants()`` found a broken invariant: a bug, please report it."""


class PersistenceError(OmsimsError, RuntimeError):
    """A storage adapter failed; the command was rolled back and left no trace."""
