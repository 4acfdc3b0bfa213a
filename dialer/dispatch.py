"""Dispatch: claim tasks, decide again with fresh facts, record the attempts, then call.

The last check wins: a DNC request or a consent revocation committed before
the claim stops the call, whatever the planner decided a minute earlier.
One task (a callback, on commit) and a chunk of planned tasks take the same
path; a chunk is one transaction, so its facts load in a few queries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record_many
from campaigns.models import Script
from common.fields import token_of
from dialer.backends import Backend, backend_for
from dialer.decision.engine import decide_batch
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.outcomes import attempt_outcome_record
from dialer.planner import DISPATCH_LEASE, decisions_write_back
from dialer.refusals import refusal_event, refusal_of
from dialer.selectors import task_facts_many

log = logging.getLogger(__name__)

# What the claim loads: the facts' columns, and what the attempt and the audit need.
# The number is read as stored (`phone_token`) and decrypted per task: one that no
# key decrypts refuses its own task (invalid_number) rather than the whole chunk.
_CLAIM_FIELDS = (
    "id",
    "queue_id",
    "contact_id",
    "phone_id",
    "status",
    "attempts",
    "last_attempt_at",
    "requested_at",
    "appointment_at",
    "next_attempt_at",
    "contact__program_id",
    "contact__state",
    "contact__postal_code",
    "contact__patient_status",
    "phone__line_type",
    "phone__provided_by_patient",
    "queue__program_id",
    "queue__current_script_id",
)
# Script versions known to be marked used (they never go back): no UPDATE for them.
_used_scripts: set[int] = set()


@dataclass(frozen=True)
class DispatchResult:
    task_id: int
    status: str  # placed | refused | not_claimed | failed
    attempt_id: int | None = None
    reference: str = ""


def dispatch_task(*, task_id: int, backend: Backend | None = None) -> DispatchResult:
    """Place one call for a pending, due task (see dispatch_tasks)."""
    return dispatch_tasks(task_ids=[task_id], backend=backend)[0]


def dispatch_tasks(
    *, task_ids: Sequence[int], backend: Backend | None = None
) -> list[DispatchResult]:
    """Place one call for each pending, due task given, at most once per attempt number.

    1. Lock those tasks that are pending and due, or leased by the planner (SKIP
       LOCKED: a busy row belongs to another worker, which has the call in hand);
       the others are `not_claimed`: a stale message never calls a task early.
    2. Decide them all with facts read inside this transaction (`decide_batch`:
       the chunk's own calls to a person count toward their caps).
    3. Refused: reschedule or end them (an ended one is audited).
    4. Allowed: create the attempts (unique per task and attempt number), mark
       the tasks in progress, audit each dispatch with what it used; commit.
    5. Only after the commit, hand each attempt to the backend. If the backend
       fails, the attempt is closed as `failed`, which retries it per the
       queue's policy (a new attempt number, after the queue's spacing).
    A worker killed before 4 commits leaves the tasks pending and untouched; one
    killed after it leaves attempts that are never placed twice (the unique
    constraint and the tasks' in_progress status stop a second claim).
    """
    backend = backend or backend_for()
    ids = list(dict.fromkeys(int(i) for i in task_ids))
    now = timezone.now()
    results: dict[int, DispatchResult] = {}
    attempts: list[CallAttempt] = []
    with transaction.atomic():
        tasks: list[CallTask] = list(
            CallTask.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("contact", "phone", "queue")
            .only(*_CLAIM_FIELDS)
            .annotate(phone_token=token_of("phone__number"))
            .filter(
                pk__in=ids, status=TaskStatus.PENDING, next_attempt_at__lte=now + DISPATCH_LEASE
            )
            .order_by("pk")
        )
        if tasks:
            facts = task_facts_many(tasks, at=now)
            decisions = decide_batch(facts, now)
            events: list[dict[str, Any]] = []
            refusals = []
            allowed = []
            for task, fact, decision in zip(tasks, facts, decisions, strict=True):
                if decision.allowed:
                    allowed.append((task, fact, decision))
                    continue
                refusal = refusal_of(decision, now=now)
                refusals.append(
                    (
                        task.pk,
                        refusal.status,
                        refusal.next_attempt_at,
                        decision,
                        refusal.closed_reason,
                    )
                )
                if refusal.ended:
                    events.append(
                        refusal_event(
                            task_id=task.pk, program_id=task.queue.program_id, decision=decision
                        )
                    )
                results[task.pk] = DispatchResult(task.pk, "refused")
            if refusals:
                decisions_write_back(refusals, now=now)
            if allowed:
                attempts = _record_attempts(allowed, backend=backend, now=now, events=events)
            audit_record_many(events)
    for attempt in attempts:
        results[attempt.task_id] = _place(attempt, backend)
    placed = [(r.attempt_id, r.reference) for r in results.values() if r.status == "placed"]
    if placed:
        _save_references(placed)
        log.info("dispatched %s of %s tasks via %s", len(placed), len(ids), backend.name)
    return [results.get(i) or DispatchResult(i, "not_claimed") for i in ids]


def _record_attempts(
    allowed: list[tuple[CallTask, Any, Any]],
    *,
    backend: Backend,
    now: Any,
    events: list[dict[str, Any]],
) -> list[CallAttempt]:
    """Create the attempts, mark their tasks in progress and add their audit events."""
    task_ids = [task.pk for task, _, _ in allowed]
    # Withdrawn attempts keep their numbers, so the next number is max + 1.
    last = dict(
        CallAttempt.objects.filter(task_id__in=task_ids)
        .values("task_id")
        .annotate(n=Max("attempt_number"))
        .values_list("task_id", "n")
    )
    attempts = CallAttempt.objects.bulk_create(
        [
            CallAttempt(
                task=task,
                phone_id=task.phone_id,
                attempt_number=last.get(task.pk, 0) + 1,
                started_at=now,
                script_id=task.queue.current_script_id,
                backend=backend.name,
                decision=decision.to_dict(),
            )
            for task, _, decision in allowed
        ]
    )
    scripts = {
        script_id
        for task, _, _ in allowed
        if (script_id := task.queue.current_script_id) is not None
        and script_id not in _used_scripts
    }
    if scripts:
        Script.objects.filter(pk__in=scripts, used=False).update(used=True)
        transaction.on_commit(lambda: _used_scripts.update(scripts))
    with connection.cursor() as cursor:
        cursor.execute(_CLAIMED, [now, now, [a.pk for a in attempts]])
    for attempt, (task, fact, _) in zip(attempts, allowed, strict=True):
        events.append(
            {
                "actor": "system:dispatch",
                "action": "call.dispatched",
                "object_type": "call_attempt",
                "object_id": attempt.pk,
                "program_id": task.queue.program_id,
                "data": {
                    "task": task.pk,
                    "attempt_number": attempt.attempt_number,
                    "script_id": attempt.script_id,
                    "consent_ids": [c.id for c in fact.consents],
                    "registry_as_of": fact.registry.national_as_of.isoformat()
                    if fact.registry.national_as_of
                    else None,
                    "decision": attempt.decision,
                },
            }
        )
    return attempts


# The tasks of new attempts: in progress, counted, and the decision of their attempt.
_CLAIMED = """
UPDATE dialer_calltask AS t
   SET status = 'in_progress',
       attempts = t.attempts + 1,
       last_attempt_at = %s,
       updated_at = %s,
       last_decision = a.decision
  FROM dialer_callattempt AS a
 WHERE a.id = ANY(%s::bigint[]) AND t.id = a.task_id
"""


def _place(attempt: CallAttempt, backend: Backend) -> DispatchResult:
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
        return DispatchResult(attempt.task_id, "failed", attempt.pk)
    return DispatchResult(attempt.task_id, "placed", attempt.pk, reference)


def _save_references(placed: list[tuple[int | None, str]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dialer_callattempt AS a SET backend_ref = v.ref"
            " FROM unnest(%s::bigint[], %s::varchar[]) AS v(id, ref)"
            " WHERE a.id = v.id AND a.backend_ref = ''",
            [[pk for pk, _ in placed], [ref for _, ref in placed]],
        )
