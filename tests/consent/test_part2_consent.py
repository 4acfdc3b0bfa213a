"""Part 2 consent: what blocks an alum's reactivation, what allows it, what is refused."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact, Program
from consent.models import Consent
from consent.selectors import consent_covering, consent_facts_for
from consent.services import UNSET, ConsentInput
from dialer.acts.revocation import consent_revoke_and_cancel
from dialer.decision import decide
from dialer.decision.facts import (
    ContactFacts,
    DncFacts,
    NumberFacts,
    ProgramFacts,
    QueueFacts,
    RegistryFacts,
    TaskFacts,
)
from tests.conftest import SYSTEM, Portfolio
from tests.consent.conftest import ALUM_NUMBER, part2, written


def engine_codes(contact: Contact, program: Program, purpose: str = "reactivation") -> set[str]:
    """The decision engine's reason codes for a call whose only open question is consent."""
    at = timezone.now()
    consents = consent_facts_for(contact_ids=[contact.pk], numbers=[ALUM_NUMBER])
    facts = TaskFacts(
        task_id=None,
        program=ProgramFacts(
            program.pk, "FL", "America/New_York", time(0), time(23, 59), frozenset(range(7)), True
        ),
        queue=QueueFacts(
            1, purpose, time(0), time(23, 59), frozenset(range(7)), 3, 60, True, False
        ),
        contact=ContactFacts("FL", "33101", contact.patient_status),
        number=NumberFacts(ALUM_NUMBER, "mobile", True),
        dnc=DncFacts(False, False, frozenset()),
        registry=RegistryFacts(at.date(), {"FL": at.date()}),
        consents=consents.get((contact.pk, ALUM_NUMBER), ()),
        recent_attempts=(),
        attempts_made=0,
        last_attempt_at=None,
        callback_requested_at=None,
        appointment_at=None,
    )
    return {r.code for r in decide(facts, at).reasons}


def covering(contact: Contact, program: Program, purpose: str = "reactivation") -> Any:
    return consent_covering(
        contact=contact,
        number_e164=ALUM_NUMBER,
        program=program,
        purpose=purpose,
        at=timezone.now(),
    )


def _for_another_program(alum: Contact, p: Portfolio) -> None:
    part2(alum, recipients=[p.program_b.slug])


def _expired(alum: Contact, p: Portfolio) -> None:
    now = timezone.now()
    part2(alum, signed_at=now - timedelta(days=400), expires_at=now - timedelta(days=35))


def _revoked(alum: Contact, p: Portfolio) -> None:
    consent = part2(alum)
    consent_revoke_and_cancel(
        consent_id=consent.pk, channel="written", reason="letter", actor=SYSTEM
    )


