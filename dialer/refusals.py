"""Decide, then refuse or write back, once: what a decision does to a task.

Allowed: the task is leased for its dispatch (planner) or goes on to its call
(dispatch, preview). Blocked: it waits for its time, or ends with its reason,
audited. `verdict_of` decides what a decision writes; `decisions_apply` writes
a batch in one statement (planner, dispatch, callbacks) and `apply_refusal`
sets it on one task in hand (a placed call, a preview call), saved by its caller.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from common.together import bigint_array
from dialer.decision.engine import Decision
from dialer.decision.outcome import TIME_CODES
from dialer.models import CallTask, TaskStatus
from dialer.rows import TaskRow

# Blocks that an operator can lift (load a registry, resume a queue): look again later.
TRANSIENT_CODES = frozenset({"registry_stale", "queue_inactive", "abandon_rate_exceeded"})
RECHECK_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: str
    next_attempt_at: datetime | None  # None: unchanged (the task ended)
    closed_reason: str  # "" while the task waits

    @property
    def ended(self) -> bool:
        return self.status != TaskStatus.PENDING


def refusal_of(decision: Decision, *, now: datetime) -> Refusal:
    """1. a later time helps: wait until then; 2. only operator-liftable blocks: look again in
    15 minutes; 3. otherwise end the task (exhausted for max attempts alone, else cancelled)."""
    if decision.next_allowed_at is not None:
        return Refusal(TaskStatus.PENDING, decision.next_allowed_at, "")
    codes = {reason.code for reason in decision.reasons}
    if codes <= TRANSIENT_CODES:
        return Refusal(TaskStatus.PENDING, now + RECHECK_AFTER, "")
    final = sorted(codes - TRANSIENT_CODES)
    status = TaskStatus.EXHAUSTED if final == ["max_attempts_reached"] else TaskStatus.CANCELLED
    return Refusal(status, None, final[0])


def lasting_codes(decision: Decision) -> list[str]:
    """The codes that refuse a new task outright: neither a later time nor an operator
    lifts them (a calling window, a cap, a stale registry copy or a paused queue does).

    Empty when the task should be created and wait; the planner decides it again.
    """
    codes = {reason.code for reason in decision.reasons}
    return sorted(codes - TRANSIENT_CODES - TIME_CODES)


def refusal_event(*, task_id: int, program_id: int, decision: Decision) -> dict[str, Any]:
    """The audit event of a task ended by a refusal (for audit_record_many)."""
    codes = sorted({reason.code for reason in decision.reasons} - TRANSIENT_CODES)
    return {
        "actor": "system:decision",
        "action": "task.refused",
        "object_type": "call_task",
        "object_id": task_id,
        "program_id": program_id,
        "reason": ",".join(codes),
        "data": {"decision": decision.to_dict()},
    }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a decision writes to its task's row: its status, time, decision and reason
    (tasks decided alike share one)."""

    status: str
    next_attempt_at: datetime | None  # None: unchanged
    decision: Decision
    closed_reason: str  # "" while the task waits

    @property
    def ended(self) -> bool:
        return self.status != TaskStatus.PENDING


def verdict_of(
    decision: Decision, *, now: datetime, allowed_until: datetime | None
) -> Verdict | None:
    """What one decision writes to its task; None when it is allowed and nothing is leased.

    1. Allowed: with `allowed_until`, the task is leased until then (the planner);
       without, its row is left to the caller, which goes on to call.
    2. Blocked: `refusal_of` says wait (a later time, or an operator's act) or end.
    """
    if decision.allowed:
        if allowed_until is None:
            return None
        return Verdict(TaskStatus.PENDING, allowed_until, decision, "")
    refusal = refusal_of(decision, now=now)
    return Verdict(refusal.status, refusal.next_attempt_at, decision, refusal.closed_reason)


def verdict_set(task: CallTask, verdict: Verdict) -> None:
    """Set a verdict on a task instance, as `verdicts_write` writes it to a row."""
    task.last_decision = verdict.decision.to_dict()
    task.status = verdict.status
    if verdict.next_attempt_at is not None:
        task.next_attempt_at = verdict.next_attempt_at
    task.closed_reason = verdict.closed_reason


