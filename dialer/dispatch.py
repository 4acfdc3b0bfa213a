"""Dispatch: claim one task, decide again with fresh facts, record the attempt, then call.

The last check wins: a DNC request or a consent revocation committed before
the claim stops the call, whatever the planner decided a minute earlier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record, audit_record_many
from campaigns.models import Script
from dialer.backends import Backend, backend_for
from dialer.decision.engine import decide
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.outcomes import attempt_outcome_record
from dialer.planner import DISPATCH_LEASE
from dialer.refusals import apply_refusal
from dialer.selectors import task_facts_many

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchResult:
    task_id: int
    status: str  # placed | refused | not_claimed | failed
    attempt_id: int | None = None
    reference: str = ""


def dispatch_task(*, task_id: int, backend: Backend | None = None) -> DispatchResult:
    """Place one call for a pending task, at most once per attempt number.

    1. Lock the task row if it is pending and due (SKIP LOCKED: a busy row
       belongs to another worker, which has the call in hand).
    2. Decide with facts read inside this transaction.
    3. Refused: reschedule or end it, commit, stop.
    4. Allowed: create the attempt (unique per task and attempt number), mark the
       task in progress, audit, commit.
    5. Only after the commit, hand the attempt to the backend. If the backend
       fails, the attempt is closed as `failed`, which retries it per the
       queue's policy (a new attempt number, after the queue's spacing).
    A worker killed before 4 commits leaves the task pending and untouched; one
    killed after it leaves an attempt that is never placed twice (the unique
    constraint and the task's in_progress status stop a second claim).
    """
    backend = backend or backend_for()
    now = timezone.now()
    with transaction.atomic():
        task = (
            CallTask.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("contact", "phone", "queue__program")
            # Due (or leased by the planner): a stale message for a task moved
            # to a later time is not a reason to call it early.
            .filter(
                pk=task_id,
                status=TaskStatus.PENDING,
                next_attempt_at__lte=now + DISPATCH_LEASE,
            )
            .first()
        )
        if task is None:
            return DispatchResult(task_id, "not_claimed")
        facts = task_facts_many([task], at=now)[0]
        decision = decide(facts, now)
        if not decision.allowed:
            ended = apply_refusal(task, decision, now=now)
            task.save(
                update_fields=[
                    "status",
                    "next_attempt_at",
                    "last_decision",
                    "closed_reason",
                    "updated_at",
                ]
            )
            audit_record_many([ended] if ended else [])
            return DispatchResult(task_id, "refused")
        script_id = task.queue.current_script_id
        # Withdrawn attempts keep their numbers, so the next number is max + 1.
        last_number = (
            CallAttempt.objects.filter(task=task).aggregate(n=Max("attempt_number"))["n"] or 0
        )
        attempt = CallAttempt.objects.create(
            task=task,
            phone=task.phone,
            attempt_number=last_number + 1,
            started_at=now,
            script_id=script_id,
            backend=backend.name,
            decision=decision.to_dict(),
        )
        if script_id is not None:
            Script.objects.filter(pk=script_id, used=False).update(used=True)
        task.status = TaskStatus.IN_PROGRESS
        task.attempts += 1
        task.last_attempt_at = now
        task.last_decision = attempt.decision
        task.save(
            update_fields=["status", "attempts", "last_attempt_at", "last_decision", "updated_at"]
        )
        audit_record(
            actor="system:dispatch",
            action="call.dispatched",
            object_type="call_attempt",
            object_id=attempt.pk,
            program_id=task.queue.program_id,
            data={
                "task": task.pk,
                "attempt_number": attempt.attempt_number,
                "script_id": script_id,
                "consent_ids": [c.id for c in facts.consents],
                "registry_as_of": facts.registry.national_as_of.isoformat()
                if facts.registry.national_as_of
                else None,
                "decision": attempt.decision,
            },
        )
    try:
        reference = backend.place(attempt)
    except Exception as exc:  # any backend failure: the call was not placed by us
        # The exception's text may carry the number: only its type is logged.
        log.warning(
            "backend %s could not place attempt %s (%s)",
            backend.name,
            attempt.pk,
            type(exc).__name__,
        )
        attempt_outcome_record(
            attempt_id=attempt.pk, outcome=Outcome.FAILED, actor="system:dispatch"
        )
        return DispatchResult(task_id, "failed", attempt.pk)
    CallAttempt.objects.filter(pk=attempt.pk, backend_ref="").update(backend_ref=reference)
    log.info("dispatched task %s attempt %s via %s", task_id, attempt.pk, backend.name)
    return DispatchResult(task_id, "placed", attempt.pk, reference)
