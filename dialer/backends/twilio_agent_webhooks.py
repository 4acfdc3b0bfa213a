"""Twilio webhooks of agent-first calls: the staff leg, the conference, the machine detection.

Each request is signed and checked like every Twilio webhook (`twilio_signed`:
our account, this attempt's calls); callbacks are refused when replayed (409).
The contact leg's status callbacks, the 2-second message and the opt-out key
are the ordinary ones (dialer/backends/twilio_webhooks.py). What each step does is in
dialer/backends/twilio_agent.py. Whether the staff member is in the
conference is kept in the cache from the conference's join and leave events;
unknown counts as absent, so a contact is never left in silence.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from campaigns.models import Purpose
from dialer.acts.agent_first import staff_leg_answered, staff_leg_unanswered
from dialer.backends import BackendError
from dialer.backends.events import CallEvent, attempt_event_apply
from dialer.backends.twilio import TwilioBackend, call_sids, public_url
from dialer.backends.twilio_agent import (
    CONFERENCE_EVENTS,
    call_redirect,
    conference_name,
    contact_leg_add,
)
from dialer.backends.twilio_webhooks import REPLAY_TTL, _delivery_key, _twiml, twilio_signed
from dialer.models import CallAttempt

log = logging.getLogger(__name__)

ACTOR = "system:twilio"
VOICEMAIL_PURPOSES = (Purpose.CALLBACK, Purpose.REMINDER)
_UNANSWERED = {"no-answer", "busy", "failed", "canceled"}


def _state_key(staff_sid: str, who: str) -> str:
    """Where the conference's state is kept: per staff leg (a call SID is never reused)."""
    return f"twilio:af:{staff_sid}:{who}"


def _first_delivery(*parts: str) -> bool:
    """False when this exact callback was applied before (a replay)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return bool(cache.add(f"twilio:cb:{digest}", 1, timeout=REPLAY_TTL))


def _legs(attempt_id: int) -> tuple[str, str]:
    """(staff leg SID, contact leg SID or "") of an attempt."""
    ref = CallAttempt.objects.values_list("backend_ref", flat=True).get(pk=attempt_id)
    sids = call_sids(ref)
    return (sids[0] if sids else "", sids[1] if len(sids) > 1 else "")


def _say_and_hang_up(text: str) -> Any:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return response


@twilio_signed
def twilio_staff_answer(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The staff member picked up: the last check, then the contact is dialled into the
    conference the staff member enters now; refused: say why and hang up."""
    from twilio.twiml.voice_response import VoiceResponse

    staff_sid = request.POST.get("CallSid", "")
    # The answer may outrun dispatch saving the staff leg's SID (signed, so ours).
    CallAttempt.objects.filter(pk=attempt_id, backend_ref="").update(
        backend_ref=f"twilio:{staff_sid}"
    )
    if _legs(attempt_id)[1]:
        # The contact was dialled already: a replayed answer never dials them twice.
        log.warning("twilio staff answer refused: replayed (attempt %s)", attempt_id)
        return HttpResponse(status=409)
    answer = staff_leg_answered(attempt_id=attempt_id, now=timezone.now())
    if answer.leg is None:
        reasons = answer.refused.replace("_", " ").replace(",", ", ")
        return _twiml(_say_and_hang_up(f"This call was stopped before dialling: {reasons}."))
    try:
        contact_sid = contact_leg_add(TwilioBackend().client, answer.leg)
    except BackendError:
        attempt_event_apply(attempt_id=attempt_id, event=CallEvent.FAILED, actor=ACTOR)
        return _twiml(_say_and_hang_up("The call could not be placed. Next call."))
    CallAttempt.objects.filter(pk=attempt_id).update(
        backend_ref=f"twilio:{staff_sid}/{contact_sid}"
    )
    response = VoiceResponse()
    dial = response.dial()
    # The staff member waits in the conference, hearing the whisper; the contact's
    # entry starts it, so a live answer is bridged at once.
    dial.conference(
        conference_name(attempt_id),
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        beep=False,
        wait_url=public_url("twilio-whisper", attempt_id),
        wait_method="POST",
        status_callback=public_url("twilio-conference", attempt_id),
        status_callback_event=CONFERENCE_EVENTS,
        status_callback_method="POST",
    )
    return _twiml(response)


