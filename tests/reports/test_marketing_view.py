"""The marketing view and its role: PostgreSQL refuses every table; the view holds no identifier."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import psycopg
import pytest
from django.db import connection, connections

from reports.models import MARKETING_COLUMNS, MARKETING_VIEW
from reports.routers import MARKETING_DB
from tests.reports.conftest import (
    BOTH,
    Planted,
    assert_nothing_identifying,
    marketing_or_skip,
    visible_text,
)

FORBIDDEN_COLUMN_WORDS = ("name", "phone", "number_hash", "external", "patient", "contact", "task")


def _relations() -> list[str]:
    """Every table, partition, view, materialised view and sequence of the schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            ORDER BY c.relname
            """
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_it_refuses_every_table_but_the_view(marketing_raw: Any) -> None:
    relations = _relations()
    assert "campaigns_contact" in relations and "reports_call_id_key" in relations
    refused = []
    for name in relations:
        if name == MARKETING_VIEW:
            continue
        with pytest.raises(psycopg.Error) as caught:
            marketing_raw.execute(f'SELECT 1 FROM "{name}" LIMIT 1')  # noqa: S608 (pg_class names)
        # 42501 insufficient_privilege, said by PostgreSQL, not by our code.
        assert caught.value.sqlstate == "42501", name
        assert "permission denied" in str(caught.value)
        refused.append(name)
    marketing_raw.execute("SELECT count(*) FROM reports_marketing_call")
    assert len(refused) == len(relations) - 1


@pytest.mark.django_db
def test_it_may_not_write_even_the_view(marketing_raw: Any) -> None:
    for statement in (
        "DELETE FROM reports_marketing_call",
        "UPDATE reports_marketing_call SET outcome = 'x'",
        "DELETE FROM campaigns_contact",
        "UPDATE dialer_callattempt SET outcome = 'connected'",
        "CREATE TABLE marketing_scratch (id int)",
    ):
        with pytest.raises(psycopg.Error) as caught:
            marketing_raw.execute(statement)
        # Read-only session (25006), no privilege (42501), or a view that cannot be
        # written at all (55000): refused by the server in every case.
        assert caught.value.sqlstate in {"25006", "42501", "55000"}, statement


@pytest.mark.django_db
def test_the_role_has_no_power_beyond_login(marketing_raw: Any) -> None:
    row = marketing_raw.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolinherit, rolbypassrls, rolreplication,"
        " (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)"
        " FROM pg_roles r WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, False, False, False, False, 0)
    assert marketing_raw.execute("SHOW default_transaction_read_only").fetchone() == ("on",)


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_view_holds_no_identifier(planted: Planted) -> None:
    marketing_or_skip()
    with connections[MARKETING_DB].cursor() as cursor:
        cursor.execute("SELECT * FROM reports_marketing_call")
        columns = [c.name for c in cursor.description]
        rows = cursor.fetchall()
    assert tuple(columns) == MARKETING_COLUMNS
    for column in columns:
        assert not any(word in column for word in FORBIDDEN_COLUMN_WORDS), column
    assert len(rows) == 6  # every dialled attempt of both programs; the withdrawn one is not a call
    assert_nothing_identifying(visible_text(v for row in rows for v in row), "the marketing view")
    attempt_ids = {str(a.pk) for a in planted.attempts}
    task_ids = {str(a.task_id) for a in planted.attempts}
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        assert str(record["call_id"]) not in attempt_ids | task_ids
        assert record["source"] in {"google-ads", "(other)", "alumni-list", "facebook"}


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_call_id_is_a_keyed_hash_of_the_attempt(planted: Planted) -> None:
    marketing_or_skip()
    with connection.cursor() as cursor:  # the owner may read the key; marketing may not
        cursor.execute("SELECT inner_pad FROM reports_call_id_key")
        key = bytes(b ^ 0x36 for b in bytes(cursor.fetchone()[0]))
    with connections[MARKETING_DB].cursor() as cursor:
        cursor.execute("SELECT call_id FROM reports_marketing_call")
        seen = {row[0] for row in cursor.fetchall()}
    dialled = [a for a in planted.attempts if a.outcome != "withdrawn"]
    expected = {hmac.new(key, f"call:{a.pk}".encode(), hashlib.sha256).hexdigest() for a in dialled}
    assert seen == expected
    unkeyed = {hashlib.sha256(f"call:{a.pk}".encode()).hexdigest() for a in dialled}
    assert not seen & unkeyed


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_speed_to_first_attempt_counts_the_first_dialled_call(planted: Planted) -> None:
    marketing_or_skip()
    with connections[MARKETING_DB].cursor() as cursor:
        cursor.execute(
            "SELECT program, queue, source, attempt_number, first_attempt,"
            " seconds_to_first_attempt FROM reports_marketing_call"
            " ORDER BY program, queue, source, attempt_number"
        )
        rows = cursor.fetchall()
    assert ("prog-a", "callback", "google-ads", 1, True, 90) in rows
    assert ("prog-a", "callback", "google-ads", 2, False, None) in rows
    # Attempt 1 was withdrawn at the last check: attempt 2 is the first call, 15 minutes on.
    assert ("prog-a", "callback", "(other)", 2, True, 15 * 60) in rows
    # Speed to lead is a callback measure: none for reminders and alumni calls.
    assert ("prog-a", "reminder", "(other)", 1, True, None) in rows
