"""Alumni lists into a reactivation queue, with a report for every row.

The file (UTF-8 CSV, comma-separated, a header row) has the columns

    external_id, phone                                   required
    first_name, last_name, line_type, provided_by_patient,
    state, postal_code, patient_status                   optional

`patient_status` defaults to `former` (it is an alumni list), `line_type` to
what the numbering plan says, `provided_by_patient` to false.

1. The whole file is checked first; a bad header or any bad value refuses the
   whole file and names each row and field: nothing is written.
2. Each row then finds its contact by `external_id` in the queue's program, or
   creates it (contact and phone services, audited); a new number is added,
   and a stricter `patient_status` than the contact's is saved on it (a
   status only rises, campaigns.models.patient_status_stricter).
3. The row is queued (a task with origin `import`) only if the consent rules of
   the decision allow reactivation: a current or former patient needs an
   active Part 2 consent naming the program for reactivation
   (`part2_consent_missing`), and the number needs written consent
   (`consent_missing`). Every other row says why it was not queued.
   A number the Reassigned Numbers Database already reports disconnected since
   the date of the written consent the row relies on is not queued either
   (`number_reassigned`); a `yes` for another date is named in the row's detail.
Small files run in the request, in one transaction. Large ones run in a
Celery task (queue `bulk`) that commits in chunks and saves its progress, so
the audit trail's lock is never held for long and a crashed run resumes; the
rows are idempotent (existing contacts are reused, an open task is reported
as `already_queued`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import (
    Contact,
    PhoneNumber,
    Purpose,
    Queue,
    patient_status_stricter,
)
from campaigns.services import PhoneInput, contact_create, contact_update, phone_add
from common.crypto import keyed_hash
from consent.alumni_runs import (
    alumni_import_claim,
    alumni_import_finish,
    alumni_import_progress,
    alumni_import_queue,
    alumni_import_store_inline,
)
from consent.models import AlumniImport, ImportStatus
from consent.selectors import consent_facts_for_pairs, coverage_of
from dialer.acts.alumni_file import AlumniRow, RowError, alumni_parse
from dialer.decision.outcome import NUMBER_REASSIGNED
from dialer.models import TaskOrigin
from dialer.services import DuplicateOpenTask, task_create
from dnc.rnd.facts import RndAnswerFact, consent_date_of
from dnc.rnd.selectors import rnd_answers_many

logger = logging.getLogger(__name__)

INLINE_MAX_ROWS = 200  # larger files go to a worker
CHUNK_ROWS = 250  # rows per transaction in a worker
STALE_RUN = timedelta(minutes=15)  # a run claimed this long ago without progress was lost

QUEUED = "queued"
NOT_QUEUED = "not_queued"
ALREADY_QUEUED = "already_queued"

ALUMNI_IMPORT_TASK = "dialer.bulk_alumni_import"


@dataclass(frozen=True)
class RowOutcome:
    row: int
    external_id: str
    status: str  # queued | not_queued | already_queued
    codes: tuple[str, ...] = ()
    detail: str = ""
    contact_id: int | None = None
    task_id: int | None = None
    contact_created: bool = False


@dataclass
class AlumniImportReport:
    queue_id: int
    rows: list[RowOutcome] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    errors_not_shown: int = 0
    rows_total: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, Any]:
        counts = {QUEUED: 0, NOT_QUEUED: 0, ALREADY_QUEUED: 0}
        reasons: dict[str, int] = {}
        for outcome in self.rows:
            counts[outcome.status] += 1
            for code in outcome.codes:
                reasons[code] = reasons.get(code, 0) + 1
        return {
            "rows": self.rows_total,
            "done": len(self.rows),
            **counts,
            "contacts_created": sum(1 for o in self.rows if o.contact_created),
            "reasons": reasons,
            "errors": len(self.errors) + self.errors_not_shown,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON for the import record: row numbers, CRM ids and codes; no name or number."""
        return {
            "queue": self.queue_id,
            "summary": self.summary(),
            "rows": [asdict(o) for o in self.rows],
            "errors": [asdict(e) for e in self.errors],
            "errors_not_shown": self.errors_not_shown,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, queue_id: int) -> AlumniImportReport:
        rows = [
            RowOutcome(**{**o, "codes": tuple(o.get("codes", ()))}) for o in data.get("rows", [])
        ]
        errors = [RowError(**e) for e in data.get("errors", [])]
        total = int(data.get("summary", {}).get("rows", len(rows)))
        return cls(queue_id, rows, errors, int(data.get("errors_not_shown", 0)), total)


