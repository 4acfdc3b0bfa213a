"""The rolling 30-day abandonment rate per queue (47 CFR 64.1200(a)(7)), and the 3% pause.

The rate is abandoned calls over calls answered by a person, over the 30 days
before the moment asked about. A queue over 3% pauses itself
(`Queue.paused_reason = abandon_rate_exceeded`, audited): the planner leaves it
alone and dispatch refuses its calls with `abandon_rate_exceeded`. It stays
paused until a manager resumes it, which is refused while the rate is still
over 3%.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Queue
from dialer.models import CallAttempt
from dialer.selectors import ABANDONMENT_PAUSE

WINDOW = timedelta(days=30)
LIMIT = 0.03


@dataclass(frozen=True)
class AbandonmentRate:
    abandoned: int
    answered: int

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0

    @property
    def exceeded(self) -> bool:
        return self.rate > LIMIT

    def __str__(self) -> str:
        return f"{self.rate:.1%} ({self.abandoned} of {self.answered} answered)"


class AbandonmentError(ValueError):
    pass


def abandonment_rates(
    *, at: datetime | None = None, queue_ids: list[int] | None = None
) -> dict[int, AbandonmentRate]:
    """queue id -> its rate over the 30 days before `at` (queues with no answered call left out)."""
    until = at or timezone.now()
    attempts = CallAttempt.objects.filter(
        started_at__gte=until - WINDOW, started_at__lt=until, answered=True
    )
    if queue_ids is not None:
        attempts = attempts.filter(task__queue_id__in=queue_ids)
    rows = attempts.values("task__queue_id").annotate(
        answered=Count("id"), abandoned=Count("id", filter=Q(abandoned=True))
    )
    return {r["task__queue_id"]: AbandonmentRate(r["abandoned"], r["answered"]) for r in rows}


def abandonment_rate(*, queue_id: int, at: datetime | None = None) -> AbandonmentRate:
    return abandonment_rates(at=at, queue_ids=[queue_id]).get(queue_id, AbandonmentRate(0, 0))


def abandonment_enforce(*, at: datetime | None = None) -> list[int]:
    """Pause every queue over 3%, each with an audit event; returns the queues paused now.

    The conditional UPDATE touches a queue only if it is not paused already, so
    two checks running at once record one pause.
    """
    paused: list[int] = []
    for queue_id, rate in abandonment_rates(at=at).items():
        if not rate.exceeded:
            continue
        with transaction.atomic():
            changed = Queue.objects.filter(pk=queue_id, paused_reason="").update(
                paused_reason=ABANDONMENT_PAUSE
            )
            if changed:
                program_id = Queue.objects.values_list("program_id", flat=True).get(pk=queue_id)
                audit_record(
                    actor="system:abandonment",
                    action="queue.paused",
                    object_type="queue",
                    object_id=queue_id,
                    program_id=program_id,
                    reason=ABANDONMENT_PAUSE,
                    data={"abandoned": rate.abandoned, "answered": rate.answered},
                )
                paused.append(queue_id)
    return paused


def abandonment_resume(*, queue_id: int, actor: str, at: datetime | None = None) -> Queue:
    """Lift an abandonment pause; refused while the 30-day rate is still over 3%."""
    with transaction.atomic():
        queue = Queue.objects.select_for_update().get(pk=queue_id)
        if queue.paused_reason != ABANDONMENT_PAUSE:
            raise AbandonmentError("This queue is not paused for its abandonment rate.")
        rate = abandonment_rate(queue_id=queue_id, at=at)
        if rate.exceeded:
            raise AbandonmentError(f"The 30-day abandonment rate is still {rate}.")
        queue.paused_reason = ""
        queue.save(update_fields=["paused_reason"])
        audit_record(
            actor=actor,
            action="queue.resumed",
            object_type="queue",
            object_id=queue_id,
            program_id=queue.program_id,
            reason=ABANDONMENT_PAUSE,
            data={"abandoned": rate.abandoned, "answered": rate.answered},
        )
    return queue
