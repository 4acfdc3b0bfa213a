"""The marketing view (a PostgreSQL view, read through the `marketing` role only).

One row per dialled call attempt, with what marketing may know and nothing
else: program, queue, purpose, origin, a sanitised lead source, outcome,
duration, the local date, hour and week, and a keyed-hash call id that cannot
be reversed without a key the marketing role cannot read. No name, number,
external id, patient status, contact or task id. See migrations/0001 for the
SQL and reports/dbrole.py for the role.
"""

from __future__ import annotations

from django.db import models

MARKETING_VIEW = "reports_marketing_call"
# Columns of the view, in order; tests check that nothing else appears.
MARKETING_COLUMNS = (
    "call_id",
    "program_id",
    "program",
    "queue",
    "purpose",
    "origin",
    "source",
    "attempt_number",
    "outcome",
    "answered",
    "connected",
    "abandoned",
    "duration_seconds",
    "started_on",
    "started_hour",
    "started_week",
    "first_attempt",
    "seconds_to_first_attempt",
)


class MarketingCall(models.Model):
    call_id = models.CharField(max_length=64, primary_key=True)
    program_id = models.BigIntegerField()
    program = models.CharField(max_length=50)
    queue = models.CharField(max_length=50)
    purpose = models.CharField(max_length=20)
    origin = models.CharField(max_length=10)
    source = models.CharField(max_length=50)
    attempt_number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=20)
    answered = models.BooleanField()
    connected = models.BooleanField()
    abandoned = models.BooleanField()
    duration_seconds = models.PositiveIntegerField(null=True)
    started_on = models.DateField()
    started_hour = models.PositiveSmallIntegerField()
    started_week = models.DateField()
    first_attempt = models.BooleanField()
    seconds_to_first_attempt = models.IntegerField(null=True)

    class Meta:
        managed = False
        db_table = MARKETING_VIEW
        verbose_name = "marketing dashboard"
        verbose_name_plural = "marketing dashboard"
        ordering = ["-started_on"]

    def __str__(self) -> str:
        return f"Call {self.call_id[:12]}"
