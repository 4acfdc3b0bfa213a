"""The planner: due tasks decided in bulk, allowed ones leased and handed over, others moved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
import redis
import time_machine
from django.conf import settings
from django.db import connection

from audit.models import AuditEvent
from campaigns.models import Contact, Program
from campaigns.services import PhoneInput, contact_create
from config.celery import app as celery_app
from dialer.acts.optout import dnc_request_record
from dialer.models import CallTask, TaskStatus
from dialer.runtime.planner import DISPATCH_LEASE, plan_queue
from dialer.tasks import DISPATCH_CHUNK, _enqueue_dispatch
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, new_task, open_queue


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _contacts(program: Program, n: int, *, state: str = "FL") -> list[Contact]:
    return [
        contact_create(
            program=program, state=state, phones=[PhoneInput(f"(305) 555-{i:04d}")], actor=SYSTEM
        )
        for i in range(1000, 1000 + n)
    ]


@pytest.mark.django_db(transaction=True)
def test_it_leases_allowed_tasks_and_hands_them_over_after_commit(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    queue = open_queue(portfolio.callback_a)
    tasks = [new_task(queue, c) for c in _contacts(portfolio.program_a, 3)]
    handed: list[list[int]] = []
    result = plan_queue(queue_id=queue.pk, enqueue=handed.append)
    assert sorted(result.allowed) == sorted(t.pk for t in tasks)
    assert sorted(handed[0]) == sorted(t.pk for t in tasks)
    for task in CallTask.objects.filter(pk__in=[t.pk for t in tasks]):
        assert task.status == TaskStatus.PENDING
        assert task.next_attempt_at == MONDAY_MORNING + DISPATCH_LEASE
        assert task.last_decision["allowed"] is True
    # Leased: the next tick, a minute later, does not hand them over again.
    monday.shift(timedelta(minutes=1))
    assert plan_queue(queue_id=queue.pk, enqueue=handed.append).allowed == []
    # A lost message: once the lease runs out, the tick plans them again.
    monday.shift(DISPATCH_LEASE)
    assert len(plan_queue(queue_id=queue.pk, enqueue=handed.append).allowed) == 3


@pytest.mark.django_db
def test_it_moves_waiting_tasks_to_their_time_and_ends_hopeless_ones_with_a_reason(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    queue = open_queue(portfolio.callback_a)
    waiting, listed = (new_task(queue, c) for c in _contacts(portfolio.program_a, 2))
    dnc_request_record(
        number=listed.phone.number, source="web", note="", actor=SYSTEM, program_id=None
    )
    # The DNC request cancelled `listed` at once; reopen it as if it predated the list.
    CallTask.objects.filter(pk=listed.pk).update(status=TaskStatus.PENDING, closed_reason="")
    monday.shift(timedelta(hours=10, minutes=30))  # 20:30 in Miami
    CallTask.objects.update(next_attempt_at=MONDAY_MORNING)
    result = plan_queue(queue_id=queue.pk, enqueue=lambda ids: None)
    assert (result.allowed, result.postponed, result.ended) == ([], 1, 1)
    waiting.refresh_from_db()
    assert waiting.status == TaskStatus.PENDING
    assert waiting.next_attempt_at == MONDAY_MORNING + timedelta(days=1)
    assert waiting.last_decision["reasons"][0]["code"] == "outside_calling_window"
    listed.refresh_from_db()
    assert (listed.status, listed.closed_reason) == (TaskStatus.CANCELLED, "internal_dnc")
    event = AuditEvent.objects.get(action="task.refused", object_id=str(listed.pk))
    assert event.program_id == portfolio.program_a.pk
    assert "internal_dnc" in event.reason


@pytest.mark.django_db
def test_a_big_queue_is_planned_in_bounded_batches(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    queue = open_queue(portfolio.callback_a)
    for contact in _contacts(portfolio.program_a, 5):
        new_task(queue, contact)
    first = plan_queue(queue_id=queue.pk, enqueue=lambda ids: None, batch=2, max_batches=2)
    assert (len(first.allowed), first.more) == (4, True)
    rest = plan_queue(queue_id=queue.pk, enqueue=lambda ids: None, batch=2, max_batches=2)
    assert (len(rest.allowed), rest.more) == (1, False)


@pytest.mark.django_db(transaction=True)
def test_it_skips_tasks_another_transaction_holds(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    queue = open_queue(portfolio.callback_a)
    held, free = (new_task(queue, c) for c in _contacts(portfolio.program_a, 2))
    params = connection.get_connection_params()
    with psycopg.connect(**params) as other:  # a dispatch holding one row
        other.execute("SELECT id FROM dialer_calltask WHERE id = %s FOR UPDATE", [held.pk])
        result = plan_queue(queue_id=queue.pk, enqueue=lambda ids: None)
        other.rollback()
    assert result.allowed == [free.pk]
    assert CallTask.objects.get(pk=held.pk).last_decision == {}


@pytest.mark.django_db(transaction=True)
def test_planned_tasks_travel_in_chunks_and_never_in_front_of_callbacks() -> None:
    celery_app.control.purge()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        before = broker.llen("bulk"), broker.llen("dispatch")
        _enqueue_dispatch(list(range(1, 2 * DISPATCH_CHUNK + 2)))
        # On `bulk`: the `dispatch` queue stays free for callbacks (speed to lead).
        assert broker.llen("bulk") - before[0] == 3
        assert broker.llen("dispatch") == before[1]
    finally:
        celery_app.control.purge()
        broker.close()
