"""Candidate zones and states: every place the called party may be (RULES.md 1, DESIGN "Time")."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.decision.numbering import STATE_CODES, area_code_states, exchange_of
from dialer.decision.zones import all_us_zones, candidate_location, state_zones, zip_location
from tests.decision.builders import number

NY, CHI, DEN, LA = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"


@pytest.mark.parametrize(
    ("e164", "state", "zip_code", "must_include", "states", "cite"),
    [
        (number("212"), "CA", "90012", {NY, LA}, {"NY", "CA"}, "NY number, CA address: both"),
        (number("212"), None, None, {NY}, {"NY"}, "a NY number alone"),
        (number("602"), "CO", None, {"America/Phoenix", DEN}, {"AZ", "CO"}, "AZ number, CO home"),
        (number("305"), None, None, {NY, CHI}, {"FL"}, "FL presumed: FL spans two zones"),
        (number("915"), None, None, {CHI, DEN}, {"TX"}, "El Paso code; TX spans two zones"),
        (number("208"), None, None, {"America/Boise", LA, DEN}, {"ID"}, "split area code 208"),
        (number("605"), None, None, {CHI, DEN}, {"SD"}, "split area code 605"),
        (number("800"), "OK", None, {CHI}, {"OK"}, "toll-free: the address decides"),
        (number("800"), None, "33101", {NY}, {"FL"}, "toll-free: the ZIP decides"),
        (None, "TX", None, {CHI, DEN}, {"TX"}, "unparseable number: the state still counts"),
    ],
)
def test_it_gathers_every_candidate_zone(e164, state, zip_code, must_include, states, cite):
    loc = candidate_location(e164, state, zip_code)
    assert must_include <= set(loc.zones), cite
    assert set(loc.states) == states, cite
    assert loc.located


def test_the_exchange_narrows_where_the_plan_knows_it():
    """850 (Florida panhandle) is Eastern at area-code level, Central for exchange 850-200."""
    assert exchange_of(number("850")).zones == {NY}
    assert exchange_of("+18502000123").zones == {CHI}
    # The in-state presumption still adds both Florida zones.
    assert {NY, CHI} <= set(candidate_location("+18502000123", None, None).zones)


@pytest.mark.parametrize(
    ("e164", "state", "zip_code", "cite"),
    [
        (number("800"), None, None, "toll-free, no address: location unknown"),
        (number("888"), "ZZ", "00000", "toll-free, unknown state and ZIP"),
        (None, None, None, "nothing at all"),
    ],
)
def test_an_unknown_location_takes_every_zone_of_the_50_states_and_dc(e164, state, zip_code, cite):
    loc = candidate_location(e164, state, zip_code)
    assert not loc.located, cite
    assert loc.zones == all_us_zones()
    assert {NY, CHI, DEN, LA, "America/Phoenix", "Pacific/Honolulu", "America/Anchorage"} <= set(
        loc.zones
    )
    assert set(loc.states) == STATE_CODES


def test_every_state_has_zones_and_two_zone_states_give_both():
    for code in STATE_CODES:
        assert state_zones(code), code
    assert {CHI, DEN} <= state_zones("TX")
    assert {NY, CHI} <= state_zones("FL")
    assert {"America/Boise", LA} & state_zones("ID")


@pytest.mark.parametrize(
    ("zip_code", "expected"),
    [
        ("10001", (NY, "NY")),
        ("90012-1234", (LA, "CA")),
        ("85004", ("America/Phoenix", "AZ")),
        ("abc", (None, None)),
        ("00000", (None, None)),
    ],
)
def test_it_reads_the_zip(zip_code, expected):
    assert zip_location(zip_code) == expected


@pytest.mark.parametrize(
    ("npa", "state"),
    [("212", "NY"), ("305", "FL"), ("206", "WA"), ("202", "DC"), ("713", "TX"), ("310", "CA")],
)
def test_it_derives_the_state_an_area_code_presumes(npa, state):
    assert area_code_states(npa) == {state}


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=2_000_000_000, max_value=9_999_999_999))
def test_the_per_exchange_answer_matches_phonenumbers_for_the_whole_number(national):
    """The engine checks validity once per NPA-NXX; that must equal a full check."""
    e164 = f"+1{national}"
    parsed = phonenumbers.parse(e164)
    expected = (
        phonenumbers.is_valid_number(parsed)
        and phonenumbers.region_code_for_number(parsed) == "US"
        and phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.PREMIUM_RATE
    )
    assert exchange_of(e164).valid == expected