def _without_reactivation(alum: Contact, p: Portfolio) -> None:
    part2(alum, purposes=["reminder", "treatment, payment and health care operations"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make",
    [_for_another_program, _expired, _revoked, _without_reactivation],
    ids=["another-program", "expired", "revoked", "without-reactivation"],
)
def test_it_blocks_reactivation_of_an_alum_without_a_covering_part2_consent(
    portfolio: Portfolio, alum: Contact, make: Any
) -> None:
    written(alum)  # the TCPA side is in order: only Part 2 can block
    make(alum, portfolio)
    answer = covering(alum, portfolio.program_a)
    assert not answer.covered
    assert answer.codes == ("part2_consent_missing",)
    assert "part2_consent_missing" in engine_codes(alum, portfolio.program_a)
    assert "consent_missing" not in engine_codes(alum, portfolio.program_a)


@pytest.mark.django_db
def test_it_allows_reactivation_with_a_complete_part2_consent_and_written_consent(
    portfolio: Portfolio, alum: Contact
) -> None:
    tcpa = written(alum)
    consent = part2(alum)
    answer = covering(alum, portfolio.program_a)
    assert answer.covered, str(answer)
    assert set(answer.relied_on) == {tcpa.pk, consent.pk}
    codes = engine_codes(alum, portfolio.program_a)
    assert not codes & {"part2_consent_missing", "consent_missing", "consent_revoked"}, codes


@pytest.mark.django_db
def test_it_names_the_program_that_is_a_recipient_and_not_the_other(
    portfolio: Portfolio, alum: Contact
) -> None:
    written(alum)
    part2(alum, recipients=[portfolio.program_a.slug, "Dr. Outside Clinic"])
    assert covering(alum, portfolio.program_a).covered
    assert covering(alum, portfolio.program_b).codes == ("part2_consent_missing",)


@pytest.mark.django_db
def test_an_alum_with_part2_but_no_written_consent_is_consent_missing(
    portfolio: Portfolio, alum: Contact
) -> None:
    part2(alum)
    assert covering(alum, portfolio.program_a).codes == ("consent_missing",)
    assert "consent_missing" in engine_codes(alum, portfolio.program_a)


@pytest.mark.django_db
def test_written_consent_for_another_number_does_not_cover(
    portfolio: Portfolio, alum: Contact
) -> None:
    part2(alum)
    written(alum, number="+13055550177")
    assert covering(alum, portfolio.program_a).codes == ("consent_missing",)


@pytest.mark.django_db
def test_a_person_who_never_was_a_patient_needs_no_part2(portfolio: Portfolio) -> None:
    contact = portfolio.contact_a  # patient_status none
    written(contact, number="(305) 555-0123")
    answer = consent_covering(
        contact=contact,
        number_e164="305-555-0123",
        program=portfolio.program_a,
        purpose="reactivation",
    )
    assert answer.covered, str(answer)


@pytest.mark.django_db
def test_a_revoked_written_consent_is_consent_revoked(portfolio: Portfolio, alum: Contact) -> None:
    part2(alum)
    tcpa = written(alum)
    consent_revoke_and_cancel(consent_id=tcpa.pk, channel="call", actor=SYSTEM)
    answer = covering(alum, portfolio.program_a)
    assert set(answer.codes) == {"consent_revoked", "consent_missing"}
    assert {"consent_revoked", "consent_missing"} <= engine_codes(alum, portfolio.program_a)


# --- refused: a Part 2 consent missing a 42 CFR 2.31 element ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("element", "overrides"),
    [
        ("contact", {"contact": None}),
        ("description", {"description": "  "}),
        ("recipients", {"recipients": []}),
        ("purposes", {"purposes": []}),
        ("expires_at", {"expires_at": UNSET}),
        ("revocation_notice_given", {"revocation_notice_given": False}),
        ("signature", {"signature": ""}),
        ("signed_at", {"signed_at": None}),
    ],
)
def test_it_refuses_a_part2_consent_missing_an_element_and_stores_nothing(
    alum: Contact, element: str, overrides: dict[str, Any]
) -> None:
    consents, events = Consent.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValidationError) as caught:
        part2(alum, **overrides)
    errors = caught.value.message_dict
    assert list(errors) == [element]
    assert "42 CFR 2.31(a)" in errors[element][0] or element == "contact"
    assert Consent.objects.count() == consents
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_it_names_every_missing_element_at_once(alum: Contact) -> None:
    with pytest.raises(ValidationError) as caught:
        part2(alum, description="", recipients=[], revocation_notice_given=False)
    assert set(caught.value.message_dict) == {
        "description",
        "recipients",
        "revocation_notice_given",
    }


@pytest.mark.django_db
def test_the_expiration_may_be_a_date_an_event_or_none_stated(alum: Contact) -> None:
    by_event = part2(alum, expires_at=UNSET, expiration_event="end of aftercare")
    assert (by_event.expires_at, by_event.expiration_event, by_event.expires_never) == (
        None,
        "end of aftercare",
        False,
    )
    assert part2(alum, expires_at=None).expires_never
    assert part2(alum, expires_at=UNSET, expiration_event="None").expires_never


@pytest.mark.django_db
def test_it_keeps_every_element_and_defaults_the_discloser_to_the_program(
    portfolio: Portfolio, alum: Contact
) -> None:
    consent = part2(alum, recipients=["prog-a", "prog-b", "Sunrise Sober Living"])
    consent.refresh_from_db()
    assert consent.discloser == portfolio.program_a.legal_name
    assert sorted(p.slug for p in consent.recipient_programs.all()) == ["prog-a", "prog-b"]
    assert consent.outside_recipient_list == ["Sunrise Sober Living"]
    assert consent.purposes == ["reactivation", "reminder"]
    assert consent.other_purpose_list == ["to stay in touch after discharge"]
    assert consent.signature == "/s/ signed on paper"
    assert consent.description == "attendance and discharge date"
    assert consent.revocation_notice_given is True
    # Encrypted at rest: the signature is not in the row as text.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT signature, description FROM consent_consent WHERE id = %s", [consent.pk]
        )
        raw = cursor.fetchone()
    assert "signed on paper" not in raw[0] and "discharge" not in raw[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"number": ""}, "number"),
        ({"number": "555"}, "number"),
        ({"signature": ""}, "signature"),
        ({"purposes": []}, "purposes"),
        ({"purposes": ["telemarketing"]}, "purposes"),
        ({"method": "verbal"}, "method"),
        ({"recipients": ["prog-a"]}, "recipients"),
        ({"signed_at": timezone.now() + timedelta(days=1)}, "signed_at"),
    ],
)
def test_it_refuses_a_bad_written_tcpa_consent(
    alum: Contact, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        written(alum, **overrides)
    assert field in caught.value.message_dict
    assert not Consent.objects.filter(contact=alum).exists()


@pytest.mark.django_db
def test_a_verbal_recording_consent_needs_no_signature(alum: Contact) -> None:
    from consent.services import consent_create

    consent = consent_create(
        data=ConsentInput.of(
            contact=alum, kind="recording", signed_at=timezone.now(), attempt_id=12
        ),
        actor=SYSTEM,
    )
    assert (consent.method, consent.attempt_id, consent.number) == ("verbal", 12, None)
