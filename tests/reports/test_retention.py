"""purge_expired: a dry run by default; purges only what no law keeps; DNC and disclosures stay."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact, PhoneNumber
from campaigns.services import PhoneInput, contact_create
from consent.disclosures import disclosure_record
from consent.models import AlumniImport, Disclosure
from dialer.api.clients import api_client_create
from dialer.models import CallAttempt, CallTask, IdempotencyKey, Outcome, TaskStatus
from dialer.services import task_create
from dnc.models import InternalDncEntry
from dnc.services import internal_dnc_add
from reports.retention import expired_purge
from tests.conftest import SYSTEM, Portfolio
from tests.consent.conftest import written
from tests.reports.conftest import add_attempt

YEAR = timedelta(days=365)


def _lead(portfolio: Portfolio, external_id: str, number: str, **kwargs: object) -> Contact:
    contact = contact_create(
        program=portfolio.program_a,
        external_id=external_id,
        first_name="Zebulon",
        last_name="Lead",
        state="FL",
        phones=[PhoneInput(number)],
        actor=SYSTEM,
        **kwargs,  # type: ignore[arg-type]
    )
    task = task_create(
        contact=contact,
        phone=contact.phones.get(),
        queue=portfolio.callback_a,
        origin="api",
        actor=SYSTEM,
    )
    add_attempt(task, started_at=timezone.now(), outcome=Outcome.CONNECTED, number=1)
    CallTask.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)
    return contact


@pytest.fixture
def history(portfolio: Portfolio) -> dict[str, object]:
    """Eight years ago: a lead, a patient, a lead with a consent, a DNC request, a disclosure."""
    now = timezone.now()
    with time_machine.travel(now - 8 * YEAR, tick=False):
        old_lead = _lead(portfolio, "OLD-LEAD", "+13055550161")
        old_patient = _lead(portfolio, "OLD-PATIENT", "+13055550162", patient_status="former")
        consented = _lead(portfolio, "OLD-CONSENTED", "+13055550163")
        written(consented, number="+13055550163")
        disclosed = _lead(portfolio, "OLD-DISCLOSED", "+13055550164")
        disclosure_record(
            contact=disclosed,
            recipient="County Court",
            purpose="court order",
            description="dates",
            actor=SYSTEM,
        )
        internal_dnc_add(
            number_e164="+13055550165", source="admin", note="", actor=SYSTEM, program_id=None
        )
    with time_machine.travel(now - 2 * YEAR, tick=False):
        recent_lead = _lead(portfolio, "RECENT-LEAD", "+13055550166")
    # An old lead called again last month is active, whenever it was created.
    with time_machine.travel(now - 8 * YEAR, tick=False):
        called_again = _lead(portfolio, "CALLED-AGAIN", "+13055550167")
    task = task_create(
        contact=called_again,
        phone=called_again.phones.get(),
        queue=portfolio.reactivation_a,
        origin="admin",
        actor=SYSTEM,
    )
    add_attempt(task, started_at=now - 30 * timedelta(days=1), outcome="no_answer", number=1)
    CallTask.objects.filter(pk=task.pk).update(status=TaskStatus.EXHAUSTED)

    client, _ = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    some_task = CallTask.objects.filter(contact=recent_lead).get()
    IdempotencyKey.objects.create(
        client=client,
        key="old",
        request_hash="x",
        task=some_task,
        created_at=now - timedelta(days=3),
    )
    IdempotencyKey.objects.create(
        client=client,
        key="new",
        request_hash="x",
        task=some_task,
        created_at=now - timedelta(hours=1),
    )
    done = AlumniImport.objects.create(
        queue=portfolio.reactivation_a, status="done", content="name,phone", requested_by=SYSTEM
    )
    queued = AlumniImport.objects.create(
        queue=portfolio.reactivation_a, status="queued", content="name,phone", requested_by=SYSTEM
    )
    return {
        "old_lead": old_lead,
        "old_patient": old_patient,
        "consented": consented,
        "disclosed": disclosed,
        "recent_lead": recent_lead,
        "called_again": called_again,
        "done_import": done,
        "queued_import": queued,
    }


def _counts() -> tuple[int, ...]:
    return (
        Contact.objects.count(),
        PhoneNumber.objects.count(),
        CallTask.objects.count(),
        CallAttempt.objects.count(),
        IdempotencyKey.objects.count(),
        AlumniImport.objects.filter(content__isnull=False).count(),
        InternalDncEntry.objects.count(),
        Disclosure.objects.count(),
    )


@pytest.mark.django_db
def test_the_dry_run_counts_and_changes_nothing(history: dict[str, object]) -> None:
    before = _counts()
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    assert _counts() == before
    text = out.getvalue()
    assert "inactive leads (never patients): 1 would be purged" in text
    assert "idempotency keys: 1 would be purged" in text
    assert "alumni list files: 1 would be purged" in text
    assert "internal DNC entries: 1 past their minimum, kept" in text
    assert "Part 2 disclosures: 1 past their minimum, kept" in text
    assert "Dry run: nothing was changed" in text
    assert not AuditEvent.objects.filter(action__startswith="retention.").exists()


@pytest.mark.django_db
def test_apply_purges_only_the_inactive_lead_and_the_plumbing(
    history: dict[str, object],
) -> None:
    old_lead = history["old_lead"]
    assert isinstance(old_lead, Contact)
    old_phone = old_lead.phones.get().pk
    dnc_before, disclosures_before = InternalDncEntry.objects.count(), Disclosure.objects.count()
    results = expired_purge(actor=SYSTEM, apply=True)
    assert {r.name: r.purged for r in results if not r.kept} == {
        "idempotency keys": 1,
        "alumni list files": 1,
        "inactive leads (never patients)": 1,
    }
    assert not Contact.objects.filter(pk=old_lead.pk).exists()
    assert not PhoneNumber.objects.filter(pk=old_phone).exists()
    assert not CallTask.objects.filter(contact_id=old_lead.pk).exists()
    assert not CallAttempt.objects.filter(phone_id=old_phone).exists()
    for kept in ("old_patient", "consented", "disclosed", "recent_lead", "called_again"):
        contact = history[kept]
        assert isinstance(contact, Contact)
        assert Contact.objects.filter(pk=contact.pk).exists(), kept
    assert InternalDncEntry.objects.count() == dnc_before  # five years and more: never purged
    assert Disclosure.objects.count() == disclosures_before
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert AlumniImport.objects.get(status="done").content is None
    assert AlumniImport.objects.get(status="queued").content == "name,phone"
    event = AuditEvent.objects.get(action="retention.leads_purged")
    assert event.data["contacts"] == [old_lead.pk]
    assert "Zebulon" not in str(event.data)
    # A second run finds nothing more.
    again = expired_purge(actor=SYSTEM, apply=True)
    assert all(r.purged == 0 for r in again)


@pytest.mark.django_db
def test_leads_are_kept_at_least_five_years(history: dict[str, object]) -> None:
    with pytest.raises(CommandError, match="at least 5"):
        call_command("purge_expired", "--apply", "--lead-years=4", stdout=io.StringIO())
    with pytest.raises(ValueError):
        expired_purge(actor=SYSTEM, apply=True, lead_years=3)
    assert Contact.objects.filter(external_id="OLD-LEAD").exists()
