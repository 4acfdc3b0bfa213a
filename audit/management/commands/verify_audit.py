"""`verify_audit`: recompute the hash chain and report every break, and an unsealed tail
older than AUDIT_SEAL_MAX_SECONDS (exit 1 if any)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import audit_unsealed_tail, audit_verify


class Command(BaseCommand):
    help = "Verify that the audit trail is complete, unaltered and sealed in time."

    def handle(self, *args: Any, **options: Any) -> None:
        breaks = list(audit_verify())
        for item in breaks:
            self.stderr.write(f"event {item.event_id}: {item.problem}")
        total = AuditEvent.objects.count()
        if breaks:
            raise CommandError(f"audit trail broken: {len(breaks)} problem(s) in {total} events")
        tail = audit_unsealed_tail(count=True)
        waiting = (
            f"; {tail.count} waiting to be sealed, the oldest for {tail.age_seconds:.0f} s"
            if tail.count
            else ""
        )
        self.stdout.write(
            f"audit trail intact: {total - (tail.count or 0)} events verified{waiting}"
        )
