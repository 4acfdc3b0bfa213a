"""``run``: migrate, seed the demo, then supervise web, worker, beat (and sip_agent)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shlex
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .children import Child, exit_code, run_step, spawn, stop_children
from .core import LATCH, POLL_S, REPO, START_TIMEOUT_S, DevstackError, log
from .services import provide_services

SECRET_NAMES = ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_HASH_KEY")


def dev_secrets(path: Path) -> dict[str, str]:
    """SECRET_KEY and the field keys: from the environment, else from ``path``.

    Missing ones are generated once and kept in ``path`` (mode 0600), since
    encrypted fields and lookup hashes stay readable only with the same keys.
    """
    needed = [name for name in SECRET_NAMES if not os.environ.get(name)]
    if not needed:
        return {}
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                stored[key.strip()] = value.strip()
    missing = [name for name in needed if not stored.get(name)]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(48)
        text = "# Development secrets made by scripts/devstack.py; keep them with the data.\n"
        text += "".join(f"{key}={value}\n" for key, value in stored.items())
        _write_private(path, text)
        log(f"generated {', '.join(missing)} into {path}")
    return {name: stored[name] for name in needed}


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


@contextlib.contextmanager
def exclusive(datadir: Path) -> Iterator[None]:
    """One ``run`` per data dir: two would share pgdata and the beat pidfile."""
    with open(datadir / "run.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DevstackError(f"another devstack run is using {datadir}") from None
        yield


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_web(port: int, children: list[Child]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for child in children:
            if not child.running():
                raise DevstackError(f"{child.name} exited with code {child.proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            LATCH.sleep(0.2)
    raise DevstackError(f"the web server did not listen on port {port} within {START_TIMEOUT_S}s")


def supervise(children: list[Child]) -> int:
    """Wait until a signal (exit 0) or until a child dies (exit non-zero)."""
    while True:
        for child in children:
            if not child.running():
                log(f"{child.name} exited with code {child.proc.returncode}: stopping everything")
                return exit_code(child.proc.returncode) or 1
        if LATCH.signum is not None:
            log(f"{signal.Signals(LATCH.signum).name}: stopping everything")
            return 0
        time.sleep(POLL_S)


def cmd_run() -> int:
    datadir = Path(os.environ.get("DEVSTACK_DIR") or REPO / ".devstack").resolve()
    port_text = os.environ.get("PORT", "8000")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DevstackError(f"PORT must be a TCP port number, got {port_text!r}")
    port = int(port_text)
    datadir.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    with exclusive(datadir), contextlib.ExitStack() as stack:
        if not _port_free(port):
            raise DevstackError(f"port {port} is already in use; choose another with PORT=...")
        env = dict(os.environ) | dev_secrets(datadir / "secrets.env")
        env |= {
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DEBUG": "true",
            "PYTHONUNBUFFERED": "1",
        }
        env.setdefault("DEMO_URL", f"http://127.0.0.1:{port}/admin/")  # what seed_demo prints
        env |= provide_services(stack, datadir)
        # The same environment for other shells: set -a; . .devstack/run.env
        keys = [*SECRET_NAMES, "DJANGO_SETTINGS_MODULE", "DEBUG", "DATABASE_URL", "REDIS_URL"]
        run_env = datadir / "run.env"
        _write_private(run_env, "".join(f"{k}={shlex.quote(env[k])}\n" for k in keys))
        stack.callback(run_env.unlink, missing_ok=True)

        run_step("manage.py migrate", [py, "manage.py", "migrate", "--noinput"], env)
        demo = run_step("manage.py seed_demo", [py, "manage.py", "seed_demo"], env, capture=True)
        sip_needed = run_step(
            "manage.py sip_agent --needed", [py, "manage.py", "sip_agent", "--needed"], env,
            capture=True,
        ).strip() == "yes"  # fmt: skip

        beat_pid = datadir / "celerybeat.pid"
        beat_pid.unlink(missing_ok=True)  # stale from a killed run; the lock says none is live
        children: list[Child] = []
        stack.callback(stop_children, children)  # runs before Redis and PostgreSQL stop
        for name, argv in (
            ("web", [py, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]),
            ("worker", [py, "-m", "celery", "-A", "config", "worker", "-Q", "dispatch,bulk,celery",
                        "--concurrency", "2", "-n", "worker@%h", "--loglevel", "INFO"]),
            ("beat", [py, "-m", "celery", "-A", "config", "beat", "--scheduler",
                      "django_celery_beat.schedulers:DatabaseScheduler", "--loglevel", "INFO",
                      "--pidfile", str(beat_pid),
                      "--schedule", str(datadir / "celerybeat-schedule")]),
        ):  # fmt: skip
            children.append(spawn(name, argv, env))
            log(f"started {name} (pid {children[-1].proc.pid})")
        if sip_needed:  # baresip's control socket takes one client: one sip_agent
            children.append(spawn("sip_agent", [py, "manage.py", "sip_agent"], env))
            log(f"started sip_agent (pid {children[-1].proc.pid})")
        _wait_web(port, children)
        print(f"devstack: ready: http://127.0.0.1:{port}/admin/", flush=True)
        print(demo.rstrip("\n"), flush=True)
        print("devstack: Ctrl-C stops everything", flush=True)
        return supervise(children)
