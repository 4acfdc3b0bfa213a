"""`verify_audit`: recompute the hash chain and report every break (exit 1 if any)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import audit_verify


class Command(BaseCommand):
    help = "Verify that the audit trail is complete and unaltered."

    def handle(self, *args: Any, **options: Any) -> None:
        breaks = list(audit_verify())
        for item in breaks:
            self.stderr.write(f"event {item.event_id}: {item.problem}")
        total = AuditEvent.objects.count()
        if breaks:
            raise CommandError(f"audit trail broken: {len(breaks)} problem(s) in {total} events")
        self.stdout.write(f"audit trail intact: {total} events verified")
