"""The sealer as a Celery task: beat runs one short pass every AUDIT_SEAL_INTERVAL_SECONDS
(dialer.runtime.schedules), on the dispatch queue, so that long bulk work never delays it."""

from __future__ import annotations

from celery import shared_task

from audit.services import audit_seal_pass


@shared_task(name="audit.seal")
def seal() -> int:
    return audit_seal_pass()
