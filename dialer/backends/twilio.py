"""Twilio: calls placed with the official client, outcomes from signed status callbacks.

What Twilio does and what is left to the account:
- From is the program's number; caller-ID *name* (CNAM) is registered on that
  number with Twilio/the carrier, not sent per call, so a program placing
  reactivation calls through Twilio must register its neutral name there.
- Timeout (ring time) is `TELEPHONY_RING_SECONDS`, never under 15.
- Agent-first (an attempt assigned to a staff member, dialer/runtime/pacing.py): the
  staff leg is called first and the contact joins it in a conference
  (`dialer/backends/twilio_agent.py`); the reference then names both calls,
  `twilio:CA<staff>/CA<contact>`.
- Otherwise, on answer the call waits in a Twilio queue named after the attempt for a
  staff member to take it; if nobody has within 2 s, the wait URL plays the
  required message (seller's name, telemarketing purpose, a DNC number, press
  9 to opt out) and the attempt counts as abandoned (`dialer/backends/twilio_webhooks.py`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.urls import reverse

from dialer.backends import BackendError, CallStatus, caller_identity
from dialer.backends.events import PROGRESS, CallEvent
from dialer.models import CallAttempt

log = logging.getLogger(__name__)

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
# Twilio's call statuses (status callbacks and the Call resource) as our events.
TWILIO_STATUS = {
    "queued": CallEvent.INITIATED,
    "initiated": CallEvent.INITIATED,
    "ringing": CallEvent.RINGING,
    "in-progress": CallEvent.ANSWERED,
    "completed": CallEvent.COMPLETED,
    "busy": CallEvent.BUSY,
    "no-answer": CallEvent.NO_ANSWER,
    "failed": CallEvent.FAILED,
    "canceled": CallEvent.CANCELED,
}


def twilio_client() -> Any:
    """A client for the configured account; refuses to run without credentials."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    if not settings.TWILIO_ACCOUNT_SID or not settings.TWILIO_AUTH_TOKEN:
        raise BackendError("twilio: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
    # The client waits forever by default: a slow API would push calls out of their window.
    http = TwilioHttpClient(timeout=settings.TELEPHONY_PLACE_TIMEOUT_SECONDS)
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
    client.api.base_url = settings.TWILIO_API_BASE_URL
    return client


def call_sids(reference: str) -> list[str]:
    """The call SIDs a reference names: the call, or the staff leg then the contact leg."""
    return [sid for sid in reference.removeprefix("twilio:").split("/") if sid]


def public_url(name: str, attempt_id: int) -> str:
    if not settings.TELEPHONY_PUBLIC_URL:
        raise BackendError("twilio: TELEPHONY_PUBLIC_URL is not set (callbacks need it)")
    return settings.TELEPHONY_PUBLIC_URL + reverse(name, args=[attempt_id])


class TwilioBackend:
    name = "twilio"

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = twilio_client()
        return self._client

    def place(self, attempt: CallAttempt) -> str:
        from requests import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        row = CallAttempt.objects.select_related("task__queue__program", "phone").get(pk=attempt.pk)
        if row.backend_ref:
            return row.backend_ref  # placed already: never a second call
        queue = row.task.queue
        identity = caller_identity(queue.program, queue.purpose)
        if row.placed_by_id is not None:
            from dialer.backends.twilio_agent import staff_leg_create

            return staff_leg_create(self.client, row, identity)
        try:
            call = self.client.calls.create(
                to=row.phone.number,
                from_=identity.number,
                url=public_url("twilio-answer", row.pk),
                method="POST",
                status_callback=public_url("twilio-status", row.pk),
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
                timeout=max(15, settings.TELEPHONY_RING_SECONDS),
                machine_detection="Enable",
            )
        except TwilioRestException as exc:
            # Twilio's message may quote the number: keep only its status and code.
            raise BackendError(
                f"twilio refused attempt {row.pk} (HTTP {exc.status}, code {exc.code})"
            ) from None
        except (TwilioException, RequestException):  # refused, unreachable or timed out
            raise BackendError(f"twilio: attempt {row.pk} could not be placed") from None
        log.info("attempt %s placed with twilio", row.pk)
        return f"twilio:{call.sid}"

    def hangup(self, reference: str) -> None:
        from twilio.base.exceptions import TwilioRestException

        for sid in call_sids(reference):
            try:
                # Twilio ends a ringing call with "canceled" and a live one with "completed".
                self.client.calls(sid).update(status="completed")
            except TwilioRestException as exc:
                raise BackendError(f"twilio: hangup refused (HTTP {exc.status})") from None

    def status(self, attempt: CallAttempt) -> CallStatus:
        """The call's state from Twilio (GET Calls/{sid}); no reference: never placed.

        Placement saves the SID in the transaction that holds the task's lock
        around `calls.create`, and a status callback that reaches us for an
        attempt without one records its SID (dialer/backends/twilio_webhooks.py). So an attempt
        still without a reference past its lease was never placed by us: either
        the worker died before `create` (the fault point), or Twilio's request
        failed, or it died inside `create` and Twilio made no call, since a
        call it made would have reported at least `initiated` by then.
        """
        from requests import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        # Agent-first: the contact's call says what happened.
        sids = call_sids(attempt.backend_ref)
        sid = sids[-1] if sids else ""
        if not sid.startswith("CA"):
            return CallStatus(event=None)
        try:
            call = self.client.calls(sid).fetch()
        except TwilioRestException as exc:
            if exc.status == 404:
                return CallStatus(event=None)
            raise BackendError(f"twilio: status of attempt {attempt.pk} refused") from None
        except (TwilioException, RequestException):
            raise BackendError(f"twilio: status of attempt {attempt.pk} unavailable") from None
        event = TWILIO_STATUS.get(str(call.status))
        if event is None:
            raise BackendError(f"twilio: unknown status for attempt {attempt.pk}")
        if attempt.placed_by_id is not None and len(sids) == 1 and event not in PROGRESS:
            return CallStatus(event=None)  # the staff leg ended; the contact was never dialled
        duration = str(call.duration or "")
        return CallStatus(
            event=event,
            duration_seconds=int(duration) if duration.isdigit() else None,
            machine=str(call.answered_by or "").startswith(("machine", "fax")),
        )
