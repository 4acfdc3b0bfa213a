"""Writing and verifying the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from audit.chain import GENESIS, event_hash
from audit.models import AuditEvent

# Serialises appends so that the chain has one head; held until the caller commits.
_CHAIN_LOCK = 7_311_001


def audit_record(
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int = "",
    program_id: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (the change and its record commit together)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        fields: dict[str, Any] = {
            "occurred_at": datetime.now(UTC),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "program_id": program_id,
            "reason": reason,
            "data": data or {},
        }
        prev_hash = last or GENESIS
        return AuditEvent.objects.create(
            prev_hash=prev_hash, hash=event_hash(prev_hash=prev_hash, **fields), **fields
        )


def audit_record_many(events: list[dict[str, Any]]) -> None:
    """Append many events at once (same fields as audit_record), chained in list order."""
    if not events:
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        prev_hash = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        prev_hash = prev_hash or GENESIS
        now = datetime.now(UTC)
        rows = []
        for event in events:
            fields: dict[str, Any] = {
                "occurred_at": now,
                "actor": event["actor"],
                "action": event["action"],
                "object_type": event["object_type"],
                "object_id": str(event.get("object_id", "")),
                "program_id": event.get("program_id"),
                "reason": event.get("reason", ""),
                "data": event.get("data") or {},
            }
            digest = event_hash(prev_hash=prev_hash, **fields)
            rows.append(AuditEvent(prev_hash=prev_hash, hash=digest, **fields))
            prev_hash = digest
        # Ids follow list order, which is the chain order verify_audit walks.
        AuditEvent.objects.bulk_create(rows, batch_size=2000)


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def audit_verify(*, batch_size: int = 5000) -> Iterator[ChainBreak]:
    """Walk the chain in order and yield every row whose link or content does not hold.

    1. Each row's prev_hash must equal the previous row's hash (GENESIS for the first).
    2. Each row's hash must equal the hash recomputed from its stored fields.
    A deleted row breaks step 1 at its successor; an altered row breaks step 2.
    """
    expected_prev = GENESIS
    rows = AuditEvent.objects.order_by("id").values_list(
        "id",
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "program_id",
        "reason",
        "data",
        "prev_hash",
        "hash",
    )
    for row in rows.iterator(chunk_size=batch_size):
        (
            pk,
            occurred_at,
            actor,
            action,
            object_type,
            object_id,
            program_id,
            reason,
            data,
            prev_hash,
            stored_hash,
        ) = row
        if prev_hash != expected_prev:
            yield ChainBreak(pk, "link to the previous event does not match")
        recomputed = event_hash(
            prev_hash=prev_hash,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            program_id=program_id,
            reason=reason,
            data=data,
        )
        if recomputed != stored_hash:
            yield ChainBreak(pk, "content does not match its hash")
        expected_prev = stored_hash
