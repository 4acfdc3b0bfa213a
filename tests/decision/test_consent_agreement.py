"""The engine and the admin's "what it allows" agree on every consent case: one table,
both paths (consent.coverage holds the rule once; these cases are the decision tests')."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consent.selectors import coverage_of
from dialer.decision import NumberFacts, decide
from tests.decision.builders import PROGRAM_ID, consent, number, task, utc, written

NOON = utc(2026, 11, 18, 17)  # Wednesday 12:00 in New York
H = timedelta(hours=1)
D = timedelta(days=1)
CONSENT_CODES = ("consent_revoked", "part2_consent_missing", "consent_missing")
P2, MISSING, REVOKED = "part2_consent_missing", "consent_missing", "consent_revoked"
OTHER_PROGRAM = frozenset({PROGRAM_ID + 1})

# (case, purpose, patient status, overrides of the task's facts, the consent codes expected)
CASES: list[tuple[str, str, str, dict[str, Any], tuple[str, ...]]] = [
    ("callback: the person's own request", "callback", "none", {}, ()),
    ("reminder: appointment ahead, number from the patient", "reminder", "none", {}, ()),
    (
        "reminder: only the number the patient provided",
        "reminder",
        "none",
        {"number": NumberFacts(number("212"), "mobile", False)},
        (MISSING,),
    ),
    ("reactivation: written consent for the number", "reactivation", "none", {}, ()),
    (
        "reactivation: express consent is not written",
        "reactivation",
        "none",
        {"consents": (consent("tcpa_express", "reactivation"),)},
        (MISSING,),
    ),
    (
        "reactivation: written consent for another purpose",
        "reactivation",
        "none",
        {"consents": (written("callback"),)},
        (MISSING,),
    ),
    (
        "reactivation: written consent for another number",
        "reactivation",
        "none",
        {"consents": (written("reactivation", covers_number=False),)},
        (MISSING,),
    ),
    (
        "reactivation: written consent expired",
        "reactivation",
        "none",
        {"consents": (written("reactivation", expires_at=NOON - D),)},
        (MISSING,),
    ),
    (
        "reactivation: written consent not yet signed",
        "reactivation",
        "none",
        {"consents": (written("reactivation", signed_at=NOON + D),)},
        (MISSING,),
    ),
    (
        "reactivation: the written consent was revoked",
        "reactivation",
        "none",
        {"consents": (written("reactivation", revoked_at=NOON - D),)},
        (REVOKED, MISSING),
    ),
    (
        "reactivation: revoked, but another written consent is active",
        "reactivation",
        "none",
        {
            "consents": (
                written("reactivation", revoked_at=NOON - D),
                written("reactivation", id=2),
            )
        },
        (),
    ),
    (
        "callback requested after the revocation: a new invitation",
        "callback",
        "none",
        {
            "consents": (consent("tcpa_express", "callback", revoked_at=NOON - D),),
            "callback_requested_at": NOON - H,
        },
        (),
    ),
    (
        "callback requested before the revocation",
        "callback",
        "none",
        {
            "consents": (consent("tcpa_express", "callback", revoked_at=NOON - D),),
            "callback_requested_at": NOON - 2 * D,
        },
        (REVOKED,),
    ),
    ("not a patient: Part 2 does not apply", "callback", "none", {}, ()),
    (
        "current patient, Part 2 consent names this program for the purpose",
        "reminder",
        "current",
        {"consents": (consent("part2", "reminder"),)},
        (),
    ),
    ("former patient, no Part 2 consent", "reactivation", "former", {}, (P2,)),
    (
        "former patient, Part 2 consent names another program",
        "reactivation",
        "former",
        {
            "consents": (
                written("reactivation"),
                consent("part2", "reactivation", id=2, recipient_program_ids=OTHER_PROGRAM),
            )
        },
        (P2,),
    ),
    (
        "current patient, Part 2 consent for another purpose",
        "reminder",
        "current",
        {"consents": (consent("part2", "callback"),)},
        (P2,),
    ),
    (
        "current patient, Part 2 consent revoked",
        "reminder",
        "current",
        {"consents": (consent("part2", "reminder", revoked_at=NOON - D),)},
        (P2,),
    ),
    (
        "current patient, Part 2 consent expired",
        "reminder",
        "current",
        {"consents": (consent("part2", "reminder", expires_at=NOON - D),)},
        (P2,),
    ),
    (
        "former patient, Part 2 consent signed in the future",
        "callback",
        "former",
        {"consents": (consent("part2", "callback", signed_at=NOON + D),)},
        (P2,),
    ),
    ("an unknown patient status is treated as a patient", "callback", "maybe", {}, (P2,)),
    ("a purpose the rules do not know", "survey", "none", {}, (MISSING,)),
]


@pytest.mark.parametrize(
    ("case", "purpose", "status", "overrides", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_the_engine_and_what_it_allows_agree(case, purpose, status, overrides, expected):
    facts = task(NOON, purpose=purpose, patient_status=status, **overrides)
    decision = decide(facts, NOON)
    engine = {r.code: r.detail for r in decision.reasons if r.code in CONSENT_CODES}
    admin = coverage_of(
        facts=facts.consents,
        patient_status=facts.contact.patient_status,
        program_id=facts.program.id,
        purpose=facts.queue.purpose,
        at=NOON,
        provided_by_patient=facts.number.provided_by_patient,
        callback_requested_at=facts.callback_requested_at,
    )
    assert tuple(engine) == expected, case
    assert admin.codes == expected, case
    assert admin.covered is (expected == ()), case
    # The same words for the same rule, where the rule is only about consents.
    for blocker in admin.blockers:
        if blocker.code != MISSING or purpose != "reminder":
            assert engine[blocker.code] == blocker.detail, case
