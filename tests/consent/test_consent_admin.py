"""The admin: intake records and revokes consents, compliance exports, managers import lists;
each sees only their own programs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Contact
from campaigns.roles import COMPLIANCE_OFFICER
from consent.models import AlumniImport, Consent, Disclosure
from dialer.models import CallTask, TaskStatus
from dialer.services import task_create
from tests.conftest import SYSTEM, Portfolio, make_user
from tests.consent.conftest import part2, written


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _when(delta: timedelta = timedelta(days=-1)) -> dict[str, str]:
    at = timezone.now() + delta
    return {"date": at.strftime("%Y-%m-%d"), "time": at.strftime("%H:%M:%S")}


def part2_form(contact: Contact, **overrides: Any) -> dict[str, Any]:
    signed = _when()
    expires = _when(timedelta(days=365))
    data: dict[str, Any] = {
        "contact": contact.pk,
        "kind": "part2",
        "signed_at_0": signed["date"],
        "signed_at_1": signed["time"],
        "signature": "/s/ on the intake tablet",
        "purposes": ["reactivation"],
        "other_purposes": "alumni events",
        "expires_at_0": expires["date"],
        "expires_at_1": expires["time"],
        "description": "dates of attendance",
        "recipient_programs": [contact.program_id],
        "outside_recipients": "",
        "revocation_notice_given": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


ADD = reverse("admin:consent_consent_add")


@pytest.mark.django_db
def test_staff_record_a_part2_consent_in_one_form(portfolio: Portfolio, alum: Contact) -> None:
    response = client_for(portfolio.staff_a).post(ADD, part2_form(alum))
    assert response.status_code == 302, response.content.decode()[:3000]
    consent = Consent.objects.get(contact=alum)
    assert (consent.kind, consent.source, consent.recorded_by) == (
        "part2",
        "admin",
        f"user:{portfolio.staff_a.pk}",
    )
    assert [p.slug for p in consent.recipient_programs.all()] == ["prog-a"]
    assert consent.other_purpose_list == ["alumni events"]


@pytest.mark.django_db
def test_staff_record_a_verbal_recording_consent_in_the_same_form(
    portfolio: Portfolio, alum: Contact
) -> None:
    now = _when(timedelta(0))
    response = client_for(portfolio.staff_a).post(
        ADD,
        {
            "contact": alum.pk,
            "kind": "recording",
            "signed_at_0": now["date"],
            "signed_at_1": now["time"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Consent.objects.get(contact=alum).method == "verbal"


@pytest.mark.django_db
def test_the_form_names_the_missing_element_and_stores_nothing(
    portfolio: Portfolio, alum: Contact
) -> None:
    response = client_for(portfolio.staff_a).post(
        ADD, part2_form(alum, description="", revocation_notice_given=None)
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.errors) == {"description", "revocation_notice_given"}
    assert "42 CFR 2.31(a)(3)" in form.errors["description"][0]
    assert not Consent.objects.exists()


@pytest.mark.django_db
def test_the_contact_page_shows_its_consents_and_what_each_allows(
    portfolio: Portfolio, alum: Contact
) -> None:
    written(alum)
    part2(alum)
    page = client_for(portfolio.staff_a).get(
        reverse("admin:campaigns_contact_change", args=[alum.pk])
    )
    text = page.content.decode()
    assert "Calls to ***-***-**50 for reactivation" in text
    assert "so prog-a may call this patient for reactivation" in text
    assert f"{ADD}?contact={alum.pk}" in text
    assert "Export consents" not in text  # intake staff do not disclose


@pytest.mark.django_db
def test_staff_revoke_with_a_reason_and_the_calls_stop(portfolio: Portfolio, alum: Contact) -> None:
    written(alum)
    consent = part2(alum)
    task = task_create(
        contact=alum,
        phone=alum.phones.get(),
        queue=portfolio.reactivation_a,
        origin="admin",
        actor=SYSTEM,
    )
    client = client_for(portfolio.staff_a)
    page = client.get(reverse("admin:consent_consent_change", args=[consent.pk])).content.decode()
    revoke_url = reverse("admin:consent_consent_revoke", args=[consent.pk])
    assert revoke_url in page and "What it allows" in page
    assert "prog-a/reactivation" in page and "Allowed:" in page  # the per-queue answer
    now = _when(timedelta(0))
    response = client.post(
        revoke_url,
        {
            "channel": "call",
            "revoked_at_0": now["date"],
            "revoked_at_1": now["time"],
            "reason": "asked on the phone",
        },
        follow=True,
    )
    assert "1 pending call cancelled" in response.content.decode()
    consent.refresh_from_db()
    task.refresh_from_db()
    assert consent.revoked_at is not None and consent.revocation_reason == "asked on the phone"
    assert (task.status, task.closed_reason) == (TaskStatus.CANCELLED, "consent_revoked")


@pytest.mark.django_db
def test_a_revocation_needs_a_reason(portfolio: Portfolio, alum: Contact) -> None:
    consent = written(alum)
    now = _when(timedelta(0))
    response = client_for(portfolio.staff_a).post(
        reverse("admin:consent_consent_revoke", args=[consent.pk]),
        {"channel": "call", "revoked_at_0": now["date"], "revoked_at_1": now["time"], "reason": ""},
    )
    assert response.status_code == 200
    consent.refresh_from_db()
    assert consent.revoked_at is None


@pytest.mark.django_db
def test_nobody_deletes_or_edits_a_consent_in_the_admin(
    portfolio: Portfolio, alum: Contact
) -> None:
    consent = part2(alum)
    from django.contrib.auth.models import User

    root = User.objects.create_superuser("root", password="pw-123456")
    client = client_for(root)
    assert client.get(reverse("admin:consent_consent_delete", args=[consent.pk])).status_code == 403
    listing = client.get(reverse("admin:consent_consent_changelist")).content.decode()
    assert "delete_selected" not in listing
    client.post(reverse("admin:consent_consent_change", args=[consent.pk]), {"kind": "recording"})
    consent.refresh_from_db()
    assert consent.kind == "part2"


@pytest.mark.django_db
def test_staff_of_b_see_nothing_of_as_consents(portfolio: Portfolio, alum: Contact) -> None:
    consent = part2(alum)
    client = client_for(portfolio.staff_b)
    listing = client.get(reverse("admin:consent_consent_changelist"))
    assert listing.status_code == 200
    assert f"Consent #{consent.pk} " not in listing.content.decode()
    for url in (
        reverse("admin:consent_consent_change", args=[consent.pk]),
        reverse("admin:consent_consent_revoke", args=[consent.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("admin:index"), url
    # Nor can they file a consent under A's contact.
    response = client.post(ADD, part2_form(alum))
    assert response.status_code == 200
    assert "contact" in response.context["adminform"].form.errors
    assert Consent.objects.count() == 1
    # A compliance officer of B cannot export A's patient either.
    officer_b = make_user("officer-b", COMPLIANCE_OFFICER, portfolio.program_b)
    response = client_for(officer_b).post(
        reverse("admin:consent_consent_export", args=[alum.pk]), {"recipient": "x", "purpose": "y"}
    )
    assert response.status_code == 302
    assert not Disclosure.objects.exists()


@pytest.mark.django_db
def test_intake_staff_cannot_export(portfolio: Portfolio, alum: Contact) -> None:
    response = client_for(portfolio.staff_a).get(
        reverse("admin:consent_consent_export", args=[alum.pk])
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_compliance_lists_a_patients_disclosures(portfolio: Portfolio, alum: Contact) -> None:
    from consent.disclosures import disclosure_record

    disclosure_record(
        contact=alum, recipient="Sunrise", purpose="care", description="d", actor=SYSTEM
    )
    disclosure_record(
        contact=portfolio.contact_a,
        recipient="Elsewhere",
        purpose="care",
        description="d",
        actor=SYSTEM,
    )
    officer = make_user("officer-a", COMPLIANCE_OFFICER, portfolio.program_a)
    client = client_for(officer)
    contact_page = client.get(
        reverse("admin:campaigns_contact_change", args=[alum.pk])
    ).content.decode()
    assert "Part 2 disclosures" in contact_page and "Sunrise" in contact_page
    url = reverse("admin:consent_disclosure_changelist") + f"?contact__id__exact={alum.pk}"
    listing = client.get(url).content.decode()
    assert "Sunrise" in listing and "Elsewhere" not in listing
    assert client_for(portfolio.staff_a).get(url).status_code == 403


ALUMNI = "external_id,phone,patient_status\nAL-OK,305-555-0150,former\nAL-NEW,305-555-0166,former\n"


@pytest.mark.django_db
def test_a_manager_uploads_an_alumni_list_and_reads_the_report(
    portfolio: Portfolio, alum: Contact
) -> None:
    Contact.objects.filter(pk=alum.pk).update(external_id="AL-OK")
    written(alum)
    part2(alum)
    client = client_for(portfolio.manager_a)
    form = client.get(reverse("admin:consent_alumniimport_add")).content.decode()
    assert "prog-a/reactivation" in form and "prog-a/callback" not in form
    response = client.post(
        reverse("admin:consent_alumniimport_add"),
        {
            "queue": portfolio.reactivation_a.pk,
            "file": SimpleUploadedFile("alumni.csv", ALUMNI.encode()),
        },
        follow=True,
    )
    text = response.content.decode()
    assert "1 queued, 1 not queued" in text
    assert "part2_consent_missing, consent_missing: no Part 2 consent names this program" in text
    run = AlumniImport.objects.get()
    assert run.status == "done" and run.content is None
    assert CallTask.objects.filter(origin="import").count() == 1


@pytest.mark.django_db
def test_a_bad_upload_is_refused_with_row_and_field_and_changes_nothing(
    portfolio: Portfolio,
) -> None:
    before = (Contact.objects.count(), CallTask.objects.count())
    response = client_for(portfolio.manager_a).post(
        reverse("admin:consent_alumniimport_add"),
        {
            "queue": portfolio.reactivation_a.pk,
            "file": SimpleUploadedFile("a.csv", b"external_id,phone\nX,305-555-0150\nY,12\n"),
        },
    )
    assert response.status_code == 200
    assert "Row 3, phone: " in response.content.decode()
    assert (Contact.objects.count(), CallTask.objects.count()) == before
    assert not AlumniImport.objects.exists()


@pytest.mark.django_db
def test_a_manager_of_a_cannot_import_into_bs_queue(portfolio: Portfolio) -> None:
    from tests.conftest import make_queue

    queue_b = make_queue(portfolio.program_b, "reactivation")
    response = client_for(portfolio.manager_a).post(
        reverse("admin:consent_alumniimport_add"),
        {"queue": queue_b.pk, "file": SimpleUploadedFile("a.csv", ALUMNI.encode())},
    )
    assert response.status_code == 200
    assert not AlumniImport.objects.exists()


@pytest.mark.django_db
def test_the_forms_render(portfolio: Portfolio, alum: Contact) -> None:
    consent = written(alum)
    staff = client_for(portfolio.staff_a)
    add = staff.get(f"{ADD}?contact={alum.pk}")
    assert add.status_code == 200
    assert "42 CFR Part 2: every element is required" in add.content.decode()
    assert add.context["adminform"].form.initial["contact"] == str(alum.pk)
    assert staff.get(reverse("admin:consent_consent_revoke", args=[consent.pk])).status_code == 200
    officer = make_user("officer-a", COMPLIANCE_OFFICER, portfolio.program_a)
    export = client_for(officer).get(reverse("admin:consent_consent_export", args=[alum.pk]))
    assert "42 CFR part 2 prohibits unauthorized use" in export.content.decode()


@pytest.mark.django_db
def test_a_contact_with_consents_can_still_be_saved_from_its_page(
    portfolio: Portfolio, alum: Contact
) -> None:
    import re

    part2(alum)
    client = client_for(portfolio.staff_a)
    url = reverse("admin:campaigns_contact_change", args=[alum.pk])
    page = client.get(url).content.decode()
    form = page[page.index('id="contact_form"') :]
    data: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or 'type="checkbox"' in tag or 'type="submit"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        first = re.search(r'<option value="([^"]*)"', body)
        match = chosen or first
        data[name] = match.group(1) if match is not None else ""
    assert data["consents-TOTAL_FORMS"] == "1"
    data.update(
        {"program": str(alum.program_id), "patient_status": "former", "postal_code": "33139"}
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    alum.refresh_from_db()
    assert alum.postal_code == "33139"
    assert alum.consents.count() == 1
