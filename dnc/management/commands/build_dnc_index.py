"""build_dnc_index [--if-missing]: build the memory-mapped registry index of the current version."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from dnc.index import index_build, index_open
from dnc.registry.storage import current_version


class Command(BaseCommand):
    help = (
        "Build the registry index file for the current registry version. Run it on each"
        " machine that scrubs, after a load made elsewhere (until then lookups use"
        " PostgreSQL); with --if-missing it is cheap enough to schedule every minute."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-missing", action="store_true", help="do nothing when the index is current"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with connection.cursor() as cursor:
            version = current_version(cursor)
        if options["if_missing"] and index_open(version) is not None:
            self.stdout.write(f"index of generation {version.generation} is current")
            return
        started = time.monotonic()
        try:
            path, numbers = index_build()
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{path} ({numbers:,} numbers) built in {time.monotonic() - started:.1f} s"
        )
