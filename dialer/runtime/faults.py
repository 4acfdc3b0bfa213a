"""Fault injection for crash tests: a named point where a test's worker kills itself.

Only the test settings define `FAULT_POINT` (from the environment of a worker
the test starts in its own session); production settings have none, so
`fault_point` is a no-op there. When the name matches, the worker's whole
process group (the Celery parent and its children) is SIGKILLed at that exact
line, as a power cut or the OOM killer would.
"""

from __future__ import annotations

import os
import signal

from django.conf import settings


def fault_point(name: str) -> None:
    if not name or getattr(settings, "FAULT_POINT", "") != name:
        return
    os.killpg(os.getpgid(0), signal.SIGKILL)
