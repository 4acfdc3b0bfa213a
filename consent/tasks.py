"""Celery entry points: take an id, call the service, nothing else (routed to `bulk`)."""

from __future__ import annotations

from celery import shared_task

# The import writes contacts and call tasks, so it lives in the dialer, the one
# app that may depend on all others; this module only gives it a worker.
from dialer.alumni_import import alumni_import_run


@shared_task(acks_late=True, name="consent.bulk_alumni_import")
def bulk_alumni_import(import_id: int) -> str:
    """Idempotent: a run already claimed or finished is left alone; a lost run resumes."""
    report = alumni_import_run(import_id=import_id)
    return "skipped" if report is None else "done"