def apply_refusal(task: CallTask, decision: Decision, *, now: datetime) -> dict[str, Any] | None:
    """`decisions_apply` for one refused task in hand: the same verdict, set on the instance
    that the caller saves with its own changes in one UPDATE; the audit event if it ended."""
    verdict = verdict_of(decision, now=now, allowed_until=None)
    assert verdict is not None, "apply_refusal takes a refused decision"
    verdict_set(task, verdict)
    if not verdict.ended:
        return None
    return refusal_event(task_id=task.pk, program_id=task.queue.program_id, decision=decision)


@dataclass
class Applied:
    """What a batch of decisions did: the allowed tasks, how many wait, and the audit
    events of those that ended (the caller records them with its own, in its transaction)."""

    allowed: list[int] = field(default_factory=list)
    postponed: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)  # as written, in order


def decisions_apply(
    *,
    rows: Sequence[TaskRow],
    decisions: Sequence[Decision],
    now: datetime,
    allowed_until: datetime | None,
) -> Applied:
    """Write a batch of decisions back to their tasks (locked by the caller).

    1. Each decision's verdict (`verdict_of`): leased, waiting or ended.
    2. An ended task gets its audit event.
    3. Every verdict is written in one UPDATE (`verdicts_write`).
    `rows` are the decided tasks' rows (dialer.rows), in the order of `decisions`.
    A batch's allowed tasks share one decision object (dialer.decision.engine), so each
    distinct object's verdict is made and numbered once (they outlive the loop: an id is
    not reused).
    """
    applied = Applied()
    verdicts = applied.verdicts
    made: dict[int, tuple[Verdict | None, int]] = {}  # id(decision): its verdict, numbered
    distinct: dict[Verdict, int] = {}
    ids: list[int] = []
    of: list[int] = []
    for row, decision in zip(rows, decisions, strict=True):
        found = made.get(id(decision))
        if found is None:
            verdict = verdict_of(decision, now=now, allowed_until=allowed_until)
            number = -1 if verdict is None else distinct.setdefault(verdict, len(distinct))
            found = made[id(decision)] = (verdict, number)
        verdict, number = found
        if decision.allowed:
            applied.allowed.append(row.pk)
        elif verdict is not None and verdict.ended:
            applied.events.append(
                refusal_event(task_id=row.pk, program_id=row.program_id, decision=decision)
            )
        else:
            applied.postponed += 1
        if verdict is not None:
            verdicts.append(verdict)
            ids.append(row.pk)
            of.append(number)
    if ids:
        verdicts_write(ids=ids, of=of, verdicts=list(distinct), now=now)
    return applied


# The rows travel as two arrays (task id, index of its verdict) and the distinct verdicts
# as one small JSON document: a batch's tasks share a few (same zones, same instant), and
# arrays of numbers cost far less to send and read than a JSON object per row.
_WRITE_BACK = """
WITH verdict AS (
    SELECT * FROM jsonb_to_recordset(%(verdicts)s::jsonb) AS v(
           i int, status varchar, next_attempt_at timestamptz, decision jsonb,
           closed_reason varchar)
)
UPDATE dialer_calltask AS t
   SET status = verdict.status,
       next_attempt_at = coalesce(verdict.next_attempt_at, t.next_attempt_at),
       last_decision = verdict.decision,
       closed_reason = verdict.closed_reason,
       updated_at = %(now)s
  FROM unnest(%(ids)s::bigint[], %(of)s::int[]) AS row(id, verdict)
  JOIN verdict ON verdict.i = row.verdict
 WHERE t.id = row.id
"""


def verdicts_write(
    *, ids: Sequence[int], of: Sequence[int], verdicts: Sequence[Verdict], now: datetime
) -> None:
    """Save decided tasks in one UPDATE (rows locked by the caller): task `ids[k]` gets
    `verdicts[of[k]]`.

    Django's bulk_update builds a CASE per field and row, and arrays of JSON
    text are escaped element by element: each costs seconds for 100,000 rows.
    Each distinct verdict (status, time, decision, reason) is sent once, and
    each row names its verdict by index.
    """
    document = json.dumps(
        [
            {
                "i": i,
                "status": str(v.status),
                "next_attempt_at": v.next_attempt_at.isoformat()
                if v.next_attempt_at is not None
                else None,
                "decision": v.decision.to_dict(),
                "closed_reason": v.closed_reason,
            }
            for i, v in enumerate(verdicts)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _WRITE_BACK,
            {"now": now, "verdicts": document, "ids": bigint_array(ids), "of": bigint_array(of)},
        )
