"""`seal_audit`: link every committed unsealed audit row into the chain now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit.services import audit_seal


class Command(BaseCommand):
    help = "Seal the audit rows waiting for their place in the hash chain."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while sealed := audit_seal():
            total += sealed
        self.stdout.write(f"sealed {total} events")
