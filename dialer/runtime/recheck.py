"""The last check before a call: the task decided again at this instant, with fresh facts.

Used wherever a call that was decided earlier is about to be made: each call of
a placed chunk (dispatch), and a preview call taken, looked at or dialled by
staff (preview). The attempt being made exists already, so it is taken out of
what it is checked against: it counts toward no cap or spacing of its own.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from dialer.decision.engine import Decision, decide
from dialer.models import CallAttempt, CallTask
from dialer.selectors import previous_attempt_start, task_facts_many


def decide_unplaced(task: CallTask, attempt: CallAttempt, *, now: datetime) -> Decision:
    """The task's decision at `now` as if `attempt` had not been made (the caller holds
    the task's lock, so a DNC request or revocation committed a moment earlier wins)."""
    facts = task_facts_many([task], at=now)[0]
    facts = dataclasses.replace(
        facts,
        attempts_made=max(task.attempts - 1, 0),
        last_attempt_at=previous_attempt_start(attempt),
        recent_attempts=tuple(a for a in facts.recent_attempts if a.id != attempt.pk),
    )
    return decide(facts, now)
