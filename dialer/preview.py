"""Preview dialling, staff side: take the next offered call, re-checked when it is taken."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.actors import actor_for_user
from audit.services import audit_record, audit_record_many
from common.scoping import user_program_ids
from dialer.decision.engine import decide
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.refusals import apply_refusal
from dialer.selectors import task_facts_many


def current_call(*, user: User) -> CallAttempt | None:
    """The call this staff member took and has not logged yet."""
    return (
        CallAttempt.objects.filter(placed_by=user, outcome="")
        .select_related("task__queue__program", "task__contact", "phone", "script")
        .first()
    )


def preview_take_next(*, user: User, max_tries: int = 20) -> CallAttempt | None:
    """Give the oldest offered call of the user's programs to the user, if it is still allowed.

    Each try, in one transaction:
    1. lock one offered attempt (SKIP LOCKED, so two staff never get the same call)
       and then its task;
    2. a task closed since the offer (a DNC request, a revocation): withdraw the
       attempt, leave the task closed;
    3. decide again as if the call had not been offered yet (the offer itself
       does not count toward caps or spacing);
    4. allowed: hand it over (audited); refused: withdraw it, and the task waits
       for its next allowed time or ends with its reason (audited).
    """
    programs = user_program_ids(user)
    for _ in range(max_tries):
        now = timezone.now()
        with transaction.atomic():
            attempt = (
                CallAttempt.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    backend="preview",
                    outcome="",
                    placed_by__isnull=True,
                    task__queue__program_id__in=programs,
                )
                .order_by("started_at", "id")
                .first()
            )
            if attempt is None:
                return None
            task = (
                CallTask.objects.select_for_update(of=("self",))
                .select_related("contact", "phone", "queue__program")
                .get(pk=attempt.task_id)
            )
            attempt.task = task
            previous = (
                CallAttempt.objects.filter(task=task, attempt_number__lt=attempt.attempt_number)
                .exclude(outcome=Outcome.WITHDRAWN)
                .order_by("-attempt_number")
                .values_list("started_at", flat=True)
                .first()
            )
            if task.status != TaskStatus.IN_PROGRESS:
                _withdraw(attempt, now=now, reason=task.closed_reason or task.status)
                task.attempts -= 1  # a withdrawn attempt was never dialled
                task.last_attempt_at = previous
                task.save(update_fields=["attempts", "last_attempt_at", "updated_at"])
                continue
            facts = task_facts_many([task], at=now)[0]
            facts = dataclasses.replace(
                facts,
                attempts_made=task.attempts - 1,
                last_attempt_at=previous,
                recent_attempts=tuple(
                    a for a in facts.recent_attempts if a.at != attempt.started_at
                ),
            )
            decision = decide(facts, now)
            if decision.allowed:
                attempt.placed_by = user
                attempt.decision = decision.to_dict()
                attempt.save(update_fields=["placed_by", "decision"])
                audit_record(
                    actor=actor_for_user(cast(Any, user)),
                    action="call.taken",
                    object_type="call_attempt",
                    object_id=attempt.pk,
                    program_id=task.queue.program_id,
                    data={"decision": attempt.decision},
                )
                return attempt
            attempt.decision = decision.to_dict()
            _withdraw(attempt, now=now, reason=",".join(r.code for r in decision.reasons))
            task.attempts -= 1  # a withdrawn attempt was never dialled
            task.last_attempt_at = previous
            ended = apply_refusal(task, decision, now=now)
            task.save()
            audit_record_many([ended] if ended else [])
    return None


def _withdraw(attempt: CallAttempt, *, now: datetime, reason: str) -> None:
    """Close an offered attempt that nobody dialled (it counts toward nothing), audited."""
    attempt.outcome = Outcome.WITHDRAWN
    attempt.ended_at = now
    attempt.save(update_fields=["outcome", "ended_at", "decision"])
    audit_record(
        actor="system:preview",
        action="call.withdrawn",
        object_type="call_attempt",
        object_id=attempt.pk,
        program_id=attempt.task.queue.program_id,
        reason=reason,
    )


def preview_release_for_user(*, user: User, reason: str) -> list[int]:
    """Give back every call this staff member took and has not logged (their session ended).

    Each such attempt, in one transaction:
    1. lock it and its task;
    2. withdraw it (audited, with the reason: "idle_logoff", "signed_out");
    3. an open task goes back to the queue, due now, as if the call had never
       been offered: the planner offers it again, decided afresh. A task closed
       meanwhile stays closed.
    Returns the ids of the released attempts.
    """
    released: list[int] = []
    now = timezone.now()
    with transaction.atomic():
        attempts = list(
            CallAttempt.objects.select_for_update(of=("self", "task"))
            .select_related("task__queue")
            .filter(placed_by=user, outcome="", backend="preview")
            .order_by("id")
        )
        for attempt in attempts:
            task = attempt.task
            _withdraw(attempt, now=now, reason=reason)
            task.attempts = max(task.attempts - 1, 0)  # a withdrawn attempt was never dialled
            task.last_attempt_at = (
                CallAttempt.objects.filter(task=task, attempt_number__lt=attempt.attempt_number)
                .exclude(outcome=Outcome.WITHDRAWN)
                .order_by("-attempt_number")
                .values_list("started_at", flat=True)
                .first()
            )
            if task.status == TaskStatus.IN_PROGRESS:
                task.status = TaskStatus.PENDING
                task.next_attempt_at = now
            task.save(
                update_fields=[
                    "attempts",
                    "last_attempt_at",
                    "status",
                    "next_attempt_at",
                    "updated_at",
                ]
            )
            audit_record(
                actor=actor_for_user(cast(Any, user)),
                action="call.released",
                object_type="call_attempt",
                object_id=attempt.pk,
                program_id=task.queue.program_id,
                reason=reason,
                data={"task": task.pk},
            )
            released.append(attempt.pk)
    return released
