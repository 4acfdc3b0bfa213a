"""Would a call be allowed? The decision for a contact or a bare number, writing nothing."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.db import connection

from campaigns.models import Program, Queue, patient_status_stricter
from common.crypto import keyed_hash
from common.phones import line_type
from common.rows import columns, instance, width
from dialer.decision.engine import Decision, decide
from dialer.models import OPEN_STATUSES
from dialer.rows import TaskRow, phone_number_of
from dialer.selectors import task_facts_many


class EligibilityError(ValueError):
    """Input the decision cannot be made for, naming the field (never its value)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# What is on file, in one read (plain SQL: this runs on every eligibility request):
# the queue by slug, the contact (given, or the program's first holder of the
# number) with its first number (that number, when one is given), and the open
# task of that number on the queue, if any.
_OPEN_TASK = """
  LEFT JOIN LATERAL (
        SELECT t.id, t.attempts, t.last_attempt_at, t.requested_at, t.appointment_at
          FROM dialer_calltask t
         WHERE t.queue_id = q.id AND t.number_hash = ph.number_hash
           AND t.status = ANY(%(open)s)
         ORDER BY t.id LIMIT 1) t ON true
"""
# The on-file part of the task row, in TaskRow's field order (dialer.rows): what is not on
# file reads as NULL and is filled in from the request.
_FOUND = """
SELECT t.id, q.id, ct.id, q.program_id, ct.state, ct.postal_code, ct.patient_status,
       ph.number, ph.line_type, ph.provided_by_patient,
       t.attempts, t.last_attempt_at, t.requested_at, t.appointment_at, ph.number_hash
"""
_BY_NUMBER = f"""{_FOUND}
  FROM campaigns_phonenumber ph
  JOIN campaigns_contact ct ON ct.id = ph.contact_id
{_OPEN_TASK}
 WHERE ph.number_hash = %(hash)s AND ct.program_id = q.program_id
 ORDER BY ph.id LIMIT 1
"""
_BY_CONTACT = f"""{_FOUND}
  FROM campaigns_contact ct
  LEFT JOIN LATERAL (
        SELECT ph.* FROM campaigns_phonenumber ph
         WHERE ph.contact_id = ct.id
           AND (%(hash)s::text IS NULL OR ph.number_hash = %(hash)s)
         ORDER BY ph.id LIMIT 1) ph ON true
{_OPEN_TASK}
 WHERE ct.id = %(contact)s AND ct.program_id = q.program_id
"""  # noqa: S608 (constants only)


@cache
def _on_file_sql(by_contact: bool) -> str:
    found = _BY_CONTACT if by_contact else _BY_NUMBER
    return (
        f"SELECT {columns(Queue, 'q')}, f.* FROM campaigns_queue q"  # noqa: S608 (constants)
        f" LEFT JOIN LATERAL ({found}) f ON true"
        " WHERE q.program_id = %(program)s AND q.slug = %(queue)s"
    )


def eligibility_decide(
    *,
    program: Program,
    queue_slug: str,
    at: datetime,
    contact_id: int | None = None,
    phone: str | None = None,
    state: str = "",
    postal_code: str = "",
    patient_status: str | None = None,
) -> Decision:
    """Decide as if the call were placed at `at`.

    A bare number known to the program is decided with that contact's facts
    (consents, attempts); an unknown one as a new person. For a callback queue
    the request is taken to be made at `at`. Nothing is saved.

    1. Read what is on file: the queue, the contact (given, or the program's
       holder of the number), its number and that number's open task on the
       queue (one query).
    2. What is not on file is a new person: no id, no consents, no attempts.
    3. State and ZIP code given override the file's; a patient status given
       counts only where it is stricter than the one on file.
    4. Load the facts (dialer.selectors) and decide (pure).

    Raises EligibilityError naming `queue` or `contact` (not this program's),
    or `phone` (a contact with no number and none given).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _on_file_sql(contact_id is not None),
            {
                "program": program.pk,
                "queue": queue_slug,
                "contact": contact_id,
                "hash": keyed_hash(phone) if phone else None,
                "open": [str(status) for status in OPEN_STATUSES],
            },
        )
        row = cursor.fetchone()
    if row is None:
        raise EligibilityError("queue", "Unknown queue.")
    queue = instance(Queue, row[: width(Queue)])
    queue.program = program
    found = TaskRow(*row[width(Queue) :])
    if contact_id is not None and found.contact_id is None:
        raise EligibilityError("contact", "Unknown contact.")
    if found.number is not None:
        number = phone or phone_number_of(found.number)  # unreadable: no number
        kind, provided, number_hash = found.line_type, found.provided_by_patient, found.number_hash
    elif phone is not None:
        number, kind, provided, number_hash = phone, line_type(phone), False, ""
    else:
        raise EligibilityError("phone", "This contact has no phone number.")
    task = found._replace(
        queue_id=queue.pk,
        program_id=program.pk,
        state=state or found.state or "",
        postal_code=postal_code or found.postal_code or "",
        # An override may only make the status stricter than the one on file.
        patient_status=patient_status_stricter(patient_status, found.patient_status),
        number=number,
        line_type=kind,
        provided_by_patient=bool(provided),
        attempts=found.attempts or 0,
        requested_at=(found.requested_at if found.pk is not None else None) or at,
        number_hash=number_hash,
    )
    return decide(task_facts_many([task], at=at, queues={queue.pk: queue})[0], at)
