"""The healthcare exemption's conditions: cited rules of the table, applied to reminders."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

import pytest

from dialer.decision import RULES, RulesTableError, decide
from dialer.decision.facts import DncFacts, TaskFacts
from dialer.decision.rules_table import load
from tests.decision.builders import task, utc, with_queue

AT = utc(2026, 6, 10, 15)  # a Wednesday, 11:00 in New York


def _reasons(facts: TaskFacts) -> dict[str, str]:
    return {r.code: r.detail for r in decide(facts, AT).reasons}


def test_each_condition_is_a_cited_entry_of_the_table():
    conditions = {c.requires: c for c in RULES.conditions}
    assert set(conditions) == {
        "number_provided_by_patient",
        "script_not_promotional",
        "opt_out_honoured_at_once",
    }
    for rule in conditions.values():
        assert rule.purposes == frozenset({"reminder"})
        assert "64.1200(a)(9)" in rule.citation
    caps = {c.id: c for c in RULES.caps}
    assert (caps["healthcare-day"].limit, caps["healthcare-week"].limit) == (1, 3)


def test_a_number_the_patient_did_not_provide_is_refused_citing_the_rule():
    facts = task(AT, purpose="reminder", line_type="mobile")
    assert decide(facts, AT).allowed
    refused = _reasons(replace(facts, number=replace(facts.number, provided_by_patient=False)))
    assert "not provided by the patient" in refused["consent_missing"]
    assert "the healthcare exemption, 47 CFR 64.1200(a)(9)" in refused["consent_missing"]


def test_a_promotional_script_refuses_reminders_only():
    reminder = with_queue(task(AT, purpose="reminder"), script_promotional=True)
    assert "marked promotional" in _reasons(reminder)["consent_missing"]
    callback = with_queue(task(AT, purpose="callback"), script_promotional=True)
    assert decide(callback, AT).allowed


def test_an_opt_out_on_a_reminder_cites_the_exemptions_condition():
    facts = task(AT, purpose="reminder")
    listed = replace(facts, dnc=DncFacts(True, False, frozenset()))
    detail = _reasons(listed)["internal_dnc"]
    assert "takes effect at once" in detail and "64.1200(a)(9)" in detail


def test_an_unknown_condition_is_refused_by_the_loader():
    text = resources.files("dialer.decision").joinpath("calling_rules.toml").read_text()
    bad = text + (
        '\n[[rule]]\nid = "x"\nkind = "condition"\npurposes = ["reminder"]\n'
        'requires = "be_nice"\ncitation = "c"\nconfidence = "P"\n'
    )
    with pytest.raises(RulesTableError, match=r"\(x\): field 'requires'"):
        load(bad)
