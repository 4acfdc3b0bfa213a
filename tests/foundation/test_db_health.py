"""The kept connection's health check (common.postgres): no query, and a connection
the server ended is seen as unusable, so Django opens a new one for the request."""

from __future__ import annotations

import select
from typing import Any

import psycopg
import pytest
from django.db import connections


def _server(connection: Any) -> psycopg.Connection[Any]:
    """A second connection, to see and end the first one's backend."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params, autocommit=True)


@pytest.fixture
def kept() -> Any:
    """A connection of its own (not the test's transaction), closed afterwards."""
    connection = connections.create_connection("default")
    connection.ensure_connection()
    yield connection
    connection.close()


@pytest.mark.django_db
def test_a_healthy_connection_is_usable_without_a_query(kept: Any) -> None:
    pid = kept.connection.info.backend_pid
    with kept.cursor() as cursor:
        cursor.execute("SELECT 'the last query'")
    with _server(kept) as server:
        assert kept.is_usable()
        last = server.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        assert last.fetchone() == ("SELECT 'the last query'",)


@pytest.mark.django_db
def test_a_connection_the_server_ended_is_not_usable(kept: Any) -> None:
    pid = kept.connection.info.backend_pid
    with _server(kept) as server:
        server.execute("SELECT pg_terminate_backend(%s)", [pid])
    # What the server sent last (its error, then the end of file) reaches the socket.
    readable, _, _ = select.select([kept.connection.pgconn.socket], [], [], 10)
    assert readable
    assert not kept.is_usable()
    # What Django does before a request's first query, with health checks on.
    kept.health_check_enabled = True
    kept.health_check_done = False
    kept.close_if_health_check_failed()
    assert kept.connection is None
    with kept.cursor() as cursor:  # a new connection serves the request
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
