"""Reasons: every blocking rule answers together, with a stable code and a safe detail.

Rules from DESIGN.md ("The decision", rules 1-9), API.md (reason codes), and
RULES.md 3 (registries), 5 (healthcare exemption) and 6 (42 CFR Part 2).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest

from dialer.decision import (
    REASON_CODES,
    DncFacts,
    NumberFacts,
    TaskFacts,
    decide,
    decide_many,
)
from dialer.decision import checks as checks_module
from tests.decision.builders import (
    PROGRAM_ID,
    attempts,
    consent,
    number,
    task,
    utc,
    with_program,
    with_queue,
    with_registry,
    written,
)

AT = utc(2026, 11, 19, 1, 30)  # Wednesday 20:30 in New York
NOON = utc(2026, 11, 18, 17)  # Wednesday 12:00 in New York
H = timedelta(hours=1)
D = timedelta(days=1)


def codes(facts: TaskFacts, at: datetime = NOON) -> tuple[str, ...]:
    return decide(facts, at).codes


def test_it_returns_every_blocking_reason_together():
    at = AT
    facts = task(
        at,
        purpose="reactivation",
        e164=number("305"),
        state="FL",
        patient_status="former",
        consents=(written("reactivation", revoked_at=at - D),),
        dnc=DncFacts(internal=True, national=True, states=frozenset({"FL"})),
        registry=with_registry(date(2026, 9, 1), FL=None),
        recent_attempts=attempts(at - H, at - 2 * H, at - 3 * H),
        attempts_made=5,
        last_attempt_at=at - H,
    )
    facts = with_queue(facts, retry_minutes=120, active=False, abandon_rate_exceeded=True)
    decision = decide(facts, at)
    assert decision.codes == (
        "internal_dnc",
        "consent_revoked",
        "part2_consent_missing",
        "consent_missing",
        "national_dnc",
        "state_dnc",
        "registry_stale",
        "outside_calling_window",
        "frequency_cap",
        "frequency_cap",
        "max_attempts_reached",
        "queue_inactive",
        "abandon_rate_exceeded",
    )
    # A revoked consent is relied on by no call, so the RND rule has nothing to ask.
    assert set(decision.codes) | {"invalid_number", "number_reassigned"} == set(REASON_CODES)
    assert decision.next_allowed_at is None
    assert not decision.allowed


def test_an_unparseable_number_is_refused_with_the_other_reasons():
    facts = replace(task(NOON), number=NumberFacts(None, "unknown", True))
    facts = with_queue(facts, active=False)
    assert codes(facts) == ("invalid_number", "queue_inactive")


@pytest.mark.parametrize(
    ("e164", "detail"),
    [
        ("+14165550123", "not a valid US number"),  # Toronto: Canadian, not US
        ("+19005550123", "premium-rate number"),
        ("+1212555012", "not a +1 ten-digit number"),
        ("2125550123", "not a +1 ten-digit number"),
        ("+12121550123", "not a +1 ten-digit number"),  # exchange starting with 1
    ],
)
def test_it_refuses_numbers_that_are_not_dialable_us_numbers(e164, detail):
    decision = decide(task(NOON, e164=e164), NOON)
    assert decision.codes == ("invalid_number",)
    assert decision.reasons[0].detail == detail
    assert decision.next_allowed_at is None


def test_the_decision_json_is_the_public_contract():
    facts = task(AT, purpose="reactivation", e164=number("212"), state="FL")
    out = decide(facts, AT).to_dict()
    assert out == {
        "allowed": False,
        "reasons": [
            {
                "code": "outside_calling_window",
                "detail": "20:30 in America/New_York; Florida allows 08:00-20:00 for solicitation",
            }
        ],
        "next_allowed_at": "2026-11-19T14:00:00Z",
        "zones": ["America/Chicago", "America/New_York"],
        "evaluated_at": "2026-11-19T01:30:00Z",
    }
    assert json.loads(json.dumps(out)) == out


def test_an_allowed_decision_is_allowed_now():
    out = decide(task(NOON), NOON).to_dict()
    assert out["allowed"] is True
    assert out["reasons"] == []
    assert out["next_allowed_at"] == "2026-11-18T17:00:00Z"


# --- consent basis (DESIGN rule 5) ---------------------------------------------


@pytest.mark.parametrize(
    ("cite", "purpose", "overrides", "expected"),
    [
        ("callback: the person's own request", "callback", {}, ()),
        ("callback: no request", "callback", {"callback_requested_at": None}, ("consent_missing",)),
        (
            "callback: request older than 30 days",
            "callback",
            {"callback_requested_at": NOON - 31 * D},
            ("consent_missing",),
        ),
        ("callback: request 29 days old", "callback", {"callback_requested_at": NOON - 29 * D}, ()),
        ("reminder: appointment ahead, number from the patient", "reminder", {}, ()),
        ("reminder: no appointment", "reminder", {"appointment_at": None}, ("consent_missing",)),
        (
            "reminder: appointment passed",
            "reminder",
            {"appointment_at": NOON - H},
            ("consent_missing",),
        ),
        (
            "reminder: 64.1200(a)(9) only the number the patient provided",
            "reminder",
            {"number": NumberFacts(number("212"), "mobile", False)},
            ("consent_missing",),
        ),
        ("reactivation: written consent for the number", "reactivation", {}, ()),
        (
            "reactivation: express consent is not written",
            "reactivation",
            {"consents": (consent("tcpa_express", "reactivation"),)},
            ("consent_missing",),
        ),
        (
            "reactivation: written consent for another purpose",
            "reactivation",
            {"consents": (written("callback"),)},
            ("consent_missing",),
        ),
        (
            "reactivation: written consent for another number",
            "reactivation",
            {"consents": (written("reactivation", covers_number=False),)},
            ("consent_missing",),
        ),
        (
            "reactivation: written consent expired",
            "reactivation",
            {"consents": (written("reactivation", expires_at=NOON - D),)},
            ("consent_missing",),
        ),
        (
            "reactivation: written consent not yet signed",
            "reactivation",
            {"consents": (written("reactivation", signed_at=NOON + D),)},
            ("consent_missing",),
        ),
    ],
)
def test_it_checks_the_queue_consent_basis(cite, purpose, overrides, expected):
    facts = task(NOON, purpose=purpose, **overrides)
    assert codes(facts) == expected, cite


def test_a_revoked_consent_blocks_unless_another_is_active():
    revoked = written("reactivation", id=1, revoked_at=NOON - D)
    facts = task(NOON, purpose="reactivation", consents=(revoked,))
    decision = decide(facts, NOON)
    assert decision.codes == ("consent_revoked", "consent_missing")
    assert (
        decision.reasons[0].detail
        == "tcpa_written consent 1 for reactivation revoked on 2026-11-17"
    )
    again = task(NOON, purpose="reactivation", consents=(revoked, written("reactivation", id=2)))
    assert codes(again) == ()


def test_a_new_callback_request_after_a_revocation_is_a_new_invitation():
    revoked = consent("tcpa_express", "callback", revoked_at=NOON - D)
    assert codes(task(NOON, consents=(revoked,), callback_requested_at=NOON - H)) == ()
    assert codes(task(NOON, consents=(revoked,), callback_requested_at=NOON - 2 * D)) == (
        "consent_revoked",
    )


# --- Part 2 (RULES.md 6) --------------------------------------------------------

P2 = "part2_consent_missing"


@pytest.mark.parametrize(
    ("cite", "status", "purpose", "part2", "expected", "detail"),
    [
        ("not a patient: Part 2 does not apply", "none", "callback", None, (), None),
        (
            "current patient, consent names this program for the purpose",
            "current",
            "reminder",
            consent("part2", "reminder"),
            (),
            None,
        ),
        (
            "former patient, no Part 2 consent: alumni reactivation blocked",
            "former",
            "reactivation",
            None,
            (P2,),
            "no Part 2 consent names this program",
        ),
        (
            "former patient, consent names another program",
            "former",
            "reactivation",
            consent("part2", "reactivation", recipient_program_ids=frozenset({PROGRAM_ID + 1})),
            (P2,),
            "no Part 2 consent names this program",
        ),
        (
            "current patient, consent for another purpose",
            "current",
            "reminder",
            consent("part2", "callback"),
            (P2,),
            "no Part 2 consent names this program",
        ),
        (
            "current patient, consent revoked",
            "current",
            "reminder",
            consent("part2", "reminder", revoked_at=NOON - D),
            (P2,),
            "was revoked",
        ),
        (
            "current patient, consent expired",
            "current",
            "reminder",
            consent("part2", "reminder", expires_at=NOON - D),
            (P2,),
            "has expired",
        ),
        (
            "former patient, consent signed in the future",
            "former",
            "callback",
            consent("part2", "callback", signed_at=NOON + D),
            (P2,),
            "not yet in effect",
        ),
        (
            "an unknown patient status is treated as a patient",
            "maybe",
            "callback",
            None,
            (P2,),
            "no Part 2 consent",
        ),
    ],
)
def test_part2_needs_an_active_consent_naming_this_program_for_this_purpose(
    cite, status, purpose, part2, expected, detail
):
    extra = (part2,) if part2 is not None else ()
    facts = task(NOON, purpose=purpose, patient_status=status)
    facts = replace(facts, consents=facts.consents + extra)
    decision = decide(facts, NOON)
    assert decision.codes == expected, cite
    if detail:
        assert detail in decision.reasons[0].detail


# --- DNC and registries (RULES.md 3; DESIGN rule 6) -----------------------------


@pytest.mark.parametrize(
    ("cite", "purpose", "dnc", "consents", "expected"),
    [
        (
            "internal DNC blocks every purpose",
            "callback",
            DncFacts(True, False, frozenset()),
            (),
            ("internal_dnc",),
        ),
        (
            "national registry: solicitation only",
            "callback",
            DncFacts(False, True, frozenset({"TX"})),
            (),
            (),
        ),
        (
            "national registry blocks solicitation",
            "reactivation",
            DncFacts(False, True, frozenset()),
            (consent("tcpa_express", "reactivation"),),
            ("consent_missing", "national_dnc"),
        ),
        (
            "written consent naming the number exempts",
            "reactivation",
            DncFacts(False, True, frozenset({"TX"})),
            (written("reactivation"),),
            (),
        ),
        (
            "state registry blocks solicitation",
            "reactivation",
            DncFacts(False, False, frozenset({"TX"})),
            (written("callback", covers_number=False),),
            ("consent_missing", "state_dnc"),
        ),
    ],
)
def test_dnc_lists(cite, purpose, dnc, consents, expected):
    assert codes(task(NOON, purpose=purpose, dnc=dnc, consents=consents)) == expected, cite


@pytest.mark.parametrize(
    ("cite", "state", "registry", "stale", "fragment"),
    [
        (
            "310.4(b)(3)(iv): 31 days old is still fresh",
            "NY",
            with_registry(date(2026, 10, 18)),
            False,
            None,
        ),
        (
            "310.4(b)(3)(iv): 32 days old is stale",
            "NY",
            with_registry(date(2026, 10, 17)),
            True,
            "national registry copy is 32 days old (at most 31)",
        ),
        ("no national copy at all", "NY", with_registry(None), True, "no national registry copy"),
        (
            "Texas keeps a registry: its copy is needed",
            "TX",
            with_registry(date(2026, 11, 10), TX=None),
            True,
            "no TX registry copy",
        ),
        (
            "Texas copy stale",
            "TX",
            with_registry(date(2026, 11, 10), TX=date(2026, 9, 1)),
            True,
            "TX registry copy is 78 days old",
        ),
        (
            "New York keeps none: only the national copy",
            "NY",
            with_registry(date(2026, 11, 10)),
            False,
            None,
        ),
    ],
)
def test_a_registry_copy_older_than_31_days_blocks_solicitation(
    cite, state, registry, stale, fragment
):
    e164 = number("212") if state == "NY" else number("214")
    facts = task(NOON, purpose="reactivation", e164=e164, state=state, registry=registry)
    decision = decide(facts, NOON)
    assert decision.codes == (("registry_stale",) if stale else ()), cite
    if fragment:
        assert fragment in decision.reasons[0].detail
        assert decision.next_allowed_at is None
    callback = task(NOON, purpose="callback", e164=e164, state=state, registry=registry)
    assert codes(callback) == (), "callbacks need no registry copy"


def test_next_allowed_at_is_null_when_the_basis_lapses_before_the_window_opens():
    """A callback request that ages out overnight is not allowed next morning either."""
    at = utc(2026, 11, 19, 2, 30)  # 21:30 in New York
    facts = task(at, callback_requested_at=at - 30 * D + 2 * H)
    decision = decide(facts, at)
    assert decision.codes == ("outside_calling_window",)
    assert decision.next_allowed_at is None
    fresh = task(at, callback_requested_at=at - 29 * D)
    assert decide(fresh, at).next_allowed_at == utc(2026, 11, 19, 13)


def test_next_allowed_at_is_null_when_a_registry_copy_goes_stale_first():
    at = utc(2026, 11, 18, 23, 30)  # 18:30 in New York, after the queue's 18:00
    facts = task(
        at,
        purpose="reactivation",
        window=(time(9), time(18)),
        registry=with_registry(date(2026, 10, 18)),  # 32 days old from 00:00Z on the 19th
    )
    decision = decide(facts, at)
    assert decision.codes == ("outside_calling_window",)
    assert decision.next_allowed_at is None
    renewed = replace(facts, registry=with_registry(date(2026, 11, 1)))
    assert decide(renewed, at).next_allowed_at == utc(2026, 11, 19, 14)


# --- queue, program, attempts, abandonment (DESIGN rule 9) -----------------------


@pytest.mark.parametrize(
    ("cite", "change", "expected"),
    [
        ("queue paused", lambda f: with_queue(f, active=False), ("queue_inactive",)),
        ("program inactive", lambda f: with_program(f, active=False), ("queue_inactive",)),
        (
            "64.1200(a)(7): abandonment over 3%",
            lambda f: with_queue(f, abandon_rate_exceeded=True),
            ("abandon_rate_exceeded",),
        ),
        ("all attempts used", lambda f: replace(f, attempts_made=5), ("max_attempts_reached",)),
        ("one attempt left", lambda f: replace(f, attempts_made=4), ()),
    ],
)
def test_queue_and_program_state(cite, change, expected):
    decision = decide(change(task(NOON)), NOON)
    assert decision.codes == expected, cite
    assert (decision.next_allowed_at is None) == bool(expected)


# --- safety ------------------------------------------------------------------------


def test_a_rule_that_raises_refuses_and_never_allows(monkeypatch):
    def broken(*args):
        raise RuntimeError("+12125550123 Jane Doe")

    monkeypatch.setattr(
        checks_module,
        "CHECKS_FIRST",
        (
            *checks_module.CHECKS_FIRST[:1],
            ("internal_dnc", broken),
            *checks_module.CHECKS_FIRST[2:],
        ),
    )
    from dialer.decision import engine

    monkeypatch.setattr(engine, "CHECKS_FIRST", checks_module.CHECKS_FIRST)
    decision = decide(task(NOON), NOON)
    assert not decision.allowed
    assert decision.codes == ("internal_dnc",)
    assert "RuntimeError" in decision.reasons[0].detail
    assert "555" not in decision.reasons[0].detail and "Jane" not in decision.reasons[0].detail
    assert decision.next_allowed_at is None


def test_details_never_carry_the_number():
    at = AT
    facts = task(
        at,
        purpose="reactivation",
        e164=number("305", "0187"),
        state="FL",
        dnc=DncFacts(True, True, frozenset({"FL"})),
        registry=with_registry(None),
        recent_attempts=attempts(at - H, at - 2 * H, at - 3 * H),
    )
    for reason in decide(facts, at).reasons:
        assert "0187" not in reason.detail and "5550" not in reason.detail, reason


def test_naive_instants_are_a_programming_error():
    with pytest.raises(ValueError, match="naive"):
        decide(task(NOON), datetime(2026, 11, 18, 17))


def test_decide_many_answers_like_decide_one_by_one():
    batch = [
        task(AT, purpose=p, e164=number(npa), state=s)
        for p in ("callback", "reminder", "reactivation")
        for npa, s in (("212", "NY"), ("305", "FL"), ("801", "UT"), ("800", None))
    ]
    assert decide_many(batch, AT) == [decide(f, AT) for f in batch]


def test_an_unknown_purpose_is_refused_and_read_as_solicitation():
    facts = with_queue(task(AT, e164=number("305"), state="FL"), purpose="survey")
    decision = decide(facts, AT)
    assert "consent_missing" in decision.codes
    assert any("Florida allows 08:00-20:00" in r.detail for r in decision.reasons)


def test_overnight_queue_windows_are_never_open():
    facts = with_queue(task(NOON), window_start=time(20), window_end=time(9))
    decision = decide(facts, NOON)
    assert decision.codes == ("outside_calling_window",)
    assert decision.next_allowed_at is None
