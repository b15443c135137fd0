"""The simulator's agenda gives events in exactly the order one heap of them would."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsims.simulation.agenda import Agenda

START = datetime(2026, 12, 1, tzinfo=UTC)

# A step: advance the clock (rarely back), then schedule some events, then take some.
_steps = st.lists(
    st.tuples(
        st.integers(-2, 30),  # minutes the clock moves (negative: back)
        st.lists(
            st.tuples(
                st.integers(0, 3),  # kind
                st.one_of(
                    st.sampled_from([0, 60, 360, 1440, 2880]),  # the common fixed delays
                    st.integers(0, 5000),  # and any other
                ),
            ),
            max_size=5,
        ),
        st.integers(0, 4),  # events to take
    ),
    max_size=60,
)


@given(_steps)
def test_events_come_due_in_the_order_one_heap_gives(steps):
    agenda, reference = Agenda(), []
    now, sequence = START, 0
    taken, expected = [], []
    for minutes, scheduled, takes in steps:
        now += timedelta(minutes=minutes)
        for kind, delay in scheduled:
            sequence += 1
            when = now + timedelta(minutes=delay)
            agenda.push(now, when, kind, sequence, f"e{sequence}")
            heapq.heappush(reference, (when, kind, sequence, f"e{sequence}"))
        for _ in range(min(takes, len(reference))):
            taken.append(agenda.pop())
            expected.append(heapq.heappop(reference))
        assert len(agenda) == len(reference)
    while reference:
        taken.append(agenda.pop())
        expected.append(heapq.heappop(reference))
    assert taken == expected
    assert len(agenda) == 0


def test_an_empty_agenda_has_nothing_to_give():
    agenda = Agenda()
    assert not agenda
    with pytest.raises(IndexError):
        agenda.pop()


def test_an_event_scheduled_after_the_clock_went_back_keeps_its_place():
    agenda = Agenda()
    later = START + timedelta(hours=5)
    agenda.push(later, later + timedelta(hours=1), 1, 1, "first")  # due 06:00
    agenda.push(START, START + timedelta(hours=1), 1, 2, "second")  # same delay, due 01:00
    assert [agenda.pop()[3], agenda.pop()[3]] == ["second", "first"]
