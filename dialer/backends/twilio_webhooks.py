"""Twilio webhooks: status callbacks, the answer TwiML, the 2-second wait and the opt-out key.

Every request must carry a valid `X-Twilio-Signature` over the public URL
(`TELEPHONY_PUBLIC_URL` + path) and the form, for our account; anything
else is refused with 403 before it is read further. Status callbacks are
also refused when replayed: Twilio numbers each callback of a call
(`SequenceNumber`), and a (CallSid, CallStatus, SequenceNumber) seen once is
refused again (409). URLs carry the attempt id only, never a number.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from campaigns.models import Purpose
from dialer.backends import caller_identity
from dialer.backends.events import attempt_event_apply
from dialer.backends.twilio import TWILIO_STATUS, call_sids, public_url
from dialer.models import CallAttempt

log = logging.getLogger(__name__)

ACTOR = "system:twilio"
REPLAY_TTL = 7 * 24 * 3600  # longer than any call and Twilio's retries
OPT_OUT_DIGIT = "9"

View = Callable[[HttpRequest, int], HttpResponse]


def _signed(request: HttpRequest) -> bool:
    from twilio.request_validator import RequestValidator

    token, origin = settings.TWILIO_AUTH_TOKEN, settings.TELEPHONY_PUBLIC_URL
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not origin or not signature:
        return False  # not configured, or unsigned: refuse
    url = origin + request.get_full_path()
    if not RequestValidator(token).validate(url, request.POST, signature):
        return False
    return bool(request.POST.get("AccountSid") == settings.TWILIO_ACCOUNT_SID)


def twilio_signed(view: View) -> View:
    """Refuse (403) anything not signed by Twilio for our account and this attempt's call."""

    @csrf_exempt
    @require_POST
    def wrapped(request: HttpRequest, attempt_id: int) -> HttpResponse:
        if not _signed(request):
            log.warning("twilio webhook refused: bad or missing signature")
            return HttpResponse(status=403)
        ref = (
            CallAttempt.objects.filter(pk=attempt_id, backend="twilio")
            .values_list("backend_ref", flat=True)
            .first()
        )
        sid = request.POST.get("CallSid", "")
        # An empty reference: the callback outran dispatch saving it (signed, so ours).
        # Agent-first references name two calls, the staff leg's and the contact's.
        if ref is None or (ref and sid not in call_sids(ref)):
            log.warning("twilio webhook refused: attempt %s is not this call", attempt_id)
            return HttpResponse(status=404)
        return view(request, attempt_id)

    wrapped.__name__ = view.__name__
    return wrapped


def _delivery_key(form: Any) -> str:
    digest = hashlib.sha256(
        "\x1f".join(
            (form.get("CallSid", ""), form.get("CallStatus", ""), form.get("SequenceNumber", ""))
        ).encode()
    ).hexdigest()
    return f"twilio:cb:{digest}"


@twilio_signed
def twilio_status(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """A status callback: refuse replays, then apply the event (once per attempt)."""
    event = TWILIO_STATUS.get(request.POST.get("CallStatus", ""))
    if event is None:
        return HttpResponse(status=400)
    key = _delivery_key(request.POST)
    if not cache.add(key, 1, timeout=REPLAY_TTL):
        log.warning("twilio status callback refused: replayed (attempt %s)", attempt_id)
        return HttpResponse(status=409)
    # A call whose SID was never saved (its placing worker died): the reconciler needs it.
    sid = request.POST.get("CallSid", "")
    if sid.startswith("CA"):
        CallAttempt.objects.filter(pk=attempt_id, backend_ref="").update(
            backend_ref=f"twilio:{sid}"
        )
    duration = request.POST.get("CallDuration", "")
    answered_by = request.POST.get("AnsweredBy", "")
    try:
        attempt_event_apply(
            attempt_id=attempt_id,
            event=event,
            actor=ACTOR,
            duration_seconds=int(duration) if duration.isdigit() else None,
            machine=answered_by.startswith(("machine", "fax")),
            abandoned=CallAttempt.objects.filter(pk=attempt_id, abandoned=True).exists(),
        )
    except Exception:
        cache.delete(key)  # not applied: Twilio's retry must not be taken for a replay
        raise
    return HttpResponse(status=204)


def _twiml(body: Any) -> HttpResponse:
    return HttpResponse(str(body), content_type="text/xml")


@twilio_signed
def twilio_answer(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Answered: wait in this attempt's queue for a staff member (who dequeues it)."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.enqueue(
        f"attempt-{attempt_id}",
        wait_url=public_url("twilio-wait", attempt_id),
        wait_url_method="POST",
    )
    return _twiml(response)


@twilio_signed
def twilio_wait(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The caller is still waiting: on the first fetch pause 1 s, then abandon.

    Twilio stops the wait URL the moment a staff member takes the call, so
    reaching the second fetch means nobody did within 2 s of the answer.
    The attempt is marked abandoned (its end state will say so) and the
    message required by 64.1200(a)(7) plays, with a key-press opt-out.
    """
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    if request.GET.get("late") != "1":
        response.pause(length=1)
        response.redirect(public_url("twilio-wait", attempt_id) + "?late=1", method="POST")
        return _twiml(response)
    return _twiml(abandonment_message(attempt_id))


def abandonment_message(attempt_id: int) -> Any:
    """Mark the attempt abandoned and say the message 64.1200(a)(7) requires (TwiML)."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    attempt = CallAttempt.objects.select_related("task__queue__program").get(pk=attempt_id)
    CallAttempt.objects.filter(pk=attempt_id, outcome="").update(abandoned=True)
    queue = attempt.task.queue
    identity = caller_identity(queue.program, queue.purpose)
    purpose = (
        "for telemarketing purposes" if queue.purpose == Purpose.REACTIVATION else "as requested"
    )
    gather = response.gather(
        num_digits=1, action=public_url("twilio-optout", attempt_id), method="POST", timeout=5
    )
    gather.say(
        f"This is {identity.name}, calling {purpose}. To stop these calls, press "
        f"{OPT_OUT_DIGIT} now, or call {' '.join(identity.number.removeprefix('+1'))}."
    )
    response.hangup()
    return response


@twilio_signed
def twilio_optout(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The key press of the abandonment message: 9 puts the number on the internal list."""
    from twilio.twiml.voice_response import VoiceResponse

    from dialer.acts.optout import dnc_request_record

    response = VoiceResponse()
    if request.POST.get("Digits") == OPT_OUT_DIGIT:
        attempt = CallAttempt.objects.select_related("phone", "task__queue").get(pk=attempt_id)
        dnc_request_record(
            number=attempt.phone.number,
            source="keypress",
            note=f"pressed {OPT_OUT_DIGIT} on attempt {attempt_id}",
            actor=ACTOR,
            program_id=attempt.task.queue.program_id,
        )
        response.say("You will not be called again.")
    response.hangup()
    return _twiml(response)


urlpatterns = [
    path("twilio/status/<int:attempt_id>/", twilio_status, name="twilio-status"),
    path("twilio/answer/<int:attempt_id>/", twilio_answer, name="twilio-answer"),
    path("twilio/wait/<int:attempt_id>/", twilio_wait, name="twilio-wait"),
    path("twilio/optout/<int:attempt_id>/", twilio_optout, name="twilio-optout"),
]
