"""Writes to the internal do-not-call list; each act audited in its transaction.

Registry loads are services too: `dnc.registry.load.registry_load`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from common.crypto import keyed_hash
from dnc.keys import key_from_e164
from dnc.models import InternalDncEntry, RemovalReason

SOURCE_MAX_LENGTH = 50
NOTE_MAX_LENGTH = 500


def dnc_source_normal(source: str | None) -> str:
    """The source as stored: spaces collapsed, truncated; empty is `unspecified`."""
    return " ".join((source or "").split())[:SOURCE_MAX_LENGTH] or "unspecified"


def internal_dnc_add(
    *, number_e164: str, source: str, note: str, actor: str, program_id: int | None
) -> tuple[InternalDncEntry, bool]:
    """Put a number on the internal list; returns (entry, created).

    Idempotent: when the number already has an active entry, that entry is
    returned unchanged. This only writes the entry: the act that also cancels
    pending calls is `dialer.acts.optout.dnc_request_record`, which calls this.
    Never refused for its wording: a long source or note is truncated, an empty
    source is `unspecified`; only a number that is not one is refused.
    """
    key_from_e164(number_e164)  # raises InvalidPhoneNumber, without the number
    source = dnc_source_normal(source)
    note = (note or "").strip()[:NOTE_MAX_LENGTH]
    number_hash = keyed_hash(number_e164)
    with transaction.atomic():
        existing = _active_entry(number_hash)
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                entry = InternalDncEntry.objects.create(
                    number=number_e164,
                    number_hash=number_hash,
                    source=source,
                    note=note,
                    program_id=program_id,
                    added_by=actor,
                )
        except IntegrityError:
            # Another request for the same number committed first (the trigger
            # serialises writers, so it is visible now).
            existing = _active_entry(number_hash)
            if existing is None:
                raise
            return existing, False
        audit_record(
            actor=actor,
            action="dnc.internal_added",
            object_type="dnc_internal_entry",
            object_id=entry.pk,
            program_id=program_id,
            data={"source": source},
        )
    return entry, True


def internal_dnc_remove(*, entry_id: int, reason: str, note: str, actor: str) -> InternalDncEntry:
    """Take an entry off the list: a separate act with a reason; the row stays for the record."""
    if reason not in RemovalReason.values:
        raise ValidationError({"reason": "Choose one of the listed reasons."})
    if reason == RemovalReason.OTHER and not note.strip():
        raise ValidationError({"note": "Explain the removal."})
    with transaction.atomic():
        entry = InternalDncEntry.objects.select_for_update().get(pk=entry_id)
        if entry.removed_at is not None:
            raise ValidationError("This entry was already removed.")
        entry.removed_at = timezone.now()
        entry.removed_by = actor
        entry.removal_reason = reason
        entry.removal_note = note
        entry.save(update_fields=["removed_at", "removed_by", "removal_reason", "removal_note"])
        audit_record(
            actor=actor,
            action="dnc.internal_removed",
            object_type="dnc_internal_entry",
            object_id=entry.pk,
            program_id=entry.program_id,
            reason=reason,
            data={"source": entry.source},
        )
    return entry


def _active_entry(number_hash: str) -> InternalDncEntry | None:
    return InternalDncEntry.objects.filter(number_hash=number_hash, removed_at__isnull=True).first()
