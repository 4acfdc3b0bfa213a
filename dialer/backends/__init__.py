"""Telephony backends: `place(attempt) -> reference`; outcomes come back as events.

Every backend:
- places the call with the program's number as caller ID and, for queues whose
  purpose reaches patients or alumni, the program's neutral name (`caller_identity`);
- rings at least `TELEPHONY_RING_SECONDS` (15 s or more, 47 CFR 64.1200(a)(6));
- returns a reference prefixed with its name (`twilio:CA…`, `sip:…`), which is
  how `hangup(reference)` finds the backend again;
- reports what happened through `dialer.backends.events.attempt_event_apply`,
  which maps provider states to our outcomes once (a terminal one never changes);
- answers `status(attempt)` for the reconciler: what the provider knows of the
  attempt's call now, asked when no end was reported within the lease;
- gives up on any provider request after `TELEPHONY_PLACE_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from campaigns.models import Program, Purpose
from dialer.backends.events import CallEvent
from dialer.models import CallAttempt

BACKEND_NAMES = ("preview", "twilio", "sip")


class BackendError(RuntimeError):
    """A call could not be placed or ended; the message never carries a number or name."""


class PlacementUncertain(BackendError):
    """The provider took the dial but never said which call it made: never dial again
    blindly; the reconciler asks the provider later."""


@dataclass(frozen=True)
class CallStatus:
    """What a provider knows of an attempt's call.

    `event` None: the provider has no call for this attempt (it was never placed).
    `reference`: the call's reference when the provider named one we did not have.
    """

    event: CallEvent | None
    reference: str = ""
    duration_seconds: int | None = None
    machine: bool = False


class Backend(Protocol):
    name: str

    def place(self, attempt: CallAttempt) -> str:
        """Start the call (or offer it to staff); idempotent for one attempt."""
        ...

    def hangup(self, reference: str) -> None:
        """End the call named by `reference` (a no-op once it has ended)."""
        ...

    def status(self, attempt: CallAttempt) -> CallStatus:
        """What the provider knows of this attempt's call now (BackendError if it cannot say)."""
        ...


@dataclass(frozen=True)
class CallerIdentity:
    number: str  # E.164
    name: str  # CNAM, 15 characters at most


def caller_identity(program: Program, purpose: str) -> CallerIdentity:
    """The program's number, and a name that says nothing about treatment.

    Only a callback (the person asked us to call) may show the program's legal
    name; reminders reach patients and reactivation reaches alumni, whose phones
    others may see (42 CFR Part 2), so they show the neutral name. A program
    without a caller-ID number cannot place calls (caller ID is never blocked).
    """
    if not program.caller_id_number:
        raise BackendError(f"program {program.pk} has no caller-ID number")
    if purpose == Purpose.CALLBACK:
        name = program.legal_name
    else:
        name = program.neutral_name
        if not name:
            raise BackendError(f"program {program.pk} has no neutral caller-ID name")
    return CallerIdentity(number=program.caller_id_number, name=name[:15])


def backend_named(name: str) -> Backend:
    if name == "preview":
        from dialer.backends.preview import PreviewBackend

        return PreviewBackend()
    if name == "twilio":
        from dialer.backends.twilio import TwilioBackend

        return TwilioBackend()
    if name == "sip":
        from dialer.backends.sip import SipBackend

        return SipBackend()
    raise ValueError(f"telephony backend {name!r} is not available")


def backend_for(name: str | None = None) -> Backend:
    """The named backend; without a name, one that follows each program's choice."""
    if name:
        return backend_named(name)
    return ProgramBackend()


class ProgramBackend:
    """Places each attempt with its program's backend (blank: TELEPHONY_BACKEND).

    Dispatch records `name` (the deployment default) on new attempts; when a
    program chose another backend, `place` corrects the attempt's `backend`
    before the call. Program choices are read once per instance (one dispatch).
    """

    def __init__(self) -> None:
        self.name: str = settings.TELEPHONY_BACKEND
        self._choices: dict[int, str] = {}
        self._backends: dict[str, Backend] = {}

    def _backend(self, name: str) -> Backend:
        if name not in self._backends:
            self._backends[name] = backend_named(name)
        return self._backends[name]

    def backend_of(self, attempt: CallAttempt) -> Backend:
        program_id = attempt.task.queue.program_id
        if program_id not in self._choices:
            chosen = (
                Program.objects.filter(pk=program_id)
                .values_list("telephony_backend", flat=True)
                .first()
            )
            self._choices[program_id] = chosen or self.name
        return self._backend(self._choices[program_id])

    def place(self, attempt: CallAttempt) -> str:
        backend = self.backend_of(attempt)
        if backend.name != attempt.backend:
            CallAttempt.objects.filter(pk=attempt.pk).update(backend=backend.name)
            attempt.backend = backend.name
        return backend.place(attempt)

    def hangup(self, reference: str) -> None:
        self._backend(reference.partition(":")[0]).hangup(reference)

    def status(self, attempt: CallAttempt) -> CallStatus:
        return self._backend(attempt.backend).status(attempt)
