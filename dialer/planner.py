"""The planner: decide due tasks of one queue in bulk and hand the allowed ones to dispatch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record_many
from dialer.decision.engine import decide_many
from dialer.models import CallTask
from dialer.refusals import apply_refusal
from dialer.selectors import due_tasks, task_facts_many

BATCH = 5000
# An allowed task waits this long for its dispatch before the planner looks again.
DISPATCH_LEASE = timedelta(minutes=2)


@dataclass
class PlanResult:
    allowed: list[int] = field(default_factory=list)
    postponed: int = 0
    ended: int = 0
    more: bool = False


def plan_queue(
    *,
    queue_id: int,
    enqueue: Callable[[list[int]], None],
    now: datetime | None = None,
    batch: int = BATCH,
    max_batches: int = 20,
) -> PlanResult:
    """Plan up to `max_batches` batches of due tasks; `more` says whether some are left.

    Each batch is one transaction:
    1. lock due pending tasks (SKIP LOCKED: dispatch may hold some);
    2. load their facts in a few queries and decide them all;
    3. allowed: lease them (next_attempt_at + DISPATCH_LEASE) and, on commit, enqueue;
       blocked: move to next_allowed_at, or end with the reason (audited).
    """
    now = now or timezone.now()
    result = PlanResult()
    for _ in range(max_batches):
        with transaction.atomic():
            tasks = list(
                due_tasks(queue_id=queue_id, now=now, limit=batch).select_for_update(
                    skip_locked=True, of=("self",)
                )
            )
            if not tasks:
                return result
            decisions = decide_many(task_facts_many(tasks, at=now), now)
            allowed: list[int] = []
            ended_events = []
            for task, decision in zip(tasks, decisions, strict=True):
                if decision.allowed:
                    task.last_decision = decision.to_dict()
                    task.next_attempt_at = now + DISPATCH_LEASE
                    allowed.append(task.pk)
                    continue
                event = apply_refusal(task, decision, now=now)
                if event is None:
                    result.postponed += 1
                else:
                    ended_events.append(event)
            CallTask.objects.bulk_update(
                tasks, ["status", "next_attempt_at", "last_decision", "closed_reason"], batch_size=2000
            )
            audit_record_many(ended_events)
            result.ended += len(ended_events)
            result.allowed.extend(allowed)
            if allowed:
                transaction.on_commit(lambda ids=allowed: enqueue(ids))  # type: ignore[misc]
        if len(tasks) < batch:
            return result
    result.more = True
    return result
