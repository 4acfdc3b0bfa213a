"""The last check before a call: the task decided again at this instant, with fresh facts.

Used wherever a call that was decided earlier is about to be made: each call of
a placed chunk (dispatch), and a preview call taken, looked at or dialled by
staff (preview). The attempt being made exists already, so it is taken out of
what it is checked against: it counts toward no cap or spacing of its own.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from audit.services import audit_record_many
from dialer.decision.engine import Decision, decide
from dialer.models import CallAttempt, CallTask, TaskStatus
from dialer.rows import TaskRow
from dialer.selectors import previous_attempt_start, task_facts_many


def decide_unplaced(task: CallTask, attempt: CallAttempt, *, now: datetime) -> Decision:
    """The task's decision at `now` as if `attempt` had not been made (the caller holds
    the task's lock, so a DNC request or revocation committed a moment earlier wins)."""
    facts = task_facts_many([TaskRow.of(task)], at=now)[0]
    facts = dataclasses.replace(
        facts,
        attempts_made=max(task.attempts - 1, 0),
        last_attempt_at=previous_attempt_start(attempt),
        recent_attempts=tuple(a for a in facts.recent_attempts if a.id != attempt.pk),
    )
    return decide(facts, now)


def recheck_locked(task: CallTask, attempt: CallAttempt, *, now: datetime, actor: str) -> str:
    """The last check of a call about to be made; "" when it may go ahead, else the reason.

    The caller holds the locks of the task and the attempt (`attempt.task` is `task`).
    1. A task no longer in progress (a DNC request, a revocation, closed since):
       the attempt is withdrawn and the task stays as it is.
    2. Otherwise the task is decided again as if the attempt had not been made
       (`decide_unplaced`); the decision goes on the attempt.
    3. Refused: the attempt is withdrawn (it counts toward nothing) and the task
       waits for its next allowed time or ends with its reason (audited).
    """
    from dialer.acts.outcomes import attempt_withdraw
    from dialer.refusals import apply_refusal

    if task.status != TaskStatus.IN_PROGRESS:
        reason = task.closed_reason or task.status
        attempt_withdraw(attempt=attempt, task=task, now=now, reason=reason, actor=actor)
        task.save(update_fields=["attempts", "last_attempt_at", "updated_at"])
        return reason
    decision = decide_unplaced(task, attempt, now=now)
    attempt.decision = decision.to_dict()
    if decision.allowed:
        return ""
    reason = ",".join(r.code for r in decision.reasons)
    attempt_withdraw(attempt=attempt, task=task, now=now, reason=reason, actor=actor)
    ended = apply_refusal(task, decision, now=now)
    task.save()
    audit_record_many([ended] if ended else [])
    return reason
