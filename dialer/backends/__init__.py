"""Telephony backends: `place(attempt) -> reference`; outcomes come back as events."""

from __future__ import annotations

from typing import Protocol

from django.conf import settings

from dialer.models import CallAttempt


class Backend(Protocol):
    name: str

    def place(self, attempt: CallAttempt) -> str:
        """Start the call (or offer it to staff); idempotent for one attempt."""
        ...


def backend_for(name: str | None = None) -> Backend:
    chosen = name or settings.TELEPHONY_BACKEND
    if chosen == "preview":
        from dialer.backends.preview import PreviewBackend

        return PreviewBackend()
    raise ValueError(f"telephony backend {chosen!r} is not available")
