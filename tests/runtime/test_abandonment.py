"""Abandonment: the 30-day rate per queue, the self-pause over 3%, and what it stops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from audit.models import AuditEvent
from campaigns.models import Queue
from campaigns.services import PhoneInput, contact_create
from dialer.acts.outcomes import attempt_outcome_record
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.abandonment import (
    AbandonmentError,
    abandonment_enforce,
    abandonment_rate,
    abandonment_resume,
)
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.planner import plan_queue
from dialer.tasks import abandonment_check, dispatch
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, new_task, planned_task, wait_for


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        yield


def _history(queue: Queue, *, answered: int, abandoned: int, at: datetime) -> None:
    """`answered` calls answered by a person at `at`, of which `abandoned` were abandoned."""
    contact = contact_create(
        program=queue.program,
        state="FL",
        phones=[PhoneInput(f"(305) 555-01{CallTask.objects.count() % 100:02d}")],
        actor=SYSTEM,
    )
    task = new_task(queue, contact)
    CallTask.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)
    CallAttempt.objects.bulk_create(
        CallAttempt(
            task=task,
            phone=task.phone,
            attempt_number=n + 1,
            started_at=at,
            outcome=Outcome.ABANDONED if n < abandoned else Outcome.CONNECTED,
            answered=True,
            abandoned=n < abandoned,
        )
        for n in range(answered)
    )


@pytest.mark.django_db
def test_it_computes_the_rate_over_answered_calls_of_the_last_30_days(
    monday: None, portfolio: Portfolio
) -> None:
    queue = portfolio.callback_a
    _history(queue, answered=40, abandoned=2, at=MONDAY_MORNING - timedelta(days=3))
    _history(queue, answered=10, abandoned=10, at=MONDAY_MORNING - timedelta(days=31))
    rate = abandonment_rate(queue_id=queue.pk)
    assert (rate.abandoned, rate.answered) == (2, 40)
    assert rate.rate == pytest.approx(0.05)
    assert rate.exceeded
    # Seen from 40 days ago, only the old calls were in its window.
    old = abandonment_rate(queue_id=queue.pk, at=MONDAY_MORNING - timedelta(days=20))
    assert (old.abandoned, old.answered) == (10, 10)
    assert abandonment_rate(queue_id=portfolio.callback_b.pk).answered == 0


@pytest.mark.django_db
def test_an_abandoned_outcome_counts_as_answered_and_abandoned(
    monday: None, portfolio: Portfolio
) -> None:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    placed = dispatch_task(task_id=task.pk)
    attempt = attempt_outcome_record(
        attempt_id=placed.attempt_id or 0, outcome=Outcome.ABANDONED, actor=SYSTEM
    )
    assert (attempt.answered, attempt.abandoned) == (True, True)
    rate = abandonment_rate(queue_id=portfolio.callback_a.pk)
    assert (rate.abandoned, rate.answered) == (1, 1)


@pytest.mark.django_db
def test_exactly_three_percent_does_not_pause(monday: None, portfolio: Portfolio) -> None:
    _history(portfolio.callback_a, answered=100, abandoned=3, at=MONDAY_MORNING - timedelta(days=1))
    assert abandonment_enforce() == []
    assert Queue.objects.get(pk=portfolio.callback_a.pk).paused_reason == ""


@pytest.mark.django_db(transaction=True)
def test_a_queue_over_three_percent_pauses_itself_and_dispatch_refuses(
    monday: None, portfolio: Portfolio, celery_worker: Any
) -> None:
    queue = portfolio.callback_a
    task = planned_task(queue, portfolio.contact_a)
    _history(queue, answered=100, abandoned=4, at=MONDAY_MORNING - timedelta(days=2))

    abandonment_check.delay()  # the periodic check, through the worker
    wait_for(lambda: Queue.objects.get(pk=queue.pk).paused_reason != "", timeout=5)
    assert Queue.objects.get(pk=queue.pk).paused_reason == "abandon_rate_exceeded"
    paused = AuditEvent.objects.get(action="queue.paused", object_id=str(queue.pk))
    assert paused.reason == "abandon_rate_exceeded"
    assert paused.data == {"abandoned": 4, "answered": 100}
    assert paused.program_id == portfolio.program_a.pk
    assert abandonment_enforce() == []  # paused once, audited once
    assert AuditEvent.objects.filter(action="queue.paused").count() == 1
    assert Queue.objects.get(pk=portfolio.callback_b.pk).paused_reason == ""

    before = CallTask.objects.get(pk=task.pk).last_decision
    dispatch.delay(task.pk)
    wait_for(lambda: CallTask.objects.get(pk=task.pk).last_decision != before, timeout=5)
    time.sleep(0.2)
    task.refresh_from_db()
    assert [r["code"] for r in task.last_decision["reasons"]] == ["abandon_rate_exceeded"]
    assert task.status == TaskStatus.PENDING  # waits for a resume, it is not thrown away
    assert not CallAttempt.objects.filter(task=task).exists()


@pytest.mark.django_db
def test_the_planner_leaves_a_paused_queue_alone(monday: None, portfolio: Portfolio) -> None:
    queue = portfolio.callback_a
    task = new_task(queue, portfolio.contact_a)
    Queue.objects.filter(pk=queue.pk).update(paused_reason="abandon_rate_exceeded")
    result = plan_queue(queue_id=queue.pk, enqueue=lambda ids: None)
    assert result.skipped and result.allowed == []
    fresh = CallTask.objects.get(pk=task.pk)
    assert (fresh.status, fresh.next_attempt_at, fresh.last_decision) == (
        TaskStatus.PENDING,
        task.next_attempt_at,
        {},
    )


@pytest.mark.django_db
def test_a_manager_may_lift_the_pause_only_once_the_rate_is_back_under(
    monday: None, portfolio: Portfolio
) -> None:
    queue = portfolio.callback_a
    _history(queue, answered=50, abandoned=5, at=MONDAY_MORNING - timedelta(days=10))
    assert abandonment_enforce() == [queue.pk]
    with pytest.raises(AbandonmentError, match=r"still 10\.0%"):
        abandonment_resume(queue_id=queue.pk, actor=SYSTEM)
    assert Queue.objects.get(pk=queue.pk).paused_reason == "abandon_rate_exceeded"

    with time_machine.travel(MONDAY_MORNING + timedelta(days=21), tick=True):
        abandonment_resume(queue_id=queue.pk, actor=SYSTEM)
    assert Queue.objects.get(pk=queue.pk).paused_reason == ""
    assert AuditEvent.objects.filter(action="queue.resumed", object_id=str(queue.pk)).exists()
    with pytest.raises(AbandonmentError, match="not paused"):
        abandonment_resume(queue_id=queue.pk, actor=SYSTEM)
