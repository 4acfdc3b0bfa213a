"""What happens to a task that the decision blocks: wait for its time, or end with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dialer.decision.engine import Decision
from dialer.decision.outcome import TIME_CODES
from dialer.models import CallTask, TaskStatus

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


def apply_refusal(task: CallTask, decision: Decision, *, now: datetime) -> dict[str, Any] | None:
    """Set the refusal on a task instance (the caller saves it); the audit event if it ended."""
    refusal = refusal_of(decision, now=now)
    task.last_decision = decision.to_dict()
    task.status = refusal.status
    if refusal.next_attempt_at is not None:
        task.next_attempt_at = refusal.next_attempt_at
    if not refusal.ended:
        return None
    task.closed_reason = refusal.closed_reason
    return refusal_event(task_id=task.pk, program_id=task.queue.program_id, decision=decision)
