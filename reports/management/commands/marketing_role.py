"""Create or update the marketing database role and its grants (SELECT on the view only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from reports.dbrole import UnsafeMarketingRole, marketing_role_available, marketing_role_sync


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = marketing_role_sync()
        except UnsafeMarketingRole as exc:
            raise CommandError(str(exc)) from None
        if not result.usable:
            raise CommandError(result.message)
        self.stdout.write(result.message)
        problem = marketing_role_available()
        if problem is not None:
            raise CommandError(
                f"{problem}: check MARKETING_DB_PASSWORD and the server's authentication rules"
            )
        self.stdout.write("The marketing alias connects and reads the view.")
