"""Notifiers: one that records what it is given (for tests), one that fails on demand."""

from __future__ import annotations

from collections.abc import Iterable

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

    def __init__(self, topics: Iterable[type[Event]] | None = None) -> None:
        """Start with no events, not failing; subscribed to ``topics`` (default: every event).

        >>> from omsims import Location, Oms, events
        >>> notifier = RecordingNotifier(topics=[events.OrderPlaced])
        >>> oms = Oms(notifier=notifier)
        >>> _ = oms.add_location(Location("berlin-dc"))
        >>> _ = oms.receive("TSHIRT-M", "berlin-dc", 10)
        >>> _ = oms.place_order("web-1", [("TSHIRT-M", 2)])
        >>> notifier.names()
        ['OrderPlaced']
        """
        self.events: list[Event] = []
        self.failing = False
        self.topics = None if topics is None else frozenset(topics)

    def publish(self, event: Event) -> None:
        """Record ``event``, or raise ``ConnectionError`` while ``failing`` is set."""
        if self.failing:
            msg = "RecordingNotifier is set to fail"
            raise ConnectionError(msg)
        self.events.append(event)

    def names(self) -> list[str]:
        """The type names of the recorded events, in order."""
        return [e.name for e in self.events]
