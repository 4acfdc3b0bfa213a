"""Reads of programs and queues."""

from __future__ import annotations

from django.db import connection

from campaigns.models import Program, Queue
from common.rows import columns, instance


def queue_by_slug(program: Program, slug: str) -> Queue | None:
    """One program's queue by slug, with that program attached (plain SQL: read per request)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns(Queue, 'q')} FROM campaigns_queue q"  # noqa: S608 (model columns)
            " WHERE q.program_id = %s AND q.slug = %s",
            [program.pk, slug],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    queue = instance(Queue, row)
    queue.program = program
    return queue
