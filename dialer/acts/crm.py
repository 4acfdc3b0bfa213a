"""What a CRM reports through the API: contacts, consents and calls made elsewhere.

A CRM retries when it does not hear back, so each write here answers a repeat
with what the first request recorded instead of recording it twice: a
duplicate consent would survive the revocation of its twin, and a duplicate
attempt would count twice toward the caps. Each function is one transaction
over the owning app's own service (which writes its audit event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet

from audit.services import audit_record
from campaigns.models import Contact, Program
from campaigns.selectors import queue_by_slug
from campaigns.services import PhoneInput, contact_create, phone_add
from common.phones import to_e164
from consent.inputs import ConsentInput, consent_content, consent_draft
from consent.models import Consent
from consent.services import consent_create
from dialer.acts.idempotency import Recorded, recorded_once
from dialer.acts.outcomes import attempt_outcome_record
from dialer.models import CallAttempt, CallTask, Outcome, TaskOrigin, TaskStatus
from dialer.services import open_task_for, task_create

EXTERNAL_BACKEND = "external"


class CrmRecordError(ValueError):
    """Bad or conflicting input, naming the field; the message never holds a number or name."""

    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


# --- Contacts ---------------------------------------------------------------------------------


def _contact_content(contact: Contact) -> tuple[Any, ...]:
    return (
        contact.first_name or "",
        contact.last_name or "",
        (contact.state or "").upper(),
        contact.postal_code or "",
        contact.patient_status,
        frozenset(p.number for p in contact.phones.all()),
    )


def contact_record(
    *, program: Program, actor: str, phones: Sequence[PhoneInput], **fields: Any
) -> Recorded[Contact]:
    """Create a contact; a repeat under the same `external_id` answers the first one.

    1. Without an `external_id` there is nothing to recognise a repeat by: create.
    2. Otherwise create, and if the program already has a contact with that id
       (found first, or by the unique constraint when two requests race),
       answer it when the request says the same thing, and refuse it with a
       conflict on `external_id` when it says something else.
    """
    external_id = fields.get("external_id") or ""
    wanted = (
        fields.get("first_name") or "",
        fields.get("last_name") or "",
        (fields.get("state") or "").upper(),
        fields.get("postal_code") or "",
        fields.get("patient_status") or "none",
        frozenset(to_e164(p.number) for p in phones),
    )

    def existing() -> Contact | None:
        if not external_id:
            return None
        return Contact.objects.filter(program=program, external_id=external_id).first()

    def repeat_of(found: Contact) -> Contact:
        if _contact_content(found) != wanted:
            raise CrmRecordError(
                "external_id", "Already used in this program by another contact.", conflict=True
            )
        return found

    return recorded_once(
        find=existing,
        create=lambda: contact_create(program=program, phones=phones, actor=actor, **fields),
        repeat_of=repeat_of,
    )


# --- Consents ---------------------------------------------------------------------------------


def consent_record(*, contact: Contact, actor: str, **fields: Any) -> Recorded[Consent]:
    """Record a consent the CRM collected; the same consent sent again answers the first.

    1. Lock the contact's row: consents of one person are recorded one at a time.
    2. Consents of this contact of the same kind signed at the same instant are
       the only possible repeats; with none, create (`consent_create` validates
       every element and writes its audit event).
    3. Otherwise compare the consent as it would be stored (`consent_draft`, the
       service's own checks and normalisation) with each candidate, field by
       field of the input (`consent_content`): a match answers the candidate.
    """
    data = ConsentInput.of(contact=contact, **fields)

    def recorded() -> Consent | None:
        if not isinstance(data.signed_at, datetime):
            return None
        candidates = list(
            Consent.objects.filter(contact=contact, kind=str(data.kind), signed_at=data.signed_at)
        )
        if not candidates:
            return None
        draft = consent_draft(data)
        content = consent_content(draft.consent, programs=draft.recipient_programs)
        return next((c for c in candidates if consent_content(c) == content), None)

    with transaction.atomic():
        list(Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk"))
        return recorded_once(
            find=recorded,
            create=lambda: consent_create(data=data, actor=actor),
            repeat_of=lambda same: same,
        )


# --- Calls made outside the system --------------------------------------------------------------


@dataclass(frozen=True)
class _CallScope:
    """Where a call from outside belongs: the attempts that would be this call sent again,
    and its task (locked; created when `task` is first asked for and there is none open)."""

    repeats: QuerySet[CallAttempt]
    task: Callable[[], CallTask]


def _external_scope(
    *,
    program: Program,
    actor: str,
    task_id: int | None,
    contact_id: int | None,
    queue_slug: str | None,
    number: str | None,
) -> _CallScope:
    """The call's task by id (locked), or its contact (locked), queue and number."""
    if task_id is not None:
        task = (
            CallTask.objects.select_for_update(of=("self",))
            .filter(queue__program=program, pk=task_id)
            .first()
        )
        if task is None:
            raise CrmRecordError("task", "Unknown task.")
        locked = task
        return _CallScope(CallAttempt.objects.filter(task=locked), lambda: locked)
    contact = (
        Contact.objects.select_for_update().filter(program=program, pk=contact_id).first()
        if contact_id is not None
        else None
    )
    if contact is None:
        raise CrmRecordError("contact", "Unknown contact.")
    queue = queue_by_slug(program, queue_slug) if queue_slug else None
    if queue is None:
        raise CrmRecordError("queue", "Unknown queue.")
    assert number is not None
    phone = phone_add(contact=contact, phone=PhoneInput(number))

    def open_task() -> CallTask:
        found = open_task_for(queue=queue, number_hash=phone.number_hash)
        if found is None:
            found = task_create(
                contact=contact,
                phone=phone,
                queue=queue,
                origin=TaskOrigin.API,
                actor=actor,
                source=EXTERNAL_BACKEND,
            )
        return CallTask.objects.select_for_update().get(pk=found.pk)

    repeats = CallAttempt.objects.filter(
        task__contact=contact, task__queue=queue, task__number_hash=phone.number_hash
    )
    return _CallScope(repeats, open_task)


def _external_attempt_add(
    *,
    program: Program,
    task: CallTask,
    actor: str,
    started_at: datetime,
    outcome: str,
    duration_seconds: int | None,
) -> CallAttempt:
    """Add the call to its task, count it on an open task and record its outcome."""
    is_open = task.status in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS)
    if not is_open and outcome != Outcome.DNC_REQUESTED:
        raise CrmRecordError("task", "This task is closed.")
    number_next = (task.attempt_set.aggregate(n=Max("attempt_number"))["n"] or 0) + 1
    attempt = CallAttempt.objects.create(
        task=task,
        phone=task.phone,
        attempt_number=number_next,
        started_at=started_at,
        backend=EXTERNAL_BACKEND,
    )
    if is_open:
        task.attempts += 1
        task.last_attempt_at = max(filter(None, [task.last_attempt_at, started_at]))
        task.status = TaskStatus.IN_PROGRESS
        task.save(update_fields=["attempts", "last_attempt_at", "status", "updated_at"])
    audit_record(
        actor=actor,
        action="call.recorded_external",
        object_type="call_attempt",
        object_id=attempt.pk,
        program_id=program.pk,
        data={"task": task.pk, "attempt_number": number_next},
    )
    return attempt_outcome_record(
        attempt_id=attempt.pk,
        outcome=outcome,
        duration_seconds=duration_seconds,
        actor=actor,
    )


