"""Revocation: at once, by any reasonable means, cancelling the calls it covered; never deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact, Purpose, Queue
from campaigns.services import PhoneInput, phone_add
from consent.models import Consent
from dialer.acts.revocation import (
    consent_revoke_and_cancel,
    consent_revoke_by_keyword,
    opt_out_keyword,
)
from dialer.models import CallTask, TaskStatus
from dialer.services import task_create
from tests.conftest import SYSTEM, Portfolio, make_queue
from tests.consent.conftest import ALUM_NUMBER, part2, written

SECOND = "+13055550151"


def task(contact: Contact, queue: Queue, number: str = ALUM_NUMBER) -> CallTask:
    phone = next(p for p in contact.phones.all() if p.number == number)
    return task_create(contact=contact, phone=phone, queue=queue, origin="admin", actor=SYSTEM)


def status(t: CallTask) -> tuple[str, str]:
    t.refresh_from_db()
    return t.status, t.closed_reason


@pytest.mark.django_db
def test_revoking_part2_cancels_the_pending_calls_it_covered_and_no_others(
    portfolio: Portfolio, alum: Contact
) -> None:
    written(alum)
    consent = part2(alum, purposes=["reactivation"])
    reactivation = task(alum, portfolio.reactivation_a)
    callback = task(alum, portfolio.callback_a)  # a purpose the consent did not cover
    other = task(portfolio.contact_a, portfolio.reactivation_a, "+13055550123")
    result = consent_revoke_and_cancel(
        consent_id=consent.pk, channel="written", reason="letter received", actor=SYSTEM
    )
    assert result.cancelled_task_ids == (reactivation.pk,)
    assert status(reactivation) == (TaskStatus.CANCELLED, "consent_revoked")
    assert status(callback) == (TaskStatus.PENDING, "")
    assert status(other) == (TaskStatus.PENDING, "")
    consent.refresh_from_db()
    assert consent.revoked_at is not None and consent.revocation_channel == "written"
    assert consent.revocation_reason == "letter received"
    actions = list(AuditEvent.objects.order_by("-id").values_list("action", flat=True)[:2])
    assert actions == ["task.cancelled", "consent.revoked"]


@pytest.mark.django_db
def test_revoking_written_consent_cancels_only_calls_to_its_number(
    portfolio: Portfolio, alum: Contact
) -> None:
    phone_add(contact=alum, phone=PhoneInput(SECOND))
    first = written(alum)
    written(alum, number=SECOND)
    on_first = task(alum, portfolio.reactivation_a)
    on_second = task(alum, portfolio.reactivation_a, SECOND)
    result = consent_revoke_and_cancel(consent_id=first.pk, channel="email", actor=SYSTEM)
    assert result.cancelled_task_ids == (on_first.pk,)
    assert status(on_second)[0] == TaskStatus.PENDING


@pytest.mark.django_db
def test_an_in_progress_call_is_cancelled_too(portfolio: Portfolio, alum: Contact) -> None:
    consent = written(alum)
    t = task(alum, portfolio.reactivation_a)
    CallTask.objects.filter(pk=t.pk).update(status=TaskStatus.IN_PROGRESS)
    consent_revoke_and_cancel(consent_id=consent.pk, channel="call", actor=SYSTEM)
    assert status(t) == (TaskStatus.CANCELLED, "consent_revoked")


@pytest.mark.django_db
def test_it_is_one_transaction(portfolio: Portfolio, alum: Contact, monkeypatch: Any) -> None:
    consent = written(alum)
    t = task(alum, portfolio.reactivation_a)

    def broken(**kwargs: Any) -> list[int]:
        raise RuntimeError("cancel failed")

    monkeypatch.setattr("dialer.acts.revocation.tasks_cancel", broken)
    with pytest.raises(RuntimeError):
        consent_revoke_and_cancel(consent_id=consent.pk, channel="call", actor=SYSTEM)
    consent.refresh_from_db()
    assert consent.revoked_at is None  # the consent half rolled back with the task half
    assert status(t)[0] == TaskStatus.PENDING


@pytest.mark.django_db
def test_it_takes_effect_at_once_and_only_once(portfolio: Portfolio, alum: Contact) -> None:
    consent = written(alum)
    later = timezone.now() + timedelta(days=3)
    consent_revoke_and_cancel(consent_id=consent.pk, channel="crm", revoked_at=later, actor=SYSTEM)
    consent.refresh_from_db()
    first = consent.revoked_at
    assert first is not None and first <= timezone.now()  # a future time does not delay it
    events = AuditEvent.objects.count()
    consent_revoke_and_cancel(consent_id=consent.pk, channel="email", actor=SYSTEM)
    consent.refresh_from_db()
    assert (consent.revoked_at, consent.revocation_channel) == (first, "crm")
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "channel", "label"),
    [
        ({"channel": "pigeon"}, "other", "pigeon"),
        ({"revoked_at": timezone.now() - timedelta(days=90)}, "call", None),
    ],
)
def test_it_takes_any_wording_of_a_revocation(
    alum: Contact, kwargs: dict[str, Any], channel: str, label: str | None
) -> None:
    consent = written(alum)
    consent_revoke_and_cancel(
        **{"consent_id": consent.pk, "channel": "call", **kwargs}, actor=SYSTEM
    )
    consent.refresh_from_db()
    assert (consent.revocation_channel, consent.revocation_channel_label) == (channel, label)
    assert consent.revoked_at is not None and consent.revoked_at >= consent.signed_at


@pytest.mark.django_db
def test_a_naive_revocation_time_is_refused(alum: Contact) -> None:
    consent = written(alum)
    with pytest.raises(ValidationError) as caught:
        consent_revoke_and_cancel(
            consent_id=consent.pk,
            channel="call",
            revoked_at=(timezone.now() - timedelta(hours=1)).replace(tzinfo=None),
            actor=SYSTEM,
        )
    assert "revoked_at" in caught.value.message_dict


@pytest.mark.django_db
def test_a_consent_is_never_deleted(alum: Contact) -> None:
    consent = part2(alum)
    with pytest.raises(DatabaseError), transaction.atomic():
        Consent.objects.filter(pk=consent.pk).delete()
    assert Consent.objects.filter(pk=consent.pk).exists()


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"),
        ("stop.", "STOP"),
        ("Please stop calling me", "STOP"),
        ("opt-out", "OPT OUT"),
        ("Opt Out", "OPT OUT"),
        ("OPTOUT", "OPT OUT"),
        ("unsubscribe me", "UNSUBSCRIBE"),
        ("End", "END"),
        ("quit!", "QUIT"),
        ("REVOKE", "REVOKE"),
        ("cancel", "CANCEL"),
        ("stopped by yesterday", None),
        ("see you this weekend", None),
        ("Yes, call me back", None),
        ("", None),
    ],
)
def test_it_recognises_opt_out_keywords(text: str, keyword: str | None) -> None:
    assert opt_out_keyword(text) == keyword


@pytest.mark.django_db
def test_an_opt_out_keyword_revokes_and_stops_every_call_to_that_number(
    portfolio: Portfolio, alum: Contact
) -> None:
    phone_add(contact=alum, phone=PhoneInput(SECOND))
    on_number = written(alum)
    elsewhere = written(alum, number=SECOND)
    reactivation = task(alum, portfolio.reactivation_a)
    callback = task(alum, portfolio.callback_a)
    other_number = task(alum, make_queue(portfolio.program_a, Purpose.REMINDER), SECOND)
    keyword, result = consent_revoke_by_keyword(
        contact=alum, number="(305) 555-0150", text="Stop please", actor=SYSTEM
    )
    assert keyword == "STOP"
    assert result.consent_ids == (on_number.pk,)
    assert set(result.cancelled_task_ids) == {reactivation.pk, callback.pk}
    on_number.refresh_from_db()
    elsewhere.refresh_from_db()
    assert on_number.revocation_channel == "text" and elsewhere.revoked_at is None
    assert status(other_number)[0] == TaskStatus.PENDING
    event = AuditEvent.objects.filter(action="consent.opt_out_keyword").get()
    assert event.reason == "opt-out keyword STOP"


@pytest.mark.django_db
def test_a_message_without_a_keyword_changes_nothing(portfolio: Portfolio, alum: Contact) -> None:
    consent = written(alum)
    t = task(alum, portfolio.reactivation_a)
    keyword, result = consent_revoke_by_keyword(
        contact=alum, number=ALUM_NUMBER, text="Can you call after 5?", actor=SYSTEM
    )
    assert keyword is None and result.consent_ids == () and result.cancelled_task_ids == ()
    consent.refresh_from_db()
    assert consent.revoked_at is None and status(t)[0] == TaskStatus.PENDING
