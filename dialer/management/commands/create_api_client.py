"""`create_api_client --program S --name N [--role crm|manager]`: the token on the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actors import actor_system
from campaigns.models import Program
from dialer.api.clients import api_client_create
from dialer.models import ApiRole


class Command(BaseCommand):
    help = "Create an API client scoped to one program and print its token once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, help="Program slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", choices=[r.value for r in ApiRole], default=ApiRole.CRM)

    def handle(self, *args: Any, **options: Any) -> None:
        program = Program.objects.filter(slug=options["program"]).first()
        if program is None:
            raise CommandError(f"--program: no program {options['program']!r}")
        client, token = api_client_create(
            program=program, name=options["name"], role=options["role"], actor=actor_system("cli")
        )
        self.stderr.write(f"API client {client.pk} for {program.slug} ({client.role}); token:")
        self.stdout.write(token)
