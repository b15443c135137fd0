"""Replenishment in a scenario: the ``[replenishment]`` section, and policies by name.

A scenario with a ``[replenishment]`` section is supplied by a stock policy, on top of
any scheduled receipts: once a day, at ``review_at``, the simulator asks the Oms to
plan replenishment for the positions the section covers, approves every proposal, and
receives each purchase or transfer when it arrives. Every field has a default, so an
empty ``[replenishment]`` table turns it on::

    [replenishment]
    location_kinds = ["warehouse", "store"]  # the kinds of location it covers (all)
    review_at = "06:00"                      # the daily review, in the start's time zone
    transfers = true                         # serve short positions from others' surplus
    transfer_lead_time_days = 2
    transfer_lead_time_sd = 0
    history_days = 90                        # the demand history forecasts read
    prior_days = 28                          # days of expected demand before the start

    [replenishment.policy]
    kind = "min-max"                         # reorder-point, min-max, periodic-review
    service_level = 0.95
    cover_days = 14
    forecaster = "moving-average"            # ses, holt, croston, tsb
    window = 28

    [replenishment.supplier]
    id = "acme"
    lead_time_days = 4
    lead_time_sd = 1
    minimum = 1
    multiple = 1
    lead_times = { "munich-store" = { days = 6, sd = 1.5 } }

    [replenishment.policies.safe]            # named alternatives, for comparisons
    kind = "min-max"
    service_level = 0.99

A comparison names a policy by one of the scenario's names, or by a kind with an
optional service level: ``min-max``, ``reorder-point@0.9`` (the kind's defaults, with
the forecaster of the scenario's own policy).

>>> spec = policy_preset("periodic-review@0.9", Replenishment())
>>> spec.policy
PeriodicReview(review_days=7, offset=0, up_to=None, service_level=0.9)
>>> spec.label
'periodic-review@0.9'
>>> parse_policy({"kind": "min-max", "service_level": 1.2}, "replenishment.policy")
Traceback (most recent call last):
...
omsims.simulation.scenario.ScenarioError: replenishment.policy.service_level: must lie \
strictly between 0 and 1, got 1.2
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any, Final

import attrs

from omsims.domain.locations import LocationKind
from omsims.errors import InvalidParameter
from omsims.replenishment import (
    TSB,
    Croston,
    Forecaster,
    Holt,
    LeadTime,
    MinMax,
    MovingAverage,
    PeriodicReview,
    Policy,
    ReorderPoint,
    SimpleExponentialSmoothing,
    Supplier,
    service_factor,
)
from omsims.replenishment.history import MAX_HISTORY_DAYS
from omsims.replenishment.policies import MAX_DAYS
from omsims.simulation.scenario import ScenarioError, _Reader, _show

__all__ = [
    "FORECASTERS",
    "POLICY_KINDS",
    "PolicySpec",
    "Replenishment",
    "parse_policy",
    "parse_replenishment",
    "policy_preset",
    "resolve_policy",
]

POLICY_KINDS: Final = {
    "reorder-point": ReorderPoint,
    "min-max": MinMax,
    "periodic-review": PeriodicReview,
}
"""The policy kinds a scenario names, and the policy each builds."""

FORECASTERS: Final[dict[str, type[Any]]] = {
    "moving-average": MovingAverage,
    "ses": SimpleExponentialSmoothing,
    "holt": Holt,
    "croston": Croston,
    "tsb": TSB,
}
"""The forecasters a scenario names, and the class each builds."""

# Each kind's fields beyond service_level: (name, minimum) for optional whole units,
# or the name alone for days.
_UNITS: Final = {
    "reorder-point": {"quantity": 1, "reorder_point": 0, "maximum": 0},
    "min-max": {"minimum": 0, "maximum": 1},
    "periodic-review": {"up_to": 1},
}
_FORECAST_FIELDS: Final = {
    "moving-average": ("window",),
    "ses": ("alpha",),
    "holt": ("alpha", "beta", "phi"),
    "croston": ("alpha", "sba"),
    "tsb": ("alpha", "beta"),
}
_POLICY_WORDS: Final = {
    "cover_days",
    "review_days",
    "offset",
    *(f for fields in _UNITS.values() for f in fields),
}
_FORECAST_WORDS: Final = {f for fields in _FORECAST_FIELDS.values() for f in fields}
_NAME: Final = re.compile(r"^[A-Za-z0-9_.@+-]+$")


def _default_forecaster() -> Forecaster:
    return MovingAverage(28)


@attrs.frozen
class PolicySpec:
    """A replenishment policy as a scenario names it: the stock policy and its forecaster.

    >>> PolicySpec(ReorderPoint(service_level=0.9)).label
    'reorder-point@0.9'
    """

    policy: Policy
    forecaster: Forecaster = attrs.field(factory=_default_forecaster)

    @property
    def kind(self) -> str:
        """``reorder-point``, ``min-max`` or ``periodic-review``."""
        return next(k for k, cls in POLICY_KINDS.items() if isinstance(self.policy, cls))

    @property
    def label(self) -> str:
        """The kind and the service level: ``min-max@0.95``."""
        return f"{self.kind}@{self.policy.service_level:g}"

    def to_dict(self) -> dict[str, Any]:
        """The policy as a scenario's table (what :func:`parse_policy` reads back)."""
        out: dict[str, Any] = {"kind": self.kind}
        out.update({k: v for k, v in attrs.asdict(self.policy).items() if v is not None})
        name = next(n for n, cls in FORECASTERS.items() if isinstance(self.forecaster, cls))
        out["forecaster"] = name
        out.update({f: getattr(self.forecaster, f) for f in _FORECAST_FIELDS[name]})
        return out


