"""Child processes: start them tied to the launcher, stop them in order, run one-off steps."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .core import LATCH, POLL_S, REPO, STOP_GRACE_S, DevstackError, log


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    own_group: bool  # started as leader of its own process group (and session)

    def running(self) -> bool:
        return self.proc.poll() is None


def _die_with_launcher() -> Callable[[], None] | None:
    """A preexec_fn that has Linux SIGTERM the child if the launcher itself dies.

    This covers what no handler can: the launcher being SIGKILLed (or OOM
    killed). PostgreSQL is not covered (pg_ctl detaches it); the next ``run``
    on the same data dir adopts and then stops such a server.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    launcher = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != launcher:  # it died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def spawn(
    name: str,
    argv: list[str],
    env: dict[str, str],
    *,
    own_group: bool = True,
    stdout: IO[Any] | int | None = None,
    cwd: Path = REPO,
) -> Child:
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL if own_group else None,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        start_new_session=own_group,
        preexec_fn=_die_with_launcher(),  # safe: the launcher has no threads
    )
    return Child(name, proc, own_group)


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop_children(children: list[Child], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM every child, wait up to ``grace`` s, then SIGKILL what is left.

    Children in their own process group are always swept with a group SIGKILL
    at the end, which also catches their own children (e.g. Celery's pool).
    A further Ctrl-C while waiting skips straight to the kill.
    """
    live = [c for c in children if c.running()]
    for child in live:
        log(f"stopping {child.name} (pid {child.proc.pid})")
        with contextlib.suppress(ProcessLookupError):
            child.proc.terminate()
    deadline = time.monotonic() + grace
    signals_seen = LATCH.count
    while any(c.running() for c in live) and time.monotonic() < deadline:
        if LATCH.count != signals_seen:
            log("second signal: killing now")
            break
        time.sleep(POLL_S)
    for child in children:
        if child.running():
            log(f"{child.name} did not stop in time: killing it")
        if child.own_group:
            _killpg(child.proc.pid, signal.SIGKILL)
        elif child.running():
            child.proc.kill()
        child.proc.wait()


def run_step(name: str, argv: list[str], env: dict[str, str], *, capture: bool = False) -> str:
    """Run a one-off command to completion (interruptible); return its stdout if captured."""
    log(f"running {name}")
    child = spawn(name, argv, env, stdout=subprocess.PIPE if capture else None)
    try:
        while True:
            try:
                out, _ = child.proc.communicate(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                LATCH.check()
    finally:
        stop_children([child])
    if child.proc.returncode != 0:
        if out:
            sys.stderr.write(out.decode(errors="replace"))
        raise DevstackError(f"{name} failed with exit code {child.proc.returncode}")
    return out.decode(errors="replace") if out else ""


def exit_code(returncode: int) -> int:
    """Popen's -N for "killed by signal N" as a shell would report it."""
    return 128 - returncode if returncode < 0 else returncode
