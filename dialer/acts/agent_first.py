"""Agent-first dialling: the staff leg rings first; the contact is dialled only once it answers.

`twilio` and `sip` programs dial progressively: a call is assigned to one
available staff member (`CallAttempt.placed_by`) before it is placed, and
the backend rings that staff member's answer point first. What each backend
reports (Twilio's webhooks, the SIP agent's events) comes here, so both
backends mean the same thing by it:

1. `staff_leg_answered`: the last check, under the task's lock, at the moment
   the staff member picks up (`recheck_locked`). Allowed: the answer says whom
   to dial and how long to ring; refused: the attempt is
   withdrawn (nobody was called, it counts toward nothing) and the backend
   tells the staff member why and hangs up.
2. `staff_leg_unanswered`: the staff member did not pick up: the attempt is
   withdrawn, its task is due again, and the staff member is set away (their
   phone is not answering, so the next call must not ring it).
Outcomes of the contact leg (connected, no answer, busy, voicemail, abandoned
when no staff member was joined within 2 seconds) go through
`dialer.backends.events.attempt_event_apply` as for any call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from campaigns.models import Purpose, Queue
from dialer.acts.outcomes import attempt_give_back
from dialer.acts.recheck import recheck_locked
from dialer.models import CallAttempt, CallTask, PresenceState, StaffPresence

ACTOR = "system:agent_first"


@dataclass(frozen=True)
class ContactLeg:
    """Whom to dial once the staff leg answered; no number or name is ever logged from it."""

    attempt_id: int
    number: str  # E.164
    queue: Queue  # with its program: the backend shows the program's caller ID
    ring_seconds: int
    purpose: str
    queue_name: str


@dataclass(frozen=True)
class StaffAnswer:
    leg: ContactLeg | None  # None: do not dial the contact
    refused: str = ""  # the reason codes when the last check refused the call


def staff_leg_answered(*, attempt_id: int, now: datetime) -> StaffAnswer:
    """The staff member picked up: decide the call again now, and say whom to dial."""
    with transaction.atomic():
        task_id = CallAttempt.objects.values_list("task_id", flat=True).get(pk=attempt_id)
        task = (
            CallTask.objects.select_for_update(of=("self",))
            .select_related("contact", "phone", "queue__program")
            .get(pk=task_id)
        )
        attempt = CallAttempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.outcome:
            return StaffAnswer(None, attempt.outcome)
        attempt.task = task
        reason = recheck_locked(task, attempt, now=now, actor=ACTOR)
        if reason:
            return StaffAnswer(None, reason)
        attempt.save(update_fields=["decision"])
        queue = task.queue
        return StaffAnswer(
            ContactLeg(
                attempt_id=attempt.pk,
                number=task.phone.number,
                queue=queue,
                ring_seconds=max(15, settings.TELEPHONY_RING_SECONDS),
                purpose=str(Purpose(queue.purpose).label),
                queue_name=queue.name,
            )
        )


def staff_leg_unanswered(*, attempt_id: int, now: datetime) -> None:
    """The staff member did not pick up: nobody was called; the task is due again and the
    staff member is set away."""
    with transaction.atomic():
        task_id = CallAttempt.objects.values_list("task_id", flat=True).get(pk=attempt_id)
        task = (
            CallTask.objects.select_for_update(of=("self",)).select_related("queue").get(pk=task_id)
        )
        attempt = CallAttempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.outcome:
            return
        attempt.task = task
        attempt_give_back(
            attempt=attempt, task=task, now=now, reason="staff_unanswered", actor=ACTOR
        )
        if attempt.placed_by_id is not None:
            StaffPresence.objects.filter(user_id=attempt.placed_by_id).update(
                state=PresenceState.AWAY, since=now
            )
