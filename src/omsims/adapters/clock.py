"""Clocks: the system clock, and a manual clock for tests and simulations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omsims.domain.values import aware

__all__ = ["ManualClock", "SystemClock"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to.

    >>> clock = ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    >>> clock.advance(hours=2)
    >>> clock.now()
    datetime.datetime(2026, 3, 1, 11, 0, tzinfo=datetime.timezone.utc)
    """

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (timezone-aware), or 2026-01-01 00:00 UTC."""
        self._now = aware(start, "start") if start is not None else datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """The time the clock was last set to."""
        return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when``; going backwards is allowed (backdating is the ledger's call)."""
        # A simulation sets the clock at every event: a UTC time needs no further look.
        self._now = when if type(when) is datetime and when.tzinfo is UTC else aware(when, "when")

    def advance(self, **delta: float) -> None:
        """Move forward by a ``timedelta(**delta)``, e.g. ``advance(hours=2)``."""
        self._now += timedelta(**delta)
