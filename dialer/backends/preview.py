"""Preview dialling: the attempt is offered in "My calls" and a staff member dials it."""

from __future__ import annotations

from dialer.backends import CallStatus
from dialer.backends.events import CallEvent
from dialer.models import CallAttempt


class PreviewBackend:
    name = "preview"

    def place(self, attempt: CallAttempt) -> str:
        # Offering is the attempt row itself (outcome blank, no staff member yet);
        # the reference only names it, so placing twice changes nothing.
        return f"preview:{attempt.pk}"

    def hangup(self, reference: str) -> None:
        # Staff hang up their own phone; the outcome they log closes the attempt.
        return None

    def status(self, attempt: CallAttempt) -> CallStatus:
        # Offered or in a staff member's hands: the preview take timeout settles it.
        return CallStatus(event=CallEvent.INITIATED)
