"""Would a call be allowed? The decision for a contact or a bare number, writing nothing."""

from __future__ import annotations

from datetime import datetime

from campaigns.models import Contact, PhoneNumber, Program, Queue
from common.phones import line_type
from dialer.callbacks import contact_for_phone
from dialer.decision.engine import Decision, decide
from dialer.models import CallTask
from dialer.selectors import task_facts_many
from dialer.services import open_task_for


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
    """
    number: PhoneNumber | None = None
    if contact is None and phone is not None:
        found = contact_for_phone(program=program, e164=phone)
        if found is not None:
            contact, number = found
    if contact is not None and number is None:
        number = (
            next((p for p in contact.phones.all() if p.number == phone), None)
            if phone
            else contact.phones.order_by("id").first()
        )
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
    task = open_task_for(queue=queue, number_hash=number.number_hash) if number.pk else None
    if task is None:
        task = CallTask(contact=contact, phone=number, queue=queue, requested_at=at, attempts=0)
    else:
        task.contact = contact
        task.requested_at = task.requested_at or at
    return decide(task_facts_many([task], at=at)[0], at)
