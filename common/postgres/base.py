"""Django's PostgreSQL backend, with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a kept connection before the first query of
every request by sending `SELECT 1`: a round trip, and CPU on both ends, per request.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        """Whether the kept connection can serve the next request.

        An idle connection receives nothing unasked. A server that ended it (a
        restart, a terminated backend, an idle timeout) leaves its last error and
        its end of file on the socket. So a connection with nothing to read is
        usable, and one with something (or that libpq knows is bad) gets Django's
        own check, `SELECT 1`, which fails on a closed connection.
        """
        connection = self.connection
        if connection is None or connection.pgconn.status != pq.ConnStatus.OK:
            return False
        # poll, not select: a busy server process may hold a socket numbered over 1024.
        poller = select.poll()
        poller.register(connection.pgconn.socket, select.POLLIN)
        return not poller.poll(0) or bool(super().is_usable())
