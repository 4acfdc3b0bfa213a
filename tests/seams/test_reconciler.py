"""A stranded call is found and finished: attempts past their lease are asked of their backend.

A worker killed between the dispatch commit and `place()`, or a provider that
never reports an end, would leave the task in progress for ever, and the
one-open-task rule would answer every new callback for that number with it.
The provider is the local fake of Twilio's REST API (GET Calls/{sid}).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from dialer.api.clients import api_client_create
from dialer.backends.twilio import TwilioBackend
from dialer.decision.engine import decide
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.rows import TaskRow
from dialer.runtime.reconciler import reconcile_stranded
from dialer.selectors import task_facts_many
from tests.conftest import Portfolio
from tests.runtime.helpers import SYSTEM
from tests.telephony.conftest import FakeTwilio, attempt_create


@pytest.fixture
def past_the_lease() -> Iterator[Callable[[], Any]]:
    """Run the reconciler once the lease of attempts started now has run out."""
    later = timezone.now() + timedelta(seconds=settings.RECONCILE_LEASE_SECONDS + 60)

    def travel() -> Any:
        return time_machine.travel(later, tick=True)

    yield travel


def _placed(portfolio: Portfolio, fake: FakeTwilio) -> CallAttempt:
    """A call placed with Twilio whose end was never reported to us."""
    attempt = attempt_create(portfolio, portfolio.callback_a, "twilio")
    reference = TwilioBackend().place(attempt)
    CallAttempt.objects.filter(pk=attempt.pk).update(backend_ref=reference)
    attempt.refresh_from_db()
    assert len(fake.created) == 1
    return attempt


@pytest.mark.django_db
def test_an_attempt_never_placed_is_withdrawn_and_its_task_is_due_again(
    portfolio: Portfolio, twilio_settings: Any, fake_twilio: FakeTwilio, past_the_lease: Any
) -> None:
    # As a worker killed between the dispatch commit and place() leaves it.
    attempt = attempt_create(portfolio, portfolio.callback_a, "twilio")
    assert reconcile_stranded() == {}  # within the lease: a call may be on its way
    with past_the_lease():
        assert reconcile_stranded() == {"withdrawn": 1}
        now = timezone.now()
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN and attempt.backend_ref == ""
    task = CallTask.objects.get(pk=attempt.task_id)
    assert task.status == TaskStatus.PENDING and task.attempts == 0
    assert task.next_attempt_at <= now  # the planner decides it afresh
    assert fake_twilio.created == []  # the reconciler itself never dials
    assert AuditEvent.objects.filter(
        action="call.withdrawn", object_id=str(attempt.pk), reason="never_placed"
    ).exists()


@pytest.mark.django_db
def test_a_call_the_provider_says_completed_is_closed_with_its_outcome(
    portfolio: Portfolio, twilio_settings: Any, fake_twilio: FakeTwilio, past_the_lease: Any
) -> None:
    attempt = _placed(portfolio, fake_twilio)
    fake_twilio.statuses[attempt.backend_ref.removeprefix("twilio:")] = "completed"
    with past_the_lease():
        assert reconcile_stranded() == {"closed": 1}
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.CONNECTED
    task = CallTask.objects.get(pk=attempt.task_id)
    assert task.status == TaskStatus.DONE
    assert len(fake_twilio.created) == 1
    assert AuditEvent.objects.filter(
        action="call.outcome", object_id=str(attempt.pk), actor="system:reconciler"
    ).exists()


@pytest.mark.django_db
def test_a_call_still_ringing_is_left_alone(
    portfolio: Portfolio, twilio_settings: Any, fake_twilio: FakeTwilio, past_the_lease: Any
) -> None:
    attempt = _placed(portfolio, fake_twilio)
    fake_twilio.statuses[attempt.backend_ref.removeprefix("twilio:")] = "ringing"
    with past_the_lease():
        assert reconcile_stranded() == {"in_progress": 1}
    attempt.refresh_from_db()
    assert attempt.outcome == ""
    assert CallTask.objects.get(pk=attempt.task_id).status == TaskStatus.IN_PROGRESS
    assert len(fake_twilio.created) == 1


@pytest.mark.django_db
def test_a_preview_call_is_left_to_the_preview_take_timeout(
    portfolio: Portfolio, past_the_lease: Any
) -> None:
    attempt = attempt_create(portfolio, portfolio.callback_a, "preview")
    with past_the_lease():
        assert reconcile_stranded() == {}
    attempt.refresh_from_db()
    assert attempt.outcome == ""


@pytest.mark.django_db
def test_a_new_callback_after_reconciliation_gets_a_new_task(
    portfolio: Portfolio, twilio_settings: Any, fake_twilio: FakeTwilio, past_the_lease: Any
) -> None:
    attempt = _placed(portfolio, fake_twilio)
    fake_twilio.statuses[attempt.backend_ref.removeprefix("twilio:")] = "no-answer"
    task = CallTask.objects.select_related("contact", "phone", "queue").get(pk=attempt.task_id)
    now = timezone.now()
    task.last_decision = decide(
        task_facts_many([TaskRow.of(task)], at=now)[0], now
    ).to_dict()  # as dispatched
    task.attempts = portfolio.callback_a.max_attempts  # its last try: no retry follows
    task.save(update_fields=["last_decision", "attempts"])
    _, token = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    crm = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def post_callback() -> Any:
        response = crm.post(
            "/api/v1/callbacks/", {"phone": "(305) 555-0123"}, content_type="application/json"
        )
        assert response.status_code in (200, 201), response.json()
        return response.json()

    stranded = post_callback()
    assert stranded["task"]["id"] == attempt.task_id and stranded["created"] is False
    with past_the_lease():
        assert reconcile_stranded() == {"closed": 1}
        fresh = post_callback()
    assert CallTask.objects.get(pk=attempt.task_id).status == TaskStatus.EXHAUSTED
    assert fresh["created"] is True and fresh["task"]["id"] != attempt.task_id
