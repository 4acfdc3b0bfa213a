"""`signin_reset_factors USERNAME --reason TEXT`: remove a user's second factors (audited).

The user enrols a new authenticator at their next sign-in (a lost or replaced phone).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.services import factors_reset
from audit.actors import actor_system


class Command(BaseCommand):
    help = "Remove every second factor of a user; they enrol again at their next sign-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="Why (kept in the audit trail)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError("username: no such user")
        if not options["reason"].strip():
            raise CommandError("--reason: must not be empty")
        removed = factors_reset(user=user, actor=actor_system("cli"), reason=options["reason"])
        self.stdout.write(
            f"User {user.pk}: {removed} second-factor device(s) removed; "
            "they enrol again at their next sign-in."
        )
