"""The planner: decide due tasks of one queue in bulk and hand the allowed ones to dispatch."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record_many
from campaigns.models import Queue
from dialer.decision.engine import Decision, decide_batch
from dialer.models import TaskStatus
from dialer.refusals import refusal_event, refusal_of
from dialer.selectors import due_task_rows, task_facts_many

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
    4. write every row back in one statement (`decisions_write_back`).
    """
    now = now or timezone.now()
    result = PlanResult()
    if not Queue.objects.filter(
        pk=queue_id, active=True, paused_reason="", program__active=True
    ).exists():
        result.skipped = True
        return result
    for _ in range(max_batches):
        with transaction.atomic():
            rows = due_task_rows(queue_id=queue_id, now=now, limit=batch, lock=True)
            if not rows:
                return result
            decisions = decide_batch(task_facts_many(rows, at=now), now)
            allowed: list[int] = []
            writes: list[_Write] = []
            ended_events = []
            for row, decision in zip(rows, decisions, strict=True):
                if decision.allowed:
                    writes.append((row.pk, TaskStatus.PENDING, now + DISPATCH_LEASE, decision, ""))
                    allowed.append(row.pk)
                    continue
                refusal = refusal_of(decision, now=now)
                writes.append(
                    (
                        row.pk,
                        refusal.status,
                        refusal.next_attempt_at,
                        decision,
                        refusal.closed_reason,
                    )
                )
                if refusal.ended:
                    ended_events.append(
                        refusal_event(task_id=row.pk, program_id=row.program_id, decision=decision)
                    )
                else:
                    result.postponed += 1
            decisions_write_back(writes, now=now)
            audit_record_many(ended_events)
            result.ended += len(ended_events)
            result.allowed.extend(allowed)
            if allowed:
                transaction.on_commit(lambda ids=allowed: enqueue(ids))  # type: ignore[misc]
        if len(rows) < batch:
            return result
    result.more = True
    return result


# (task id, status, next_attempt_at or None to keep it, last decision, closed reason)
_Write = tuple[int, str, datetime | None, Decision, str]

_WRITE_BACK = """
WITH doc AS (SELECT %(doc)s::jsonb AS j)
UPDATE dialer_calltask AS t
   SET status = v.status,
       next_attempt_at = coalesce(v.next_attempt_at, t.next_attempt_at),
       last_decision = doc.j -> 'decisions' -> v.decision,
       closed_reason = v.closed_reason,
       updated_at = %(now)s
  FROM doc, jsonb_to_recordset(doc.j -> 'rows') AS v(
       id bigint, status varchar, next_attempt_at timestamptz, decision int,
       closed_reason varchar)
 WHERE t.id = v.id
"""


def decisions_write_back(writes: Sequence[_Write], *, now: datetime) -> None:
    """Save decided tasks in one UPDATE from one JSON document (rows locked by the caller).

    Django's bulk_update builds a CASE per field and row, and arrays of JSON
    text are escaped element by element: each costs seconds for 100,000 rows.
    The document holds each distinct decision once (the tasks of a batch share
    a few: same zones, same instant) and, per row, the index of its decision.
    """
    distinct: dict[Decision, int] = {}
    rows = [
        {
            "id": pk,
            "status": str(status),
            "next_attempt_at": next_at.isoformat() if next_at is not None else None,
            "decision": distinct.setdefault(decision, len(distinct)),
            "closed_reason": reason,
        }
        for pk, status, next_at, decision, reason in writes
    ]
    document = json.dumps({"rows": rows, "decisions": [d.to_dict() for d in distinct]})
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_BACK, {"now": now, "doc": document})