# --- 2 and 3. Writing the rows ---------------------------------------------------------------


def alumni_import_rows(
    *, queue: Queue, rows: Sequence[AlumniRow], actor: str, source: str, at: datetime | None = None
) -> list[RowOutcome]:
    """Contacts, numbers and tasks for checked rows, in the caller's transaction.

    Queries per batch: one for the existing contacts, one for their consents,
    one for the RND answers of the numbers; then the services' own per row.
    """
    at = at or timezone.now()
    program = queue.program
    existing = {
        c.external_id: c
        for c in Contact.objects.filter(
            program=program, external_id__in=[r.external_id for r in rows]
        )
    }
    facts = consent_facts_for_pairs(
        pairs=[(existing[r.external_id].pk, r.phone) for r in rows if r.external_id in existing]
    )
    answers = rnd_answers_many(numbers=[r.phone for r in rows])
    outcomes: list[RowOutcome] = []
    for row in rows:
        phone_input = PhoneInput(row.phone, row.line_type or None, row.provided_by_patient)
        contact = existing.get(row.external_id)
        created = contact is None
        if contact is None:
            contact = contact_create(
                program=program,
                phones=[phone_input],
                actor=actor,
                external_id=row.external_id,
                first_name=row.first_name,
                last_name=row.last_name,
                state=row.state,
                postal_code=row.postal_code,
                patient_status=row.patient_status,
            )
            existing[row.external_id] = contact
            phone = PhoneNumber.objects.get(contact=contact, number_hash=keyed_hash(row.phone))
        else:
            phone = phone_add(contact=contact, phone=phone_input)
        status = patient_status_stricter(contact.patient_status, row.patient_status)
        note = ""
        if status != contact.patient_status:
            # The list's reading is stricter than the record's: the record rises to it.
            contact = contact_update(contact=contact, actor=actor, patient_status=status)
            existing[row.external_id] = contact
            note = f" (the contact's patient status is raised to the list's: {status})"
        consents = facts.get((contact.pk, row.phone), ())
        coverage = coverage_of(
            facts=consents,
            patient_status=status,
            program_id=program.pk,
            purpose=queue.purpose,
            at=at,
            provided_by_patient=phone.provided_by_patient,
        )
        relied = {
            consent_date_of(c.signed_at)
            for c in consents
            if c.id in coverage.relied_on and c.kind != "part2"
        }
        reassigned = _reassigned(answers.get(row.phone, ()), relied)
        if not coverage.covered or reassigned.blocks:
            outcomes.append(
                RowOutcome(
                    row.row,
                    row.external_id,
                    NOT_QUEUED,
                    coverage.codes + reassigned.codes,
                    "; ".join([b.detail for b in coverage.blockers] + reassigned.details) + note,
                    contact.pk,
                    None,
                    created,
                )
            )
            continue
        try:
            task = task_create(
                contact=contact,
                phone=phone,
                queue=queue,
                origin=TaskOrigin.IMPORT,
                actor=actor,
                source=source,
            )
        except DuplicateOpenTask as dup:
            outcomes.append(
                RowOutcome(
                    row.row,
                    row.external_id,
                    ALREADY_QUEUED,
                    (),
                    "this number already has an open task on this queue",
                    contact.pk,
                    dup.existing.pk,
                    created,
                )
            )
            continue
        outcomes.append(
            RowOutcome(
                row.row,
                row.external_id,
                QUEUED,
                (),
                "; ".join([f"queued on {coverage.basis}", *reassigned.details]),
                contact.pk,
                task.pk,
                created,
            )
        )
    return outcomes


@dataclass(frozen=True)
class _Reassigned:
    blocks: bool
    codes: tuple[str, ...]
    details: list[str]


def _reassigned(answers: Sequence[RndAnswerFact], relied: set[date]) -> _Reassigned:
    """What the RND has already said `yes` to for this number.

    It blocks when every consent date the row relies on is answered `yes`
    (the number changed hands since each); other `yes` dates are only named.
    """
    since = sorted(a.consent_date for a in answers if a.result == "yes")
    if not since:
        return _Reassigned(False, (), [])
    blocks = bool(relied) and relied <= set(since)
    dates = ", ".join(str(d) for d in since)
    detail = f"the Reassigned Numbers Database reports this number disconnected since {dates}"
    # A row relying on no consent is refused anyway: the code says the RND's part too.
    codes = (NUMBER_REASSIGNED,) if blocks or not relied else ()
    return _Reassigned(blocks, codes, [detail])


