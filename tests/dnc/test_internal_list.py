"""The internal list: a request stops every pending call at once; removal is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.actors import actor_system
from audit.models import AuditEvent
from campaigns.models import Contact, PhoneNumber, Program, Queue
from common.crypto import keyed_hash
from common.phones import InvalidPhoneNumber
from dialer.acts.optout import dnc_request_record
from dialer.models import CallTask, TaskStatus
from dnc.models import InternalDncEntry, RemovalReason
from dnc.selectors import dnc_status, dnc_status_many
from dnc.services import internal_dnc_remove

SYSTEM = actor_system("tests")
NUMBER = "+13055550123"
WAYS = [
    "(305) 555-0123",
    "305-555-0123",
    "305.555.0123",
    "305 555 0123",
    "3055550123",
    "13055550123",
    "1-305-555-0123",
    "+1 305 555 0123",
    "+13055550123",
]


@dataclass
class Calls:
    tasks_to_number: list[CallTask]
    done_task: CallTask
    other_number_task: CallTask
    programs: tuple[Program, Program]


def _task(queue: Queue, phone: PhoneNumber, **fields: Any) -> CallTask:
    return CallTask.objects.create(
        contact=phone.contact,
        phone=phone,
        number_hash=phone.number_hash,
        queue=queue,
        next_attempt_at=timezone.now() + timedelta(hours=1),
        origin="api",
        **fields,
    )


@pytest.fixture
def calls(db: Any) -> Calls:
    """The same number known to two programs (three open tasks), plus tasks that must stay."""
    programs = []
    tasks = []
    for slug, state in (("sunrise", "FL"), ("harbor", "AZ")):
        program = Program.objects.create(
            slug=slug, legal_name=slug.title(), neutral_name=slug, state=state
        )
        programs.append(program)
        callback = Queue.objects.create(
            program=program, slug="callback", name="Callback", purpose="callback"
        )
        outreach = Queue.objects.create(
            program=program, slug="alumni", name="Alumni", purpose="reactivation"
        )
        contact = Contact.objects.create(program=program, external_id=f"{slug}-1")
        phone = PhoneNumber.objects.create(contact=contact, number=NUMBER)
        tasks.append(_task(callback, phone))
        if slug == "sunrise":
            tasks.append(_task(outreach, phone, status=TaskStatus.IN_PROGRESS))
            done = _task(outreach, phone, status=TaskStatus.DONE, closed_reason="connected")
            other_phone = PhoneNumber.objects.create(contact=contact, number="+13055550199")
            other = _task(callback, other_phone)
    return Calls(tasks, done, other, (programs[0], programs[1]))


def test_it_cancels_the_pending_calls_to_the_number_in_every_program(calls: Calls) -> None:
    sunrise, harbor = calls.programs
    entry = dnc_request_record(
        number="305.555.0123",
        source="api",
        note="asked on the phone",
        actor=SYSTEM,
        program_id=harbor.pk,
    )
    assert entry.number == NUMBER and entry.number_hash == keyed_hash(NUMBER)
    for task in calls.tasks_to_number:
        task.refresh_from_db()
        assert (task.status, task.closed_reason) == (TaskStatus.CANCELLED, "internal_dnc")
    assert {t.queue.program_id for t in calls.tasks_to_number} == {sunrise.pk, harbor.pk}
    calls.done_task.refresh_from_db()
    calls.other_number_task.refresh_from_db()
    assert calls.done_task.status == TaskStatus.DONE
    assert calls.other_number_task.status == TaskStatus.PENDING
    recorded = AuditEvent.objects.get(action="dnc.request_recorded")
    assert recorded.data["tasks_cancelled"] == 3
    assert AuditEvent.objects.filter(action="task.cancelled", reason="internal_dnc").count() == 3
    assert AuditEvent.objects.filter(action="dnc.internal_added", object_id=str(entry.pk)).exists()
    assert dnc_status(number_e164=NUMBER).internal


def test_it_is_one_entry_whatever_the_format(calls: Calls) -> None:
    entries = {
        dnc_request_record(number=way, source="api", note="", actor=SYSTEM, program_id=None).pk
        for way in WAYS
    }
    assert len(entries) == 1
    assert InternalDncEntry.objects.count() == 1
    assert AuditEvent.objects.filter(action="dnc.internal_added").count() == 1
    statuses = dnc_status_many(numbers=WAYS)
    assert set(statuses) == set(WAYS)
    assert all(status.internal for status in statuses.values())


def test_a_repeat_request_still_cancels_tasks_created_since(calls: Calls) -> None:
    first = dnc_request_record(number=NUMBER, source="api", note="", actor=SYSTEM, program_id=None)
    queue = calls.tasks_to_number[0].queue
    late = _task(queue, calls.tasks_to_number[0].phone)
    again = dnc_request_record(
        number=NUMBER, source="admin", note="", actor=SYSTEM, program_id=None
    )
    assert again.pk == first.pk
    late.refresh_from_db()
    assert late.status == TaskStatus.CANCELLED


def test_it_refuses_a_bad_number_without_echoing_it(calls: Calls) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        dnc_request_record(
            number="555-0123-99", source="api", note="", actor=SYSTEM, program_id=None
        )
    assert "0123" not in str(caught.value)
    assert not InternalDncEntry.objects.exists()


def test_removal_is_an_audited_act_and_the_row_stays(calls: Calls) -> None:
    entry = dnc_request_record(number=NUMBER, source="api", note="", actor=SYSTEM, program_id=None)
    with pytest.raises(Exception, match="Explain"):
        internal_dnc_remove(entry_id=entry.pk, reason=RemovalReason.OTHER, note=" ", actor=SYSTEM)
    internal_dnc_remove(
        entry_id=entry.pk, reason=RemovalReason.CONSENT_GIVEN, note="signed form 12", actor="user:7"
    )
    entry.refresh_from_db()
    assert entry.removed_at is not None and entry.removed_by == "user:7"
    assert not dnc_status(number_e164=NUMBER).internal
    event = AuditEvent.objects.get(action="dnc.internal_removed")
    assert event.reason == "consent_given"
    assert "signed" not in str(event.data)
    with pytest.raises(Exception, match="already removed"):
        internal_dnc_remove(entry_id=entry.pk, reason=RemovalReason.OTHER, note="x", actor=SYSTEM)
    # A new request after a removal is a new entry; the old one stays on record.
    renewed = dnc_request_record(
        number=NUMBER, source="api", note="", actor=SYSTEM, program_id=None
    )
    assert renewed.pk != entry.pk
    assert InternalDncEntry.objects.count() == 2


def test_the_database_refuses_to_delete_or_rewrite_an_entry(calls: Calls) -> None:
    entry = dnc_request_record(number=NUMBER, source="api", note="", actor=SYSTEM, program_id=None)
    for statement, params in [
        ("DELETE FROM dnc_internaldncentry WHERE id = %s", [entry.pk]),
        ("UPDATE dnc_internaldncentry SET number_hash = 'x' WHERE id = %s", [entry.pk]),
        ("UPDATE dnc_internaldncentry SET program_id = 99 WHERE id = %s", [entry.pk]),
    ]:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.delete()
    internal_dnc_remove(
        entry_id=entry.pk, reason=RemovalReason.ENTERED_IN_ERROR, note="", actor=SYSTEM
    )
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dnc_internaldncentry SET removed_at = NULL WHERE id = %s", [entry.pk]
        )
    assert InternalDncEntry.objects.filter(pk=entry.pk).exists()


def test_a_batch_sees_an_entry_added_in_the_same_transaction(calls: Calls) -> None:
    before = dnc_status_many(numbers=[NUMBER, "+13055550199"])
    assert not before[NUMBER].internal
    dnc_request_record(number=NUMBER, source="api", note="", actor=SYSTEM, program_id=None)
    after = dnc_status_many(numbers=[NUMBER, "+13055550199"])
    assert after[NUMBER].internal and not after["+13055550199"].internal


def test_the_single_check_is_one_query(calls: Calls, django_assert_num_queries: Any) -> None:
    dnc_request_record(number=NUMBER, source="api", note="", actor=SYSTEM, program_id=None)
    # One round trip: generation, internal entry and registry rows together. If this
    # grows, dispatch pays for it on every call: keep the check in one statement.
    with django_assert_num_queries(1):
        status = dnc_status(number_e164=NUMBER)
    assert status.internal and not status.national and status.states == frozenset()
