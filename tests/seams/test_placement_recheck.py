"""Placement re-checks its task: each call of a chunk is decided again just before it is placed.

A chunk is decided at one instant and committed, then placed one call after
another. A DNC request committed in between must stop the calls not yet
placed; a slow provider must not hold a call for long (every request times
out), and a chunk that runs late hands back what it has not placed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import TestCase

from audit.models import AuditEvent
from campaigns.services import PhoneInput, contact_create
from dialer.acts.optout import dnc_request_record
from dialer.backends import CallStatus
from dialer.backends.twilio import TwilioBackend
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.dispatch import dispatch_tasks
from dialer.runtime.planner import plan_queue
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, new_task, open_queue
from tests.seams.conftest import CALLER_ID
from tests.telephony.conftest import FakeTwilio

NUMBERS = ["+13055550161", "+13055550162", "+13055550163", "+13055550164"]


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        yield


def _planned_chunk(portfolio: Portfolio, count: int) -> list[int]:
    """`count` callbacks of program A (Miami numbers), planned and leased for dispatch."""
    program = portfolio.program_a
    program.caller_id_number = CALLER_ID
    program.save(update_fields=["caller_id_number"])
    queue = open_queue(portfolio.callback_a)
    tasks = []
    for n, number in enumerate(NUMBERS[:count]):
        contact = contact_create(
            program=program,
            external_id=f"chunk-{n}",
            state="FL",
            postal_code="33101",
            phones=[PhoneInput(number)],
            actor=SYSTEM,
        )
        tasks.append(new_task(queue, contact).pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = plan_queue(queue_id=queue.pk, enqueue=lambda ids: None)
    assert sorted(result.allowed) == sorted(tasks)
    return tasks


class _LineThatHearsAnOptOut:
    """A provider (local fake) that places calls; while the first one is being placed,
    the second person's DNC request arrives and is committed (another connection)."""

    name = "twilio"

    def __init__(self, number: str) -> None:
        self.number = number
        self.placed: list[int] = []

    def place(self, attempt: CallAttempt) -> str:
        if not self.placed:
            meanwhile = threading.Thread(
                target=dnc_request_record,
                kwargs={
                    "number": self.number,
                    "source": "phone",
                    "note": "",
                    "actor": SYSTEM,
                    "program_id": None,
                },
            )
            meanwhile.start()
            meanwhile.join(timeout=10)
        self.placed.append(attempt.pk)
        return f"twilio:CA{attempt.pk:032d}"

    def hangup(self, reference: str) -> None:
        return None

    def status(self, attempt: CallAttempt) -> CallStatus:
        return CallStatus(event=None)


@pytest.mark.django_db(transaction=True)
def test_a_dnc_request_committed_after_the_chunk_commit_stops_the_calls_not_yet_placed(
    portfolio: Portfolio, monday: None
) -> None:
    first, second = _planned_chunk(portfolio, 2)
    line = _LineThatHearsAnOptOut(NUMBERS[1])
    results = {r.task_id: r for r in dispatch_tasks(task_ids=[first, second], backend=line)}
    assert results[first].status == "placed"
    assert results[second].status == "refused"
    placed_tasks = set(
        CallAttempt.objects.filter(pk__in=line.placed).values_list("task_id", flat=True)
    )
    assert placed_tasks == {first}, "the opted-out person was called"
    task = CallTask.objects.get(pk=second)
    assert task.status == TaskStatus.CANCELLED and task.closed_reason == "internal_dnc"
    assert task.attempts == 0  # the withdrawn attempt counts toward nothing
    withdrawn = CallAttempt.objects.get(task_id=second)
    assert withdrawn.outcome == Outcome.WITHDRAWN and withdrawn.backend_ref == ""
    assert AuditEvent.objects.filter(
        action="call.withdrawn", object_id=str(withdrawn.pk), reason="internal_dnc"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_slow_provider_times_out_and_the_attempt_fails_instead_of_ringing_late(
    portfolio: Portfolio, monday: None, twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.TELEPHONY_PLACE_TIMEOUT_SECONDS = 1
    fake_twilio.delay = 4.0
    [task_id] = _planned_chunk(portfolio, 1)
    started = time.monotonic()
    [result] = dispatch_tasks(task_ids=[task_id], backend=TwilioBackend())
    assert time.monotonic() - started < 3.5, "the provider request was not bounded"
    assert result.status == "failed"
    attempt = CallAttempt.objects.get(task_id=task_id)
    assert attempt.outcome == Outcome.FAILED and attempt.backend_ref == ""
    task = CallTask.objects.get(pk=task_id)
    assert task.status == TaskStatus.PENDING  # retried later per the queue's policy


@pytest.mark.django_db(transaction=True)
def test_a_chunk_past_its_deadline_hands_back_what_it_has_not_placed(
    portfolio: Portfolio, monday: None, twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.DISPATCH_CHUNK_SECONDS = 1
    fake_twilio.delay = 0.7
    ids = _planned_chunk(portfolio, 4)
    results = dispatch_tasks(task_ids=ids, backend=TwilioBackend())
    statuses = [r.status for r in results]
    assert "placed" in statuses and "handed_back" in statuses, statuses
    assert set(statuses) == {"placed", "handed_back"}, statuses
    assert len(fake_twilio.created) == statuses.count("placed")
    for result in results:
        task = CallTask.objects.get(pk=result.task_id)
        attempt = CallAttempt.objects.get(task_id=result.task_id)
        if result.status == "placed":
            assert task.status == TaskStatus.IN_PROGRESS and attempt.backend_ref
            continue
        assert attempt.outcome == Outcome.WITHDRAWN and attempt.backend_ref == ""
        assert task.status == TaskStatus.PENDING and task.attempts == 0
        assert attempt.ended_at is not None
        assert task.next_attempt_at <= attempt.ended_at  # due again: the planner decides it
        assert AuditEvent.objects.filter(
            action="call.withdrawn", object_id=str(attempt.pk), reason="chunk_deadline"
        ).exists()