def _check_queue(queue: Queue) -> None:
    if queue.purpose != Purpose.REACTIVATION:
        raise ValidationError({"queue": "Alumni lists go into a reactivation queue."})


def alumni_import(
    *, queue: Queue, data: bytes | str, actor: str, source: str = "alumni list"
) -> AlumniImportReport:
    """Import a whole file now, in one transaction; a bad file changes nothing."""
    _check_queue(queue)
    rows, errors, not_shown = alumni_parse(data=data)
    report = AlumniImportReport(queue.pk, errors=errors, errors_not_shown=not_shown)
    report.rows_total = len(rows)
    if errors:
        return report
    with transaction.atomic():
        report.rows = alumni_import_rows(queue=queue, rows=rows, actor=actor, source=source)
    return report


def alumni_import_submit(
    *, queue: Queue, data: bytes | str, actor: str
) -> tuple[AlumniImport | None, AlumniImportReport]:
    """The admin's upload: check the file, then import it now (small) or queue it (large).

    A refused file is not stored at all (run None, the report names the errors).
    """
    _check_queue(queue)
    rows, errors, not_shown = alumni_parse(data=data)
    report = AlumniImportReport(queue.pk, errors=errors, errors_not_shown=not_shown)
    report.rows_total = len(rows)
    if errors:
        return None, report
    if len(rows) <= INLINE_MAX_ROWS:
        with transaction.atomic():
            report.rows = alumni_import_rows(
                queue=queue, rows=rows, actor=actor, source="alumni list"
            )
            run = alumni_import_store_inline(
                queue=queue,
                status=ImportStatus.DONE,
                report=report.to_dict(),
                rows_total=len(rows),
                actor=actor,
            )
        return run, report
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    with transaction.atomic():
        run = alumni_import_queue(queue=queue, content=text, rows_total=len(rows), actor=actor)
        run_id = run.pk
        transaction.on_commit(lambda: _enqueue(run_id))
    return run, report


def _enqueue(import_id: int) -> None:
    # By name: the task module (an entry point, above the acts) imports this one.
    current_app.send_task(ALUMNI_IMPORT_TASK, args=[import_id])


def alumni_import_run(
    *,
    import_id: int,
    chunk_rows: int | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> AlumniImportReport | None:
    """A worker's run of a queued import: claim, then commit chunk by chunk.

    1. Claim the run (conditional UPDATE); another worker's claim wins.
    2. Re-check the file; a refused file closes the run `rejected`.
    3. From the saved progress on, each chunk of rows is one transaction that
       also saves the progress and the report so far.
    4. Close the run `done` and drop the file. An unexpected error closes it
       `failed` with the error's type only (its text may hold a value).
    """
    run = alumni_import_claim(import_id=import_id, stale_after=STALE_RUN)
    if run is None:
        return None
    queue = run.queue
    actor = run.requested_by  # the work is done on behalf of whoever uploaded the file
    rows, errors, not_shown = alumni_parse(data=run.content or "")
    report = AlumniImportReport.from_dict(run.report or {}, queue_id=queue.pk)
    report.rows_total = len(rows)
    if errors:
        report.errors, report.errors_not_shown = errors, not_shown
        alumni_import_finish(
            run=run, status=ImportStatus.REJECTED, report=report.to_dict(), actor=actor
        )
        return report
    source = f"alumni list #{run.pk}"
    size = chunk_rows or CHUNK_ROWS
    done = run.rows_done
    try:
        while done < len(rows):
            chunk = rows[done : done + size]
            with transaction.atomic():
                report.rows.extend(
                    alumni_import_rows(queue=queue, rows=chunk, actor=actor, source=source)
                )
                done += len(chunk)
                alumni_import_progress(run=run, rows_done=done, report=report.to_dict())
            if after_chunk is not None:
                after_chunk(done)
    except Exception as exc:
        logger.warning(
            "alumni import %s stopped after %s rows: %s", run.pk, done, type(exc).__name__
        )
        report.errors = [
            RowError(0, "import", f"stopped after {done} rows ({type(exc).__name__}); run it again")
        ]
        alumni_import_finish(
            run=run, status=ImportStatus.FAILED, report=report.to_dict(), actor=actor
        )
        return report
    alumni_import_finish(run=run, status=ImportStatus.DONE, report=report.to_dict(), actor=actor)
    return report