def _default_policy() -> PolicySpec:
    return PolicySpec(MinMax())


_SUPPLIER: Final = Supplier("supplier", LeadTime(7))
_TRANSFER: Final = LeadTime(2)


def _all_kinds() -> tuple[str, ...]:
    return tuple(k.value for k in LocationKind)


@attrs.frozen
class Replenishment:
    """A scenario's ``[replenishment]`` section, checked (see the module docstring).

    It covers the positions (a SKU at a location) that hold opening stock at locations
    of ``location_kinds``; every one of them gets the same policy and supplier.
    """

    policy: PolicySpec = attrs.field(factory=_default_policy)
    supplier: Supplier = _SUPPLIER
    location_kinds: tuple[str, ...] = attrs.field(factory=_all_kinds)
    review_at: time = time(6)
    transfers: bool = True
    transfer_lead_time: LeadTime = _TRANSFER
    history_days: int = 90
    prior_days: int = 28
    """Days of the demand the opening stock was sized for, as if sold before the start."""
    policies: tuple[tuple[str, PolicySpec], ...] = ()
    """Named alternatives, for :func:`~omsims.simulation.compare_policies`."""

    def to_dict(self) -> dict[str, Any]:
        """The section as plain data (what :func:`parse_replenishment` reads back)."""
        supplier = self.supplier
        return {
            "location_kinds": list(self.location_kinds),
            "review_at": self.review_at.strftime("%H:%M"),
            "transfers": self.transfers,
            "transfer_lead_time_days": self.transfer_lead_time.days,
            "transfer_lead_time_sd": self.transfer_lead_time.sd,
            "history_days": self.history_days,
            "prior_days": self.prior_days,
            "policy": self.policy.to_dict(),
            "supplier": {
                "id": supplier.id,
                "lead_time_days": supplier.lead_time.days,
                "lead_time_sd": supplier.lead_time.sd,
                "minimum": supplier.minimum,
                "multiple": supplier.multiple,
                "lead_times": {
                    loc: {"days": lt.days, "sd": lt.sd} for loc, lt in supplier.lead_times.items()
                },
            },
            "policies": {name: spec.to_dict() for name, spec in self.policies},
        }


# -- reading --------------------------------------------------------------------------------


