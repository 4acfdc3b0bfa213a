"""Caps count the person, not the database row.

A person may be a contact of two programs (one number on two lists), and may
have two tasks decided in one batch. Their attempts are counted by the called
number across the whole portfolio and by the contact, each attempt once, and
a call granted earlier in the same batch counts too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import TestCase
from django.utils import timezone

from campaigns.models import Contact, PhoneNumber, Purpose, Queue
from campaigns.services import PhoneInput, contact_create
from dialer.decision import decide_batch, decide_many
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.rows import TaskRow
from dialer.runtime.dispatch import dispatch_task, dispatch_tasks
from dialer.runtime.planner import plan_queue
from dialer.runtime.preview import preview_take_next
from dialer.selectors import task_facts_many
from dialer.services import task_create
from tests.conftest import Portfolio, make_queue
from tests.decision import builders
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, open_queue

NUMBER_A = "+13055550123"  # contact_a's number (Florida)
SECOND_NUMBER = "+13055550177"


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _task(
    queue: Queue, contact: Contact, phone: PhoneNumber, *, appointment_at: datetime | None = None
) -> CallTask:
    return task_create(
        contact=contact,
        phone=phone,
        queue=queue,
        origin="import",
        actor=SYSTEM,
        appointment_at=appointment_at,
    )


def _attempts(task: CallTask, *ats: datetime, first: int = 1) -> list[CallAttempt]:
    """Calls made on `task` at those instants (closed, no answer)."""
    return [
        CallAttempt.objects.create(
            task=task,
            phone_id=task.phone_id,
            attempt_number=n,
            started_at=at,
            ended_at=at + timedelta(seconds=30),
            outcome=Outcome.NO_ANSWER,
            backend="twilio",
        )
        for n, at in enumerate(ats, start=first)
    ]


def _plan(queue: Queue) -> list[int]:
    planned: list[int] = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        plan_queue(queue_id=queue.pk, enqueue=planned.extend)
    return planned


def _codes(task: CallTask) -> list[str]:
    task.refresh_from_db()
    return [r["code"] for r in task.last_decision["reasons"]]


@pytest.mark.django_db
def test_an_alum_on_two_programs_lists_is_counted_once_across_the_portfolio(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    """Florida allows 3 solicitation calls per 24 hours to a person, from any number."""
    now = timezone.now()
    same_person_in_b = contact_create(
        program=portfolio.program_b,
        external_id="B-ALUM",
        first_name="Avery",
        last_name="Alpha",
        state="FL",
        phones=[PhoneInput(NUMBER_A)],
        actor=SYSTEM,
    )
    list_b = _task(
        make_queue(portfolio.program_b, Purpose.REACTIVATION),
        same_person_in_b,
        same_person_in_b.phones.get(),
    )
    _attempts(list_b, now - timedelta(hours=1), now - timedelta(hours=2))
    phone_a = portfolio.contact_a.phones.get()
    # A call of program A to the same person on another of their numbers: found by the
    # contact; program B's calls are found by the number. Each counts once.
    other_phone = PhoneNumber.objects.create(contact=portfolio.contact_a, number=SECOND_NUMBER)
    earlier_a = _task(portfolio.reactivation_a, portfolio.contact_a, other_phone)
    _attempts(earlier_a, now - timedelta(hours=3))
    list_a = _task(
        open_queue(portfolio.reactivation_a),
        portfolio.contact_a,
        phone_a,
    )
    facts = task_facts_many([TaskRow.of(list_a)], at=now)[0]
    assert len(facts.recent_attempts) == 3
    assert [a.at for a in facts.recent_attempts] == sorted(
        (a.at for a in facts.recent_attempts), reverse=True
    )

    _plan(portfolio.reactivation_a)
    assert "frequency_cap" in _codes(list_a)


@pytest.mark.django_db
def test_two_tasks_of_one_person_in_one_planner_batch_count_against_each_other(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    """The healthcare exemption allows 1 reminder a day to a wireless number: one of two."""
    contact = contact_create(
        program=portfolio.program_a,
        external_id="A-2",
        first_name="Rowan",
        last_name="Reed",
        state="FL",
        postal_code="33101",
        phones=[
            PhoneInput(NUMBER_A.replace("0123", "0188"), "mobile", provided_by_patient=True),
            PhoneInput(SECOND_NUMBER, "mobile", provided_by_patient=True),
        ],
        actor=SYSTEM,
    )
    reminders = open_queue(make_queue(portfolio.program_a, Purpose.REMINDER))
    appointment = timezone.now() + timedelta(days=2)
    first, second = (
        _task(reminders, contact, phone, appointment_at=appointment)
        for phone in contact.phones.order_by("id")
    )
    planned = _plan(reminders)
    assert len(planned) == 1, [_codes(first), _codes(second)]
    refused = second if planned == [first.pk] else first
    assert _codes(refused) == ["frequency_cap"]
    # Refused for a cap that lifts: it waits until the granted call is 24 hours old.
    refused.refresh_from_db()
    assert refused.status == TaskStatus.PENDING
    assert refused.next_attempt_at >= timezone.now() + timedelta(hours=24)


@pytest.mark.django_db
def test_two_tasks_of_one_person_in_one_dispatch_chunk_place_one_call(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    contact = contact_create(
        program=portfolio.program_a,
        external_id="A-3",
        first_name="Sage",
        last_name="Stone",
        state="FL",
        postal_code="33101",
        phones=[
            PhoneInput(NUMBER_A.replace("0123", "0199"), "mobile", provided_by_patient=True),
            PhoneInput(SECOND_NUMBER, "mobile", provided_by_patient=True),
        ],
        actor=SYSTEM,
    )
    reminders = open_queue(make_queue(portfolio.program_a, Purpose.REMINDER))
    appointment = timezone.now() + timedelta(days=2)
    tasks = [
        _task(reminders, contact, phone, appointment_at=appointment)
        for phone in contact.phones.order_by("id")
    ]
    results = dispatch_tasks(task_ids=[t.pk for t in tasks])
    assert sorted(r.status for r in results) == ["placed", "refused"]


@pytest.mark.django_db
def test_the_preview_recheck_excludes_only_the_offered_attempt(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    """Another call to the person that started at the same instant (the same dispatch
    chunk, another program) still counts when the offered call is taken."""
    reminders = open_queue(make_queue(portfolio.program_a, Purpose.REMINDER))
    phone = portfolio.contact_a.phones.get()
    phone.line_type = "mobile"
    phone.save(update_fields=["line_type"])
    offered_task = _task(
        reminders, portfolio.contact_a, phone, appointment_at=MONDAY_MORNING + timedelta(days=2)
    )
    result = dispatch_task(task_id=offered_task.pk)
    assert result.status == "placed" and result.attempt_id is not None
    offered = CallAttempt.objects.get(pk=result.attempt_id)

    # The same person on program B's list, called by program B at that same instant.
    in_b = contact_create(
        program=portfolio.program_b,
        external_id="B-2",
        first_name="Avery",
        last_name="Alpha",
        state="FL",
        phones=[PhoneInput(NUMBER_A, "mobile", provided_by_patient=True)],
        actor=SYSTEM,
    )
    task_b = _task(
        make_queue(portfolio.program_b, Purpose.REMINDER),
        in_b,
        in_b.phones.get(),
        appointment_at=MONDAY_MORNING + timedelta(days=2),
    )
    _attempts(task_b, offered.started_at)

    assert preview_take_next(user=portfolio.staff_a) is None
    offered.refresh_from_db()
    assert offered.outcome == Outcome.WITHDRAWN
    assert [r["code"] for r in offered.decision["reasons"]] == ["frequency_cap"]


def test_decide_batch_counts_a_person_once_granted_and_leaves_strangers_alone() -> None:
    """Pure: the reminder cap (1 a day) lets the first of one person's tasks through."""
    at = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    base = builders.task(
        at, purpose="reminder", line_type="mobile", appointment_at=at + timedelta(days=3)
    )
    mine = [
        dataclasses.replace(base, task_id=1, person_keys=(7, "hash-a")),
        dataclasses.replace(base, task_id=2, person_keys=(8, "hash-a")),  # another row, one number
        dataclasses.replace(base, task_id=3, person_keys=(7, "hash-b")),  # one row, another number
        dataclasses.replace(base, task_id=4, person_keys=(9, "hash-c")),  # someone else
    ]
    assert [d.allowed for d in decide_many(mine, at)] == [True, True, True, True]
    decided = decide_batch(mine, at)
    assert [d.allowed for d in decided] == [True, False, False, True]
    assert decided[1].codes == ("frequency_cap",)
    assert decided[1].next_allowed_at == at + timedelta(hours=24)
    strangers = [dataclasses.replace(base, task_id=i, person_keys=(i, f"h{i}")) for i in range(3)]
    assert decide_batch(strangers, at) == decide_many(strangers, at)
