"""What happens to a task that the decision blocks: wait for its time, or end with its reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dialer.decision.engine import Decision
from dialer.models import CallTask, TaskStatus

# Blocks that an operator can lift (load a registry, resume a queue): look again later.
TRANSIENT_CODES = frozenset({"registry_stale", "queue_inactive", "abandon_rate_exceeded"})
RECHECK_AFTER = timedelta(minutes=15)


def apply_refusal(task: CallTask, decision: Decision, *, now: datetime) -> dict[str, Any] | None:
    """Move `task` to its next allowed time, or end it. Returns an audit event if it ended.

    The caller saves the task (alone, or in a bulk_update).
    """
    codes = {reason.code for reason in decision.reasons}
    task.last_decision = decision.to_dict()
    if decision.next_allowed_at is not None:
        task.status = TaskStatus.PENDING
        task.next_attempt_at = decision.next_allowed_at
        return None
    if codes <= TRANSIENT_CODES:
        task.status = TaskStatus.PENDING
        task.next_attempt_at = now + RECHECK_AFTER
        return None
    task.status = (
        TaskStatus.EXHAUSTED if codes == {"max_attempts_reached"} else TaskStatus.CANCELLED
    )
    final = sorted(codes - TRANSIENT_CODES)
    task.closed_reason = final[0]
    return {
        "actor": "system:decision",
        "action": "task.refused",
        "object_type": "call_task",
        "object_id": task.pk,
        "program_id": task.contact.program_id,  # the same program as the queue, already loaded
        "reason": ",".join(final),
        "data": {"decision": task.last_decision},
    }
