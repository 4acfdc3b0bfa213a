"""What waits for a set of programs, per queue: counts and times only (no number, no name).

Read by "My calls" (what waits for the staff member's programs) and by the
supervisor view (the same, for the manager's programs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q

from campaigns.models import Purpose, Queue
from dialer.models import OPEN_STATUSES, CallAttempt, CallTask, TaskStatus


@dataclass(frozen=True, slots=True)
class QueueWaiting:
    queue_id: int
    program: str  # the program's legal name
    queue: str
    purpose: str
    offered: int  # preview calls decided and placed, waiting for someone to take them
    due: int  # pending tasks due now (the planner places them at its next run)
    later: int  # pending tasks waiting for their next allowed time
    next_due_at: datetime | None  # the earliest of those
    oldest_callback_wait_s: int | None  # callbacks: how long the oldest open request has waited

    @property
    def total(self) -> int:
        return self.offered + self.due + self.later


def waiting_for_programs(*, program_ids: set[int] | list[int], now: datetime) -> list[QueueWaiting]:
    """Per active queue of these programs, what waits, in program and queue order."""
    queues = list(
        Queue.objects.filter(program_id__in=program_ids, active=True)
        .select_related("program")
        .order_by("program__legal_name", "name", "id")
    )
    ids = [q.pk for q in queues]
    pending = Q(status=TaskStatus.PENDING)
    tasks: dict[int, dict[str, Any]] = {
        row["queue_id"]: dict(row)
        # Open tasks only (every figure below counts no other): the open-task constraint's
        # index serves it, where the whole history of the queues would be scanned.
        for row in CallTask.objects.filter(queue_id__in=ids, status__in=OPEN_STATUSES)
        .values("queue_id")
        .annotate(
            due=Count("id", filter=pending & Q(next_attempt_at__lte=now)),
            later=Count("id", filter=pending & Q(next_attempt_at__gt=now)),
            next_due_at=Min("next_attempt_at", filter=pending & Q(next_attempt_at__gt=now)),
            oldest_request=Min(
                "requested_at",
                filter=Q(status__in=OPEN_STATUSES, queue__purpose=Purpose.CALLBACK),
            ),
        )
    }
    offered = dict(
        CallAttempt.objects.filter(
            task__queue_id__in=ids, backend="preview", outcome="", placed_by__isnull=True
        )
        .values("task__queue_id")
        .annotate(n=Count("id"))
        .values_list("task__queue_id", "n")
    )
    result = []
    for queue in queues:
        row: dict[str, Any] = tasks.get(queue.pk, {})
        oldest = row.get("oldest_request")
        result.append(
            QueueWaiting(
                queue_id=queue.pk,
                program=queue.program.legal_name,
                queue=queue.name,
                purpose=queue.purpose,
                offered=offered.get(queue.pk, 0),
                due=row.get("due", 0),
                later=row.get("later", 0),
                next_due_at=row.get("next_due_at"),
                oldest_callback_wait_s=(
                    max(int((now - oldest).total_seconds()), 0) if oldest is not None else None
                ),
            )
        )
    return result
