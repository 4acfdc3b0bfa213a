"""Would a call be allowed? The decision for a contact or a bare number, writing nothing."""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from campaigns.models import Contact, PhoneNumber, Program, Queue
from common.crypto import keyed_hash
from common.phones import line_type
from dialer.decision.engine import Decision, decide
from dialer.models import OPEN_STATUSES, CallTask
from dialer.selectors import task_facts_many


class EligibilityError(ValueError):
    """Input the decision cannot be made for, naming the field (never its value)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def eligibility_decide(
    *,
    program: Program,
    queue: Queue,
    at: datetime,
    contact: Contact | None = None,
    phone: str | None = None,
    state: str = "",
    postal_code: str = "",
    patient_status: str | None = None,
) -> Decision:
    """Decide as if the call were placed at `at`.

    A bare number known to the program is decided with that contact's facts
    (consents, attempts); an unknown one as a new person. For a callback queue
    the request is taken to be made at `at`. Nothing is saved.

    1. Find the number on file (the contact's, or the program's by keyed
       hash) together with its open task on this queue, in one query.
    2. Otherwise stand up unsaved contact, number and task rows.
    3. Load the facts (dialer.selectors) and decide (pure).
    """
    number: PhoneNumber | None = None
    open_task_id: int | None = None
    if contact is None and phone is not None:
        candidates = PhoneNumber.objects.filter(
            contact__program=program, number_hash=keyed_hash(phone)
        )
        number, open_task_id = _number_with_open_task(candidates, queue)
        if number is not None:
            contact = number.contact
    elif contact is not None:
        candidates = contact.phones.all()
        if phone:
            candidates = candidates.filter(number_hash=keyed_hash(phone))
        number, open_task_id = _number_with_open_task(candidates, queue)
        if number is not None:
            number.contact = contact
    if contact is None:
        contact = Contact(program=program)
    if number is None:
        if phone is None:
            raise EligibilityError("phone", "This contact has no phone number.")
        number = PhoneNumber(contact=contact, number=phone, line_type=line_type(phone))
    if state or postal_code or patient_status:
        contact = Contact(
            pk=contact.pk,
            program=program,
            state=state or contact.state,
            postal_code=postal_code or contact.postal_code,
            patient_status=patient_status or contact.patient_status,
        )
    task = CallTask.objects.filter(pk=open_task_id).first() if open_task_id else None
    if task is None:
        task = CallTask(contact=contact, phone=number, queue=queue, requested_at=at, attempts=0)
    else:
        task.contact = contact
        task.phone = number
        task.requested_at = task.requested_at or at
    return decide(task_facts_many([task], at=at)[0], at)


def _number_with_open_task(
    candidates: QuerySet[PhoneNumber], queue: Queue
) -> tuple[PhoneNumber | None, int | None]:
    """The first of these numbers (with its contact), and the id of its open task on `queue`."""
    open_task = CallTask.objects.filter(
        queue=queue, number_hash=OuterRef("number_hash"), status__in=OPEN_STATUSES
    ).values("pk")[:1]
    found = (
        candidates.select_related("contact")
        .annotate(open_task_id=Subquery(open_task))
        .order_by("id")
        .first()
    )
    if found is None:
        return None, None
    return found, getattr(found, "open_task_id", None)
