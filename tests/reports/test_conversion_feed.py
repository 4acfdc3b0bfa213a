"""The conversion feed: aggregates or keyed-hash events of callback calls, never a number."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from audit.models import AuditEvent
from reports.conversions import (
    AGGREGATE_ROW_KEYS,
    EVENT_ROW_KEYS,
    PAYLOAD_KEYS,
    conversion_feed,
)
from reports.routers import MARKETING_DB
from tests.reports.conftest import (
    BOTH,
    TREATMENT_WORDS,
    Planted,
    assert_nothing_identifying,
    marketing_or_skip,
)

# Queue purposes, outcomes and fields that would reveal treatment or a recording.
REVEALING = [
    *TREATMENT_WORDS,
    "reminder",
    "reactivation",
    "recording",
    "abandoned",
    "no_answer",
    "external",
    "phone",
]


def _feed(planted: Planted, kind: str) -> dict[str, Any]:
    today = timezone.localdate()
    return conversion_feed(
        program=planted.portfolio.program_a,
        since=today - timedelta(days=30),
        until=today,
        kind=kind,
    )


def _assert_safe(payload: dict[str, Any], row_keys: frozenset[str]) -> str:
    assert set(payload) == PAYLOAD_KEYS
    for row in payload["rows"]:
        assert set(row) == row_keys
    text = json.dumps(payload)
    assert_nothing_identifying(text, "the conversion feed")
    lowered = text.lower()
    for word in REVEALING:
        assert word not in lowered, word
    # No run of 7+ digits anywhere but inside the 64-hex event ids.
    without_ids = re.sub(r"\b[0-9a-f]{64}\b", "", text)
    assert not re.search(r"\d{7,}", without_ids)
    return text


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_aggregate_feed_counts_callbacks_and_holds_no_number(planted: Planted) -> None:
    marketing_or_skip()
    payload = _feed(planted, "aggregate")
    _assert_safe(payload, AGGREGATE_ROW_KEYS)
    assert payload["program"] == "prog-a" and payload["kind"] == "aggregate"
    by_source = {row["source"]: (row["calls"], row["conversions"]) for row in payload["rows"]}
    # Callback queues only: the reminder and the alumni call are not conversions.
    assert by_source == {"google-ads": (2, 1), "(other)": (1, 1)}


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_event_feed_gives_keyed_hashes_only(planted: Planted) -> None:
    marketing_or_skip()
    payload = _feed(planted, "events")
    _assert_safe(payload, EVENT_ROW_KEYS)
    ids = [row["event_id"] for row in payload["rows"]]
    assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids)
    with connections[MARKETING_DB].cursor() as cursor:
        cursor.execute(
            "SELECT call_id FROM reports_marketing_call"
            " WHERE program = 'prog-a' AND queue = 'callback' AND connected"
        )
        assert sorted(ids) == sorted(row[0] for row in cursor.fetchall())
    attempt_ids = {str(a.pk) for a in planted.attempts}
    assert not attempt_ids & set(ids)
    assert {row["event_name"] for row in payload["rows"]} == {"qualified_call"}


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_command_prints_the_feed_and_records_it(planted: Planted) -> None:
    marketing_or_skip()
    today = timezone.localdate()
    out = io.StringIO()
    call_command(
        "conversion_feed",
        "--program=prog-a",
        f"--since={(today - timedelta(days=30)).isoformat()}",
        f"--until={today.isoformat()}",
        "--kind=events",
        stdout=out,
    )
    payload = json.loads(out.getvalue())
    _assert_safe(payload, EVENT_ROW_KEYS)
    assert len(payload["rows"]) == 2
    event = AuditEvent.objects.get(action="reports.conversion_feed_events_exported")
    assert event.actor == "system:conversion_feed"
    assert event.program_id == planted.portfolio.program_a.pk
    assert event.data["rows"] == 2
