"""Outcomes move the task on per its queue's policy; a retry is planned and placed again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from campaigns.models import Queue
from dialer.acts.optout import dnc_request_record
from dialer.acts.outcomes import OutcomeError, attempt_outcome_record
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.planner import plan_queue
from dnc.selectors import dnc_status
from tests.conftest import Portfolio, make_queue
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, new_task, planned_task

NUMBER_A = "+13055550123"


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _placed(queue: Queue, portfolio: Portfolio) -> CallAttempt:
    task = planned_task(queue, portfolio.contact_a)
    result = dispatch_task(task_id=task.pk)
    assert result.status == "placed" and result.attempt_id is not None
    return CallAttempt.objects.select_related("task").get(pk=result.attempt_id)


def _policy(queue: Queue, *, max_attempts: int, retry_minutes: int) -> Queue:
    Queue.objects.filter(pk=queue.pk).update(max_attempts=max_attempts, retry_minutes=retry_minutes)
    queue.refresh_from_db()
    return queue


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["no_answer", "busy", "voicemail", "failed", "abandoned"])
def test_a_retryable_outcome_waits_the_queues_spacing(
    monday: time_machine.Traveller, portfolio: Portfolio, outcome: str
) -> None:
    queue = _policy(portfolio.callback_a, max_attempts=3, retry_minutes=90)
    attempt = _placed(queue, portfolio)
    attempt_outcome_record(attempt_id=attempt.pk, outcome=outcome, actor=SYSTEM)
    task = CallTask.objects.get(pk=attempt.task_id)
    assert task.status == TaskStatus.PENDING
    assert task.next_attempt_at == MONDAY_MORNING + timedelta(minutes=90)
    assert task.closed_reason == ""


@pytest.mark.django_db
def test_the_retry_is_planned_after_the_spacing_and_placed_as_attempt_two(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    queue = _policy(portfolio.callback_a, max_attempts=3, retry_minutes=90)
    first = _placed(queue, portfolio)
    attempt_outcome_record(attempt_id=first.pk, outcome="no_answer", actor=SYSTEM)

    monday.shift(timedelta(minutes=89))
    assert plan_queue(queue_id=queue.pk, enqueue=lambda ids: None).allowed == []
    monday.shift(timedelta(minutes=1))
    assert plan_queue(queue_id=queue.pk, enqueue=lambda ids: None).allowed == [first.task_id]
    second = dispatch_task(task_id=first.task_id)
    assert second.status == "placed" and second.attempt_id is not None
    attempt = CallAttempt.objects.get(pk=second.attempt_id)
    assert attempt.attempt_number == 2
    assert CallTask.objects.get(pk=first.task_id).attempts == 2


@pytest.mark.django_db
def test_the_last_allowed_attempt_exhausts_the_task(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    queue = _policy(portfolio.callback_a, max_attempts=1, retry_minutes=30)
    attempt = _placed(queue, portfolio)
    attempt_outcome_record(attempt_id=attempt.pk, outcome="voicemail", actor=SYSTEM)
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.closed_reason) == (TaskStatus.EXHAUSTED, "max_attempts_reached")
    assert plan_queue(queue_id=queue.pk, enqueue=lambda ids: None).allowed == []


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["connected", "wrong_number"])
def test_a_final_outcome_closes_the_task(
    monday: time_machine.Traveller, portfolio: Portfolio, outcome: str
) -> None:
    attempt = _placed(portfolio.callback_a, portfolio)
    recorded = attempt_outcome_record(
        attempt_id=attempt.pk,
        outcome=outcome,
        actor=SYSTEM,
        duration_seconds=95,
        recording_consent=True,
    )
    assert (recorded.answered, recorded.abandoned, recorded.duration_seconds) == (True, False, 95)
    assert recorded.recording_consent is True
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.closed_reason) == (TaskStatus.DONE, outcome)
    event = AuditEvent.objects.get(action="call.outcome", object_id=str(attempt.pk))
    assert event.data["outcome"] == outcome
    with pytest.raises(OutcomeError, match="already has one"):
        attempt_outcome_record(attempt_id=attempt.pk, outcome="no_answer", actor=SYSTEM)


@pytest.mark.django_db
def test_asked_not_to_be_called_goes_to_the_internal_list_and_stops_every_open_call(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    attempt = _placed(portfolio.callback_a, portfolio)
    other_queue = make_queue(portfolio.program_a, "reminder", slug="reminders")
    other = new_task(other_queue, portfolio.contact_a)
    attempt_outcome_record(attempt_id=attempt.pk, outcome="dnc_requested", actor=SYSTEM)
    assert dnc_status(number_e164=NUMBER_A).internal
    assert CallTask.objects.get(pk=attempt.task_id).status == TaskStatus.DONE
    other.refresh_from_db()
    assert (other.status, other.closed_reason) == (TaskStatus.CANCELLED, "internal_dnc")


@pytest.mark.django_db
def test_an_outcome_never_reopens_a_task_closed_while_the_call_was_in_hand(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    attempt = _placed(portfolio.callback_a, portfolio)
    dnc_request_record(number=NUMBER_A, source="web", note="", actor=SYSTEM, program_id=None)
    attempt_outcome_record(attempt_id=attempt.pk, outcome="no_answer", actor=SYSTEM)
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.closed_reason) == (TaskStatus.CANCELLED, "internal_dnc")
    assert CallAttempt.objects.get(pk=attempt.pk).outcome == Outcome.NO_ANSWER


@pytest.mark.django_db
def test_an_unknown_outcome_is_refused_and_changes_nothing(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    attempt = _placed(portfolio.callback_a, portfolio)
    with pytest.raises(OutcomeError, match="not a known outcome"):
        attempt_outcome_record(attempt_id=attempt.pk, outcome="hung_up", actor=SYSTEM)
    assert CallAttempt.objects.get(pk=attempt.pk).outcome == ""
    assert CallTask.objects.get(pk=attempt.task_id).status == TaskStatus.IN_PROGRESS
