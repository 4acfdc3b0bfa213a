"""``exec``: run one command with working services and return its exit code."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from .children import Child, exit_code, spawn, stop_children
from .core import LATCH, POLL_S, STOP_GRACE_S, DevstackError, log
from .services import provide_services


def _from_terminal(signum: int) -> bool:
    """Whether a SIGINT most likely came from Ctrl-C in our terminal.

    In that case the whole foreground process group, the ``exec`` command
    included, got it already and forwarding it would deliver it twice.
    """
    if signum != signal.SIGINT:
        return False
    try:
        fd = sys.stdin.fileno()
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except (OSError, ValueError):
        return False


def wait_exec_child(child: Child) -> int:
    """Wait for the command; on a signal pass it on, then escalate after the grace time."""
    stage = 0  # 0 running; 1 signalled, waiting; 2 SIGTERMed, waiting
    deadline = 0.0
    while child.running():
        if LATCH.signum is not None and stage == 0:
            stage, deadline = 1, time.monotonic() + STOP_GRACE_S
            if not _from_terminal(LATCH.signum):
                child.proc.send_signal(LATCH.signum)
        elif stage and (time.monotonic() > deadline or LATCH.count > stage):
            # Grace time over, or one more signal: escalate.
            if stage == 1:
                log(f"command still running: SIGTERM to pid {child.proc.pid}")
                child.proc.terminate()
                stage, deadline = 2, time.monotonic() + STOP_GRACE_S
            else:
                log(f"command still running: SIGKILL to pid {child.proc.pid}")
                child.proc.kill()
                child.proc.wait()
        time.sleep(POLL_S)
    return exit_code(child.proc.returncode)


def cmd_exec(argv: list[str]) -> int:
    if not argv:
        raise DevstackError("usage: devstack.py exec -- CMD [ARGS...]")
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="devstack-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        env = dict(os.environ) | provide_services(stack, tmp)
        LATCH.check()
        # The command stays in our process group: it keeps the terminal (pdb
        # works) and gets a terminal Ctrl-C directly, like when run alone.
        child = spawn("command", argv, env, own_group=False, cwd=Path.cwd())
        stack.callback(stop_children, [child])
        return wait_exec_child(child)
