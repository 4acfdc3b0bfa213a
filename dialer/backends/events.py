"""Provider call events -> our outcomes, applied once per attempt.

Providers report progress (initiated, ringing, answered) and one end state;
reports can come twice or out of order. The first end state closes the
attempt through `attempt_outcome_record`; anything after it changes nothing,
so a terminal outcome never regresses and a duplicate never counts twice.
"""

from __future__ import annotations

import enum
import logging

from django.db import transaction

from dialer.acts.outcomes import attempt_outcome_record
from dialer.models import CallAttempt, Outcome

log = logging.getLogger(__name__)


class CallEvent(enum.StrEnum):
    INITIATED = "initiated"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"  # answered, then ended
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"  # ended by us before an answer


PROGRESS = frozenset({CallEvent.INITIATED, CallEvent.RINGING, CallEvent.ANSWERED})

_UNANSWERED = {
    CallEvent.BUSY: Outcome.BUSY,
    CallEvent.NO_ANSWER: Outcome.NO_ANSWER,
    CallEvent.FAILED: Outcome.FAILED,
    CallEvent.CANCELED: Outcome.FAILED,
}


def outcome_of(event: CallEvent, *, machine: bool = False, abandoned: bool = False) -> Outcome:
    """The outcome an end state means: an answered call is connected, voicemail or abandoned."""
    if event in PROGRESS:
        raise ValueError(f"{event} is not an end state")
    if event == CallEvent.COMPLETED:
        if abandoned:
            return Outcome.ABANDONED
        return Outcome.VOICEMAIL if machine else Outcome.CONNECTED
    return _UNANSWERED[event]


def attempt_event_apply(
    *,
    attempt_id: int,
    event: CallEvent,
    actor: str,
    duration_seconds: int | None = None,
    machine: bool = False,
    abandoned: bool = False,
) -> str | None:
    """Apply one provider event to an attempt; returns the outcome it recorded, if any.

    1. Progress events record nothing (the end state says all we keep).
    2. Lock the attempt; if it already has an outcome, stop: that one stands.
    3. Otherwise record the outcome the end state means (one transaction, audited).
    """
    if event in PROGRESS:
        return None
    outcome = outcome_of(event, machine=machine, abandoned=abandoned)
    with transaction.atomic():
        attempt = CallAttempt.objects.select_for_update().only("id", "outcome").get(pk=attempt_id)
        if attempt.outcome:
            log.info("attempt %s already closed; %s event ignored", attempt_id, event.value)
            return None
        attempt_outcome_record(
            attempt_id=attempt_id,
            outcome=outcome,
            actor=actor,
            duration_seconds=duration_seconds,
        )
    return outcome.value