def parse_replenishment(raw: object, path: str, locations: set[str]) -> Replenishment:
    """Check a ``[replenishment]`` table and build the :class:`Replenishment`.

    ``locations`` are the scenario's location ids (a per-location lead time must name
    one); every error names the field at ``path``.
    """
    r = _Reader(raw, path)
    kinds = r.texts("location_kinds", _all_kinds())
    allowed = _all_kinds()
    for i, kind in enumerate(kinds):
        if kind not in allowed:
            raise ScenarioError(
                f"{path}.location_kinds[{i}]: must be one of {', '.join(allowed)}, "
                f"got {_show(kind)}"
            )
    review = r.text("review_at", "06:00")
    policy = parse_policy(r.section("policy").raw, f"{path}.policy")
    named = r.section("policies")
    policies = []
    for name, table in named.raw.items():
        if not _NAME.match(str(name)):
            raise ScenarioError(
                f"{path}.policies.{name}: a name is letters, digits and _ . @ + - only"
            )
        policies.append((str(name), parse_policy(table, f"{path}.policies.{name}")))
    section = Replenishment(
        policy=policy,
        supplier=_supplier(r.section("supplier"), locations),
        location_kinds=tuple(dict.fromkeys(kinds)),
        review_at=_time_of_day(review, f"{path}.review_at"),
        transfers=r.flag("transfers", default=True),
        transfer_lead_time=_lead_time(
            r, "transfer_lead_time_days", "transfer_lead_time_sd", default=2.0
        ),
        history_days=_bounded(r, "history_days", 90, 1, MAX_HISTORY_DAYS),
        prior_days=_bounded(r, "prior_days", 28, 0, MAX_HISTORY_DAYS),
        policies=tuple(policies),
    )
    r.done()
    return section


def _is_service_level(value: object) -> bool:
    """Whether the policies would take ``value`` as a service level (their rule, not a copy)."""
    try:
        service_factor(value)
    except InvalidParameter:
        return False
    return True


def parse_policy(raw: object, path: str) -> PolicySpec:
    """Check one policy table (``kind``, its parameters, ``forecaster`` and its own).

    >>> parse_policy({"kind": "reorder-point", "quantity": 20}, "p").policy.quantity
    20
    >>> parse_policy({"kind": "min-max", "review_days": 7}, "p")
    Traceback (most recent call last):
    ...
    omsims.simulation.scenario.ScenarioError: p.review_days: not a field of a min-max policy
    """
    r = _Reader(raw, path)
    kind = r.choice("kind", list(POLICY_KINDS), "min-max")
    level = r.number("service_level", 0.95)
    if not _is_service_level(level):
        raise ScenarioError(
            f"{path}.service_level: must lie strictly between 0 and 1, got {_show(level)}"
        )
    fields: dict[str, Any] = {"service_level": level}
    for name, minimum in _UNITS[kind].items():
        fields[name] = _units(r, name, minimum)
    if kind == "periodic-review":
        fields["review_days"] = _bounded(r, "review_days", 7, 1, MAX_DAYS)
        fields["offset"] = r.integer("offset", 0, minimum=0)
    else:
        fields["cover_days"] = _positive_days(r, "cover_days", 14.0)
    method, forecaster = _forecaster(r)
    valid = {"kind", "service_level", "forecaster", *fields, *_FORECAST_FIELDS[method]}
    for key in r.raw:
        if key in valid:
            continue
        if key in _POLICY_WORDS:
            raise ScenarioError(f"{path}.{key}: not a field of a {kind} policy")
        if key in _FORECAST_WORDS:
            raise ScenarioError(f"{path}.{key}: not a field of the {method} forecaster")
    r.done()
    try:
        policy = POLICY_KINDS[kind](**fields)
    except InvalidParameter as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return PolicySpec(policy, forecaster)


def _forecaster(r: _Reader) -> tuple[str, Forecaster]:
    name = r.choice("forecaster", list(FORECASTERS), "moving-average")
    cls = FORECASTERS[name]
    defaults = attrs.fields_dict(cls)
    params: dict[str, Any] = {}
    for field in _FORECAST_FIELDS[name]:
        default = defaults[field].default
        if field == "window":
            params[field] = r.integer(field, default, minimum=1)
        elif field == "sba":
            params[field] = r.flag(field, default=bool(default))
        else:
            value = r.number(field, default)
            if value is None or not 0 < value <= 1:
                raise ScenarioError(f"{r.path}.{field}: must lie in (0, 1], got {_show(value)}")
            params[field] = value
    forecaster: Forecaster = cls(**params)
    return name, forecaster


def _supplier(r: _Reader, locations: set[str]) -> Supplier:
    lead_times: dict[str, LeadTime] = {}
    table = r.section("lead_times")
    for loc, raw in table.raw.items():
        if loc not in locations:
            raise ScenarioError(f"{table.path}.{loc}: unknown location {loc!r}")
        item = _Reader(raw, f"{table.path}.{loc}")
        lead_times[loc] = _lead_time(item, "days", "sd", default=None)
        item.done()
    try:
        supplier = Supplier(
            r.text("id", "supplier"),
            _lead_time(r, "lead_time_days", "lead_time_sd", default=7.0),
            lead_times,
            minimum=r.integer("minimum", 1, minimum=1),
            multiple=r.integer("multiple", 1, minimum=1),
        )
    except InvalidParameter as exc:
        raise ScenarioError(f"{r.path}: {exc}") from None
    r.done()
    return supplier


