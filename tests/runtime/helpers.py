"""Helpers shared by the runtime tests: a known instant, waiting, planned tasks."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.test import TestCase

from audit.actors import actor_system
from campaigns.models import Contact, Queue
from dialer.models import CallTask
from dialer.runtime.planner import plan_queue
from dialer.services import task_create

SYSTEM = actor_system("tests")
# A Monday at 10:00 in New York and 08:00 in Phoenix: every test queue's window is open.
MONDAY_MORNING = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    """Poll until `predicate()` holds; the seconds it took. Fails the test on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s")


def open_queue(queue: Queue) -> Queue:
    """Every day allowed (the queue's hours stay 09:00-20:00 in the called party's zone)."""
    queue.days = list(range(7))
    queue.save()
    return queue


def new_task(queue: Queue, contact: Contact, *, requested_at: datetime | None = None) -> CallTask:
    return task_create(
        contact=contact,
        phone=contact.phones.order_by("id").first(),  # type: ignore[arg-type]
        queue=queue,
        origin="api",
        actor=SYSTEM,
        requested_at=requested_at or MONDAY_MORNING - timedelta(minutes=30),
    )


def planned_task(queue: Queue, contact: Contact, **kwargs: datetime) -> CallTask:
    """A task the planner has decided and leased for dispatch (its message is not sent)."""
    task = new_task(open_queue(queue), contact, **kwargs)
    planned: list[int] = []
    # Runs the on-commit hand-over inside a test transaction too (it runs by itself otherwise).
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = plan_queue(queue_id=queue.pk, enqueue=planned.extend)
    assert result.allowed == [task.pk], task.__class__.objects.get(pk=task.pk).last_decision
    assert planned == [task.pk]
    task.refresh_from_db()
    return task
