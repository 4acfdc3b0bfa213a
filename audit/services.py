"""Writing, sealing and verifying the audit trail.

A request appends its events unsealed, with no lock: a plain INSERT in the caller's
transaction. The sealer (`audit_seal`, looped by the `audit.bulk_seal` task every
AUDIT_SEAL_INTERVAL_SECONDS) links the committed rows into the one chain within a few
seconds; `verify_audit` (and /health/) report an unsealed tail older than
AUDIT_SEAL_MAX_SECONDS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import GENESIS, event_hash
from audit.models import AuditEvent
from common.rows import insert, insert_many

logger = logging.getLogger(__name__)

# One sealer at a time extends the chain (held for one pass, never by a request).
_SEAL_LOCK = 7_311_001
# The fields a row's hash covers, besides its predecessor's hash (audit.chain).
_CONTENT = (
    "occurred_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "program_id",
    "reason",
    "data",
)


# The events of an `audit_together` block, written when it ends.
_together: ContextVar[list[AuditEvent] | None] = ContextVar("audit_together", default=None)


@contextmanager
def audit_together() -> Iterator[None]:
    """Append the events recorded inside with one INSERT when the block ends, in the
    order they were recorded (one statement instead of one each, on a request's hot path).

    Use it inside the transaction of the change: the events commit with it. If the block
    raises, nothing is written (the transaction is rolled back anyway). An event recorded
    inside has no id until the block ends.
    """
    pending: list[AuditEvent] = []
    token = _together.set(pending)
    try:
        yield
    finally:
        _together.reset(token)
    insert_many(pending)


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
    """Append one event in the caller's transaction (the change and its record commit
    together); it is sealed into the chain after the commit (audit_seal)."""
    event = AuditEvent(
        occurred_at=datetime.now(UTC),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        program_id=program_id,
        reason=reason,
        data=data or {},
    )
    pending = _together.get()
    if pending is not None:
        pending.append(event)
    else:
        insert(event)
    return event


def audit_record_many(events: list[dict[str, Any]]) -> None:
    """Append many events at once (same fields as audit_record), sealed in list order."""
    if not events:
        return
    now = datetime.now(UTC)
    rows = [
        AuditEvent(
            occurred_at=now,
            actor=event["actor"],
            action=event["action"],
            object_type=event["object_type"],
            object_id=str(event.get("object_id", "")),
            program_id=event.get("program_id"),
            reason=event.get("reason", ""),
            data=event.get("data") or {},
        )
        for event in events
    ]
    pending = _together.get()
    if pending is not None:
        pending.extend(rows)
        return
    # Ids follow list order, and the sealer links rows of one commit in id order.
    AuditEvent.objects.bulk_create(rows, batch_size=2000)


def audit_seal(*, batch_size: int = 5000) -> int:
    """Link the committed unsealed rows into the chain; return how many were sealed.

    The chain runs in seal order (`seq` 1, 2, 3, ...), not in id order: ids are taken at
    INSERT but rows appear at COMMIT, so a row with a lower id can appear after higher
    ones were sealed, and chaining by id would have to wait for it or leave it out.
    Sealing what is visible, in one pass, gives no gaps by construction:

    1. One sealer at a time: a transaction-level advisory lock, tried (another sealer at
       work: return 0, it will seal these rows).
    2. The head: the sealed row with the highest `seq` (GENESIS and 0 for an empty chain).
    3. The unsealed rows visible now, lowest id first, up to batch_size. An in-flight
       transaction's rows are not visible yet; a later pass seals them after its commit,
       and a rolled-back one never needed a place.
    4. Each gets seq = head + 1, + 2, ... and its hash over its content and its
       predecessor's hash, all written by one UPDATE (the trigger lets exactly this
       through, once per row). The pass commits whole or not at all.

    So `seq` has no gap unless a sealed row was deleted, which audit_verify reports.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_SEAL_LOCK])
        if not cursor.fetchone()[0]:
            return 0
        head = (
            AuditEvent.objects.filter(seq__isnull=False)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
        seq, prev_hash = (head[0] or 0, head[1]) if head else (0, GENESIS)
        rows = list(
            AuditEvent.objects.filter(seq__isnull=True)
            .order_by("id")
            .values_list("id", *_CONTENT)[:batch_size]
        )
        if not rows:
            return 0
        ids, seqs, prevs, hashes = [], [], [], []
        for pk, *content in rows:
            seq += 1
            digest = event_hash(prev_hash=prev_hash, **dict(zip(_CONTENT, content, strict=True)))
            ids.append(pk)
            seqs.append(seq)
            prevs.append(prev_hash)
            hashes.append(digest)
            prev_hash = digest
        cursor.execute(
            "UPDATE audit_auditevent AS a"
            " SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])"
            " AS v(id, seq, prev_hash, hash)"
            " WHERE a.id = v.id",
            [ids, seqs, prevs, hashes],
        )
    return len(rows)


def audit_seal_pass() -> int:
    """Seal everything committed so far; log an error when the unsealed tail is older
    than AUDIT_SEAL_MAX_SECONDS (the sealer cannot keep up, or has not run)."""
    total = 0
    while sealed := audit_seal():
        total += sealed
    tail = audit_unsealed_tail()
    if tail.too_old:
        logger.error(
            "audit seal delay: the unsealed tail is %d s old (limit %d s)",
            tail.age_seconds,
            settings.AUDIT_SEAL_MAX_SECONDS,
        )
    return total


def audit_seal_loop(*, seconds: float, interval: float) -> int:
    """A sealing pass every `interval` seconds for about `seconds` (at least one pass)."""
    deadline = time.monotonic() + seconds
    total = 0
    while True:
        started = time.monotonic()
        total += audit_seal_pass()
        if started + interval >= deadline:
            return total
        time.sleep(max(0.0, started + interval - time.monotonic()))


@dataclass(frozen=True)
class UnsealedTail:
    """The rows not yet in the chain: how many, and how long the oldest has waited."""

    count: int | None  # None when not counted
    oldest_id: int | None
    age_seconds: float

    @property
    def too_old(self) -> bool:
        return self.age_seconds > settings.AUDIT_SEAL_MAX_SECONDS


def audit_unsealed_tail(*, count: bool = False) -> UnsealedTail:
    """The unsealed tail (its count only if asked: it scans the tail; the age is one
    lookup in the sealer's index)."""
    unsealed = AuditEvent.objects.filter(seq__isnull=True)
    oldest = unsealed.order_by("id").values_list("id", "occurred_at").first()
    if oldest is None:
        return UnsealedTail(0, None, 0.0)
    age = (timezone.now() - oldest[1]) / timedelta(seconds=1)
    return UnsealedTail(unsealed.count() if count else None, oldest[0], max(age, 0.0))


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def audit_verify(*, batch_size: int = 5000) -> Iterator[ChainBreak]:
    """Walk the sealed chain in order and yield every row whose place, link or content
    does not hold, then an unsealed tail older than AUDIT_SEAL_MAX_SECONDS.

    1. Each row's seq must follow the previous one's (1 for the first): a gap means
       sealed rows were deleted before this one.
    2. Otherwise its prev_hash must equal the previous row's hash (GENESIS for the first).
    3. Its hash must equal the hash recomputed from its stored fields.
    A deleted row breaks step 1 at its successor; an altered row breaks step 3; an
    altered and re-hashed row breaks step 2 at its successor.
    """
    expected_seq, expected_prev = 1, GENESIS
    rows = (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("seq")
        .values_list("id", "seq", "prev_hash", "hash", *_CONTENT)
    )
    for pk, seq, prev_hash, stored_hash, *content in rows.iterator(chunk_size=batch_size):
        if seq != expected_seq:
            yield ChainBreak(pk, f"{seq - expected_seq} sealed event(s) missing before this one")
        elif prev_hash != expected_prev:
            yield ChainBreak(pk, "link to the previous event does not match")
        recomputed = event_hash(prev_hash=prev_hash, **dict(zip(_CONTENT, content, strict=True)))
        if recomputed != stored_hash:
            yield ChainBreak(pk, "content does not match its hash")
        expected_seq, expected_prev = seq + 1, stored_hash
    tail = audit_unsealed_tail()
    if tail.too_old and tail.oldest_id is not None:
        yield ChainBreak(
            tail.oldest_id,
            f"unsealed for {tail.age_seconds:.0f} s"
            f" (limit {settings.AUDIT_SEAL_MAX_SECONDS} s): is the sealer running?",
        )
