"""Disclosures of Part 2 records (42 CFR 2.25, 2.32), and the consents export; each act
audited in its transaction."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Contact
from common.phones import mask
from consent.models import (
    Consent,
    ConsentKind,
    Disclosure,
)
from consent.services import PART2_NOTICE, PART2_NOTICE_NAME


def disclosure_record(
    *,
    contact: Contact,
    recipient: str,
    purpose: str,
    description: str,
    actor: str,
    consent: Consent | None = None,
    disclosed_at: datetime | None = None,
) -> Disclosure:
    """Record one disclosure of Part 2 data for the accounting of disclosures."""
    errors: dict[str, str] = {}
    recipient = " ".join((recipient or "").split())
    purpose = " ".join((purpose or "").split())
    if not recipient:
        errors["recipient"] = "Name who receives the disclosure."
    if not purpose:
        errors["purpose"] = "State the purpose of the disclosure."
    if consent is not None:
        if consent.contact_id != contact.pk or consent.kind != ConsentKind.PART2:
            errors["consent"] = "Choose a Part 2 consent of this patient."
        elif not _active(consent, timezone.now()):
            errors["consent"] = (
                "This consent is not in effect (revoked, expired or not yet signed)."
            )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        disclosure = Disclosure.objects.create(
            contact=contact,
            program_id=contact.program_id,
            consent=consent,
            disclosed_at=disclosed_at or timezone.now(),
            disclosed_by=actor,
            recipient=recipient[:200],
            purpose=purpose[:200],
            description=description[:300],
            notice=PART2_NOTICE_NAME,
        )
        audit_record(
            actor=actor,
            action="part2.disclosed",
            object_type="disclosure",
            object_id=disclosure.pk,
            program_id=contact.program_id,
            data={"contact": contact.pk, "consent": consent.pk if consent else None},
        )
    return disclosure


def _active(consent: Consent, at: datetime) -> bool:
    return (
        consent.signed_at <= at
        and (consent.expires_at is None or at < consent.expires_at)
        and (consent.revoked_at is None or at < consent.revoked_at)
    )


CONSENT_EXPORT_COLUMNS = (
    "consent_id",
    "patient",
    "kind",
    "method",
    "number",
    "purposes",
    "other_purposes",
    "signed_at",
    "signed",
    "expires_at",
    "expiration_event",
    "expires_never",
    "discloser",
    "description",
    "recipient_programs",
    "outside_recipients",
    "revocation_notice_given",
    "revoked_at",
    "revocation_channel",
)


def consents_export_csv(
    *,
    contact: Contact,
    recipient: str,
    purpose: str,
    actor: str,
    consent: Consent | None = None,
) -> str:
    """A patient's consents as CSV for a recipient; a Part 2 disclosure.

    1. The file opens with the 42 CFR 2.32 notice (Statement 2).
    2. The disclosure is recorded (who, to whom, when, what, which consent)
       in the same transaction that builds the file: no file without its record.
    Numbers are masked (minimum necessary); the consents themselves are the
    "copy or explanation of the consent" that 2.32 asks to accompany it.
    """
    consents = list(
        Consent.objects.filter(contact=contact)
        .prefetch_related("recipient_programs")
        .order_by("signed_at", "id")
    )
    patient = " ".join(n for n in (contact.first_name, contact.last_name) if n)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"# {PART2_NOTICE}"])
    writer.writerow(CONSENT_EXPORT_COLUMNS)
    for c in consents:
        writer.writerow(
            [
                c.pk,
                patient,
                c.kind,
                c.method,
                mask(c.number or ""),
                " ".join(c.purposes),
                "; ".join(c.other_purpose_list),
                c.signed_at.isoformat(),
                "yes" if c.signature else "no",
                c.expires_at.isoformat() if c.expires_at else "",
                c.expiration_event,
                "yes" if c.expires_never else "no",
                c.discloser,
                c.description or "",
                " ".join(sorted(p.slug for p in c.recipient_programs.all())),
                "; ".join(c.outside_recipient_list),
                "yes" if c.revocation_notice_given else "no",
                c.revoked_at.isoformat() if c.revoked_at else "",
                c.revocation_channel,
            ]
        )
    with transaction.atomic():
        disclosure_record(
            contact=contact,
            recipient=recipient,
            purpose=purpose,
            description=f"Consent records of this patient (CSV, {len(consents)} rows)",
            actor=actor,
            consent=consent,
        )
    return out.getvalue()
