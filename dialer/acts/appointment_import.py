"""Appointments from an EMR export into a reminder queue, with a report for every row.

The file (UTF-8 CSV, comma-separated, a header row) has the columns

    external_id, contact, starts_at        required
    phone                                  optional

`external_id` is the EMR's appointment id, `contact` the contact's
`external_id` (the CRM or EMR id of the person), `starts_at` ISO 8601 with an
offset, `phone` one of the contact's numbers (default: the first the patient
provided).

1. The whole file is checked first (columns, values, that every contact
   exists in the queue's program); any problem refuses the whole file and
   names each row and field: nothing is written.
2. Each row then goes through `appointment_record`, as from the API: a repeat
   id moves its appointment and reminder; a past appointment, a passed
   reminder time or a refused reminder is reported with why.
Small files run in the request, in one transaction. Larger ones are kept
(encrypted) and run by a Celery task on the `bulk` queue, in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import audit_record
from campaigns.models import Contact, Purpose, Queue
from common.phones import InvalidPhoneNumber, to_e164
from dialer.acts.appointments import AppointmentError, appointment_record
from dialer.models import AppointmentImport

REQUIRED_COLUMNS = ("external_id", "contact", "starts_at")
COLUMNS = (*REQUIRED_COLUMNS, "phone")
MAX_ROWS = 20_000
MAX_ERRORS = 200
INLINE_MAX_ROWS = 200  # larger files go to a worker

APPOINTMENT_IMPORT_TASK = "dialer.bulk_appointment_import"


@dataclass(frozen=True)
class AppointmentRow:
    row: int  # line in the file; the header is line 1
    external_id: str
    contact: str  # the contact's external_id
    starts_at: datetime
    phone: str | None  # E.164


@dataclass(frozen=True)
class RowError:
    row: int  # 0: the file as a whole
    field: str
    message: str  # never the value itself


@dataclass(frozen=True)
class RowOutcome:
    row: int
    external_id: str
    status: str  # queued | not_queued
    detail: str
    task_id: int | None = None


def _text(data: bytes | str) -> str | None:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def appointments_parse(
    *, queue: Queue, data: bytes | str
) -> tuple[list[AppointmentRow], list[RowError]]:
    """Read and check a whole file; writes nothing."""
    errors: list[RowError] = []

    def add(row: int, name: str, message: str) -> None:
        if len(errors) < MAX_ERRORS:
            errors.append(RowError(row, name, message))

    text = _text(data)
    if text is None:
        return [], [RowError(0, "file", "not UTF-8 text; save the file as CSV UTF-8")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error:
        return [], [RowError(1, "file", "not a readable CSV header")]
    for name in header:
        if name not in COLUMNS:
            add(1, name or "column", f"unknown column; use: {', '.join(COLUMNS)}")
    for name in REQUIRED_COLUMNS:
        if name not in header:
            add(1, name, "required column missing")
    if errors:
        return [], errors
    rows: list[AppointmentRow] = []
    seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                add(line, "file", f"more than {MAX_ROWS} rows; split the file")
                break
            if len(values) != len(header):
                add(line, "file", f"{len(values)} values for {len(header)} columns")
                continue
            raw = {k: v.strip() for k, v in zip(header, values, strict=True)}
            row = _parse_row(line, raw, add)
            if row is None:
                continue
            if row.external_id in seen:
                add(line, "external_id", f"appears again (first on row {seen[row.external_id]})")
                continue
            seen[row.external_id] = line
            rows.append(row)
    except csv.Error:
        add(reader.line_num, "file", "not readable as CSV (a stray quote?)")
    if not rows and not errors:
        add(2, "file", "the file has a header but no rows")
    known = set(
        Contact.objects.filter(
            program_id=queue.program_id, external_id__in={r.contact for r in rows}
        ).values_list("external_id", flat=True)
    )
    for row in rows:
        if row.contact not in known:
            add(row.row, "contact", "no contact with this id in the program")
    return (rows if not errors else []), errors


def _parse_row(line: int, raw: dict[str, str], add: Any) -> AppointmentRow | None:
    ok = True
    external_id, contact = raw.get("external_id", ""), raw.get("contact", "")
    if not external_id or len(external_id) > 100 or "/" in external_id:
        add(line, "external_id", "required, at most 100 characters, no '/'")
        ok = False
    if not contact or len(contact) > 100:
        add(line, "contact", "required: the contact's external_id")
        ok = False
    try:
        starts_at = parse_datetime(raw.get("starts_at", ""))
    except ValueError:
        starts_at = None
    if starts_at is None or timezone.is_naive(starts_at):
        add(line, "starts_at", "ISO 8601 with an offset, e.g. 2026-12-01T14:30:00-05:00")
        ok = False
    phone: str | None = None
    if raw.get("phone"):
        try:
            phone = to_e164(raw["phone"])
        except InvalidPhoneNumber:
            add(line, "phone", "not a valid US number")
            ok = False
    if not ok or starts_at is None:
        return None
    return AppointmentRow(line, external_id, contact, starts_at, phone)


def appointments_import_rows(
    *, queue: Queue, rows: list[AppointmentRow], actor: str
) -> list[RowOutcome]:
    """Each row through appointment_record, in the caller's transaction."""
    contacts = {
        c.external_id: c
        for c in Contact.objects.filter(
            program_id=queue.program_id, external_id__in={r.contact for r in rows}
        )
    }
    outcomes: list[RowOutcome] = []
    for row in rows:
        try:
            with transaction.atomic():
                result = appointment_record(
                    program=queue.program,
                    actor=actor,
                    origin="import",
                    external_id=row.external_id,
                    contact=contacts[row.contact],
                    starts_at=row.starts_at,
                    queue=queue,
                    phone=row.phone,
                )
        except AppointmentError as exc:
            outcomes.append(
                RowOutcome(row.row, row.external_id, "not_queued", f"{exc.field}: {exc}")
            )
            continue
        if result.task is None:
            outcomes.append(RowOutcome(row.row, row.external_id, "not_queued", result.detail))
        else:
            outcomes.append(
                RowOutcome(row.row, row.external_id, "queued", "reminder queued", result.task.pk)
            )
    return outcomes


def report_of(outcomes: list[RowOutcome], errors: list[RowError]) -> dict[str, Any]:
    """JSON for the import record: row numbers, EMR ids and reasons; no name or number."""
    return {
        "summary": {
            "rows": len(outcomes),
            "queued": sum(o.status == "queued" for o in outcomes),
            "not_queued": sum(o.status == "not_queued" for o in outcomes),
            "errors": len(errors),
        },
        "rows": [asdict(o) for o in outcomes],
        "errors": [asdict(e) for e in errors],
    }


def appointments_import_submit(
    *, queue: Queue, data: bytes | str, actor: str
) -> tuple[AppointmentImport | None, list[RowError]]:
    """The admin's upload: check the whole file, then import it now (small) or queue it."""
    if queue.purpose != Purpose.REMINDER:
        raise ValidationError({"queue": "Appointments go into a reminder queue."})
    rows, errors = appointments_parse(queue=queue, data=data)
    if errors:
        return None, errors
    if len(rows) <= INLINE_MAX_ROWS:
        with transaction.atomic():
            outcomes = appointments_import_rows(queue=queue, rows=rows, actor=actor)
            run = AppointmentImport.objects.create(
                queue=queue, done=True, report=report_of(outcomes, []), requested_by=actor
            )
            _audit(run, actor=actor, rows=len(rows))
        return run, []
    with transaction.atomic():
        run = AppointmentImport.objects.create(queue=queue, content=_text(data), requested_by=actor)
        _audit(run, actor=actor, rows=len(rows))
        run_id = run.pk
        transaction.on_commit(lambda: _enqueue(run_id))
    return run, []


def _audit(run: AppointmentImport, *, actor: str, rows: int) -> None:
    audit_record(
        actor=actor,
        action="appointment_import.submitted",
        object_type="appointment_import",
        object_id=run.pk,
        program_id=run.queue.program_id,
        data={"queue": run.queue.slug, "rows": rows, "inline": run.done},
    )


def _enqueue(import_id: int) -> None:
    # By name: the task module (an entry point, above the acts) imports this one.
    current_app.send_task(APPOINTMENT_IMPORT_TASK, args=[import_id])


def appointments_import_run(*, import_id: int) -> bool:
    """A queued file, imported in one transaction; False if it was already done."""
    with transaction.atomic():
        run = (
            AppointmentImport.objects.select_for_update()
            .select_related("queue__program")
            .filter(pk=import_id, done=False)
            .first()
        )
        if run is None:
            return False
        rows, errors = appointments_parse(queue=run.queue, data=run.content or "")
        outcomes = (
            appointments_import_rows(queue=run.queue, rows=rows, actor=run.requested_by)
            if not errors
            else []
        )
        run.report = report_of(outcomes, errors)
        run.done, run.content = True, None
        run.save(update_fields=["report", "done", "content"])
    return True
