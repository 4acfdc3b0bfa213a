"""Re-encrypt every encrypted field with the first FIELD_ENCRYPTION_KEY (old keys still decrypt)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actors import actor_system
from reports.keyrotation import field_keys_rotate


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be re-encrypted, change nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        report = field_keys_rotate(
            actor=actor_system("rotate_field_keys"),
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
        )
        verb = "to re-encrypt" if options["dry_run"] else "re-encrypted"
        for f in report.fields:
            line = f"{f.label}: {f.rotated} {verb}, {f.current} already under the first key"
            if f.unreadable_ids:
                shown = ", ".join(str(pk) for pk in f.unreadable_ids[:20])
                line += f", {len(f.unreadable_ids)} unreadable (ids {shown})"
            self.stdout.write(line)
        if report.unreadable:
            raise CommandError(
                f"{report.unreadable} values decrypt with no configured key: keep every old key"
                " until they are resolved"
            )
        self.stdout.write(
            f"Done: {report.rotated} values {verb}."
            + ("" if options["dry_run"] else " Every value is now under the first key.")
        )
