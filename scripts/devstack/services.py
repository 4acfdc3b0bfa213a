"""Both services: use a configured server that answers, else start an embedded one."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .core import LATCH, log
from .postgres import postgres_connect_kwargs, start_postgres
from .redis_server import start_redis


def _socket_connect(host: str, port: int) -> None:
    """Raise OSError unless something accepts a connection there."""
    if host.startswith("/"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(host)
    else:
        socket.create_connection((host, port), timeout=3).close()


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
