"""The calling-rules table: what it says, and that a bad edit stops start-up with a clear error."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from dialer.decision.rules_table import RULES, RulesTableError, load, parse_span

BUNDLED = resources.files("dialer.decision").joinpath("calling_rules.toml").read_text()


def hours_of(state: str) -> dict[str, object]:
    return {r.id: r.week for r in RULES.hours if r.state == state}


def test_the_bundled_table_loads_and_is_versioned():
    assert RULES.version
    assert RULES.registry_max_age_days == 31
    assert RULES.callback_validity.days == 30
    assert RULES.horizon_days == 14


def test_every_u_item_is_marked_unconfirmed_and_every_entry_cites_its_source():
    raw = tomllib.loads(BUNDLED)
    for entry in raw["rule"]:
        assert entry["citation"].strip(), entry["id"]
        if entry["confidence"] == "U":
            assert entry["unconfirmed"] is True, entry["id"]


@pytest.mark.parametrize(
    ("rule_id", "weekday", "expected", "cite"),
    [
        ("federal-hours", 0, (8 * 3600, 21 * 3600), "47 CFR 64.1200(c)(1)"),
        ("fl-hours", 2, (8 * 3600, 20 * 3600), "Fla. Stat. 501.616(6)(a)"),
        ("ct-hours", 2, (9 * 3600, 20 * 3600), "CT P.A. 23-98"),
        ("tx-hours", 5, (9 * 3600, 21 * 3600), "Tex. Bus. & Com. 301.051 [U]"),
        ("tx-hours", 6, (12 * 3600, 21 * 3600), "Tex. Bus. & Com. 301.051 [U], Sunday"),
        ("ut-hours", 6, None, "Utah Code 13-25a-103(3): no Sunday"),
        ("la-hours", 6, None, "La. R.S. 45:811: no Sunday"),
        ("ri-hours", 5, (10 * 3600, 17 * 3600), "R.I. 5-61-3.6: Saturday"),
        ("ri-hours", 6, None, "R.I. 5-61-3.6: no Sunday"),
    ],
)
def test_it_holds_the_state_windows_of_the_law(rule_id, weekday, expected, cite):
    (rule,) = [r for r in RULES.hours if r.id == rule_id]
    assert rule.week[weekday] == expected, cite


def test_solicitation_rules_do_not_touch_callbacks_or_reminders():
    for rule in RULES.hours:
        if rule.state != "*":
            assert rule.purposes == {"reactivation"}, rule.id
    federal = [r for r in RULES.hours if r.state == "*"]
    assert [r.purposes for r in federal] == [{"callback", "reminder", "reactivation"}]


def test_it_holds_the_caps_and_the_state_registries():
    caps = {c.id: (c.state, c.limit, c.window.total_seconds() / 3600) for c in RULES.caps}
    assert caps["fl-cap"] == ("FL", 3, 24)
    assert caps["ok-cap"] == ("OK", 3, 24)
    assert caps["md-cap"] == ("MD", 3, 24)
    assert caps["healthcare-day"] == ("*", 1, 24)
    assert caps["healthcare-week"] == ("*", 3, 168)
    assert RULES.state_registries == {
        "CO",
        "FL",
        "IN",
        "LA",
        "MA",
        "MO",
        "OK",
        "PA",
        "TN",
        "TX",
        "WY",
        "MS",
    }


def _with(entry_extra: str) -> str:
    return BUNDLED + "\n[[rule]]\n" + entry_extra


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _with(
                'id = "x"\nkind = "hours"\nstate = "FL"\npurposes = ["reactivation"]\n'
                'hours = "20:00-08:00"\ncitation = "c"\nconfidence = "P"'
            ),
            r"rule\[\d+\] \(x\): field 'hours'",
        ),
        (
            _with(
                'id = "x"\nkind = "hours"\nstate = "XX"\npurposes = ["reactivation"]\n'
                'hours = "08:00-20:00"\ncitation = "c"\nconfidence = "P"'
            ),
            r"\(x\): field 'state'",
        ),
        (
            _with(
                'id = "x"\nkind = "hours"\nstate = "FL"\npurposes = ["sales"]\n'
                'hours = "08:00-20:00"\ncitation = "c"\nconfidence = "P"'
            ),
            r"\(x\): field 'purposes'",
        ),
        (
            _with(
                'id = "x"\nkind = "hours"\nstate = "FL"\npurposes = ["reactivation"]\n'
                'hours = "08:00-20:00"\ncitation = "c"\nconfidence = "U"'
            ),
            r"\(x\): field 'unconfirmed'",
        ),
        (
            _with(
                'id = "x"\nkind = "hours"\nstate = "FL"\npurposes = ["reactivation"]\n'
                'hours = "08:00-20:00"\ndays = { sunday = "closed" }\ncitation = "c"\n'
                'confidence = "P"'
            ),
            r"\(x\): field 'days.sunday'",
        ),
        (
            _with(
                'id = "x"\nkind = "hours"\nstate = "FL"\npurposes = ["reactivation"]\n'
                'hours = "08:00-20:00"\ncitation = "c"\nconfidence = "P"\ncolour = "red"'
            ),
            r"\(x\): field 'colour' is not known",
        ),
        (
            _with(
                'id = "x"\nkind = "cap"\nstate = "FL"\npurposes = ["reactivation"]\n'
                'limit = 0\nwindow_hours = 24\ncitation = "c"\nconfidence = "P"'
            ),
            r"\(x\): field 'limit'",
        ),
        (
            _with(
                'id = "x"\nkind = "hours"\nstate = "FL"\npurposes = ["reactivation"]\n'
                'hours = "08:00-20:00"\nconfidence = "P"'
            ),
            r"\(x\): field 'citation' is required",
        ),
        (
            _with(
                'id = "fl-hours"\nkind = "state_registry"\nstates = ["FL"]\ncitation = "c"\n'
                'confidence = "P"'
            ),
            r"\(fl-hours\): field 'id' repeats",
        ),
        (_with('id = "x"\nkind = "law"\ncitation = "c"\nconfidence = "P"'), r"\(x\): field 'kind'"),
        (
            BUNDLED.replace("registry_max_age_days = 31", "registry_max_age_days = -1"),
            r"constants: field 'registry_max_age_days'",
        ),
        (BUNDLED.replace('version = "', 'versio = "'), r"table: field 'versio' is not known"),
        ("version = [", r"not valid TOML"),
    ],
)
def test_a_bad_entry_raises_naming_the_entry_and_the_field(text, message):
    with pytest.raises(RulesTableError, match=message):
        load(text)


@pytest.mark.parametrize("bad", ["8:00-20:00", "08:00-24:30", "20:00-20:00", "25:00-26:00"])
def test_it_rejects_malformed_spans(bad):
    with pytest.raises(ValueError, match=r"HH:MM|impossible|before"):
        parse_span(bad)


def test_it_accepts_the_end_of_the_day():
    assert parse_span("00:00-24:00") == (0, 86_400)
