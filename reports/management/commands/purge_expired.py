"""Purge what no law still requires keeping (dry run unless --apply); see reports/retention.py."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actors import actor_system
from reports.retention import LEAD_YEARS_DEFAULT, LEAD_YEARS_MINIMUM, expired_purge


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true", help="delete (default: count only)")
        parser.add_argument(
            "--lead-years",
            type=int,
            default=LEAD_YEARS_DEFAULT,
            help=f"inactivity before a lead who never became a patient is purged"
            f" (default {LEAD_YEARS_DEFAULT}, at least {LEAD_YEARS_MINIMUM})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["lead_years"] < LEAD_YEARS_MINIMUM:
            raise CommandError(f"--lead-years must be at least {LEAD_YEARS_MINIMUM}")
        results = expired_purge(
            actor=actor_system("purge_expired"),
            apply=options["apply"],
            lead_years=options["lead_years"],
        )
        for r in results:
            if r.kept:
                self.stdout.write(f"{r.name}: {r.eligible} past their minimum, {r.rule}")
            elif options["apply"]:
                self.stdout.write(f"{r.name}: {r.purged} purged ({r.rule})")
            else:
                self.stdout.write(f"{r.name}: {r.eligible} would be purged ({r.rule})")
        if not options["apply"]:
            self.stdout.write("Dry run: nothing was changed. Run with --apply to purge.")
