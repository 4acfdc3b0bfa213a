"""A request not to be called: onto the internal list, and every open call to it cancelled.

One transaction spans the apps: the entry (dnc), the cancelled tasks (dialer)
and their audit events commit together or not at all. A dispatch already in
flight re-checks the number (`dnc.selectors.dnc_status`) before placing the call.
"""

from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from common.phones import to_e164
from dialer.models import OPEN_STATUSES, CallTask
from dialer.services import tasks_cancel
from dnc.models import InternalDncEntry
from dnc.services import dnc_source_normal, internal_dnc_add

CLOSED_REASON = "internal_dnc"


def dnc_request_record(
    *, number: str, source: str, note: str, actor: str, program_id: int | None
) -> InternalDncEntry:
    """Record the request (idempotent) and cancel every open task for the number, in every program.

    1. Normalise the number (any common format; InvalidPhoneNumber never echoes it).
    2. Add the internal entry, or find the active one.
    3. Lock and cancel every pending or in-progress task with the number's hash,
       whichever program, queue or contact row it hangs on (one audit event each).
    4. Record the request itself, with how many calls it stopped.
    """
    e164 = to_e164(number)
    with transaction.atomic():
        entry, created = internal_dnc_add(
            number_e164=e164, source=source, note=note, actor=actor, program_id=program_id
        )
        tasks = (
            CallTask.objects.select_for_update(of=("self",))
            .select_related("queue")
            .filter(number_hash=entry.number_hash, status__in=OPEN_STATUSES)
            .order_by("pk")
        )
        cancelled = tasks_cancel(tasks=list(tasks), reason=CLOSED_REASON, actor=actor)
        audit_record(
            actor=actor,
            action="dnc.request_recorded",
            object_type="dnc_internal_entry",
            object_id=entry.pk,
            program_id=program_id,
            data={
                "source": dnc_source_normal(source),
                "new_entry": created,
                "tasks_cancelled": len(cancelled),
            },
        )
    return entry
