"""Calling windows in every candidate zone, through `decide` (RULES.md 1, 2, 9; DESIGN rule 7).

Each row: a call at an instant, whether it is allowed, the detail it must give
when refused, and the `next_allowed_at` it must answer. 2026-11-18 is a
Wednesday (EST, UTC-5); 2026-11-21/22 a Saturday/Sunday; 2026-07-15 is in
summer (EDT, MDT, and MST in Arizona, which keeps no daylight saving time).
"""

from __future__ import annotations

from datetime import time

import pytest

from dialer.decision import decide
from tests.decision.builders import number, task, utc, with_program

NY, CHI, DEN = "America/New_York", "America/Chicago", "America/Denver"
WINDOW = "outside_calling_window"

CASES = [
    # cite, purpose, area code, contact state, at, allowed, detail fragment, next_allowed_at
    (
        "Fla. Stat. 501.616(6)(a): solicitation ends 20:00",
        "reactivation",
        "305",
        "FL",
        utc(2026, 11, 19, 1, 30),
        False,
        "20:30 in America/New_York; Florida allows 08:00-20:00 for solicitation",
        utc(2026, 11, 19, 14),
    ),  # 08:00 in Chicago: Florida spans two zones
    (
        "47 CFR 64.1200(c)(1): a callback may go until 21:00",
        "callback",
        "305",
        "FL",
        utc(2026, 11, 19, 1, 30),
        True,
        None,
        utc(2026, 11, 19, 1, 30),
    ),
    (
        "47 CFR 64.1200(c)(1): not after 21:00 for any purpose",
        "callback",
        "305",
        "FL",
        utc(2026, 11, 19, 2, 30),
        False,
        "21:30 in America/New_York; federal rule allows 08:00-21:00",
        utc(2026, 11, 19, 14),
    ),
    (
        "FL solicitation, inside both Florida zones",
        "reactivation",
        "305",
        "FL",
        utc(2026, 11, 19, 0, 30),
        True,
        None,
        utc(2026, 11, 19, 0, 30),
    ),
    (
        "RULES.md 1: NY number, CA address: LA is still 05:30",
        "callback",
        "212",
        "CA",
        utc(2026, 11, 18, 13, 30),
        False,
        "05:30 in America/Los_Angeles; federal rule",
        utc(2026, 11, 18, 16),
    ),
    (
        "RULES.md 1: NY number, CA address: NY is already 21:30",
        "callback",
        "212",
        "CA",
        utc(2026, 11, 19, 2, 30),
        False,
        "21:30 in America/New_York",
        utc(2026, 11, 19, 16),
    ),
    (
        "Arizona in July: Phoenix 20:30 MST is inside",
        "callback",
        "602",
        "AZ",
        utc(2026, 7, 15, 3, 30),
        True,
        None,
        utc(2026, 7, 15, 3, 30),
    ),
    (
        "Arizona number, Colorado home in July: Denver is 21:30 MDT",
        "callback",
        "602",
        "CO",
        utc(2026, 7, 15, 3, 30),
        False,
        "21:30 in America/Denver",
        utc(2026, 7, 15, 15),
    ),
    (
        "Arizona number, Colorado home in January: both 20:30",
        "callback",
        "602",
        "CO",
        utc(2026, 1, 15, 3, 30),
        True,
        None,
        utc(2026, 1, 15, 3, 30),
    ),
    (
        "split area code 605 (SD spans two zones): Chicago is 21:30",
        "callback",
        "605",
        None,
        utc(2026, 11, 18, 3, 30),
        False,
        "21:30 in America/Chicago",
        utc(2026, 11, 18, 15),
    ),
    (
        "El Paso 915 is Mountain, Texas also Central: Chicago 07:30",
        "callback",
        "915",
        None,
        utc(2026, 11, 18, 13, 30),
        False,
        "07:30 in America/Chicago",
        utc(2026, 11, 18, 15),
    ),
    (
        "unknown location (toll-free, no address): Honolulu at 07:00",
        "callback",
        "800",
        None,
        utc(2026, 11, 18, 17),
        False,
        "07:00 in Pacific/Honolulu",
        utc(2026, 11, 18, 18),
    ),
    (
        "unknown location: New York already 21:00",
        "callback",
        "800",
        None,
        utc(2026, 11, 19, 2),
        False,
        "21:00 in America/New_York",
        utc(2026, 11, 19, 18),
    ),
    (
        "Utah Code 13-25a-103(3): no Sunday solicitation",
        "reactivation",
        "801",
        "UT",
        utc(2026, 11, 22, 18),
        False,
        "Utah bans solicitation on Sundays",
        utc(2026, 11, 23, 16),
    ),  # Monday 09:00 MST (VICIdial's 09:00 start, strict side)
    (
        "Utah: a Sunday callback is not solicitation",
        "callback",
        "801",
        "UT",
        utc(2026, 11, 22, 18),
        True,
        None,
        utc(2026, 11, 22, 18),
    ),
    (
        "La. R.S. 45:811: no Sunday solicitation",
        "reactivation",
        "504",
        "LA",
        utc(2026, 11, 22, 18),
        False,
        "Louisiana bans solicitation on Sundays",
        utc(2026, 11, 23, 14),
    ),
    (
        "Tex. Bus. & Com. 301.051 [U]: Sunday from noon",
        "reactivation",
        "214",
        "TX",
        utc(2026, 11, 22, 17, 30),
        False,
        "Texas allows 12:00-21:00 on Sunday for solicitation",
        utc(2026, 11, 22, 19),
    ),  # noon in Denver: Texas spans two zones
    (
        "Tex. Bus. & Com. 301.051 [U]: Saturday from 09:00",
        "reactivation",
        "214",
        "TX",
        utc(2026, 11, 21, 15, 30),
        False,
        "Texas allows 09:00-21:00 on Saturday for solicitation",
        utc(2026, 11, 21, 16),
    ),
    (
        "CT P.A. 23-98: solicitation from 09:00",
        "reactivation",
        "203",
        "CT",
        utc(2026, 11, 18, 13, 30),
        False,
        "08:30 in America/New_York; Connecticut allows 09:00-20:00",
        utc(2026, 11, 18, 14),
    ),
    (
        "R.I. 5-61-3.6: Saturday 10:00-17:00",
        "reactivation",
        "401",
        "RI",
        utc(2026, 11, 21, 22, 30),
        False,
        "Rhode Island allows 10:00-17:00 on Saturday",
        utc(2026, 11, 23, 14),
    ),  # Monday 09:00: no Sunday
    (
        "Utah Code 13-25a-103(3): no legal holidays (Pioneer Day)",
        "reactivation",
        "801",
        "UT",
        utc(2026, 7, 24, 17),
        False,
        "Utah bans solicitation on legal holidays (Pioneer Day)",
        utc(2026, 7, 25, 15),
    ),
    (
        "Pennsylvania Act 73: no legal holidays (Thanksgiving)",
        "reactivation",
        "215",
        "PA",
        utc(2026, 11, 26, 17),
        False,
        "Pennsylvania bans solicitation on legal holidays",
        utc(2026, 11, 28, 14),
    ),  # the day after Thanksgiving is a Pennsylvania holiday too
    (
        "spring forward 2026-03-08: 01:30 EST, window opens 08:00 EDT",
        "callback",
        "212",
        "NY",
        utc(2026, 3, 8, 6, 30),
        False,
        "01:30 in America/New_York",
        utc(2026, 3, 8, 12),
    ),
    (
        "fall back 2026-11-01: 21:30 EDT, window opens 08:00 EST",
        "callback",
        "212",
        "NY",
        utc(2026, 11, 1, 1, 30),
        False,
        "21:30 in America/New_York",
        utc(2026, 11, 1, 13),
    ),
    (
        "fall back: the first EST evening ends at 21:00 EST = 02:00Z",
        "callback",
        "212",
        "NY",
        utc(2026, 11, 2, 1, 59),
        True,
        None,
        utc(2026, 11, 2, 1, 59),
    ),
]


