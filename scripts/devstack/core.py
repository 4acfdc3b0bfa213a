"""Shared pieces of the launcher: paths, timings, errors, the log line and the signal latch."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
STOP_GRACE_S = 10.0  # how long a child may take to stop before it is killed
START_TIMEOUT_S = 60.0  # how long a server may take to answer after start
POLL_S = 0.1


class DevstackError(Exception):
    """A start-up problem, reported as one clear line."""


class Interrupted(Exception):
    """A stop signal arrived while the launcher was still starting things."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def log(message: str) -> None:
    print(f"devstack: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Signals: recorded, never raised from the handler.
# --------------------------------------------------------------------------


class SignalLatch:
    """Remembers SIGINT/SIGTERM/SIGHUP; loops poll it with ``check()``."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._record)

    def _record(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        self.count += 1

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    def sleep(self, seconds: float = POLL_S) -> None:
        time.sleep(seconds)
        self.check()


LATCH = SignalLatch()
