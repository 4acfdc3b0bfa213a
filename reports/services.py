"""Writes of the reports app: each export that leaves the dashboard is recorded in the trail."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from django.db import transaction

from audit.services import audit_record


def marketing_export_record(
    *,
    actor: str,
    kind: str,
    program_ids: Collection[int] | None,
    since: date,
    until: date,
    rows: int,
) -> None:
    """Record who took which de-identified export (dashboard CSV, conversion feed), for what."""
    programs = sorted(program_ids) if program_ids is not None else "all"
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=f"reports.{kind}_exported",
            object_type="marketing_view",
            program_id=next(iter(program_ids)) if program_ids and len(program_ids) == 1 else None,
            data={
                "programs": programs,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "rows": rows,
            },
        )