def _lead_time(r: _Reader, days: str, sd: str, *, default: float | None) -> LeadTime:
    """A lead time's days and deviation; the days are required without a default."""
    top = float(MAX_DAYS)
    if default is None:
        mean = r.number(days, minimum=0.0, maximum=top)
    else:
        mean = r.number(days, default, minimum=0.0, maximum=top)
    spread = r.number(sd, 0.0, minimum=0.0, maximum=top)
    return LeadTime(mean or 0.0, spread or 0.0)


def _units(r: _Reader, key: str, minimum: int) -> int | None:
    value: int | None = r.integer(key, None, minimum=minimum)
    return value


def _bounded(r: _Reader, key: str, default: int, low: int, high: int) -> int:
    value: int = r.integer(key, default, minimum=low)
    if value > high:
        raise ScenarioError(f"{r.path}.{key}: must be at most {high}, got {value}")
    return value


def _positive_days(r: _Reader, key: str, default: float) -> float:
    value = r.number(key, default, maximum=float(MAX_DAYS))
    if value is None or value <= 0:
        raise ScenarioError(f"{r.path}.{key}: must be more than 0, got {_show(value)}")
    return value


def _time_of_day(text: str, path: str) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScenarioError(f"{path}: must be a time of day as HH:MM (06:00), got {text!r}")
    return time(int(match[1]), int(match[2]))


# -- policies by name -----------------------------------------------------------------------


def policy_preset(name: str, section: Replenishment, field: str = "policy") -> PolicySpec:
    """The policy ``name`` stands for: one of the section's, or ``KIND[@SERVICE_LEVEL]``.

    A kind alone has its defaults and a 0.95 service level; either way it forecasts
    with the forecaster of the section's own policy.

    >>> policy_preset("min-max", Replenishment()).policy
    MinMax(minimum=None, maximum=None, cover_days=14, service_level=0.95)
    >>> policy_preset("fastest", Replenishment())
    Traceback (most recent call last):
    ...
    omsims.simulation.scenario.ScenarioError: policy: unknown policy 'fastest'; name one of \
the scenario's policies (none), or a kind (reorder-point, min-max, periodic-review) with \
an optional service level: min-max@0.99
    """
    named = dict(section.policies)
    if name in named:
        return named[name]
    kind, at, level = name.partition("@")
    if kind not in POLICY_KINDS:
        mine = ", ".join(named) or "none"
        raise ScenarioError(
            f"{field}: unknown policy {name!r}; name one of the scenario's policies ({mine}), "
            f"or a kind ({', '.join(POLICY_KINDS)}) with an optional service level: "
            "min-max@0.99"
        )
    service = 0.95
    if at:
        try:
            service = float(level)
        except ValueError:
            service = -1.0
        if not _is_service_level(service):
            raise ScenarioError(
                f"{field}: {name!r}: the service level after @ must lie strictly between "
                f"0 and 1, got {level!r}"
            )
    return PolicySpec(POLICY_KINDS[kind](service_level=service), section.policy.forecaster)


def resolve_policy(
    value: object, section: Replenishment, field: str = "policy"
) -> tuple[str, PolicySpec]:
    """A label and the :class:`PolicySpec` for what a caller gave as a policy.

    A name (see :func:`policy_preset`), a :class:`PolicySpec`, a policy object
    (``MinMax(service_level=0.99)``, forecast with the section's forecaster), or a
    table as a scenario writes it (``{"kind": "min-max", "service_level": 0.99}``).
    """
    if isinstance(value, str):
        return value, policy_preset(value, section, field)
    if isinstance(value, PolicySpec):
        return value.label, value
    if isinstance(value, ReorderPoint | MinMax | PeriodicReview):
        spec = PolicySpec(value, section.policy.forecaster)
        return spec.label, spec
    if isinstance(value, Mapping):
        spec = parse_policy(value, field)
        return spec.label, spec
    raise ScenarioError(
        f"{field}: a policy is a name, a PolicySpec, a policy object or a table, not {value!r}"
    )
