"""Independent reads sent together: one round trip to PostgreSQL for several SELECTs.

psycopg's pipeline mode sends every statement before reading any answer; a
request that needs three small reads pays one network and scheduling round
trip instead of three. Each statement still goes through Django's cursor
wrapper (logged and counted like any other query), and a database error is
raised as Django's own, as with a plain cursor.

These reads load timestamps with psycopg's own C loader: Django registers a
Python subclass of it (to attach the connection's zone), which costs several
microseconds a value, most of a 100,000-row read. With the session in UTC, as
Django keeps it when USE_TZ is on, both give the same aware datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import psycopg
from django.db import connection
from django.db.models import QuerySet
from psycopg.pq import Format

_TIMESTAMPTZ = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)


class Statement(NamedTuple):
    sql: str
    params: Sequence[Any] | Mapping[str, Any]


def fetch_together(statements: Mapping[str, Statement]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each statement, by the statement's name (an error in any raises); a
    statement that answers no rows (a SET) has an empty list."""
    if len(statements) <= 1:
        return {name: fetch_all(statement) for name, statement in statements.items()}
    cursors = {name: _fast(connection.cursor()) for name in statements}
    try:
        with connection.wrap_database_errors, connection.connection.pipeline():
            for name, (sql, params) in statements.items():
                cursors[name].execute(sql, params)
        return {name: _rows(cursor) for name, cursor in cursors.items()}
    finally:
        for cursor in cursors.values():
            cursor.close()


def fetch_all(statement: Statement) -> list[tuple[Any, ...]]:
    """Every row of one statement, on its own (none for a statement that answers none)."""
    with connection.cursor() as cursor:
        _fast(cursor).execute(statement.sql, statement.params)
        return _rows(cursor)


def _rows(cursor: Any) -> list[tuple[Any, ...]]:
    """A statement's rows; none for one that answers none (a SET)."""
    rows: list[tuple[Any, ...]] = cursor.fetchall() if cursor.description is not None else []
    return rows


def bigint_array(values: Iterable[int]) -> str:
    """An array parameter as one text (`%s::bigint[]`): psycopg dumps a list of 100,000
    values one by one in Python, which costs more than the query."""
    return "{" + ",".join(map(str, values)) + "}"


def joined(values: Iterable[str]) -> str:
    """Texts without commas (keyed hashes) as one parameter: `string_to_array(%s, ',')`."""
    return ",".join(values)


def fetch_values(queryset: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """The rows of a `values_list()` queryset (one whose columns need no conversion in
    Python: no JSON, no encrypted field), read as `fetch_all` reads."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return fetch_all(Statement(sql, params))


def _fast(cursor: Any) -> Any:
    """Django's cursor, with psycopg's C loader for timestamptz when the session is in UTC."""
    if connection.timezone_name == "UTC" and connection.connection is not None:
        cursor.cursor.adapters.register_loader("timestamptz", _TIMESTAMPTZ)
    return cursor
