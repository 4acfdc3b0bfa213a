"""Reading the facts the decision needs, in bulk: a few queries for any number of tasks.

1. tasks with their contact, phone, queue and program (one query, joined);
2. DNC status and registry as-of dates for every number (dnc selectors, set-based);
3. consents of every contact (consent selector, one query);
4. recent attempts to every contact (one query);
The decision itself (dialer.decision) is pure and runs over the result.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db.models import QuerySet

from campaigns.models import Contact, Program, Queue
from common.phones import try_e164
from consent.selectors import consent_facts_for
from dialer.decision.facts import (
    AttemptFact,
    ContactFacts,
    DncFacts,
    NumberFacts,
    ProgramFacts,
    QueueFacts,
    RegistryFacts,
    TaskFacts,
)
from dialer.models import CallAttempt, CallTask
from dnc.selectors import dnc_status_many, registry_as_of_many

ABANDONMENT_PAUSE = "abandon_rate_exceeded"
RECENT_ATTEMPTS = timedelta(days=8)  # the longest cap window (7 days) plus a margin


def program_facts(program: Program) -> ProgramFacts:
    return ProgramFacts(
        id=program.pk,
        state=program.state,
        timezone=program.timezone,
        business_start=program.business_start,
        business_end=program.business_end,
        business_days=frozenset(program.business_days or range(7)),
        active=program.active,
    )


def queue_facts(queue: Queue) -> QueueFacts:
    return QueueFacts(
        id=queue.pk,
        purpose=queue.purpose,
        window_start=queue.window_start,
        window_end=queue.window_end,
        days=frozenset(queue.days or range(7)),
        max_attempts=queue.max_attempts,
        retry_minutes=queue.retry_minutes,
        active=queue.active and queue.paused_reason in ("", ABANDONMENT_PAUSE),
        abandon_rate_exceeded=queue.paused_reason == ABANDONMENT_PAUSE,
    )


def contact_facts(contact: Contact) -> ContactFacts:
    return ContactFacts(
        state=contact.state or None,
        postal_code=contact.postal_code or None,
        patient_status=contact.patient_status,
    )


def due_tasks(*, queue_id: int, now: datetime, limit: int) -> QuerySet[CallTask]:
    """Pending tasks of one queue whose time has come, oldest first (index task_due_per_queue).

    Only the columns the decision and the planner use are loaded; the queue and
    its program are the same for every row, so task_facts_many reads them once.
    """
    return (
        CallTask.objects.filter(queue_id=queue_id, status="pending", next_attempt_at__lte=now)
        .select_related("contact", "phone")
        .only(*TASK_FACT_FIELDS)
        .order_by("next_attempt_at")[:limit]
    )


TASK_FACT_FIELDS = (
    "id",
    "queue_id",
    "number_hash",
    "status",
    "next_attempt_at",
    "attempts",
    "last_attempt_at",
    "requested_at",
    "appointment_at",
    "closed_reason",
    "last_decision",
    "contact__id",
    "contact__program_id",
    "contact__state",
    "contact__postal_code",
    "contact__patient_status",
    "phone__id",
    "phone__number",
    "phone__line_type",
    "phone__provided_by_patient",
)


def recent_attempts_for(
    *, contact_ids: Iterable[int], at: datetime
) -> dict[int, tuple[AttemptFact, ...]]:
    found: dict[int, list[AttemptFact]] = defaultdict(list)
    rows = (
        CallAttempt.objects.filter(
            task__contact_id__in=list(set(contact_ids)), started_at__gte=at - RECENT_ATTEMPTS
        )
        .exclude(outcome="withdrawn")
        .order_by("-started_at")
        .values_list("task__contact_id", "started_at", "task__queue__purpose", "task__queue__program_id")
    )
    for contact_id, started_at, purpose, program_id in rows:
        found[contact_id].append(AttemptFact(at=started_at, purpose=purpose, program_id=program_id))
    return {k: tuple(v) for k, v in found.items()}


_E164_US = re.compile(r"\+1\d{10}")


def _stored_e164(number: str | None) -> str | None:
    """Numbers are stored normalised; anything else is re-parsed (the engine judges validity)."""
    if number and _E164_US.fullmatch(number):
        return number
    return try_e164(number) if number else None


def task_facts_many(tasks: Sequence[CallTask], *, at: datetime) -> list[TaskFacts]:
    """Facts for tasks loaded with select_related("contact", "phone", "queue__program")."""
    numbers = [_stored_e164(task.phone.number) for task in tasks]
    valid = [n for n in numbers if n is not None]
    dnc = dnc_status_many(numbers=valid)
    registry = registry_as_of_many(numbers=valid)
    contact_ids = {task.contact_id for task in tasks}
    consents = consent_facts_for(contact_ids=contact_ids, numbers=valid)
    attempts = recent_attempts_for(contact_ids=contact_ids, at=at)
    # One read of each queue and program, whether or not the tasks carry them.
    queue_rows = {
        q.pk: q
        for q in Queue.objects.select_related("program").filter(
            pk__in={task.queue_id for task in tasks}
        )
    }
    queues = {pk: queue_facts(q) for pk, q in queue_rows.items()}
    programs = {q.program_id: program_facts(q.program) for q in queue_rows.values()}
    out: list[TaskFacts] = []
    for task, e164 in zip(tasks, numbers, strict=True):
        queue = queue_rows[task.queue_id]
        status = dnc.get(e164) if e164 else None
        as_of = registry.get(e164) if e164 else None
        out.append(
            TaskFacts(
                task_id=task.pk,
                program=programs[queue.program_id],
                queue=queues[queue.pk],
                contact=contact_facts(task.contact),
                number=NumberFacts(
                    e164=e164,
                    line_type=task.phone.line_type,
                    provided_by_patient=task.phone.provided_by_patient,
                ),
                # Unknown DNC status fails closed: treated as listed.
                dnc=DncFacts(
                    internal=status.internal if status else True,
                    national=status.national if status else True,
                    states=frozenset(status.states) if status else frozenset(),
                ),
                registry=RegistryFacts(
                    national_as_of=as_of.national if as_of else None,
                    state_as_of=dict(as_of.states) if as_of else {},
                ),
                consents=consents.get((task.contact_id, e164), ()),
                recent_attempts=attempts.get(task.contact_id, ()),
                attempts_made=task.attempts,
                last_attempt_at=task.last_attempt_at,
                callback_requested_at=task.requested_at if queue.purpose == "callback" else None,
                appointment_at=task.appointment_at,
            )
        )
    return out
