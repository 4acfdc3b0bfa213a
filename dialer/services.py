"""Creating and closing call tasks; each act audited in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Contact, PhoneNumber, Queue
from common.rows import insert
from dialer.models import OPEN_STATUSES, CallTask, TaskOrigin, TaskStatus

# The constraint one_open_task_per_number_and_queue, named by its columns and predicate.
_OPEN_TASK_TAKEN = "ON CONFLICT (queue_id, number_hash) WHERE status IN ({}) DO NOTHING".format(
    ", ".join(f"'{status}'" for status in OPEN_STATUSES)
)


class DuplicateOpenTask(Exception):
    """This number already has an open task on this queue (one at a time, by constraint)."""

    def __init__(self, existing: CallTask) -> None:
        super().__init__(
            f"an open task already exists for this number on this queue: {existing.pk}"
        )
        self.existing = existing


def task_create(
    *,
    contact: Contact,
    phone: PhoneNumber,
    queue: Queue,
    origin: str,
    actor: str,
    source: str = "",
    requested_at: datetime | None = None,
    appointment_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> CallTask:
    """Create a pending task; raises DuplicateOpenTask if the number already has one here."""
    task = task_build(
        contact=contact,
        phone=phone,
        queue=queue,
        origin=origin,
        source=source,
        requested_at=requested_at,
        appointment_at=appointment_at,
        next_attempt_at=next_attempt_at,
    )
    return task_insert(task, actor=actor)


def task_build(
    *,
    contact: Contact,
    phone: PhoneNumber,
    queue: Queue,
    origin: str,
    source: str = "",
    requested_at: datetime | None = None,
    appointment_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> CallTask:
    """A new pending task, not saved: its caller may decide it first, then `task_insert` it
    with its verdict (one INSERT instead of an INSERT and the write-back's UPDATE)."""
    if contact.program_id != queue.program_id or phone.contact_id != contact.pk:
        raise ValueError("contact, phone and queue must belong together")
    return CallTask(
        contact=contact,
        phone=phone,
        number_hash=phone.number_hash,
        queue=queue,
        origin=TaskOrigin(origin),
        source=source,
        requested_at=requested_at,
        appointment_at=appointment_at,
        next_attempt_at=next_attempt_at or timezone.now(),
    )


def task_insert(task: CallTask, *, actor: str) -> CallTask:
    """Save a built task, audited; raises DuplicateOpenTask if the number already has an
    open task on the queue (a task saved already ended is refused so too)."""
    queue = task.queue
    if task.status not in OPEN_STATUSES:
        # The open-task constraint does not see a closed row: look for the open one.
        existing = open_task_for(queue=queue, number_hash=task.number_hash)
        if existing is not None:
            raise DuplicateOpenTask(existing)
    # No savepoint: a number already taken is seen by ON CONFLICT, not by an error to undo.
    with transaction.atomic(savepoint=False):
        created = insert(task, on_conflict=_OPEN_TASK_TAKEN)
        if created is not None:
            audit_record(
                actor=actor,
                action="task.created",
                object_type="call_task",
                object_id=task.pk,
                program_id=queue.program_id,
                data={"queue": queue.slug, "origin": task.origin, "source": task.source},
            )
    if created is None:
        # Another open task holds the number here (committed, or committed while the
        # INSERT waited for it).
        existing = open_task_for(queue=queue, number_hash=task.number_hash)
        if existing is None:  # closed since: the caller may try again
            raise IntegrityError("one_open_task_per_number_and_queue")
        raise DuplicateOpenTask(existing)
    return task


def open_task_for(*, queue: Queue, number_hash: str) -> CallTask | None:
    return CallTask.objects.filter(
        queue=queue, number_hash=number_hash, status__in=OPEN_STATUSES
    ).first()


def tasks_cancel(*, tasks: Iterable[CallTask], reason: str, actor: str) -> list[int]:
    """Cancel open tasks (already selected FOR UPDATE by the caller's query); returns their ids."""
    cancelled: list[int] = []
    with transaction.atomic():
        for task in tasks:
            if task.status not in OPEN_STATUSES:
                continue
            task.status = TaskStatus.CANCELLED
            task.closed_reason = reason
            task.save(update_fields=["status", "closed_reason", "updated_at"])
            audit_record(
                actor=actor,
                action="task.cancelled",
                object_type="call_task",
                object_id=task.pk,
                program_id=task.queue.program_id,
                reason=reason,
            )
            cancelled.append(task.pk)
    return cancelled
