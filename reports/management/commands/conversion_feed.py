"""Print a program's conversion feed (JSON) for an ad platform: aggregates or hashed events."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actors import actor_system
from campaigns.models import Program
from reports.conversions import KINDS, conversion_feed_export


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, help="the program's slug")
        parser.add_argument("--since", type=_day, help="first day (default: 7 days ago)")
        parser.add_argument("--until", type=_day, help="last day (default: yesterday)")
        parser.add_argument("--kind", choices=KINDS, default="aggregate")
        parser.add_argument("--output", default="-", help="a file, or - for standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        program = Program.objects.filter(slug=options["program"]).first()
        if program is None:
            raise CommandError("no program with that slug")
        yesterday = timezone.localdate() - timedelta(days=1)
        until = options["until"] or yesterday
        since = options["since"] or until - timedelta(days=6)
        if since > until:
            raise CommandError("--since is after --until")
        payload = conversion_feed_export(
            program=program,
            since=since,
            until=until,
            kind=options["kind"],
            actor=actor_system("conversion_feed"),
        )
        text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
        if options["output"] == "-":
            self.stdout.write(text, ending="")
        else:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"{len(payload['rows'])} rows written")
