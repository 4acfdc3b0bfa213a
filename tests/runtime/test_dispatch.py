"""Dispatch with a real worker and Redis: speed to lead, the last check wins, pauses hold."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from celery.signals import task_postrun
from django.test import Client

from audit.models import AuditEvent
from campaigns.models import Queue
from consent.services import ConsentInput, consent_create, consent_revoke
from dialer.acts.revocation import consent_revoke_and_cancel
from dialer.api.clients import api_client_create
from dialer.backends import CallStatus
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.dispatch import dispatch_task
from dialer.tasks import _enqueue_dispatch, dispatch
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, open_queue, planned_task, wait_for

NUMBER_A = "+13055550123"  # contact_a's number


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        yield


@pytest.fixture
def handled() -> Iterator[list[tuple[str, tuple[Any, ...], Any]]]:
    """What the worker ran, as it ran it: (task name, arguments, return value)."""
    seen: list[tuple[str, tuple[Any, ...], Any]] = []

    def record(task: Any = None, args: Any = None, retval: Any = None, **_: Any) -> None:
        seen.append((task.name, tuple(args or ()), retval))

    task_postrun.connect(record, weak=False)
    yield seen
    task_postrun.disconnect(record)


def _settled(task: CallTask) -> bool:
    """The dispatch message was handled: the task left `pending`, or was decided again."""
    fresh = CallTask.objects.get(pk=task.pk)
    return fresh.status != TaskStatus.PENDING or fresh.last_decision != task.last_decision


@pytest.mark.django_db(transaction=True)
def test_a_callback_posted_through_the_api_is_dispatched_within_a_second(
    monday: None, portfolio: Portfolio, celery_worker: Any
) -> None:
    open_queue(portfolio.callback_a)
    _, token = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    posted = time.monotonic()
    response = client.post(
        "/api/v1/callbacks/",
        {"phone": "(305) 555-0177", "source": "web-form"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    task_id = response.json()["task"]["id"]
    assert response.json()["decision"]["allowed"] is True
    wait_for(
        lambda: CallAttempt.objects.filter(task_id=task_id).exclude(backend_ref="").exists(),
        timeout=1.0,
    )
    assert time.monotonic() - posted < 1.5
    attempt = CallAttempt.objects.get(task_id=task_id)
    assert attempt.backend_ref == f"preview:{attempt.pk}"
    assert attempt.attempt_number == 1
    assert attempt.decision["allowed"] is True
    assert CallTask.objects.get(pk=task_id).status == TaskStatus.IN_PROGRESS
    assert AuditEvent.objects.filter(action="call.dispatched", object_id=str(attempt.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_a_dnc_request_after_planning_stops_the_call(
    monday: None, portfolio: Portfolio, celery_worker: Any, handled: list[Any]
) -> None:
    from dialer.acts.optout import dnc_request_record

    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    dnc_request_record(number=NUMBER_A, source="phone", note="", actor=SYSTEM, program_id=None)
    _enqueue_dispatch([task.pk])
    # The worker took the planned chunk and placed nothing from it.
    wait_for(lambda: ("dialer.bulk_dispatch_planned", ([task.pk],), 0) in handled, timeout=5)
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert task.closed_reason == "internal_dnc"
    assert not CallAttempt.objects.filter(task=task).exists()


def _express_consent(portfolio: Portfolio) -> int:
    consent = consent_create(
        data=ConsentInput.of(
            contact=portfolio.contact_a,
            kind="tcpa_express",
            number=NUMBER_A,
            purposes=["callback"],
            signed_at=MONDAY_MORNING - timedelta(days=10),
        ),
        actor=SYSTEM,
    )
    return consent.pk


@pytest.mark.django_db(transaction=True)
def test_a_consent_revocation_after_planning_stops_the_call(
    monday: None, portfolio: Portfolio, celery_worker: Any, handled: list[Any]
) -> None:
    consent_id = _express_consent(portfolio)
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    revocation = consent_revoke_and_cancel(consent_id=consent_id, channel="call", actor=SYSTEM)
    assert revocation.cancelled_task_ids == (task.pk,)
    _enqueue_dispatch([task.pk])
    dispatch.delay(task.pk)  # and a second message, as a callback would send
    # The worker handled both messages, and neither placed the call.
    wait_for(lambda: ("dialer.bulk_dispatch_planned", ([task.pk],), 0) in handled, timeout=5)
    wait_for(lambda: any(h[:2] == ("dialer.dispatch", (task.pk,)) for h in handled), timeout=5)
    assert [h[2] for h in handled if h[0] == "dialer.dispatch"] != ["placed"]
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert task.closed_reason == "consent_revoked"
    assert not CallAttempt.objects.filter(task=task).exists()


@pytest.mark.django_db(transaction=True)
def test_a_revoked_consent_seen_only_at_dispatch_still_stops_the_call(
    monday: None, portfolio: Portfolio, celery_worker: Any
) -> None:
    """The consent half alone (no cancellation): dispatch reads the consent and refuses."""
    consent_id = _express_consent(portfolio)
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    consent_revoke(consent_id=consent_id, channel="web", actor=SYSTEM)
    assert CallTask.objects.get(pk=task.pk).status == TaskStatus.PENDING
    _enqueue_dispatch([task.pk])
    wait_for(lambda: _settled(task), timeout=5)
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert task.closed_reason == "consent_revoked"
    assert [r["code"] for r in task.last_decision["reasons"]] == ["consent_revoked"]
    assert not CallAttempt.objects.filter(task=task).exists()
    refused = AuditEvent.objects.get(action="task.refused", object_id=str(task.pk))
    assert refused.reason == "consent_revoked"


@pytest.mark.django_db(transaction=True)
def test_a_paused_queue_dispatches_nothing_already_planned(
    monday: None, portfolio: Portfolio, celery_worker: Any
) -> None:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    Queue.objects.filter(pk=portfolio.callback_a.pk).update(active=False)
    dispatch.delay(task.pk)
    wait_for(lambda: _settled(task), timeout=5)
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert not CallAttempt.objects.filter(task=task).exists()
    assert "queue_inactive" in {r["code"] for r in task.last_decision["reasons"]}
    assert task.next_attempt_at > MONDAY_MORNING  # looked at again later, not spinning


@pytest.mark.django_db(transaction=True)
def test_two_messages_for_one_task_make_one_call(
    monday: None, portfolio: Portfolio, celery_worker: Any
) -> None:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    _enqueue_dispatch([task.pk])
    _enqueue_dispatch([task.pk])
    dispatch.delay(task.pk)
    wait_for(lambda: CallAttempt.objects.filter(task=task).exclude(backend_ref="").exists(), 5)
    time.sleep(0.5)
    assert CallAttempt.objects.filter(task=task).count() == 1
    assert CallTask.objects.get(pk=task.pk).attempts == 1


class _BrokenLine:
    """A telephony provider that is down (an outside service: a local fake)."""

    name = "preview"

    def place(self, attempt: CallAttempt) -> str:
        raise ConnectionError("provider unreachable for +13055550123")

    def hangup(self, reference: str) -> None:
        return None

    def status(self, attempt: CallAttempt) -> CallStatus:
        return CallStatus(event=None)


@pytest.mark.django_db
def test_a_backend_failure_closes_the_attempt_as_failed_and_retries_later(
    monday: None, portfolio: Portfolio, caplog: pytest.LogCaptureFixture
) -> None:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    result = dispatch_task(task_id=task.pk, backend=_BrokenLine())
    assert result.status == "failed"
    attempt = CallAttempt.objects.get(task=task)
    assert attempt.outcome == Outcome.FAILED
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    retry = portfolio.callback_a.retry_minutes
    assert attempt.ended_at is not None
    assert task.next_attempt_at - attempt.ended_at == timedelta(minutes=retry)
    assert "555" not in caplog.text  # the provider's message (with the number) is not logged


@pytest.mark.django_db
def test_a_stale_message_for_a_task_moved_later_does_not_call_it_early(
    monday: None, portfolio: Portfolio
) -> None:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    CallTask.objects.filter(pk=task.pk).update(next_attempt_at=MONDAY_MORNING + timedelta(hours=3))
    assert dispatch_task(task_id=task.pk).status == "not_claimed"
    assert not CallAttempt.objects.filter(task=task).exists()
