"""Properties over random numbers, addresses, queues, histories and instants.

1. An allowed call is inside 08:00-21:00 (47 CFR 64.1200(c)(1)) in every
   candidate zone, inside the queue's window and days there, inside the
   program's hours in its own zone, and for solicitation never on a day or at
   an hour a candidate state bans (RULES.md 2).
2. `next_allowed_at` is exact: at that instant no time rule blocks (and the call
   is allowed if only time rules blocked before), and just before it the call
   was still refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import holidays
import pytz
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dialer.decision import TIME_CODES, TaskFacts, decide
from dialer.decision.numbering import STATE_CODES
from dialer.decision.zones import state_zones, zip_location
from tests.decision.builders import EVERY_DAY, attempts, consent, task, written

# Area codes and the state each presumes (test data, checked against the numbering plan).
AREA_CODES = {
    "212": "NY",
    "305": "FL",
    "850": "FL",
    "602": "AZ",
    "720": "CO",
    "801": "UT",
    "504": "LA",
    "214": "TX",
    "915": "TX",
    "605": "SD",
    "808": "HI",
    "907": "AK",
    "401": "RI",
    "410": "MD",
    "405": "OK",
    "203": "CT",
    "310": "CA",
    "617": "MA",
    "215": "PA",
    "701": "ND",
    "208": "ID",
    "205": "AL",
    "601": "MS",
    "206": "WA",
    "702": "NV",
    "312": "IL",
    "207": "ME",
    "317": "IN",
}
TOLL_FREE = ["800", "888"]
ZIPS = [
    "10001",
    "90012",
    "85004",
    "80202",
    "33101",
    "32501",
    "75201",
    "79901",
    "84101",
    "70112",
    "02903",
    "06103",
    "97201",
    "99501",
    "96813",
    "57501",
    "83702",
    "35203",
]
PROGRAM_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "America/Anchorage",
]
DST_DAYS = [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]

NO_SUNDAY = {"UT", "LA", "AL", "MS", "RI", "SD", "ME"}
ENDS_AT_20 = {"FL", "OK", "MD", "WA", "CT", "AL", "LA", "MS", "MA", "NV", "WY", "UT", "IN"}
NO_HOLIDAYS = {"UT", "LA", "AL", "RI", "PA", "MS"}

instants = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda day, minutes: day + timedelta(minutes=minutes),
        st.sampled_from(DST_DAYS),
        st.integers(min_value=-36 * 60, max_value=36 * 60),
    ),
)


def hour_of(hours: int, minutes: int) -> time:
    return time(0) if hours == 24 else time(hours, minutes)


@st.composite
def scenarios(draw):
    at = draw(instants)
    purpose = draw(st.sampled_from(["callback", "reminder", "reactivation"]))
    npa = draw(st.sampled_from([*AREA_CODES, *TOLL_FREE]))
    e164 = f"+1{npa}{draw(st.integers(200, 999))}01{draw(st.integers(0, 99)):02d}"
    state = draw(st.one_of(st.none(), st.sampled_from(sorted(STATE_CODES))))
    postal = draw(st.one_of(st.none(), st.sampled_from(ZIPS)))
    start = draw(st.integers(0, 12)), draw(st.sampled_from([0, 30]))
    end = draw(st.integers(13, 24)), 0
    days = draw(st.one_of(st.just(EVERY_DAY), st.frozensets(st.integers(0, 6), min_size=1)))
    biz_start = draw(st.integers(0, 12)), draw(st.sampled_from([0, 15]))
    biz_end = draw(st.integers(13, 24)), 0
    biz_days = draw(st.one_of(st.just(EVERY_DAY), st.frozensets(st.integers(0, 6), min_size=1)))
    status = draw(st.sampled_from(["none", "current", "former"]))
    history = draw(
        st.lists(
            st.tuples(
                st.integers(1, 8 * 24 * 60),
                st.sampled_from(["callback", "reminder", "reactivation", purpose]),
            ),
            max_size=5,
        )
    )
    recent = tuple(
        a for minutes, p in history for a in attempts(at - timedelta(minutes=minutes), purpose=p)
    )
    recent = tuple(sorted(recent, key=lambda a: a.at, reverse=True))
    consents = [written("reactivation")] if purpose == "reactivation" else []
    if status != "none":
        consents.append(consent("part2", purpose, id=2))
    facts = task(
        at,
        purpose=purpose,
        e164=e164,
        state=state,
        postal_code=postal,
        patient_status=status,
        line_type=draw(st.sampled_from(["mobile", "landline", "unknown"])),
        window=(hour_of(*start), hour_of(*end)),
        days=days,
        program_zone=draw(st.sampled_from(PROGRAM_ZONES)),
        business=(hour_of(*biz_start), hour_of(*biz_end)),
        business_days=biz_days,
        consents=tuple(consents),
        recent_attempts=recent,
        attempts_made=len(recent),
        last_attempt_at=recent[0].at if recent else None,
        callback_requested_at=at - timedelta(minutes=draw(st.integers(1, 20 * 24 * 60)))
        if purpose == "callback"
        else None,
        appointment_at=at + timedelta(minutes=draw(st.integers(1, 20 * 24 * 60)))
        if purpose == "reminder"
        else None,
    )
    facts = facts.__class__(
        **{
            **{f: getattr(facts, f) for f in facts.__dataclass_fields__},
            "queue": facts.queue.__class__(
                **{
                    **{f: getattr(facts.queue, f) for f in facts.queue.__dataclass_fields__},
                    "retry_minutes": draw(st.sampled_from([0, 30, 240, 1440])),
                    "max_attempts": 10,
                }
            ),
        }
    )
    return facts, at


def expected_places(facts: TaskFacts) -> tuple[set[str], set[str]]:
    """Zones and states any careful reader would check (an oracle, not the engine's code)."""
    zones: set[str] = set()
    states: set[str] = set()
    assert facts.number.exchange is not None
    npa = facts.number.exchange[2:5]
    if npa in AREA_CODES:  # an in-state area code presumes the state: all its zones
        states.add(AREA_CODES[npa])
    if facts.contact.state:  # the contact's state: all its zones
        states.add(facts.contact.state)
    for state in states:
        zones |= state_zones(state)
    if facts.contact.postal_code:  # the ZIP: its own zone, and its state's rules
        zip_zone, zip_state = zip_location(facts.contact.postal_code)
        assert zip_zone is not None and zip_state is not None
        zones.add(zip_zone)
        states.add(zip_state)
    return zones, states


def inside(local: datetime, start: time, end: time) -> bool:
    t = local.time().replace(tzinfo=None)
    return start <= t and (end == time(0) or t < end)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_an_allowed_call_is_inside_every_window_in_every_candidate_zone(scenario):
    """Checked at `at` when allowed there, else at `next_allowed_at` (often a window's edge)."""
    facts, at = scenario
    decision = decide(facts, at)
    if not decision.allowed and decision.next_allowed_at is not None:
        at = decision.next_allowed_at
        decision = decide(facts, at)
    assume(decision.allowed)
    zones, states = expected_places(facts)
    assert zones <= set(decision.zones)
    solicitation = facts.queue.purpose == "reactivation"
    for zone in decision.zones:
        local = at.astimezone(pytz.timezone(zone))
        assert time(8) <= local.time().replace(tzinfo=None) < time(21), zone
        assert inside(local, facts.queue.window_start, facts.queue.window_end), zone
        assert local.weekday() in facts.queue.days, zone
        if not solicitation:
            continue
        for state in states:
            if state in NO_SUNDAY:
                assert local.weekday() != 6, (state, zone)
            if state in ENDS_AT_20:
                assert local.hour < 20, (state, zone)
            if state in NO_HOLIDAYS:
                assert local.date() not in holidays.country_holidays("US", subdiv=state), state
            if state == "TX" and local.weekday() == 6:
                assert local.hour >= 12, zone
    home = at.astimezone(pytz.timezone(facts.program.timezone))
    assert inside(home, facts.program.business_start, facts.program.business_end)
    assert home.weekday() in facts.program.business_days


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.floats(min_value=0, max_value=1))
def test_next_allowed_at_is_the_earliest_instant_no_time_rule_blocks(scenario, fraction):
    facts, at = scenario
    decision = decide(facts, at)
    nxt = decision.next_allowed_at
    assume(nxt is not None)
    assert nxt is not None
    assert at <= nxt <= at + timedelta(days=14)
    later = decide(facts, nxt)
    assert not set(later.codes) & TIME_CODES, later.reasons
    if set(decision.codes) <= TIME_CODES:
        assert later.allowed, later.reasons
    if nxt > at:
        just_before = max(at, nxt - timedelta(seconds=1))
        assert not decide(facts, just_before).allowed
        between = at + (nxt - at) * fraction
        if between < nxt:
            assert not decide(facts, between).allowed
