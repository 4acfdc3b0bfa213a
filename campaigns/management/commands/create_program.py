"""`create_program --slug S --name N --state XX [--timezone IANA]`: prints the slug."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actors import actor_system
from campaigns.models import Program
from campaigns.services import program_create


class Command(BaseCommand):
    help = "Create a program (a tenant) in a US state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True, help="Legal name")
        parser.add_argument("--state", required=True, help="Two-letter state code")
        parser.add_argument("--timezone", help="IANA zone (default: the state's main zone)")
        parser.add_argument("--neutral-name", default="", help="Caller-ID name (15 chars)")
        parser.add_argument("--caller-id", default="", help="Caller-ID number")

    def handle(self, *args: Any, **options: Any) -> None:
        if Program.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"--slug: a program {options['slug']!r} already exists")
        try:
            program = program_create(
                slug=options["slug"],
                legal_name=options["name"],
                state=options["state"],
                timezone=options["timezone"],
                neutral_name=options["neutral_name"],
                caller_id_number=options["caller_id"],
                actor=actor_system("cli"),
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from None
        self.stdout.write(program.slug)


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"--{k.replace('_', '-')}: {' '.join(v)}" for k, v in exc.message_dict.items()
        )
    return " ".join(exc.messages)
