"""load_dnc_registry --source national|state:XX --full PATH... | --changes PATH... [--as-of DATE]"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actors import actor_system
from dnc.index import index_build
from dnc.registry.load import RegistryInput, RegistryRefused, registry_load
from dnc.registry.parse import LineMode
from dnc.registry.progress import Progress
from dnc.registry.storage import RegistryBusy


class Command(BaseCommand):
    help = (
        "Load a do-not-call registry: full lists (one file per area code, or a state's list)"
        " or change lists (additions and deletions), plain or zipped text, atomically."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, help="national or state:XX")
        parser.add_argument("--full", nargs="+", type=Path, default=[], metavar="PATH")
        parser.add_argument(
            "--changes",
            nargs="+",
            type=Path,
            default=[],
            metavar="PATH",
            help="change files whose lines carry an add or delete marker (A/D)",
        )
        parser.add_argument(
            "--add",
            nargs="+",
            type=Path,
            default=[],
            metavar="PATH",
            help="change files of additions",
        )
        parser.add_argument(
            "--delete",
            nargs="+",
            type=Path,
            default=[],
            metavar="PATH",
            help="change files of deletions",
        )
        parser.add_argument(
            "--as-of",
            type=_date,
            default=None,
            help="date of the registry copy (YYYY-MM-DD; default today)",
        )
        parser.add_argument(
            "--skip-bad", action="store_true", help="load the good lines of files with bad lines"
        )
        parser.add_argument(
            "--no-index", action="store_true", help="do not rebuild the in-memory index afterwards"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        full: list[Path] = options["full"]
        changes = (
            [RegistryInput(p, LineMode.MARKED) for p in options["changes"]]
            + [RegistryInput(p, LineMode.ADD) for p in options["add"]]
            + [RegistryInput(p, LineMode.DELETE) for p in options["delete"]]
        )
        if bool(full) == bool(changes):
            raise CommandError("Give either --full PATH... or --changes/--add/--delete PATH...")
        source: str = options["source"]
        progress = Progress(
            _Raw(self.stderr),
            total=1,
            label=f"{source} {'full' if full else 'changes'}",
            tty=self.stderr.isatty(),
        )
        try:
            result = registry_load(
                source=source,
                kind="full" if full else "changes",
                inputs=[RegistryInput(p) for p in full] or changes,
                as_of=options["as_of"] or timezone.now().date(),
                actor=actor_system("load_dnc_registry"),
                skip_bad=options["skip_bad"],
                progress=progress,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except (RegistryRefused, RegistryBusy) as exc:
            raise CommandError(str(exc)) from None
        if not options["no_index"]:
            started = time.monotonic()
            try:
                path, numbers = index_build()
            except OSError as exc:
                self.stderr.write(
                    f"index not built ({exc.strerror}); lookups use PostgreSQL until it is"
                )
            else:
                self.stderr.write(
                    f"index: {path.name}, {numbers:,} numbers,"
                    f" {path.stat().st_size / 1e6:,.0f} MB in {time.monotonic() - started:.1f} s"
                )
        self.stdout.write(result.summary())


class _Raw:
    """Writes to a command's stream without the newline Django adds."""

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> object:
        self.wrapper.write(text, ending="")
        self.wrapper.flush()
        return None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use YYYY-MM-DD") from None
