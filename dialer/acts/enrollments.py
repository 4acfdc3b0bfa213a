"""Enrolling contacts in a reactivation queue: a task each, or the reasons it is refused.

A CRM enrolls former patients it has just received consent from. Each
contact is decided with the same bulk facts and engine as the planner; a
contact that no later time would allow (no Part 2 consent, no written
consent, a DNC listing, a reassigned number) gets no task and its reason
codes. A calling window or a cap does not refuse: the task waits for its time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Contact, PhoneNumber, Program, Purpose, Queue
from dialer.decision import Decision, decide_many
from dialer.models import TaskOrigin
from dialer.refusals import lasting_codes
from dialer.rows import TaskRow
from dialer.selectors import task_facts_many
from dialer.services import DuplicateOpenTask, task_create

MAX_CONTACTS = 1000


class EnrollmentError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class EnrollmentResult:
    queued: list[tuple[int, int]] = field(default_factory=list)  # (contact, task)
    refused: list[tuple[int, list[str]]] = field(default_factory=list)  # (contact, codes)


def _row(contact: Contact, phone: PhoneNumber, queue: Queue) -> TaskRow:
    return TaskRow.planned(contact=contact, phone=phone, queue_id=queue.pk)


def enrollment_create(
    *, program: Program, queue: Queue, contact_ids: Sequence[int], actor: str, origin: str
) -> EnrollmentResult:
    """Queue each contact on a reactivation queue, or say why not; one transaction.

    1. Check the queue (a reactivation queue of the program) and that every
       id is one of the program's contacts (an unknown id refuses the whole
       request: nothing is written).
    2. Decide every number of every contact in one batch, now.
    3. Per contact, the first number (in the order they were added) that is
       not refused outright gets the task, due when the decision first allows
       it; an open task already there answers as queued. A contact whose
       every number is refused is reported with its first number's codes.
    """
    if queue.program_id != program.pk or queue.purpose != Purpose.REACTIVATION:
        raise EnrollmentError("queue", "Not a reactivation queue of this program.")
    wanted = list(dict.fromkeys(contact_ids))
    if len(wanted) > MAX_CONTACTS:
        raise EnrollmentError("contacts", f"At most {MAX_CONTACTS} contacts per request.")
    now = timezone.now()
    with transaction.atomic():
        contacts = {
            c.pk: c
            for c in Contact.objects.filter(program=program, pk__in=wanted).prefetch_related(
                "phones"
            )
        }
        unknown = [i for i in wanted if i not in contacts]
        if unknown:
            shown = ", ".join(str(i) for i in unknown[:20])
            raise EnrollmentError("contacts", f"Unknown contacts: {shown}.")
        pairs = [(contacts[i], p) for i in wanted for p in contacts[i].phones.all()]
        facts = task_facts_many(
            [_row(c, p, queue) for c, p in pairs], at=now, queues={queue.pk: queue}
        )
        decisions = decide_many(facts, now)
        chosen: dict[int, tuple[PhoneNumber, Decision]] = {}
        first_codes: dict[int, list[str]] = {}
        for (contact, phone), decision in zip(pairs, decisions, strict=True):
            if contact.pk in chosen:
                continue
            codes = lasting_codes(decision)
            if codes:
                first_codes.setdefault(contact.pk, codes)
            else:
                chosen[contact.pk] = (phone, decision)
        result = EnrollmentResult()
        for contact_id in wanted:
            if contact_id not in chosen:
                codes = first_codes.get(contact_id, ["invalid_number"])  # no number at all
                result.refused.append((contact_id, codes))
                continue
            phone, decision = chosen[contact_id]
            try:
                task = task_create(
                    contact=contacts[contact_id],
                    phone=phone,
                    queue=queue,
                    origin=TaskOrigin(origin),
                    actor=actor,
                    source="enrollment",
                    next_attempt_at=decision.next_allowed_at or now,
                )
            except DuplicateOpenTask as dup:
                result.queued.append((contact_id, dup.existing.pk))
                continue
            task.last_decision = decision.to_dict()
            task.save(update_fields=["last_decision", "updated_at"])
            result.queued.append((contact_id, task.pk))
        audit_record(
            actor=actor,
            action="enrollment.created",
            object_type="queue",
            object_id=queue.pk,
            program_id=program.pk,
            data={"queued": len(result.queued), "refused": len(result.refused)},
        )
    return result
