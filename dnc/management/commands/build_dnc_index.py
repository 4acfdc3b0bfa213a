"""build_dnc_index: rebuild the memory-mapped registry index of the current generation."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from dnc.index import index_build


class Command(BaseCommand):
    help = (
        "Rebuild the registry index file for the current generation (run on each machine"
        " that scrubs, after a load made elsewhere; until then lookups use PostgreSQL)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        path, numbers = index_build()
        self.stdout.write(
            f"{path} ({numbers:,} numbers) built in {time.monotonic() - started:.1f} s"
        )
