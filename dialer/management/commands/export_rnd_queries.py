"""export_rnd_queries --program SLUG [--output PATH]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actors import actor_system
from campaigns.models import Program
from dialer.runtime.rnd import rnd_queries_export


class Command(BaseCommand):
    help = (
        "Write the CSV (number, consent_date) of a program's numbers that need a Reassigned"
        " Numbers Database answer, for a bulk query; audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument(
            "--output", type=Path, default=None, help="default: rnd-queries-SLUG-DATE.csv here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            program = Program.objects.get(slug=options["program"])
        except Program.DoesNotExist:
            raise CommandError("--program: no program with this slug") from None
        now = timezone.now()
        path: Path = options["output"] or Path(f"rnd-queries-{program.slug}-{now:%Y-%m-%d}.csv")
        count = rnd_queries_export(
            program=program, path=path, actor=actor_system("export_rnd_queries"), at=now
        )
        self.stderr.write(f"{count:,} numbers wait for an answer")
        self.stdout.write(str(path))
