"""Recording what happened on a call, and what it means for the task."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from dialer import presence
from dialer.models import (
    ANSWERED_OUTCOMES,
    RETRYABLE_OUTCOMES,
    CallAttempt,
    CallTask,
    Outcome,
    TaskStatus,
)
from dialer.selectors import previous_attempt_start


class OutcomeError(ValueError):
    pass


def attempt_outcome_record(
    *,
    attempt_id: int,
    outcome: str,
    actor: str,
    duration_seconds: int | None = None,
    recording_consent: bool | None = None,
    ended_at: datetime | None = None,
) -> CallAttempt:
    """Close an attempt with its outcome and move its task on, per the queue's policy.

    connected, wrong_number: the task is done. no_answer, busy, voicemail, failed,
    abandoned: retried after the queue's spacing until max attempts (then exhausted).
    dnc_requested: the number goes on the internal list at once, which cancels
    every open task for it in every program.
    A task closed while the call was in hand (a DNC request or a revocation
    arrived meanwhile) stays closed: the outcome is recorded on the attempt only.
    """
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise OutcomeError("outcome: not a known outcome") from None
    now = ended_at or timezone.now()
    with transaction.atomic():
        attempt = (
            CallAttempt.objects.select_for_update(of=("self", "task"))
            .select_related("task__queue", "phone")
            .get(pk=attempt_id)
        )
        if attempt.outcome:
            raise OutcomeError("outcome: this attempt already has one")
        task = attempt.task
        attempt.outcome = outcome
        attempt.ended_at = now
        attempt.duration_seconds = duration_seconds
        attempt.answered = outcome in ANSWERED_OUTCOMES
        attempt.abandoned = outcome == Outcome.ABANDONED
        if recording_consent is not None:
            attempt.recording_consent = recording_consent
        attempt.save()
        if task.status != TaskStatus.IN_PROGRESS:
            pass  # closed meanwhile: never reopened by an outcome
        elif outcome in RETRYABLE_OUTCOMES and task.attempts < task.queue.max_attempts:
            task.status = TaskStatus.PENDING
            task.next_attempt_at = now + timedelta(minutes=task.queue.retry_minutes)
        elif outcome in RETRYABLE_OUTCOMES:
            task.status = TaskStatus.EXHAUSTED
            task.closed_reason = "max_attempts_reached"
        else:
            task.status = TaskStatus.DONE
            task.closed_reason = outcome
        task.save(update_fields=["status", "next_attempt_at", "closed_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="call.outcome",
            object_type="call_attempt",
            object_id=attempt.pk,
            program_id=task.queue.program_id,
            data={"outcome": outcome, "task": task.pk, "recording_consent": recording_consent},
        )
        _staff_freed(attempt, task.queue.program_id)
        if outcome == Outcome.DNC_REQUESTED:
            from dialer.acts.optout import dnc_request_record

            dnc_request_record(
                number=attempt.phone.number,
                source="staff_outcome",
                note=f"asked not to be called on attempt {attempt.pk}",
                actor=actor,
                program_id=task.queue.program_id,
            )
    return attempt


def attempt_withdraw(
    *, attempt: CallAttempt, task: CallTask, now: datetime, reason: str, actor: str
) -> None:
    """Close an attempt that was never dialled: it counts toward nothing, audited.

    The caller holds the locks of both rows and saves `task` afterwards: its
    count and last attempt time go back to what they were before this attempt.
    """
    attempt.outcome = Outcome.WITHDRAWN
    attempt.ended_at = now
    attempt.save(update_fields=["outcome", "ended_at", "decision"])
    task.attempts = max(task.attempts - 1, 0)
    task.last_attempt_at = previous_attempt_start(attempt)
    audit_record(
        actor=actor,
        action="call.withdrawn",
        object_type="call_attempt",
        object_id=attempt.pk,
        program_id=task.queue.program_id,
        reason=reason,
        data={"task": task.pk},
    )
    _staff_freed(attempt, task.queue.program_id)


def _staff_freed(attempt: CallAttempt, program_id: int) -> None:
    """An agent-first call ended: its staff member is free again, so the next call may go."""
    if attempt.placed_by_id is not None and attempt.backend in presence.AGENT_FIRST_BACKENDS:
        presence.pace_on_commit(program_ids=[program_id])


def attempt_give_back(
    *, attempt: CallAttempt, task: CallTask, now: datetime, reason: str, actor: str
) -> None:
    """Withdraw an attempt nobody was called on and put its task back in the queue.

    The caller holds both locks. A task still in progress goes back to pending,
    due now: it is decided afresh. A task closed meanwhile stays closed.
    """
    attempt_withdraw(attempt=attempt, task=task, now=now, reason=reason, actor=actor)
    if task.status == TaskStatus.IN_PROGRESS:
        task.status = TaskStatus.PENDING
        task.next_attempt_at = now
    task.save(
        update_fields=["status", "next_attempt_at", "attempts", "last_attempt_at", "updated_at"]
    )


def attempt_hand_back(*, attempt_id: int, reason: str, actor: str) -> bool:
    """Give back an attempt that was never handed to its provider (`attempt_give_back`).

    One transaction: lock the task, then the attempt (the order placement takes);
    an attempt with an outcome or a provider reference is left alone (False).
    """
    with transaction.atomic():
        task_id = CallAttempt.objects.values_list("task_id", flat=True).get(pk=attempt_id)
        task = CallTask.objects.select_for_update().select_related("queue").get(pk=task_id)
        attempt = CallAttempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.outcome or attempt.backend_ref:
            return False
        attempt_give_back(
            attempt=attempt, task=task, now=timezone.now(), reason=reason, actor=actor
        )
    return True
