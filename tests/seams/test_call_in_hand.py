"""The call in hand is decided again when it is looked at and when it is dialled.

A preview call sits in a staff member's hands between the take and the dial.
Whatever the law or the person said meanwhile wins: the number is shown only
after a fresh, allowed decision at "Dial", and a refusal withdraws the call
with its reason. A call left in hand goes back, audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from consent.services import ConsentInput, consent_create, consent_revoke
from dialer.acts.optout import dnc_request_record
from dialer.acts.revocation import consent_revoke_and_cancel
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.preview import preview_release_expired, preview_take_next
from dialer.runtime.schedules import SYSTEM as SYSTEM_SCHEDULES
from dialer.tasks import preview_release_expired_task
from tests.conftest import Portfolio
from tests.runtime.conftest import celery_worker  # noqa: F401  (a real worker, for beat's task)
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, planned_task, wait_for

NUMBER_A = "+13055550123"  # contact_a's number
MY_CALLS = "/admin/dialer/mycall/"


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _taken(portfolio: Portfolio) -> CallAttempt:
    """A callback of contact_a, dispatched to preview and taken by staff_a."""
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    result = dispatch_task(task_id=task.pk)
    assert result.status == "placed"
    taken = preview_take_next(user=portfolio.staff_a)
    assert taken is not None and taken.pk == result.attempt_id
    return taken


def _staff_page(portfolio: Portfolio) -> Client:
    client = Client()
    client.force_login(portfolio.staff_a)
    return client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _shows_number(html: str) -> bool:
    return "5550123" in html or 'id="dial-number"' in html


def _assert_withdrawn(attempt: CallAttempt, reason: str) -> None:
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN
    assert attempt.dialled_at is None
    assert not AuditEvent.objects.filter(action="call.dialled", object_id=str(attempt.pk)).exists()
    event = AuditEvent.objects.get(action="call.withdrawn", object_id=str(attempt.pk))
    assert reason in event.reason


@pytest.mark.django_db
def test_a_dnc_request_after_the_take_withdraws_the_call_when_the_page_is_looked_at(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    taken = _taken(portfolio)
    dnc_request_record(number=NUMBER_A, source="web", note="", actor=SYSTEM, program_id=None)
    page = _staff_page(portfolio).get(MY_CALLS)
    html = page.content.decode()
    assert not _shows_number(html)
    assert "Hello, returning your call." not in _text(html)  # nor the script
    assert "withdrawn (internal_dnc)" in _text(html)  # and why
    assert "Take the next call" in html
    _assert_withdrawn(taken, "internal_dnc")
    task = CallTask.objects.get(pk=taken.task_id)
    assert (task.status, task.closed_reason, task.attempts) == (
        TaskStatus.CANCELLED,
        "internal_dnc",
        0,
    )


@pytest.mark.django_db
def test_a_dnc_request_after_the_take_refuses_the_dial(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    taken = _taken(portfolio)
    client = _staff_page(portfolio)
    before = client.get(MY_CALLS).content.decode()
    assert "Hello, returning your call." in _text(before)  # the script, to read first
    assert not _shows_number(before)  # but no number before the dial
    dnc_request_record(number=NUMBER_A, source="phone", note="", actor=SYSTEM, program_id=None)
    dialled = client.post(MY_CALLS, {"action": "dial", "attempt": taken.pk}, follow=True)
    html = dialled.content.decode()
    assert not _shows_number(html)
    assert "withdrawn (internal_dnc)" in _text(html)
    _assert_withdrawn(taken, "internal_dnc")


@pytest.mark.django_db
def test_a_revocation_after_the_take_refuses_the_dial(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    consent = consent_create(
        data=ConsentInput.of(
            contact=portfolio.contact_a,
            kind="tcpa_express",
            number=NUMBER_A,
            purposes=["callback"],
            signed_at=timezone.now() - timedelta(days=10),
        ),
        actor=SYSTEM,
    )
    taken = _taken(portfolio)
    consent_revoke_and_cancel(consent_id=consent.pk, channel="call", actor=SYSTEM)
    dialled = _staff_page(portfolio).post(
        MY_CALLS, {"action": "dial", "attempt": taken.pk}, follow=True
    )
    assert not _shows_number(dialled.content.decode())
    _assert_withdrawn(taken, "consent_revoked")


@pytest.mark.django_db
def test_a_revoked_consent_alone_is_seen_by_the_fresh_decision(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    """The consent half only (no task cancelled): the decision itself reads the revocation."""
    consent = consent_create(
        data=ConsentInput.of(
            contact=portfolio.contact_a,
            kind="tcpa_express",
            number=NUMBER_A,
            purposes=["callback"],
            signed_at=timezone.now() - timedelta(days=10),
        ),
        actor=SYSTEM,
    )
    taken = _taken(portfolio)
    consent_revoke(consent_id=consent.pk, channel="web", actor=SYSTEM)
    page = _staff_page(portfolio).get(MY_CALLS).content.decode()
    assert not _shows_number(page)
    _assert_withdrawn(taken, "consent_revoked")
    task = CallTask.objects.get(pk=taken.task_id)
    assert (task.status, task.closed_reason) == (TaskStatus.CANCELLED, "consent_revoked")


@pytest.mark.django_db
def test_a_window_that_closed_after_the_take_refuses_the_dial_and_reschedules(
    portfolio: Portfolio, monday: time_machine.Traveller, settings: Any
) -> None:
    # The staff member stays signed in the whole time (no idle logoff in between).
    settings.SIGNIN_IDLE_MINUTES = 24 * 60
    taken = _taken(portfolio)
    client = _staff_page(portfolio)
    assert "Hello, returning your call." in _text(client.get(MY_CALLS).content.decode())
    # 20:30 in Miami: the queue's window (09:00-20:00) closed while the call sat in hand.
    monday.shift(timedelta(hours=10, minutes=30))
    dialled = client.post(MY_CALLS, {"action": "dial", "attempt": taken.pk}, follow=True)
    html = dialled.content.decode()
    assert not _shows_number(html)
    assert "outside_calling_window" in _text(html)
    _assert_withdrawn(taken, "outside_calling_window")
    task = CallTask.objects.get(pk=taken.task_id)
    assert (task.status, task.attempts) == (TaskStatus.PENDING, 0)
    # 09:00 the next morning in every zone of Florida: Chicago's (the panhandle) opens last.
    assert task.next_attempt_at == MONDAY_MORNING + timedelta(days=1)


@pytest.mark.django_db
def test_a_program_paused_after_the_take_withdraws_the_call(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    taken = _taken(portfolio)
    portfolio.program_a.active = False
    portfolio.program_a.save(update_fields=["active"])
    page = _staff_page(portfolio).get(MY_CALLS).content.decode()
    assert not _shows_number(page)
    assert "queue_inactive" in _text(page)
    _assert_withdrawn(taken, "queue_inactive")
    task = CallTask.objects.get(pk=taken.task_id)
    assert task.status == TaskStatus.PENDING  # looked at again once the program resumes


@pytest.mark.django_db
def test_an_allowed_dial_shows_the_number_and_is_audited(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    taken = _taken(portfolio)
    client = _staff_page(portfolio)
    dialled = client.post(MY_CALLS, {"action": "dial", "attempt": taken.pk}, follow=True)
    assert NUMBER_A in _text(dialled.content.decode())
    taken.refresh_from_db()
    assert taken.dialled_at == MONDAY_MORNING
    event = AuditEvent.objects.get(action="call.dialled", object_id=str(taken.pk))
    assert event.data["decision"]["allowed"] is True
    assert NUMBER_A not in str(event.data)


@pytest.mark.django_db
def test_a_call_taken_and_never_dialled_goes_back_after_the_timeout(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    taken = _taken(portfolio)
    timeout = timedelta(minutes=settings.PREVIEW_TAKE_TIMEOUT_MINUTES)
    monday.shift(timeout - timedelta(seconds=1))
    assert preview_release_expired(now=timezone.now()) == 0  # not yet
    monday.shift(timedelta(seconds=1))
    assert preview_release_expired(now=timezone.now()) == 1
    _assert_withdrawn(taken, "take_expired")
    task = CallTask.objects.get(pk=taken.task_id)
    # Never dialled, so it counts toward nothing, and it is due again for anyone to take.
    assert (task.status, task.attempts) == (TaskStatus.PENDING, 0)
    assert task.next_attempt_at == MONDAY_MORNING + timeout


@pytest.mark.django_db
def test_a_call_dialled_and_not_logged_counts_as_a_failed_attempt_after_the_timeout(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    taken = _taken(portfolio)
    _staff_page(portfolio).post(MY_CALLS, {"action": "dial", "attempt": taken.pk})
    monday.shift(timedelta(minutes=settings.PREVIEW_TAKE_TIMEOUT_MINUTES))
    assert preview_release_expired(now=timezone.now()) == 1
    taken.refresh_from_db()
    assert taken.outcome == Outcome.FAILED  # it may have been made: it counts
    released = AuditEvent.objects.get(action="call.released", object_id=str(taken.pk))
    assert released.reason == "not_logged"
    task = CallTask.objects.get(pk=taken.task_id)
    assert (task.status, task.attempts) == (TaskStatus.PENDING, 1)  # retried per the queue
    assert preview_release_expired(now=timezone.now()) == 0  # once


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_beat_declares_the_release_every_minute_and_a_worker_runs_it(
    portfolio: Portfolio,
) -> None:
    name, fields = SYSTEM_SCHEDULES["preview take timeout"]
    assert (name, fields) == (preview_release_expired_task.name, {"minute": "*"})
    with time_machine.travel(MONDAY_MORNING, tick=True) as traveller:
        taken = _taken(portfolio)
        traveller.shift(timedelta(minutes=settings.PREVIEW_TAKE_TIMEOUT_MINUTES))
        preview_release_expired_task.delay()
        wait_for(lambda: CallAttempt.objects.get(pk=taken.pk).outcome != "", timeout=20)
    _assert_withdrawn(taken, "take_expired")
