"""The conversion feed for ad platforms: aggregate counts, or keyed-hash events, nothing else.

What it may carry is fixed here and checked by the tests: a program's slug,
the period, and per day and lead source either counts of callback calls and
of connected ones (`aggregate`), or one event per connected callback call
with its keyed-hash id (`events`). Only the callback queues (a person who
asked to be called) count: reminders and alumni calls would tell an ad
platform about patients. No number, name, CRM id, recording, queue, purpose,
outcome or patient status, hashed or not: a hashed phone number is still the
person. Everything is read from the marketing view, through its role.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from campaigns.models import Program
from reports.selectors import conversion_counts, conversion_events
from reports.services import marketing_export_record

FEED_SCHEMA = "callorch.conversions/1"
EVENT_NAME = "qualified_call"  # a connected callback: neutral, says nothing about treatment
KINDS = ("aggregate", "events")

# Every key the payload may hold, per level; tests compare against these.
PAYLOAD_KEYS = frozenset({"schema", "kind", "program", "since", "until", "generated_at", "rows"})
AGGREGATE_ROW_KEYS = frozenset({"date", "source", "calls", "conversions"})
EVENT_ROW_KEYS = frozenset({"event_id", "event_name", "date", "source"})


def conversion_feed(
    *, program: Program, since: date, until: date, kind: str = "aggregate"
) -> dict[str, Any]:
    """Build the payload (a read: nothing is recorded; see conversion_feed_export)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    rows: list[dict[str, Any]]
    if kind == "aggregate":
        rows = [
            {"date": day.isoformat(), "source": source, "calls": calls, "conversions": connects}
            for day, source, calls, connects in conversion_counts(
                program_id=program.pk, since=since, until=until
            )
        ]
    else:
        rows = [
            {
                "event_id": call_id,
                "event_name": EVENT_NAME,
                "date": day.isoformat(),
                "source": source,
            }
            for call_id, day, source in conversion_events(
                program_id=program.pk, since=since, until=until
            )
        ]
    return {
        "schema": FEED_SCHEMA,
        "kind": kind,
        "program": program.slug,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "rows": rows,
    }


def conversion_feed_export(
    *, program: Program, since: date, until: date, kind: str, actor: str
) -> dict[str, Any]:
    """Build the payload and record in the audit trail who took it, for what scope."""
    payload = conversion_feed(program=program, since=since, until=until, kind=kind)
    marketing_export_record(
        actor=actor,
        kind=f"conversion_feed_{kind}",
        program_ids=[program.pk],
        since=since,
        until=until,
        rows=len(payload["rows"]),
    )
    return payload