@pytest.mark.parametrize(
    ("cite", "purpose", "npa", "state", "at", "allowed", "detail", "next_at"),
    CASES,
    ids=[c[0][:60] for c in CASES],
)
def test_it_checks_the_window_in_every_candidate_zone(
    cite, purpose, npa, state, at, allowed, detail, next_at
):
    decision = decide(task(at, purpose=purpose, e164=number(npa), state=state), at)
    assert decision.allowed is allowed, (cite, decision.reasons)
    if detail is None:
        assert decision.reasons == ()
    else:
        assert {r.code for r in decision.reasons} == {WINDOW}, cite
        assert any(detail in r.detail for r in decision.reasons), (cite, decision.reasons)
    assert decision.next_allowed_at == next_at, cite


def test_each_blocked_zone_gives_its_own_reason():
    """A toll-free number with no address at 06:00 in New York: most zones are closed."""
    at = utc(2026, 11, 18, 11)
    decision = decide(task(at, e164=number("800"), state=None), at)
    zones_named = {r.detail.split(" in ")[1].split(";")[0] for r in decision.reasons}
    assert {NY, CHI, DEN, "America/Los_Angeles", "Pacific/Honolulu"} <= zones_named


def test_the_queue_window_and_days_apply_in_the_called_party_zone():
    at = utc(2026, 11, 21, 15)  # Saturday 10:00 in New York
    facts = task(at, window=(time(9), time(17)), days=frozenset(range(5)))
    decision = decide(facts, at)
    assert [r.detail for r in decision.reasons] == [
        "10:00 in America/New_York; the queue does not call on Saturdays"
    ]
    assert decision.next_allowed_at == utc(2026, 11, 23, 14)  # Monday 09:00 EST


def test_the_program_hours_apply_in_the_program_zone():
    at = utc(2026, 11, 18, 15)  # 10:00 in New York, 07:00 in Los Angeles
    facts = with_program(
        task(at), timezone="America/Los_Angeles", business_start=time(9), business_end=time(17)
    )
    decision = decide(facts, at)
    assert [r.detail for r in decision.reasons] == [
        "07:00 in America/Los_Angeles; the program's business hours are 09:00-17:00"
    ]
    assert decision.next_allowed_at == utc(2026, 11, 18, 17)


def test_an_unknown_program_zone_fails_closed():
    at = utc(2026, 11, 18, 15)
    decision = decide(with_program(task(at), timezone="Mars/Olympus_Mons"), at)
    assert not decision.allowed
    assert decision.codes == (WINDOW,)
    assert decision.next_allowed_at is None
