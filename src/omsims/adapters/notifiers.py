"""Notifiers: one that records what it is given (for tests), one that fails on demand."""

from __future__ import annotations

from omsims.domain.events import Event

__all__ = ["NullNotifier", "RecordingNotifier"]


class NullNotifier:
    """Accepts every event and forgets it."""

    def publish(self, event: Event) -> None:
        """Drop the event."""


class RecordingNotifier:
    """Keeps every event it is given, in order; can be told to fail, to test retries.

    >>> n = RecordingNotifier()
    >>> n.failing = True
    >>> n.publish(object())  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    ConnectionError: RecordingNotifier is set to fail
    """

    def __init__(self) -> None:
        """Start with no events, not failing."""
        self.events: list[Event] = []
        self.failing = False

    def publish(self, event: Event) -> None:
        """Record ``event``, or raise ``ConnectionError`` while ``failing`` is set."""
        if self.failing:
            msg = "RecordingNotifier is set to fail"
            raise ConnectionError(msg)
        self.events.append(event)

    def names(self) -> list[str]:
        """The type names of the recorded events, in order."""
        return [e.name for e in self.events]
