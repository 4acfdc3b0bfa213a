"""Reads of the marketing view, always through the `marketing` alias (the read-only role).

Nothing here touches the default connection: if the role is missing, these
raise and the caller says so; they never fall back to a connection that can
read identifiers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import connections

from reports.routers import MARKETING_DB

# The breakdowns of the dashboard and the export, in display order.
DIMENSIONS = ("program", "queue", "source", "hour", "week")

# GROUPING(program, queue, source, started_hour, started_week): one bit per argument, the
# first the most significant, set when the row is NOT grouped by that column.
_GROUPING_TO_DIMENSION = {
    0b01111: "program",
    0b00111: "queue",
    0b11011: "source",
    0b11101: "hour",
    0b11110: "week",
    0b11111: "total",
}

_SUMMARY_SQL = """
SELECT GROUPING(program, queue, source, started_hour, started_week) AS grouping,
       program, queue, source, started_hour, started_week,
       count(*) AS attempts,
       count(*) FILTER (WHERE connected) AS connects,
       count(*) FILTER (WHERE answered) AS answered,
       count(*) FILTER (WHERE abandoned) AS abandoned,
       count(seconds_to_first_attempt) AS first_attempts,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_to_first_attempt) AS median_speed
FROM reports_marketing_call
WHERE started_on BETWEEN %(since)s AND %(until)s
  AND (%(all_programs)s OR program_id = ANY(%(program_ids)s))
GROUP BY GROUPING SETS ((program), (program, queue), (source), (started_hour), (started_week), ())
"""


@dataclass(frozen=True)
class Metrics:
    attempts: int = 0
    connects: int = 0
    answered: int = 0
    abandoned: int = 0
    first_attempts: int = 0
    median_seconds_to_first_attempt: float | None = None

    @property
    def connect_rate(self) -> float | None:
        return self.connects / self.attempts if self.attempts else None

    @property
    def abandonment_rate(self) -> float | None:
        """Abandoned among answered calls, as 47 CFR 64.1200(a)(7) counts it."""
        return self.abandoned / self.answered if self.answered else None


@dataclass(frozen=True)
class Row:
    dimension: str
    key: str
    metrics: Metrics


@dataclass(frozen=True)
class Dashboard:
    since: date
    until: date
    total: Metrics
    by: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.total.attempts == 0


def marketing_dashboard(
    *, program_ids: Collection[int] | None, since: date, until: date
) -> Dashboard:
    """Attempts, connects, speed to first attempt and abandonment, per breakdown, in one query.

    `program_ids=None` means every program (operators); an empty collection
    means none. Hours (0-23) and weeks (Mondays from `since` to `until`) with
    no call are filled with zeros, so that charts keep their axes.
    """
    params: dict[str, Any] = {
        "since": since,
        "until": until,
        "all_programs": program_ids is None,
        "program_ids": sorted(program_ids or ()),
    }
    by: dict[str, list[Row]] = {name: [] for name in DIMENSIONS}
    total = Metrics()
    with connections[MARKETING_DB].cursor() as cursor:
        cursor.execute(_SUMMARY_SQL, params)
        for record in cursor.fetchall():
            dimension = _GROUPING_TO_DIMENSION[record[0]]
            metrics = Metrics(
                attempts=record[6],
                connects=record[7],
                answered=record[8],
                abandoned=record[9],
                first_attempts=record[10],
                median_seconds_to_first_attempt=(
                    float(record[11]) if record[11] is not None else None
                ),
            )
            if dimension == "total":
                total = metrics
                continue
            by[dimension].append(Row(dimension, _key(dimension, record), metrics))
    by["hour"] = _fill(by["hour"], "hour", [f"{h:02d}" for h in range(24)])
    by["week"] = _fill(by["week"], "week", [w.isoformat() for w in _mondays(since, until)])
    for name in ("program", "queue", "source"):
        by[name].sort(key=lambda row: (-row.metrics.attempts, row.key))
    return Dashboard(since=since, until=until, total=total, by=by)


def _key(dimension: str, record: tuple[Any, ...]) -> str:
    if dimension == "program":
        return str(record[1])
    if dimension == "queue":
        return f"{record[1]}/{record[2]}"
    if dimension == "source":
        return str(record[3])
    if dimension == "hour":
        return f"{record[4]:02d}"
    return str(record[5].isoformat())


def _fill(rows: list[Row], dimension: str, keys: list[str]) -> list[Row]:
    found = {row.key: row for row in rows}
    extra = sorted(set(found) - set(keys))
    return [found.get(key) or Row(dimension, key, Metrics()) for key in [*keys, *extra]]


def _mondays(since: date, until: date) -> list[date]:
    monday = since - timedelta(days=since.weekday())
    weeks = []
    while monday <= until:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


# --- The conversion feed's reads ---------------------------------------------------------


def conversion_counts(
    *, program_id: int, since: date, until: date
) -> list[tuple[date, str, int, int]]:
    """(date, source, attempts, connects) of the program's callback calls, per day and source."""
    with connections[MARKETING_DB].cursor() as cursor:
        cursor.execute(
            """
            SELECT started_on, source, count(*), count(*) FILTER (WHERE connected)
            FROM reports_marketing_call
            WHERE program_id = %s AND purpose = 'callback'
              AND started_on BETWEEN %s AND %s
            GROUP BY started_on, source
            ORDER BY started_on, source
            """,
            [program_id, since, until],
        )
        return [(row[0], row[1], row[2], row[3]) for row in cursor.fetchall()]


def conversion_events(*, program_id: int, since: date, until: date) -> list[tuple[str, date, str]]:
    """(call id, date, source) of each connected callback call of the program."""
    with connections[MARKETING_DB].cursor() as cursor:
        cursor.execute(
            """
            SELECT call_id, started_on, source
            FROM reports_marketing_call
            WHERE program_id = %s AND purpose = 'callback' AND connected
              AND started_on BETWEEN %s AND %s
            ORDER BY started_on, call_id
            """,
            [program_id, since, until],
        )
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]
