"""`signin_unlock (USERNAME | --address IP) --reason TEXT`: lift a sign-in lockout (audited)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.services import signin_unlock, signin_unlock_address
from audit.actors import actor_system


class Command(BaseCommand):
    help = "Lift the lockout of a user name (or of one address) after failed sign-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", default="")
        parser.add_argument("--address", default="", help="Unlock an address instead")
        parser.add_argument("--reason", required=True, help="Why (kept in the audit trail)")

    def handle(self, *args: Any, **options: Any) -> None:
        username, address, reason = options["username"], options["address"], options["reason"]
        if bool(username) == bool(address):
            raise CommandError("username or --address: give exactly one")
        if not reason.strip():
            raise CommandError("--reason: must not be empty")
        actor = actor_system("cli")
        if address:
            removed = signin_unlock_address(address=address, actor=actor, reason=reason)
        else:
            removed = signin_unlock(username=username, actor=actor, reason=reason)
        self.stdout.write(f"Unlocked: {removed} lockout record(s) removed.")