def external_attempt_record(
    *,
    program: Program,
    actor: str,
    started_at: datetime,
    outcome: str,
    duration_seconds: int | None = None,
    task_id: int | None = None,
    contact_id: int | None = None,
    queue_slug: str | None = None,
    number: str | None = None,
) -> Recorded[CallAttempt]:
    """Record a call placed outside the system; it counts toward caps like any other.

    1. Find and lock where the call belongs: the task by id, or the contact
       (with the number added to it), queue and number.
    2. A call there already recorded from outside with the same start and
       outcome is this call, sent again (`recorded_once`): answer it, even if
       it closed the task.
    3. Otherwise the task must be open, unless the person asked not to be
       called (`dnc_requested`): an opt-out is never refused, so on a closed
       task the call is recorded without reopening it.
    4. Take the task (by id, or the open one of that contact, queue and number,
       created when there is none), add the attempt (next attempt number),
       count it on an open task, and record its outcome (`attempt_outcome_record`: the retry policy;
       `dnc_requested` puts the number on the internal list and cancels its calls).
    """
    if outcome not in Outcome.values or outcome == Outcome.WITHDRAWN:
        raise CrmRecordError("outcome", "Not an outcome of a call.")
    with transaction.atomic():
        scope = _external_scope(
            program=program,
            actor=actor,
            task_id=task_id,
            contact_id=contact_id,
            queue_slug=queue_slug,
            number=number,
        )
        return recorded_once(
            find=lambda: scope.repeats.filter(
                backend=EXTERNAL_BACKEND, started_at=started_at, outcome=outcome
            ).first(),
            create=lambda: _external_attempt_add(
                program=program,
                task=scope.task(),
                actor=actor,
                started_at=started_at,
                outcome=outcome,
                duration_seconds=duration_seconds,
            ),
            repeat_of=lambda same: same,
        )
