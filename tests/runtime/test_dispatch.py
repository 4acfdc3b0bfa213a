"""Dispatch with a real worker and Redis: speed to lead, the last check wins, pauses hold."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from audit.actors import actor_system
from campaigns.models import Queue
from dialer.api_clients import api_client_create
from dialer.models import CallAttempt, CallTask, TaskStatus
from dialer.planner import plan_queue
from dialer.tasks import _enqueue_dispatch
from tests.conftest import Portfolio

SYSTEM = actor_system("tests")
# A Monday at 10:00 in New York and 08:00 in Phoenix: every test queue's window is open.
MONDAY_MORNING = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        yield


def _wait_for(predicate: Any, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s")


def _open_queue(queue: Queue) -> Queue:
    queue.days = list(range(7))
    queue.save()
    return queue


@pytest.mark.django_db(transaction=True)
def test_a_callback_posted_through_the_api_is_dispatched_within_a_second(
    portfolio: Portfolio, monday: None, celery_worker: Any
) -> None:
    _open_queue(portfolio.callback_a)
    _, token = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    posted = time.monotonic()
    response = client.post(
        "/api/v1/callbacks/",
        {"phone": "(305) 555-0177", "source": "web-form"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    task_id = response.json()["task"]["id"]
    assert response.json()["decision"]["allowed"] is True
    _wait_for(lambda: CallAttempt.objects.filter(task_id=task_id).exists(), timeout=1.0)
    assert time.monotonic() - posted < 1.5
    attempt = CallAttempt.objects.get(task_id=task_id)
    assert attempt.backend_ref == f"preview:{attempt.pk}" or attempt.backend_ref == ""
    assert CallTask.objects.get(pk=task_id).status == TaskStatus.IN_PROGRESS


def _planned_task(portfolio: Portfolio) -> CallTask:
    from dialer.services import task_create

    queue = _open_queue(portfolio.callback_a)
    contact = portfolio.contact_a
    task = task_create(
        contact=contact,
        phone=contact.phones.get(),
        queue=queue,
        origin="api",
        actor=SYSTEM,
        requested_at=MONDAY_MORNING,
    )
    planned: list[int] = []
    result = plan_queue(queue_id=queue.pk, enqueue=planned.extend)
    assert result.allowed == [task.pk]
    return task


@pytest.mark.django_db(transaction=True)
def test_a_dnc_request_after_planning_stops_the_call(
    portfolio: Portfolio, monday: None, celery_worker: Any
) -> None:
    from dialer.optout import dnc_request_record

    task = _planned_task(portfolio)
    dnc_request_record(number="+13055550123", source="phone", note="", actor=SYSTEM, program_id=None)
    _enqueue_dispatch([task.pk])
    _wait_for(lambda: CallTask.objects.get(pk=task.pk).status != TaskStatus.PENDING, timeout=5)
    time.sleep(0.3)
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert not CallAttempt.objects.filter(task=task).exists()


@pytest.mark.django_db(transaction=True)
def test_a_paused_queue_dispatches_nothing_already_planned(
    portfolio: Portfolio, monday: None, celery_worker: Any
) -> None:
    task = _planned_task(portfolio)
    Queue.objects.filter(pk=portfolio.callback_a.pk).update(active=False)
    from dialer.tasks import dispatch

    result = dispatch.delay(task.pk)
    _wait_for(lambda: CallTask.objects.get(pk=task.pk).last_decision.get("allowed") is False, timeout=5)
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert not CallAttempt.objects.filter(task=task).exists()
    reasons = {r["code"] for r in task.last_decision["reasons"]}
    assert "queue_inactive" in reasons
    assert result is not None