@twilio_signed
def twilio_whisper(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """What the staff member hears while the contact rings: the queue and the purpose
    (never the contact's name)."""
    from twilio.twiml.voice_response import VoiceResponse

    queue = CallAttempt.objects.select_related("task__queue").get(pk=attempt_id).task.queue
    response = VoiceResponse()
    response.say(f"{queue.name}. {Purpose(queue.purpose).label}.")
    response.pause(length=60)
    return _twiml(response)


@twilio_signed
def twilio_staff_status(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The staff leg's status callback: not answered, the call goes back to the queue and
    the staff member is set away; ended, the staff member has left."""
    status = request.POST.get("CallStatus", "")
    if not _first_delivery(_delivery_key(request.POST), "staff"):
        return HttpResponse(status=409)
    if status in _UNANSWERED:
        staff_leg_unanswered(attempt_id=attempt_id, now=timezone.now())
    elif status == "completed":
        _staff_gone(attempt_id)
    return HttpResponse(status=204)


@twilio_signed
def twilio_conference(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Conference events: the staff member joining or leaving, the contact joining.

    A contact who joins while no staff member is in the conference gets the
    required message within the 2 seconds (`abandonment_message`), and the
    attempt counts as abandoned.
    """
    form = request.POST
    event, sid = form.get("StatusCallbackEvent", ""), form.get("CallSid", "")
    if not _first_delivery(
        form.get("ConferenceSid", ""), event, sid, form.get("SequenceNumber", "")
    ):
        return HttpResponse(status=409)
    staff_sid, contact_sid = _legs(attempt_id)
    if sid == staff_sid and event == "participant-join":
        cache.set(_state_key(staff_sid, "staff"), "in", timeout=REPLAY_TTL)
    elif sid == staff_sid and event == "participant-leave":
        _staff_gone(attempt_id)
    elif sid == contact_sid and event == "participant-join":
        cache.set(_state_key(staff_sid, "contact"), "in", timeout=REPLAY_TTL)
        if cache.get(_state_key(staff_sid, "staff")) != "in":
            log.warning("attempt %s: contact answered with no staff member joined", attempt_id)
            call_redirect(
                TwilioBackend().client,
                contact_sid,
                url=public_url("twilio-wait", attempt_id) + "?late=1",
            )
    return HttpResponse(status=204)


def _staff_gone(attempt_id: int) -> None:
    """The staff leg ended: a contact still ringing is not let through to nobody."""
    staff_sid, contact_sid = _legs(attempt_id)
    cache.set(_state_key(staff_sid, "staff"), "out", timeout=REPLAY_TTL)
    if contact_sid and cache.get(_state_key(staff_sid, "contact")) != "in":
        call_redirect(TwilioBackend().client, contact_sid)


@twilio_signed
def twilio_amd(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Answering-machine detection of the contact leg: a machine ends the call as
    `voicemail`, after the queue's own recorded message where its purpose allows one."""
    from twilio.twiml.voice_response import VoiceResponse

    form = request.POST
    answered_by = form.get("AnsweredBy", "")
    if not _first_delivery("amd", form.get("CallSid", ""), answered_by):
        return HttpResponse(status=409)
    if not answered_by.startswith(("machine", "fax")):
        return HttpResponse(status=204)  # a person (or unknown): the staff member takes it
    staff_sid, contact_sid = _legs(attempt_id)
    queue = CallAttempt.objects.select_related("task__queue").get(pk=attempt_id).task.queue
    client = TwilioBackend().client
    if queue.voicemail_message_url and queue.purpose in VOICEMAIL_PURPOSES:
        message = VoiceResponse()
        message.play(queue.voicemail_message_url)
        message.hangup()
        call_redirect(client, contact_sid, twiml=str(message))
    else:
        call_redirect(client, contact_sid)
    call_redirect(client, staff_sid, twiml=str(_say_and_hang_up("Voicemail. Next call.")))
    attempt_event_apply(attempt_id=attempt_id, event=CallEvent.COMPLETED, actor=ACTOR, machine=True)
    return HttpResponse(status=204)


urlpatterns = [
    path("twilio/staff/answer/<int:attempt_id>/", twilio_staff_answer, name="twilio-staff-answer"),
    path("twilio/staff/status/<int:attempt_id>/", twilio_staff_status, name="twilio-staff-status"),
    path("twilio/staff/whisper/<int:attempt_id>/", twilio_whisper, name="twilio-whisper"),
    path("twilio/conference/<int:attempt_id>/", twilio_conference, name="twilio-conference"),
    path("twilio/amd/<int:attempt_id>/", twilio_amd, name="twilio-amd"),
]
