"""What `purge_expired` may remove, and what it must keep. Conservative by design.

Purged (with --apply; a dry run, the default, only counts):

* **API idempotency keys** older than their 24-hour replay window plus a day:
  plumbing, no person in them.
* **Alumni list files** still held by a finished import (done, rejected,
  failed): the file (names and numbers) is needed only until it is imported;
  the per-row report stays.
* **Leads who never became patients**, inactive for `lead_years` (default 7,
  never fewer than 5): the contact, its numbers, its call tasks and attempts,
  when the contact is "not a patient", has no consent and no Part 2
  disclosure on record, no open task, and no task, attempt or the contact
  itself newer than the cutoff. Five years covers the TCPA's four-year
  limitation period (28 U.S.C. 1658) and the five years a do-not-call request
  is honoured (47 CFR 64.1200(d)(6)); seven also covers HIPAA's six-year
  documentation rule.

Never purged here (counted in the report):

* **Internal DNC entries**: honoured at least 5 years (47 CFR 64.1200(d)(6));
  they are never deleted at all (dnc's trigger refuses), so a person who
  asked not to be called is not called again because time passed.
* **Part 2 disclosures**: the accounting of disclosures covers 3 years
  (42 CFR 2.25); the table is append-only (consent's trigger refuses DELETE).
* **Consents** (the proof of what the person allowed; never deleted) and their
  contacts; **current and former patients** (patient-record retention is set
  by state law and the program's records policy, not by this command); the
  **audit trail** (append-only and hash-chained).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Contact, PatientStatus, PhoneNumber
from consent.models import AlumniImport, Consent, Disclosure, ImportStatus
from dialer.acts.idempotency import KEY_TTL as IDEMPOTENCY_TTL
from dialer.models import OPEN_STATUSES, CallAttempt, CallTask, IdempotencyKey
from dnc.models import INTERNAL_RETENTION_YEARS, InternalDncEntry

LEAD_YEARS_DEFAULT = 7
LEAD_YEARS_MINIMUM = 5
DISCLOSURE_ACCOUNTING_YEARS = 3  # 42 CFR 2.25
IDEMPOTENCY_MARGIN = timedelta(days=1)
FINISHED_IMPORTS = (ImportStatus.DONE, ImportStatus.REJECTED, ImportStatus.FAILED)


@dataclass(frozen=True)
class PolicyResult:
    name: str
    rule: str
    eligible: int
    purged: int
    kept: bool = False  # True: reported only, never purged by this command


def years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def expired_purge(
    *,
    actor: str,
    apply: bool = False,
    now: datetime | None = None,
    lead_years: int = LEAD_YEARS_DEFAULT,
    batch_size: int = 500,
) -> list[PolicyResult]:
    """Count (dry run) or purge what no law still requires, policy by policy; see the module doc."""
    if lead_years < LEAD_YEARS_MINIMUM:
        raise ValueError(f"lead_years must be at least {LEAD_YEARS_MINIMUM}")
    now = now or timezone.now()
    return [
        _idempotency_keys(now=now, apply=apply, actor=actor),
        _import_files(apply=apply, actor=actor),
        _leads(now=now, years=lead_years, apply=apply, actor=actor, batch_size=batch_size),
        _kept_dnc(now=now),
        _kept_disclosures(now=now),
    ]


def _idempotency_keys(*, now: datetime, apply: bool, actor: str) -> PolicyResult:
    cutoff = now - IDEMPOTENCY_TTL - IDEMPOTENCY_MARGIN
    expired = IdempotencyKey.objects.filter(created_at__lt=cutoff)
    eligible = expired.count()
    purged = 0
    if apply and eligible:
        with transaction.atomic():
            purged, _ = expired.delete()
            _audit(actor, "idempotency_keys", {"deleted": purged, "cutoff": cutoff.isoformat()})
    return PolicyResult(
        "idempotency keys", "older than the 24-hour replay window plus a day", eligible, purged
    )


def _import_files(*, apply: bool, actor: str) -> PolicyResult:
    held = AlumniImport.objects.filter(status__in=FINISHED_IMPORTS, content__isnull=False)
    eligible = held.count()
    purged = 0
    if apply and eligible:
        with transaction.atomic():
            ids = list(held.select_for_update().values_list("pk", flat=True))
            purged = AlumniImport.objects.filter(pk__in=ids).update(content=None)
            _audit(actor, "alumni_import_files", {"imports": ids})
    return PolicyResult(
        "alumni list files", "held by an import that has finished", eligible, purged
    )


def _stale_leads(cutoff: datetime) -> QuerySet[Contact]:
    recent_task = CallTask.objects.filter(contact=OuterRef("pk")).filter(
        Q(status__in=OPEN_STATUSES)
        | Q(created_at__gte=cutoff)
        | Q(updated_at__gte=cutoff)
        | Q(last_attempt_at__gte=cutoff)
    )
    recent_attempt = CallAttempt.objects.filter(task__contact=OuterRef("pk")).filter(
        Q(started_at__gte=cutoff) | Q(ended_at__gte=cutoff)
    )
    return (
        Contact.objects.filter(patient_status=PatientStatus.NONE, created_at__lt=cutoff)
        .exclude(Exists(Consent.objects.filter(contact=OuterRef("pk"))))
        .exclude(Exists(Disclosure.objects.filter(contact=OuterRef("pk"))))
        .exclude(Exists(recent_task))
        .exclude(Exists(recent_attempt))
    )


def _leads(*, now: datetime, years: int, apply: bool, actor: str, batch_size: int) -> PolicyResult:
    cutoff = years_before(now, years)
    eligible = _stale_leads(cutoff).count()
    purged = 0
    while apply:
        with transaction.atomic():
            # Re-selected and locked in the transaction that deletes them.
            ids = list(
                _stale_leads(cutoff)
                .order_by("pk")
                .select_for_update(of=("self",))
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            attempts, _ = CallAttempt.objects.filter(task__contact_id__in=ids).delete()
            tasks, _ = CallTask.objects.filter(contact_id__in=ids).delete()
            phones = PhoneNumber.objects.filter(contact_id__in=ids).count()
            Contact.objects.filter(pk__in=ids).delete()  # their numbers go with them
            _audit(
                actor,
                "leads",
                {
                    "contacts": ids,
                    "phones": phones,
                    "tasks_and_keys": tasks,
                    "attempts": attempts,
                    "cutoff": cutoff.isoformat(),
                },
            )
            purged += len(ids)
    return PolicyResult(
        "inactive leads (never patients)",
        f"no consent, no disclosure, no activity for {years} years",
        eligible,
        purged,
    )


def _kept_dnc(*, now: datetime) -> PolicyResult:
    old = InternalDncEntry.objects.filter(
        added_at__lt=years_before(now, INTERNAL_RETENTION_YEARS)
    ).count()
    return PolicyResult(
        "internal DNC entries",
        f"kept: honoured at least {INTERNAL_RETENTION_YEARS} years, never deleted",
        old,
        0,
        kept=True,
    )


def _kept_disclosures(*, now: datetime) -> PolicyResult:
    old = Disclosure.objects.filter(
        disclosed_at__lt=years_before(now, DISCLOSURE_ACCOUNTING_YEARS)
    ).count()
    return PolicyResult(
        "Part 2 disclosures",
        f"kept: accounted for {DISCLOSURE_ACCOUNTING_YEARS} years, append-only",
        old,
        0,
        kept=True,
    )


def _audit(actor: str, what: str, data: dict[str, object]) -> None:
    audit_record(actor=actor, action=f"retention.{what}_purged", object_type="retention", data=data)
