"""Civil time: wall times to instants and back, across the 2026 US DST changes.

US 2026: clocks spring forward on 2026-03-08 at 02:00 (02:00-02:59 does not
exist) and fall back on 2026-11-01 at 02:00 (01:00-01:59 happens twice).
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from dialer.decision import clock
from dialer.decision.windows import ZoneWindow, queue_rule
from tests.decision.builders import EVERY_DAY, utc

NY = "America/New_York"


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected", "cite"),
    [
        (NY, date(2026, 3, 7), time(8), utc(2026, 3, 7, 13), "EST, UTC-5"),
        (NY, date(2026, 3, 8), time(8), utc(2026, 3, 8, 12), "EDT, UTC-4, same day as the gap"),
        (NY, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7), "in the gap: the jump instant"),
        (NY, date(2026, 3, 8), time(2, 0), utc(2026, 3, 8, 7), "gap start: the jump instant"),
        (NY, date(2026, 3, 8), time(3, 0), utc(2026, 3, 8, 7), "gap end is the same instant"),
        (NY, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), "repeat: first (EDT)"),
        (NY, date(2026, 11, 1), time(8), utc(2026, 11, 1, 13), "EST again after the repeat"),
        ("America/Phoenix", date(2026, 7, 15), time(8), utc(2026, 7, 15, 15), "AZ: no DST"),
        ("America/Denver", date(2026, 7, 15), time(8), utc(2026, 7, 15, 14), "MDT in July"),
        ("Pacific/Honolulu", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 12, 30), "HI: no DST"),
        ("America/Chicago", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 8), "CT gap"),
    ],
)
def test_it_maps_local_wall_times_to_instants(zone, day, wall, expected, cite):
    assert clock.utc_of(zone, day, clock.seconds_of_day(wall)) == expected, cite


def test_it_treats_86400_seconds_as_the_midnight_that_ends_the_day():
    assert clock.utc_of(NY, date(2026, 3, 7), 86_400) == utc(2026, 3, 8, 5)


@pytest.mark.parametrize(
    ("instant", "wall"),
    [
        (utc(2026, 3, 8, 6, 59, 59), "2026-03-08 01:59:59 EST"),
        (utc(2026, 3, 8, 7), "2026-03-08 03:00:00 EDT"),
        (utc(2026, 11, 1, 5, 30), "2026-11-01 01:30:00 EDT"),
        (utc(2026, 11, 1, 6, 30), "2026-11-01 01:30:00 EST"),
    ],
)
def test_it_gives_the_local_time_of_an_instant(instant, wall):
    assert f"{clock.local(instant, NY):%Y-%m-%d %H:%M:%S %Z}" == wall


def test_it_iterates_local_days_not_utc_days():
    # 03:00Z on 2026-03-09 is still the 8th in New York.
    days = list(clock.local_days(NY, utc(2026, 3, 9, 3), 3))
    assert days == [date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]


def test_it_refuses_naive_instants():
    with pytest.raises(ValueError, match="naive"):
        clock.as_utc(datetime(2026, 1, 1))


def test_a_window_cut_by_the_spring_forward_gap_opens_when_the_clocks_jump():
    """A 02:30-04:00 window on 2026-03-08 keeps only 03:00-04:00 EDT (07:00Z-08:00Z)."""
    window = ZoneWindow(NY, (queue_rule(time(2, 30), time(4), EVERY_DAY),))
    assert window.interval(date(2026, 3, 8)) == (utc(2026, 3, 8, 7), utc(2026, 3, 8, 8))
    assert window.next_ok(utc(2026, 3, 8, 5), utc(2026, 3, 20)) == utc(2026, 3, 8, 7)
    # The day before it is a 90-minute window, 07:30Z-09:00Z (EST).
    assert window.interval(date(2026, 3, 7)) == (utc(2026, 3, 7, 7, 30), utc(2026, 3, 7, 9))


def test_a_window_starting_in_the_autumn_repeat_starts_at_its_first_occurrence():
    window = ZoneWindow(NY, (queue_rule(time(1, 30), time(3), EVERY_DAY),))
    # 01:30 EDT = 05:30Z; 03:00 EST = 08:00Z: two and a half hours that day.
    assert window.interval(date(2026, 11, 1)) == (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 8))
