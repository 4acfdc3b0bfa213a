"""Alumni import runs: queued, claimed, advanced and finished (the import itself is
dialer.acts.alumni_import)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Queue
from consent.models import (
    AlumniImport,
    ImportStatus,
)


def alumni_import_queue(*, queue: Queue, content: str, rows_total: int, actor: str) -> AlumniImport:
    """Keep a large, already validated file (encrypted) for a worker to import."""
    with transaction.atomic():
        run = AlumniImport.objects.create(
            queue=queue,
            status=ImportStatus.QUEUED,
            content=content,
            rows_total=rows_total,
            requested_by=actor,
        )
        audit_record(
            actor=actor,
            action="alumni_import.queued",
            object_type="alumni_import",
            object_id=run.pk,
            program_id=queue.program_id,
            data={"queue": queue.slug, "rows": rows_total},
        )
    return run


def alumni_import_claim(*, import_id: int, stale_after: timedelta) -> AlumniImport | None:
    """Claim a queued run (or one whose worker died) for this worker; None if another has it.

    A conditional UPDATE that must change exactly one row: a second delivery of
    the same message finds the run claimed and leaves it alone.
    """
    now = timezone.now()
    claimable = Q(status=ImportStatus.QUEUED) | Q(
        status=ImportStatus.RUNNING, claimed_at__lt=now - stale_after
    )
    changed = AlumniImport.objects.filter(claimable, pk=import_id).update(
        status=ImportStatus.RUNNING, claimed_at=now
    )
    if changed != 1:
        return None
    return AlumniImport.objects.select_related("queue__program").get(pk=import_id)


def alumni_import_progress(*, run: AlumniImport, rows_done: int, report: dict[str, Any]) -> None:
    """Save progress inside the chunk's transaction (a resumed run starts after it)."""
    run.rows_done = rows_done
    run.report = report
    run.claimed_at = timezone.now()
    run.save(update_fields=["rows_done", "report", "claimed_at"])


def alumni_import_finish(
    *, run: AlumniImport, status: str, report: dict[str, Any], actor: str
) -> AlumniImport:
    """Close a run; the file itself is dropped (the report keeps no name or number)."""
    with transaction.atomic():
        run.status = ImportStatus(status)
        run.report = report
        run.content = None
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "report", "content", "finished_at"])
        audit_record(
            actor=actor,
            action=f"alumni_import.{status}",
            object_type="alumni_import",
            object_id=run.pk,
            program_id=run.queue.program_id,
            data={"summary": report.get("summary", {})},
        )
    return run


def alumni_import_store_inline(
    *, queue: Queue, status: str, report: dict[str, Any], rows_total: int, actor: str
) -> AlumniImport:
    """Keep the report of a small file imported in the request (the file is not kept)."""
    now = timezone.now()
    with transaction.atomic():
        run = AlumniImport.objects.create(
            queue=queue,
            status=ImportStatus(status),
            rows_total=rows_total,
            rows_done=rows_total if status == ImportStatus.DONE else 0,
            report=report,
            requested_by=actor,
            claimed_at=now,
            finished_at=now,
        )
        audit_record(
            actor=actor,
            action=f"alumni_import.{status}",
            object_type="alumni_import",
            object_id=run.pk,
            program_id=queue.program_id,
            data={"summary": report.get("summary", {})},
        )
    return run
