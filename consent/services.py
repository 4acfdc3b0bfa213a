"""Writes to consents: record and revoke, each act audited in its transaction.

The input and its checks are in consent.inputs; disclosures and the export are in
consent.disclosures, alumni import runs in
consent.alumni_runs.

Input names follow `POST /consents/` in API.md, so the API can pass its
validated body straight through. Errors are `ValidationError({field: message})`
and never echo a number, a name or a signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from consent.inputs import UNSET as UNSET
from consent.inputs import ConsentInput as ConsentInput
from consent.inputs import consent_draft
from consent.models import Consent, ConsentSource, RevocationChannel

# 42 CFR 2.32(a)(2), "Statement 2": carried by every export that holds Part 2 data.
PART2_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
PART2_NOTICE_NAME = "2.32 statement 2"

# The accounting of disclosures covers three years (42 CFR 2.25).
DISCLOSURE_ACCOUNTING_PERIOD = timedelta(days=3 * 366)


def consent_validate(*, data: ConsentInput) -> None:
    """Raise ValidationError naming every missing or bad field; write nothing."""
    consent_draft(data)


def consent_create(*, data: ConsentInput, actor: str, source: str = ConsentSource.API) -> Consent:
    """Record a consent the person gave.

    For `part2` every element of 42 CFR 2.31(a) is required: the patient
    (`contact`), who may disclose (`discloser`, default: the contact's
    program), the information (`description`), the recipients (program slugs
    of this portfolio or named outside recipients), the purposes (queue
    purposes and free text), the expiration (`expires_at`, `expiration_event`,
    or an explicit `expires_at=None` for "none"), the right to revoke
    (`revocation_notice_given=True`), the signature and its date (`signed_at`).
    A missing element refuses the whole consent and nothing is stored.
    """
    draft = consent_draft(data)
    consent = draft.consent
    consent.source = ConsentSource(source)
    consent.recorded_by = actor
    with transaction.atomic():
        consent.save()
        if draft.recipient_programs:
            consent.recipient_programs.set(draft.recipient_programs)
        audit_record(
            actor=actor,
            action="consent.recorded",
            object_type="consent",
            object_id=consent.pk,
            program_id=consent.contact.program_id,
            data={
                "contact": consent.contact_id,
                "kind": consent.kind,
                "method": consent.method,
                "purposes": list(consent.purposes),
                "recipient_programs": sorted(p.pk for p in draft.recipient_programs),
                "outside_recipients": len(consent.outside_recipient_list),
                "expires_at": consent.expires_at.isoformat() if consent.expires_at else None,
                "source": consent.source,
            },
        )
    return consent


REVOCATION_REASON_MAX_LENGTH = 500
REVOCATION_LABEL_MAX_LENGTH = 100

# Common names of our channels; anything else is kept as given under `other`.
_CHANNEL_SYNONYMS = {
    "phone": RevocationChannel.CALL,
    "phone call": RevocationChannel.CALL,
    "sms": RevocationChannel.TEXT,
    "text message": RevocationChannel.TEXT,
    "in person": RevocationChannel.VERBAL,
    "in-person": RevocationChannel.VERBAL,
    "letter": RevocationChannel.WRITTEN,
    "mail": RevocationChannel.WRITTEN,
    "e-mail": RevocationChannel.EMAIL,
}


def revocation_channel_of(given: str) -> tuple[RevocationChannel, str]:
    """Our channel for how a revocation arrived, and the label kept when it is none of ours.

    Any wording is accepted (47 CFR 64.1200(a)(10): any reasonable means): an
    unknown or empty one is `other`, with the given text kept (truncated).
    """
    text = " ".join((given or "").split())
    key = text.lower()
    if key in RevocationChannel.values:
        return RevocationChannel(key), ""
    if key in _CHANNEL_SYNONYMS:
        return _CHANNEL_SYNONYMS[key], text[:REVOCATION_LABEL_MAX_LENGTH]
    return RevocationChannel.OTHER, text[:REVOCATION_LABEL_MAX_LENGTH]


def consent_revoke(
    *,
    consent_id: int,
    channel: str,
    actor: str,
    revoked_at: datetime | None = None,
    reason: str = "",
) -> Consent:
    """Stamp a consent revoked, at once; idempotent (a second revocation changes nothing).

    This is the consent half of a revocation: callers go through
    `dialer.acts.revocation.consent_revoke_and_cancel`, which also cancels the
    pending calls the consent covered, in the same transaction.
    Never refused for its wording: any channel is recorded (`revocation_channel_of`),
    a long reason is truncated, a `revoked_at` in the future takes effect now
    (a revocation never waits) and one before the consent counts from its start.
    """
    known, label = revocation_channel_of(channel)
    now = timezone.now()
    if revoked_at is not None and timezone.is_naive(revoked_at):
        raise ValidationError({"revoked_at": "Give a time zone (ISO 8601 with an offset or Z)."})
    with transaction.atomic():
        consent = Consent.objects.select_for_update().select_related("contact").get(pk=consent_id)
        if consent.revoked_at is not None:
            return consent
        # Now, unless the person revoked earlier; never before the consent (clock
        # skew, or a date typed wrong: the revocation still stands, from the start).
        effective = min(revoked_at, now) if revoked_at else now
        effective = max(effective, consent.signed_at)
        consent.revoked_at = effective
        consent.revocation_channel = known
        consent.revocation_channel_label = label or None
        consent.revocation_reason = reason.strip()[:REVOCATION_REASON_MAX_LENGTH] or None
        consent.revoked_by = actor
        consent.save(
            update_fields=[
                "revoked_at",
                "revocation_channel",
                "revocation_channel_label",
                "revocation_reason",
                "revoked_by",
            ]
        )
        audit_record(
            actor=actor,
            action="consent.revoked",
            object_type="consent",
            object_id=consent.pk,
            program_id=consent.contact.program_id,
            reason="revoked by the person",
            data={
                "contact": consent.contact_id,
                "kind": consent.kind,
                "channel": consent.revocation_channel,
                "revoked_at": effective.isoformat(),
                "clamped_to_start": revoked_at is not None and revoked_at < consent.signed_at,
            },
        )
    return consent
