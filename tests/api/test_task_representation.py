"""A task's answer built directly (dialer.api.tasks.task_representation) is the one the
serializer's fields would give, field for field: times, choices, blanks and attempts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers

from dialer.api.tasks import TaskOutput, task_representation
from dialer.models import CallAttempt, CallTask
from tests.conftest import Portfolio
from tests.runtime.helpers import new_task

DECISION = {
    "allowed": False,
    "reasons": [{"code": "frequency_cap", "detail": "1 a day"}],
    "next_allowed_at": "2026-11-28T13:00:00Z",
    "zones": ["America/New_York"],
    "evaluated_at": "2026-11-28T01:31:00Z",
}


def _by_fields(task: CallTask) -> dict[str, Any]:
    """What DRF's ModelSerializer makes of the task, as TaskOutput declares it."""
    data = dict(serializers.ModelSerializer.to_representation(TaskOutput(), task))
    data["last_decision"] = task.last_decision or None
    return data


@pytest.mark.django_db
def test_it_answers_what_the_serializer_fields_answer(portfolio: Portfolio) -> None:
    task = new_task(portfolio.callback_a, portfolio.contact_a)
    now = timezone.now()
    CallAttempt.objects.create(
        task=task, phone=task.phone, attempt_number=1, started_at=now - timedelta(hours=1)
    )
    CallAttempt.objects.create(
        task=task,
        phone=task.phone,
        attempt_number=2,
        started_at=now,
        ended_at=now + timedelta(seconds=41, microseconds=7),
        outcome="no_answer",
        duration_seconds=41,
        backend="twilio",
    )
    CallTask.objects.filter(pk=task.pk).update(
        attempts=2, last_attempt_at=now, closed_reason="", last_decision=DECISION
    )
    for fresh in (
        CallTask.objects.select_related("queue").prefetch_related("attempt_set").get(pk=task.pk),
        CallTask.objects.get(pk=task.pk),
    ):
        assert task_representation(fresh) == _by_fields(fresh)


@pytest.mark.django_db
def test_a_task_just_created_is_answered_without_reading_its_attempts(
    portfolio: Portfolio, django_assert_num_queries: Any
) -> None:
    task = new_task(portfolio.callback_a, portfolio.contact_a)
    task.last_decision = DECISION
    task.save(update_fields=["last_decision"])
    with django_assert_num_queries(0):
        answer = task_representation(task, attempts=())
    assert answer == _by_fields(CallTask.objects.get(pk=task.pk))
