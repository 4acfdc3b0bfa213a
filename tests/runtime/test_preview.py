"""Preview dialling: "take next" re-checks the call, and the My calls page works it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from audit.models import AuditEvent
from dialer.acts.optout import dnc_request_record
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.preview import current_call, preview_take_next
from dnc.services import internal_dnc_add
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, planned_task

NUMBER_A = "+13055550123"
MY_CALLS = "/admin/dialer/mycall/"


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _offered(portfolio: Portfolio) -> CallAttempt:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    result = dispatch_task(task_id=task.pk)
    assert result.status == "placed"
    assert result.attempt_id is not None
    return CallAttempt.objects.get(pk=result.attempt_id)


@pytest.mark.django_db
def test_it_hands_an_allowed_call_to_one_staff_member_of_its_program(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    offered = _offered(portfolio)
    assert preview_take_next(user=portfolio.staff_b) is None  # program B sees nothing of A
    taken = preview_take_next(user=portfolio.staff_a)
    assert taken is not None and taken.pk == offered.pk
    assert taken.placed_by == portfolio.staff_a
    assert taken.decision["allowed"] is True
    assert current_call(user=portfolio.staff_a) == taken
    assert preview_take_next(user=portfolio.staff_a) is None  # nothing else is waiting
    assert AuditEvent.objects.filter(action="call.taken", object_id=str(taken.pk)).exists()


@pytest.mark.django_db
def test_it_withdraws_a_call_whose_number_went_on_the_dnc_list_since_the_offer(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    offered = _offered(portfolio)
    # The list entry alone (as a registry-style write would make it), no cancellation.
    internal_dnc_add(number_e164=NUMBER_A, source="web", note="", actor=SYSTEM, program_id=None)
    assert preview_take_next(user=portfolio.staff_a) is None
    attempt = CallAttempt.objects.get(pk=offered.pk)
    assert attempt.outcome == Outcome.WITHDRAWN
    assert attempt.placed_by is None
    assert [r["code"] for r in attempt.decision["reasons"]] == ["internal_dnc"]
    task = CallTask.objects.get(pk=offered.task_id)
    assert (task.status, task.closed_reason, task.attempts) == (
        TaskStatus.CANCELLED,
        "internal_dnc",
        0,
    )
    withdrawn = AuditEvent.objects.get(action="call.withdrawn", object_id=str(offered.pk))
    assert withdrawn.reason == "internal_dnc"


@pytest.mark.django_db
def test_it_withdraws_a_call_whose_window_closed_and_reschedules_it(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    offered = _offered(portfolio)
    monday.shift(timedelta(hours=10, minutes=30))  # 20:30 in Miami: after the queue's 20:00
    assert preview_take_next(user=portfolio.staff_a) is None
    assert CallAttempt.objects.get(pk=offered.pk).outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=offered.task_id)
    assert task.status == TaskStatus.PENDING
    assert task.attempts == 0  # never dialled: the next try is attempt 1 again in the count
    # 09:00 the next morning in every zone of Florida: Chicago's (the panhandle) opens last.
    assert task.next_attempt_at == MONDAY_MORNING + timedelta(days=1)
    assert task.last_decision["reasons"][0]["code"] == "outside_calling_window"


@pytest.mark.django_db
def test_it_withdraws_a_call_whose_task_was_cancelled_and_leaves_it_cancelled(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    offered = _offered(portfolio)
    dnc_request_record(number=NUMBER_A, source="web", note="", actor=SYSTEM, program_id=None)
    assert preview_take_next(user=portfolio.staff_a) is None
    assert CallAttempt.objects.get(pk=offered.pk).outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=offered.task_id)
    assert (task.status, task.closed_reason) == (TaskStatus.CANCELLED, "internal_dnc")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.django_db
def test_the_my_calls_page_takes_the_call_shows_the_disclosure_first_and_logs_the_outcome(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    offered = _offered(portfolio)
    client = Client()
    client.force_login(portfolio.staff_a)
    page = client.get(MY_CALLS)
    assert page.status_code == 200
    assert "Take the next call" in page.content.decode()

    taken = client.post(MY_CALLS, {"action": "take"}, follow=True)
    html = taken.content.decode()
    assert f"Call #{offered.pk}" in html
    disclosure = html.index('id="recording-disclosure"')
    script = html.index('id="script-body"')
    assert disclosure < script
    assert "This call may be recorded" in _text(html)
    assert "Hello, returning your call." in _text(html)
    assert 'id="dial-number"' not in html  # the number only after a fresh decision at Dial
    assert "305" not in _text(html).replace(f"Call #{offered.pk}", "")

    dialled = client.post(MY_CALLS, {"action": "dial", "attempt": offered.pk}, follow=True)
    assert "+13055550123" in _text(dialled.content.decode())
    assert CallAttempt.objects.get(pk=offered.pk).dialled_at is not None

    logged = client.post(
        MY_CALLS,
        {
            "action": "outcome",
            "attempt": offered.pk,
            "outcome": "no_answer",
            "recording_consent": "no",
            "duration_seconds": "0",
        },
        follow=True,
    )
    assert f"Outcome logged for call #{offered.pk}" in logged.content.decode()
    attempt = CallAttempt.objects.get(pk=offered.pk)
    assert (attempt.outcome, attempt.recording_consent) == (Outcome.NO_ANSWER, False)
    assert CallTask.objects.get(pk=offered.task_id).status == TaskStatus.PENDING


@pytest.mark.django_db
def test_a_staff_member_cannot_log_someone_elses_call(
    monday: time_machine.Traveller, portfolio: Portfolio
) -> None:
    offered = _offered(portfolio)
    preview_take_next(user=portfolio.staff_a)
    client = Client()
    client.force_login(portfolio.staff_b)
    client.post(MY_CALLS, {"action": "outcome", "attempt": offered.pk, "outcome": "connected"})
    assert CallAttempt.objects.get(pk=offered.pk).outcome == ""
    manager = Client()
    manager.force_login(portfolio.manager_a)  # managers do not work calls
    assert manager.get(MY_CALLS).status_code == 403
