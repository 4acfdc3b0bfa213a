"""Agent-first dialling's shared steps: the last check when the staff leg answers, and a
staff leg nobody picked up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine
from django.utils import timezone

from dialer.acts.agent_first import staff_leg_answered, staff_leg_unanswered
from dialer.acts.optout import dnc_request_record
from dialer.backends import caller_identity
from dialer.models import (
    CallAttempt,
    CallTask,
    Outcome,
    PresenceState,
    StaffPresence,
    TaskStatus,
)
from dialer.presence import presence_set
from dialer.runtime.dispatch import dispatch_task
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, planned_task

NUMBER_A = "+13055550123"
CALLER_ID = "+13055550100"


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _assigned(portfolio: Portfolio) -> CallAttempt:
    """A callback's attempt, recorded and assigned to staff A (the staff leg is ringing)."""
    program = portfolio.program_a
    program.caller_id_number = CALLER_ID
    program.save(update_fields=["caller_id_number"])
    presence_set(
        user=portfolio.staff_a, state="available", answer_at="212-555-0187", now=timezone.now()
    )
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    result = dispatch_task(task_id=task.pk)
    assert result.attempt_id is not None
    CallAttempt.objects.filter(pk=result.attempt_id).update(placed_by=portfolio.staff_a)
    return CallAttempt.objects.get(pk=result.attempt_id)


@pytest.mark.django_db
def test_it_says_whom_to_dial_once_the_staff_leg_answers(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    attempt = _assigned(portfolio)
    answer = staff_leg_answered(attempt_id=attempt.pk, now=timezone.now())
    assert answer.refused == ""
    assert answer.leg is not None
    caller = caller_identity(answer.leg.queue.program, answer.leg.queue.purpose)
    assert (answer.leg.number, caller.number) == (NUMBER_A, CALLER_ID)
    assert answer.leg.ring_seconds >= 15
    attempt.refresh_from_db()
    assert attempt.decision["allowed"] is True and attempt.outcome == ""


@pytest.mark.django_db
def test_a_dnc_request_while_the_staff_leg_rang_stops_the_contact_leg(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    attempt = _assigned(portfolio)
    dnc_request_record(
        number=NUMBER_A, source="call", note="", actor=SYSTEM, program_id=portfolio.program_a.pk
    )
    answer = staff_leg_answered(attempt_id=attempt.pk, now=timezone.now())
    assert answer.leg is None and answer.refused
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.attempts) == (TaskStatus.CANCELLED, 0)


@pytest.mark.django_db
def test_a_staff_leg_nobody_answered_calls_nobody_and_sets_the_staff_member_away(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    attempt = _assigned(portfolio)
    staff_leg_unanswered(attempt_id=attempt.pk, now=timezone.now())
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.attempts, task.next_attempt_at) == (
        TaskStatus.PENDING,
        0,
        MONDAY_MORNING,
    )
    assert StaffPresence.objects.get(user=portfolio.staff_a).state == PresenceState.AWAY
