"""common.together: independent reads sent in one round trip, answered by name."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from common.together import Statement, fetch_together

pytestmark = pytest.mark.django_db


def test_each_statement_answers_under_its_name() -> None:
    found = fetch_together(
        {
            "numbers": Statement("SELECT n FROM generate_series(1, %s) AS n", [3]),
            "named": Statement("SELECT %(word)s::text, %(n)s::int", {"word": "a", "n": 7}),
            "none": Statement("SELECT 1 WHERE false", []),
        }
    )
    assert found == {"numbers": [(1,), (2,), (3,)], "named": [("a", 7)], "none": []}


def test_they_are_counted_like_any_query(django_assert_num_queries: object) -> None:
    with django_assert_num_queries(2):  # type: ignore[operator]
        fetch_together({"a": Statement("SELECT 1", []), "b": Statement("SELECT 2", [])})


def test_an_error_is_djangos_and_the_connection_goes_on() -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        fetch_together({"good": Statement("SELECT 1", []), "bad": Statement("SELECT 1 / 0", [])})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 42")
        assert cursor.fetchone() == (42,)
