"""Preview dialling, staff side: take the next offered call, re-checked at the moment it is taken."""

from __future__ import annotations

import dataclasses

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.actors import actor_for_user
from audit.services import audit_record, audit_record_many
from common.scoping import user_program_ids
from dialer.decision.engine import decide
from dialer.models import CallAttempt, Outcome
from dialer.refusals import apply_refusal
from dialer.selectors import task_facts_many


def current_call(*, user: AbstractBaseUser) -> CallAttempt | None:
    """The call this staff member took and has not logged yet."""
    return (
        CallAttempt.objects.filter(placed_by=user, outcome="")
        .select_related("task__queue__program", "task__contact", "phone", "script")
        .first()
    )


def preview_take_next(*, user: AbstractBaseUser, max_tries: int = 20) -> CallAttempt | None:
    """Give the oldest offered call of the user's programs to the user, if it is still allowed.

    Each try locks one offered attempt (SKIP LOCKED, so two staff never get the
    same call), decides again as if it had not been offered yet, and either hands
    it over or withdraws it (the task then waits for its next allowed time).
    """
    programs = user_program_ids(user)
    for _ in range(max_tries):
        now = timezone.now()
        with transaction.atomic():
            attempt = (
                CallAttempt.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("task__contact", "task__phone", "task__queue__program")
                .filter(
                    backend="preview",
                    outcome="",
                    placed_by__isnull=True,
                    task__queue__program_id__in=programs,
                )
                .order_by("started_at")
                .first()
            )
            if attempt is None:
                return None
            task = attempt.task
            facts = task_facts_many([task], at=now)[0]
            previous = (
                CallAttempt.objects.filter(task=task, attempt_number__lt=attempt.attempt_number)
                .exclude(outcome=Outcome.WITHDRAWN)
                .order_by("-attempt_number")
                .values_list("started_at", flat=True)
                .first()
            )
            facts = dataclasses.replace(
                facts,
                attempts_made=task.attempts - 1,
                last_attempt_at=previous,
                recent_attempts=tuple(a for a in facts.recent_attempts if a.at != attempt.started_at),
            )
            decision = decide(facts, now)
            if decision.allowed:
                attempt.placed_by = user  # type: ignore[assignment]
                attempt.decision = decision.to_dict()
                attempt.save(update_fields=["placed_by", "decision"])
                audit_record(
                    actor=actor_for_user(user),
                    action="call.taken",
                    object_type="call_attempt",
                    object_id=attempt.pk,
                    program_id=task.queue.program_id,
                    data={"decision": attempt.decision},
                )
                return attempt
            attempt.outcome = Outcome.WITHDRAWN
            attempt.ended_at = now
            attempt.decision = decision.to_dict()
            attempt.save(update_fields=["outcome", "ended_at", "decision"])
            task.attempts -= 1  # a withdrawn attempt was never dialled
            task.last_attempt_at = previous
            ended = apply_refusal(task, decision, now=now)
            task.save()
            audit_record_many(
                [
                    {
                        "actor": "system:preview",
                        "action": "call.withdrawn",
                        "object_type": "call_attempt",
                        "object_id": attempt.pk,
                        "program_id": task.queue.program_id,
                        "reason": ",".join(r.code for r in decision.reasons),
                    },
                    *([ended] if ended else []),
                ]
            )
    return None
