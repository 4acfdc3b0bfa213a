"""The planner: decide due tasks of one queue in bulk and hand the allowed ones to dispatch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record_many
from campaigns.models import Queue
from common.collector import collector_paused
from dialer.decision.engine import decide_batch
from dialer.refusals import decisions_apply
from dialer.rows import due_task_rows
from dialer.selectors import task_facts_many

BATCH = 5000
# An allowed task waits this long for its dispatch before the planner looks again:
# if its dispatch message is lost (a worker died holding it), the next tick re-plans it.
DISPATCH_LEASE = timedelta(minutes=2)


@dataclass
class PlanResult:
    allowed: list[int] = field(default_factory=list)
    postponed: int = 0
    ended: int = 0
    more: bool = False
    skipped: bool = False  # the queue or its program is paused or inactive


def plan_queue(
    *,
    queue_id: int,
    enqueue: Callable[[list[int]], None],
    now: datetime | None = None,
    batch: int = BATCH,
    max_batches: int = 20,
) -> PlanResult:
    """Plan up to `max_batches` batches of due tasks; `more` says whether some are left.

    0. A queue that is switched off, paused (for its abandonment rate or any
       other reason) or whose program is inactive is left alone: its tasks stay
       due, and are planned when it is resumed.
    Then each batch is one transaction:
    1. lock due pending tasks, oldest first (SKIP LOCKED: dispatch or another
       planner may hold some), as values rather than model instances;
    2. load their facts in a few queries and decide them all (`decide_batch`:
       a call allowed to a person counts toward their caps for the rest of the batch);
    3. allowed: lease them (next_attempt_at + DISPATCH_LEASE) and, on commit, hand
       them to dispatch; blocked: move to next_allowed_at, or end with the reason
       (audited);
    4. write every row back in one statement (`dialer.refusals.decisions_apply`).
    """
    now = now or timezone.now()
    result = PlanResult()
    if not Queue.objects.filter(
        pk=queue_id, active=True, paused_reason="", program__active=True
    ).exists():
        result.skipped = True
        return result
    for _ in range(max_batches):
        # A batch is 5,000 rows, facts and decisions: no collection walks them meanwhile.
        with transaction.atomic(), collector_paused():
            rows = due_task_rows(queue_id=queue_id, now=now, limit=batch, lock=True)
            if not rows:
                return result
            decisions = decide_batch(task_facts_many(rows, at=now), now)
            decided = decisions_apply(
                rows=rows,
                decisions=decisions,
                now=now,
                allowed_until=now + DISPATCH_LEASE,
            )
            audit_record_many(decided.events)
            allowed = decided.allowed
            result.postponed += decided.postponed
            result.ended += len(decided.events)
            result.allowed.extend(allowed)
            if allowed:
                transaction.on_commit(lambda ids=allowed: enqueue(ids))  # type: ignore[misc]
        if len(rows) < batch:
            return result
    result.more = True
    return result
