"""Appointments from the EMR and their reminder calls.

An appointment has at most one reminder task, due its queue's
`remind_before_hours` before it starts (never after). The task carries the
appointment's time (`appointment_at`), which the decision reads: the
healthcare exemption covers a call about an appointment that is still ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Contact, PhoneNumber, Program, Purpose, Queue
from common.crypto import keyed_hash
from dialer.decision.engine import Decision, decide
from dialer.models import (
    OPEN_STATUSES,
    Appointment,
    AppointmentStatus,
    CallTask,
    TaskOrigin,
)
from dialer.refusals import lasting_codes
from dialer.rows import TaskRow
from dialer.selectors import task_facts_many
from dialer.services import DuplicateOpenTask, task_create, tasks_cancel

# An appointment further ahead than this is a typing error, not a booking.
MAX_AHEAD = timedelta(days=2 * 366)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

PASSED = "the appointment has passed; no reminder is queued"
TOO_LATE = "the reminder time ({hours} h before) has passed; no reminder is queued"
REFUSED = "the reminder is refused ({codes}); no reminder is queued"
TAKEN = "another reminder is pending for this number on this queue; no second one is queued"


class AppointmentError(ValueError):
    """Bad or conflicting input, naming the field; never a number or a name in the message."""

    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


@dataclass(frozen=True)
class AppointmentResult:
    appointment: Appointment
    task: CallTask | None  # the pending reminder, if one is queued
    decision: Decision | None  # for the reminder's due time; None when none is due
    created: bool
    detail: str  # why no reminder is queued ("" when one is)


def reminder_due_at(*, starts_at: datetime, queue: Queue) -> datetime:
    return starts_at - timedelta(hours=queue.remind_before_hours)


def _phone_of(contact: Contact, e164: str | None) -> PhoneNumber:
    """The number to call: the one named, else the first the patient provided, else the first."""
    phones = list(contact.phones.order_by("id"))
    if e164 is not None:
        wanted = keyed_hash(e164)
        named = next((p for p in phones if p.number_hash == wanted), None)
        if named is None:
            raise AppointmentError("phone", "Not one of this contact's numbers.")
        return named
    if not phones:
        raise AppointmentError("contact", "This contact has no phone number.")
    return next((p for p in phones if p.provided_by_patient), phones[0])


def _decide(row: TaskRow, queue: Queue, at: datetime) -> Decision:
    return decide(task_facts_many([row], at=at, queues={queue.pk: queue})[0], at)


def _row(appointment: Appointment, task: CallTask | None) -> TaskRow:
    return TaskRow.planned(
        contact=appointment.contact,
        phone=appointment.phone,
        queue_id=appointment.queue_id,
        task=task,
        appointment_at=appointment.starts_at,
    )


def appointment_record(
    *,
    program: Program,
    actor: str,
    origin: str,
    external_id: str,
    contact: Contact,
    starts_at: datetime,
    queue: Queue,
    phone: str | None = None,
) -> AppointmentResult:
    """Store an appointment and keep its one reminder task in step with it.

    1. Check the queue (a reminder queue of the program) and the contact; pick
       the number (the one named must be the contact's; by default the first
       the patient provided).
    2. Create the appointment, or lock and update the one with this
       `external_id` (a repeat); another contact under the same id is a conflict.
    3. The reminder is due `remind_before_hours` before the start. A past
       appointment or a passed reminder time gets no task (an open one is
       cancelled) and says so.
    4. Decide the reminder at its due time. A refusal no later time lifts (a
       number the patient did not provide, a DNC listing, missing Part 2
       consent) queues nothing and says why.
    5. Otherwise move the open task (same queue and number) or replace it, and
       set its time to when the decision first allows the call.
    """
    if queue.program_id != program.pk or queue.purpose != Purpose.REMINDER:
        raise AppointmentError("queue", "Not a reminder queue of this program.")
    if contact.program_id != program.pk:
        raise AppointmentError("contact", "Unknown contact.")
    now = timezone.now()
    if not EARLIEST <= starts_at <= now + MAX_AHEAD:
        raise AppointmentError(
            "starts_at", "Not a plausible appointment time (at most 2 years ahead)."
        )
    number = _phone_of(contact, phone)
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update()
            .filter(program=program, external_id=external_id)
            .first()
        )
        created = appointment is None
        if appointment is None:
            appointment = Appointment(program=program, external_id=external_id)
        elif appointment.contact_id != contact.pk:
            raise AppointmentError(
                "external_id", "Already used in this program for another contact.", conflict=True
            )
        moved = not created and appointment.starts_at != starts_at
        appointment.contact, appointment.phone, appointment.queue = contact, number, queue
        appointment.starts_at = starts_at
        appointment.status = AppointmentStatus.SCHEDULED
        try:
            with transaction.atomic():
                appointment.save()
        except IntegrityError:
            # The same id raced in from another request: that request's answer stands.
            raise AppointmentError(
                "external_id", "Being recorded by another request; repeat it.", conflict=True
            ) from None
        audit_record(
            actor=actor,
            action="appointment.created" if created else "appointment.changed",
            object_type="appointment",
            object_id=appointment.pk,
            program_id=program.pk,
            data={"queue": queue.slug, "moved": moved},
        )
        task, decision, detail = _reminder_follow(appointment, actor=actor, origin=origin, now=now)
    return AppointmentResult(appointment, task, decision, created, detail)


def _open_task(appointment: Appointment) -> CallTask | None:
    if appointment.task_id is None:
        return None
    return (
        CallTask.objects.select_for_update()
        .filter(pk=appointment.task_id, status__in=OPEN_STATUSES)
        .first()
    )


def _reminder_follow(
    appointment: Appointment, *, actor: str, origin: str, now: datetime
) -> tuple[CallTask | None, Decision | None, str]:
    """Steps 3 to 5 of appointment_record, in its transaction."""
    queue = appointment.queue
    task = _open_task(appointment)
    due = reminder_due_at(starts_at=appointment.starts_at, queue=queue)
    detail = ""
    decision: Decision | None = None
    if appointment.starts_at <= now:
        detail = PASSED
    elif due <= now:
        detail = TOO_LATE.format(hours=queue.remind_before_hours)
    else:
        decision = _decide(_row(appointment, task), queue, due)
        codes = lasting_codes(decision)
        if codes:
            detail = REFUSED.format(codes=", ".join(codes))
    if detail:
        if task is not None:
            tasks_cancel(tasks=[task], reason="appointment_changed", actor=actor)
        _link(appointment, None)
        return None, decision, detail
    assert decision is not None
    when = decision.next_allowed_at or due
    if task is not None and (task.queue_id != queue.pk or task.phone_id != appointment.phone_id):
        tasks_cancel(tasks=[task], reason="appointment_changed", actor=actor)
        task = None
    if task is None:
        try:
            task = task_create(
                contact=appointment.contact,
                phone=appointment.phone,
                queue=queue,
                origin=TaskOrigin(origin),
                actor=actor,
                source="appointment",
                appointment_at=appointment.starts_at,
                next_attempt_at=when,
            )
        except DuplicateOpenTask:
            # One open task per number and queue: another appointment's reminder holds it.
            _link(appointment, None)
            return None, decision, TAKEN
    task.appointment_at = appointment.starts_at
    task.next_attempt_at = when
    task.last_decision = decision.to_dict()
    task.save(update_fields=["appointment_at", "next_attempt_at", "last_decision", "updated_at"])
    _link(appointment, task)
    return task, decision, ""


def _link(appointment: Appointment, task: CallTask | None) -> None:
    if appointment.task_id != (task.pk if task is not None else None):
        appointment.task = task
        appointment.save(update_fields=["task", "updated_at"])


def appointment_cancel(*, program: Program, external_id: str, actor: str) -> Appointment | None:
    """Cancel an appointment and, at once, its pending reminder; None if unknown here."""
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update()
            .filter(program=program, external_id=external_id)
            .first()
        )
        if appointment is None:
            return None
        task = _open_task(appointment)
        if task is not None:
            tasks_cancel(tasks=[task], reason="appointment_cancelled", actor=actor)
        if appointment.status != AppointmentStatus.CANCELLED:
            appointment.status = AppointmentStatus.CANCELLED
            appointment.save(update_fields=["status", "updated_at"])
            audit_record(
                actor=actor,
                action="appointment.cancelled",
                object_type="appointment",
                object_id=appointment.pk,
                program_id=program.pk,
            )
    return appointment
