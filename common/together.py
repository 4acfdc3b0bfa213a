"""Independent reads sent together: one round trip to PostgreSQL for several SELECTs.

psycopg's pipeline mode sends every statement before reading any answer; a
request that needs three small reads pays one network and scheduling round
trip instead of three. Each statement still goes through Django's cursor
wrapper (logged and counted like any other query), and a database error is
raised as Django's own, as with a plain cursor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from django.db import connection


class Statement(NamedTuple):
    sql: str
    params: Sequence[Any] | Mapping[str, Any]


def fetch_together(statements: Mapping[str, Statement]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each statement, by the statement's name (an error in any raises)."""
    if len(statements) <= 1:
        return {name: fetch_all(statement) for name, statement in statements.items()}
    cursors = {name: connection.cursor() for name in statements}
    try:
        with connection.wrap_database_errors, connection.connection.pipeline():
            for name, (sql, params) in statements.items():
                cursors[name].execute(sql, params)
        return {name: cursor.fetchall() for name, cursor in cursors.items()}
    finally:
        for cursor in cursors.values():
            cursor.close()


def fetch_all(statement: Statement) -> list[tuple[Any, ...]]:
    """Every row of one statement, on its own."""
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows
