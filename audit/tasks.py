"""The sealer as a Celery task: beat starts it every minute (dialer.schedules)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from audit.services import audit_seal_loop

# Beat's schedules are per minute: each run seals for most of it, and a run that
# overlaps the next one only finds the sealer's lock taken for a pass.
SEAL_RUN_SECONDS = 50


@shared_task(name="audit.bulk_seal")
def seal() -> int:
    return audit_seal_loop(seconds=SEAL_RUN_SECONDS, interval=settings.AUDIT_SEAL_INTERVAL_SECONDS)
