"""`sip_agent`: the host's one client of baresip's control socket, serving agent-first SIP calls.

`sip_agent --needed` prints yes when a program uses SIP (`make run` starts it then).
Runs until SIGTERM or Ctrl-C; a call in progress is finished first (its
outcome recorded), then the command exits. See dialer/backends/sip_agent.py.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dialer.backends.sip import BaresipAgent
from dialer.backends.sip_agent import SipAgent, sip_programs_exist


class Command(BaseCommand):
    help = "Serve agent-first SIP calls: ring the staff member, then REFER to the contact."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--needed",
            action="store_true",
            help="Print yes if a program places its calls over SIP (make run asks), else no.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["needed"]:
            self.stdout.write("yes" if sip_programs_exist() else "no")
            return
        stopping: list[int] = []

        def stop(signum: int, _frame: object) -> None:
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        baresip = BaresipAgent()
        self.stderr.write("sip_agent: serving agent-first SIP calls")
        try:
            SipAgent(baresip).run(stop=lambda: bool(stopping))
        finally:
            baresip.close()
        self.stderr.write("sip_agent: stopped")
