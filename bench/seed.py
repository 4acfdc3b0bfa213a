"""Many due callback tasks at once, for the benchmarks and the chaos test (bulk inserts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from campaigns.models import Contact, PhoneNumber, Queue
from common.crypto import keyed_hash
from dialer.models import CallTask


def due_callbacks_create(
    *,
    queue: Queue,
    contacts: Sequence[Contact],
    numbers: Sequence[str],
    requested_at: datetime,
    due_at: datetime,
) -> list[CallTask]:
    """One phone (E.164, mobile) and one pending task per unsaved contact, in three bulk inserts."""
    saved = Contact.objects.bulk_create(contacts, batch_size=5000)
    phones = PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(contact=c, number=e164, number_hash=keyed_hash(e164), line_type="mobile")
            for c, e164 in zip(saved, numbers, strict=True)
        ],
        batch_size=5000,
    )
    return CallTask.objects.bulk_create(
        [
            CallTask(
                contact=c,
                phone=p,
                number_hash=p.number_hash,
                queue=queue,
                origin="api",
                requested_at=requested_at,
                next_attempt_at=due_at,
            )
            for c, p in zip(saved, phones, strict=True)
        ],
        batch_size=5000,
    )
