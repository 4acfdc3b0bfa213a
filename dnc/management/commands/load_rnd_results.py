"""load_rnd_results PATH [--skip-bad]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actors import actor_system
from dnc.management.commands.load_dnc_registry import _Raw
from dnc.registry.progress import Progress
from dnc.rnd.load import RndRefused, rnd_results_load


class Command(BaseCommand):
    help = (
        "Load Reassigned Numbers Database answers from a CSV with a header (number,"
        " consent_date, result, queried_at), plain or zipped, atomically."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--skip-bad", action="store_true", help="load the good lines of a file with bad lines"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        progress = Progress(
            _Raw(self.stderr), total=1, label=f"RND {path.name}", tty=self.stderr.isatty()
        )
        try:
            result = rnd_results_load(
                path=path,
                actor=actor_system("load_rnd_results"),
                skip_bad=options["skip_bad"],
                progress=progress,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except RndRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(result.summary())
