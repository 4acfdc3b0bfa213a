"""The reconciler: attempts left without an outcome past their lease are asked of their backend.

A worker killed between the dispatch commit and `place()`, or a provider that
never reports an end, would leave a task `in_progress` forever, and the
one-open-task rule would then answer every new callback for that number with
the stranded task. Every minute (a system schedule, dialer/runtime/schedules.py) each
attempt without an outcome older than RECONCILE_LEASE_SECONDS (longer than
ring time plus the place timeout, so a call being placed or ringing is never
taken for a stranded one) is settled, never by a second call:

1. No provider reference: it was never handed to the provider by us.
   Placement (dialer/runtime/dispatch.py `_place_checked`) holds the task's lock from
   its last check until the reference is saved, and `attempt_hand_back` takes
   that lock first: a placement in flight finishes before we look, and an
   attempt still without a reference after it was never dialled (the worker
   died before `place()`, or inside it before the provider made a call: Twilio
   reports a call it made to our status callback, which saves its SID). It is
   withdrawn (it counts toward nothing) and its task is pending and due again,
   for the planner to decide afresh.
2. A reference: ask the backend (`Backend.status`). An end state closes the
   attempt as the provider's event would have (`attempt_event_apply`, applied
   once); a call still in progress is left alone (its reference saved if the
   provider only named it now); a provider that cannot say closes nothing (asked
   again at the next tick); a reference the provider does not know is closed as
   `failed`: a call we were told about that left no trace is retried after the
   queue's spacing, never at once.
Preview attempts are skipped: a taken preview call is settled by the preview
take timeout, an offered one waits in "My calls".
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from dialer.acts.outcomes import attempt_hand_back
from dialer.backends import Backend, BackendError, backend_named
from dialer.backends.events import PROGRESS, CallEvent, attempt_event_apply
from dialer.models import CallAttempt

log = logging.getLogger(__name__)

ACTOR = "system:reconciler"
# At most this many attempts per tick: the next tick takes the rest.
BATCH = 500


def attempts_stranded(*, now: datetime, limit: int = BATCH) -> list[int]:
    """Attempts without an outcome started before the lease, oldest first (preview excluded)."""
    lease = timedelta(seconds=settings.RECONCILE_LEASE_SECONDS)
    return list(
        CallAttempt.objects.filter(outcome="", started_at__lt=now - lease)
        .exclude(backend="preview")
        .order_by("started_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def attempt_reconcile(*, attempt_id: int, backend: Backend | None = None) -> str:
    """Settle one stranded attempt (see the module); returns what was done:
    withdrawn | closed | in_progress | unknown."""
    attempt = CallAttempt.objects.get(pk=attempt_id)
    if attempt.outcome:
        return "closed"
    if not attempt.backend_ref:
        if attempt_hand_back(attempt_id=attempt.pk, reason="never_placed", actor=ACTOR):
            return "withdrawn"
        attempt.refresh_from_db()  # a placement finished meanwhile: ask about it
        if attempt.outcome:
            return "closed"
    backend = backend or backend_named(attempt.backend)
    try:
        status = backend.status(attempt)
    except BackendError as exc:
        log.warning("reconciler: attempt %s not settled (%s)", attempt.pk, type(exc).__name__)
        return "unknown"
    # A reference the provider does not know: counted as failed (retried after the spacing).
    status_event = CallEvent.FAILED if status.event is None else status.event
    if status_event in PROGRESS:
        if status.reference and status.reference != attempt.backend_ref:
            CallAttempt.objects.filter(pk=attempt.pk, outcome="").update(
                backend_ref=status.reference
            )
        return "in_progress"
    recorded = attempt_event_apply(
        attempt_id=attempt.pk,
        event=status_event,
        actor=ACTOR,
        duration_seconds=status.duration_seconds,
        machine=status.machine,
    )
    return "closed" if recorded else "unknown"


def reconcile_stranded(*, now: datetime | None = None) -> dict[str, int]:
    """One tick: settle every stranded attempt; counts per result (logged, no identifiers)."""
    now = now or timezone.now()
    done: Counter[str] = Counter()
    for attempt_id in attempts_stranded(now=now):
        done[attempt_reconcile(attempt_id=attempt_id)] += 1
    if done:
        log.info("reconciler: %s", dict(sorted(done.items())))
    return dict(done)
