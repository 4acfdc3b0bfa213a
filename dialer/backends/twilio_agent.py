"""Twilio, agent-first: a conference per attempt, the staff leg first, the contact joined to it.

1. `staff_leg_create` (at dispatch): the staff member's answer point is called
   from the program's number; its answer URL and status callback are the
   staff-leg webhooks (dialer/backends/twilio_agent_webhooks.py).
2. When the staff member answers, `staff_leg_answered` makes the last check.
   Allowed: the staff leg enters the conference `attempt-<id>` and waits there
   (its wait URL whispers the queue and purpose, never the contact's name),
   and `contact_leg_add` adds the contact as a participant (Participants API)
   with the program's caller ID, the ring time (15 s or more) and
   answering-machine detection. The contact starts the conference on entering,
   so a live answer is bridged to a staff member already there.
3. A machine (the AMD callback): hang up and log `voicemail`, or play the
   queue's own recorded message where its purpose allows one
   (`Queue.voicemail_message_url`, callback and reminder queues only).
4. A contact who joins with no staff member in the conference (the staff leg
   dropped) hears the required message at once (seller, purpose, a number to
   call, press 9 to opt out) and the attempt counts as abandoned.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from dialer.acts.agent_first import ContactLeg
from dialer.backends import BackendError, CallerIdentity, caller_identity
from dialer.backends.twilio import STATUS_EVENTS, public_url
from dialer.models import CallAttempt, StaffPresence

log = logging.getLogger(__name__)

CONTACT_LABEL = "contact"
# Conference events we act on: who joined, who left (both carry the CallSid).
CONFERENCE_EVENTS = "join leave"


def conference_name(attempt_id: int) -> str:
    return f"attempt-{attempt_id}"


def _request_failed(what: str, attempt_id: int) -> BackendError:
    # Twilio's messages may quote a number: keep only what and which attempt.
    return BackendError(f"twilio: {what} for attempt {attempt_id} failed")


def staff_leg_create(client: Any, row: CallAttempt, identity: CallerIdentity) -> str:
    """Ring the assigned staff member first; returns `twilio:CA<staff leg>`."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioException

    answer_at = (
        StaffPresence.objects.filter(user_id=row.placed_by_id or 0)
        .values_list("answer_at", flat=True)
        .first()
    )
    if not answer_at:
        raise BackendError(f"twilio: the staff member of attempt {row.pk} has no answer point")
    try:
        call = client.calls.create(
            to=answer_at,
            from_=identity.number,
            url=public_url("twilio-staff-answer", row.pk),
            method="POST",
            status_callback=public_url("twilio-staff-status", row.pk),
            status_callback_event=STATUS_EVENTS,
            status_callback_method="POST",
            timeout=max(15, settings.TELEPHONY_RING_SECONDS),
        )
    except (TwilioException, RequestException):
        raise _request_failed("the staff leg", row.pk) from None
    log.info("attempt %s: staff leg placed with twilio", row.pk)
    return f"twilio:{call.sid}"


def contact_leg_add(client: Any, leg: ContactLeg) -> str:
    """Dial the contact into the attempt's conference; returns the contact's call SID."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioException

    # A queue that leaves a recorded message waits for the greeting's end before playing it.
    leaves_message = (
        CallAttempt.objects.filter(pk=leg.attempt_id)
        .exclude(task__queue__voicemail_message_url="")
        .exists()
    )
    caller = caller_identity(leg.queue.program, leg.queue.purpose)
    try:
        participant = client.conferences(conference_name(leg.attempt_id)).participants.create(
            from_=caller.number,
            to=leg.number,
            label=CONTACT_LABEL,
            timeout=leg.ring_seconds,
            machine_detection="DetectMessageEnd" if leaves_message else "Enable",
            amd_status_callback=public_url("twilio-amd", leg.attempt_id),
            amd_status_callback_method="POST",
            status_callback=public_url("twilio-status", leg.attempt_id),
            status_callback_event=STATUS_EVENTS,
            status_callback_method="POST",
            start_conference_on_enter=True,
            end_conference_on_exit=True,
            beep="false",
            early_media=False,
        )
    except (TwilioException, RequestException):
        raise _request_failed("the contact leg", leg.attempt_id) from None
    log.info("attempt %s: contact leg placed with twilio", leg.attempt_id)
    return str(participant.call_sid)


def call_redirect(client: Any, sid: str, *, url: str = "", twiml: str = "") -> None:
    """Give a live call new instructions (a URL to fetch, or TwiML), or end it (neither)."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioException

    try:
        if url:
            client.calls(sid).update(url=url, method="POST")
        elif twiml:
            client.calls(sid).update(twiml=twiml)
        else:
            client.calls(sid).update(status="completed")
    except (TwilioException, RequestException):
        # Already ended (404), or unreachable: the call's own callbacks still close the attempt.
        log.warning("twilio: a call update was refused")
