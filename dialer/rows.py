"""The task row the decision reads, defined once: its fields, the columns they come from,
and the two ways it is read (as values for a batch, from a task instance for one).

The planner reads rows as values (`due_task_rows`); dispatch loads the same columns on
the task instances it claims (`ROW_FIELDS`, then `TaskRow.of`); eligibility, callbacks,
enrollments and appointments build a row for a task that may not exist yet. The facts
are read for rows only (`dialer.selectors.task_facts_many`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Case, Q, Subquery, Value, When

from campaigns.models import Contact, PhoneNumber
from common.collector import collector_paused
from common.fields import field_of, token_of
from common.together import fetch_values
from dialer.models import CallTask
from dnc.models import RegistryState

_NOT_READ = object()


class TaskRow(NamedTuple):
    """What the decision reads of one task, without model instances (cheap in bulk).

    A named tuple rather than a frozen dataclass: a tick builds 100,000 of them, and a
    frozen dataclass sets each of its 19 fields through `object.__setattr__` (five
    times the cost of a tuple, a sixth of a whole tick's load of facts).
    """

    pk: int
    queue_id: int
    contact_id: int
    program_id: int
    state: str
    postal_code: str
    patient_status: str
    number: str | None  # decrypted E.164; None when not read (a planning tick) or unreadable
    line_type: str
    provided_by_patient: bool
    attempts: int
    last_attempt_at: datetime | None
    requested_at: datetime | None
    appointment_at: datetime | None
    number_hash: str = ""  # the number's keyed hash ("": computed from the number)
    # Read by a planning tick only (with `number_read` False): the NPA-NXX kept in the
    # clear, and the registries' answer kept on the phone (dialer.listings) with its generation.
    exchange: str = ""
    registry_generation: int = 0
    registry_lists: str = ""
    # False: a planning tick left the number unread, its phone's registry answer being
    # of the current generation; the decision then reads the exchange and hash alone.
    # True with no number: it could not be read (invalid_number).
    number_read: bool = True

    @classmethod
    def of(cls, task: CallTask) -> TaskRow:
        """From a task instance with its contact and phone (saved or not).

        A task read with its phone's stored token annotated (`phone_token`, as
        dispatch reads them) has it decrypted here: an unreadable one is no number.
        """
        contact, phone = task.contact, task.phone
        token = getattr(task, "phone_token", _NOT_READ)
        return cls(
            pk=task.pk,
            queue_id=task.queue_id,
            contact_id=contact.pk,
            program_id=contact.program_id,
            state=contact.state,
            postal_code=contact.postal_code,
            patient_status=contact.patient_status,
            number=phone.number if token is _NOT_READ else phone_number_of(token),
            line_type=phone.line_type,
            provided_by_patient=phone.provided_by_patient,
            attempts=task.attempts,
            last_attempt_at=task.last_attempt_at,
            requested_at=task.requested_at,
            appointment_at=task.appointment_at,
            number_hash=task.number_hash or phone.number_hash,
        )

    @classmethod
    def planned(
        cls,
        *,
        contact: Contact,
        phone: PhoneNumber,
        queue_id: int,
        task: CallTask | None = None,
        appointment_at: datetime | None = None,
    ) -> TaskRow:
        """For a call that may not be a task yet (an enrollment, an appointment's reminder):
        the contact's and the phone's facts, and the task's attempts when there is one."""
        return cls(
            pk=task.pk if task is not None else None,  # type: ignore[arg-type]  # no task yet
            queue_id=queue_id,
            contact_id=contact.pk,
            program_id=contact.program_id,
            state=contact.state,
            postal_code=contact.postal_code,
            patient_status=contact.patient_status,
            number=phone.number,
            line_type=phone.line_type,
            provided_by_patient=phone.provided_by_patient,
            attempts=task.attempts if task is not None else 0,
            last_attempt_at=task.last_attempt_at if task is not None else None,
            requested_at=None,
            appointment_at=appointment_at,
        )


# The row, once: each TaskRow field (in order) and the task's column it is read from.
# The planner reads these as values (`due_task_rows`); dispatch loads them on the task
# instances it claims (`ROW_FIELDS`, then `TaskRow.of`). The number is read as stored
# (`phone_token`) and decrypted per row: one that no key decrypts refuses its own task.
_ROW: tuple[tuple[str, str], ...] = (
    ("pk", "id"),
    ("queue_id", "queue_id"),
    ("contact_id", "contact_id"),
    ("program_id", "contact__program_id"),
    ("state", "contact__state"),
    ("postal_code", "contact__postal_code"),
    ("patient_status", "contact__patient_status"),
    ("number", "phone_token"),
    ("line_type", "phone__line_type"),
    ("provided_by_patient", "phone__provided_by_patient"),
    ("attempts", "attempts"),
    ("last_attempt_at", "last_attempt_at"),
    ("requested_at", "requested_at"),
    ("appointment_at", "appointment_at"),
    ("number_hash", "number_hash"),
    ("exchange", "phone__exchange"),
    ("registry_generation", "phone__registry_generation"),
    ("registry_lists", "phone__registry_lists"),
    ("number_read", "number_read"),
)
_ROW_COLUMNS = tuple(column for _, column in _ROW)
# What a task instance must load for `TaskRow.of` (annotated with `phone_token`).
# The exchange and the kept registry answer are read only where the number is not.
_TICK_ONLY = (
    "phone_token",
    "number_read",
    "phone__exchange",
    "phone__registry_generation",
    "phone__registry_lists",
)
ROW_FIELDS = tuple(c for c in _ROW_COLUMNS if c not in _TICK_ONLY)


@collector_paused()
def due_task_rows(*, queue_id: int, now: datetime, limit: int, lock: bool = False) -> list[TaskRow]:
    """Pending tasks of one queue whose time has come, oldest first (index task_due_per_queue).

    With `lock`, the task rows are locked FOR UPDATE SKIP LOCKED (a row that a
    dispatch holds is left for the next tick). Values, not models: at 100,000
    rows, model instances would cost more than the whole decision (and the cyclic
    collector is paused while they are built: `common.collector`).

    The number is read and decrypted only for a phone whose kept registry answer
    is not of the current generation (dialer.listings): the decision needs its
    exchange and keyed hash alone, so a steady-state tick decrypts nothing.
    """
    qs = CallTask.objects.filter(
        queue_id=queue_id, status="pending", next_attempt_at__lte=now
    ).order_by("next_attempt_at")
    if lock:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    # The number comes back as stored and is decrypted row by row: one that no key
    # decrypts blocks its own task (invalid_number), not the whole batch.
    # Before any registry load (generation 0), nothing is kept: every number is read.
    current = Subquery(RegistryState.objects.filter(pk=1).values("generation")[:1])
    kept = Q(phone__registry_generation=current, phone__registry_generation__gt=0)
    qs = qs.annotate(
        phone_token=Case(When(kept, then=Value(None)), default=token_of("phone__number")),
        number_read=Case(When(kept, then=Value(False)), default=Value(True)),
    )
    rows = []
    make = TaskRow._make
    for values in fetch_values(qs.values_list(*_ROW_COLUMNS)[:limit]):
        if not values[_READ]:
            rows.append(make(values))
            continue
        read = list(values)
        read[_NUMBER] = phone_number_of(read[_NUMBER])
        rows.append(make(read))
    return rows


_NUMBER = _ROW_COLUMNS.index("phone_token")
_READ = _ROW_COLUMNS.index("number_read")
assert tuple(name for name, _ in _ROW) == TaskRow._fields, "TaskRow and _ROW differ"


def phone_number_of(token: Any) -> str | None:
    """A phone's number from its stored token; None (no number: the call is refused
    as `invalid_number`) when no key decrypts it."""
    return field_of(PhoneNumber, "number").decrypted_or_none(token)
