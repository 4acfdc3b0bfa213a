"""The rolling 30-day abandonment rate per queue (47 CFR 64.1200(a)(7)), and the 3% pause."""

from __future__ import annotations

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


def abandonment_rates(*, at: datetime | None = None) -> dict[int, tuple[int, int]]:
    """queue id -> (abandoned, answered) over the 30 days before `at`."""
    since = (at or timezone.now()) - WINDOW
    rows = (
        CallAttempt.objects.filter(started_at__gte=since, answered=True)
        .values("task__queue_id")
        .annotate(answered=Count("id"), abandoned=Count("id", filter=Q(abandoned=True)))
    )
    return {r["task__queue_id"]: (r["abandoned"], r["answered"]) for r in rows}


def abandonment_enforce(*, at: datetime | None = None) -> list[int]:
    """Pause every queue over 3%, with an audit event; returns the queues paused now."""
    paused: list[int] = []
    for queue_id, (abandoned, answered) in abandonment_rates(at=at).items():
        if answered and abandoned / answered > LIMIT:
            with transaction.atomic():
                changed = Queue.objects.filter(pk=queue_id, paused_reason="").update(
                    paused_reason=ABANDONMENT_PAUSE
                )
                if changed:
                    queue = Queue.objects.get(pk=queue_id)
                    audit_record(
                        actor="system:abandonment",
                        action="queue.paused",
                        object_type="queue",
                        object_id=queue_id,
                        program_id=queue.program_id,
                        reason=ABANDONMENT_PAUSE,
                        data={"abandoned": abandoned, "answered": answered},
                    )
                    paused.append(queue_id)
    return paused
