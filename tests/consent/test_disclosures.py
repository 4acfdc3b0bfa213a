"""Part 2 disclosures: every export carries the 2.32 notice and is accounted for (2.25)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact
from campaigns.roles import COMPLIANCE_OFFICER
from consent.disclosures import consents_export_csv, disclosure_record
from consent.models import Disclosure
from consent.selectors import disclosures_for_patient
from consent.services import PART2_NOTICE
from dialer.acts.revocation import consent_revoke_and_cancel
from tests.conftest import SYSTEM, Portfolio, make_user
from tests.consent.conftest import ALUM_NAME, part2, written

NOTICE_LINE = f"# {PART2_NOTICE}"


def exports(portfolio: Portfolio, alum: Contact) -> dict[str, str]:
    """Every way this app exports Part 2 data, each run once."""
    consent = part2(alum)
    officer = make_user("officer-a", COMPLIANCE_OFFICER, portfolio.program_a)
    client = Client()
    client.force_login(officer)
    response = client.post(
        reverse("admin:consent_consent_export", args=[alum.pk]),
        {
            "recipient": "Sunrise Sober Living",
            "purpose": "continuity of care",
            "consent": consent.pk,
        },
    )
    assert response.status_code == 200, response.content[:500]
    return {
        "service": consents_export_csv(
            contact=alum, recipient="the patient", purpose="patient's request", actor=SYSTEM
        ),
        "admin": response.content.decode(),
    }


@pytest.mark.django_db
def test_every_part2_export_opens_with_the_notice(portfolio: Portfolio, alum: Contact) -> None:
    for name, text in exports(portfolio, alum).items():
        assert text.splitlines()[0] == NOTICE_LINE, name
        assert "42 CFR part 2 prohibits unauthorized use or disclosure" in text
    assert "42 CFR part 2 prohibits" in PART2_NOTICE  # Statement 2 of 2.32(a)(2)


@pytest.mark.django_db
def test_every_export_is_recorded_as_a_disclosure(portfolio: Portfolio, alum: Contact) -> None:
    exports(portfolio, alum)
    admin_one, service_one = Disclosure.objects.order_by("id")
    assert admin_one.recipient == "Sunrise Sober Living"
    assert admin_one.purpose == "continuity of care"
    assert admin_one.consent is not None and admin_one.consent.kind == "part2"
    assert admin_one.disclosed_by.startswith("user:")
    assert admin_one.description.startswith("Consent records of this patient")
    assert admin_one.notice == "2.32 statement 2"
    assert (service_one.recipient, service_one.consent, service_one.disclosed_by) == (
        "the patient",
        None,
        SYSTEM,
    )
    assert AuditEvent.objects.filter(action="part2.disclosed").count() == 2
    assert not any("Sunrise" in str(e.data) for e in AuditEvent.objects.all())


@pytest.mark.django_db
def test_the_export_holds_the_consents_with_numbers_masked(alum: Contact) -> None:
    written(alum)
    consent = part2(alum, recipients=["prog-a", "Sunrise Sober Living"])
    text = consents_export_csv(contact=alum, recipient="r", purpose="p", actor=SYSTEM)
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert [r["kind"] for r in rows] == ["tcpa_written", "part2"]
    assert rows[0]["number"] == "***-***-**50"
    assert rows[1]["consent_id"] == str(consent.pk)
    assert rows[1]["patient"] == " ".join(ALUM_NAME)
    assert rows[1]["recipient_programs"] == "prog-a"
    assert rows[1]["outside_recipients"] == "Sunrise Sober Living"
    assert rows[1]["revocation_notice_given"] == "yes"
    assert "5550150" not in text


@pytest.mark.django_db
@pytest.mark.parametrize("problem", ["no-recipient", "revoked-consent", "other-patients-consent"])
def test_a_refused_export_discloses_and_records_nothing(
    portfolio: Portfolio, alum: Contact, problem: str
) -> None:
    consent = part2(alum)
    recipient = "Sunrise"
    if problem == "no-recipient":
        recipient = " "
    elif problem == "revoked-consent":
        consent_revoke_and_cancel(consent_id=consent.pk, channel="written", actor=SYSTEM)
        consent.refresh_from_db()
    else:
        consent = part2(portfolio.contact_a)
    with pytest.raises(ValidationError):
        consents_export_csv(
            contact=alum, recipient=recipient, purpose="care", consent=consent, actor=SYSTEM
        )
    assert not Disclosure.objects.exists()


@pytest.mark.django_db
def test_the_accounting_lists_one_patients_disclosures_for_three_years(
    portfolio: Portfolio, alum: Contact
) -> None:
    now = timezone.now()
    old = disclosure_record(
        contact=alum,
        recipient="r1",
        purpose="p",
        description="d",
        actor=SYSTEM,
        disclosed_at=now - timedelta(days=4 * 365),
    )
    recent = disclosure_record(
        contact=alum,
        recipient="r2",
        purpose="p",
        description="d",
        actor=SYSTEM,
        disclosed_at=now - timedelta(days=2 * 365),
    )
    latest = disclosure_record(
        contact=alum, recipient="r3", purpose="p", description="d", actor=SYSTEM
    )
    disclosure_record(
        contact=portfolio.contact_a, recipient="x", purpose="p", description="d", actor=SYSTEM
    )
    assert list(disclosures_for_patient(contact=alum)) == [latest, recent]
    everything = disclosures_for_patient(contact=alum, since=now - timedelta(days=10 * 365))
    assert list(everything) == [latest, recent, old]


@pytest.mark.django_db
def test_a_disclosure_record_cannot_be_changed_or_removed(alum: Contact) -> None:
    record = disclosure_record(
        contact=alum, recipient="r", purpose="p", description="d", actor=SYSTEM
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.filter(pk=record.pk).update(purpose="something else")
    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.filter(pk=record.pk).delete()
