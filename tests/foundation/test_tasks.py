"""One open task per number and queue, enforced by the database."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.actors import actor_system
from audit.models import AuditEvent
from campaigns.services import PhoneInput, contact_create
from dialer.models import CallTask, TaskStatus
from dialer.services import DuplicateOpenTask, task_create, tasks_cancel
from tests.conftest import Portfolio

SYSTEM = actor_system("tests")


@pytest.mark.django_db
def test_a_second_open_task_for_the_same_number_is_refused(portfolio: Portfolio) -> None:
    contact = portfolio.contact_a
    queue = portfolio.callback_a
    first = task_create(
        contact=contact, phone=contact.phones.get(), queue=queue, origin="api", actor=SYSTEM
    )
    # Another contact row with the same number, in another format: still the same number.
    twin = contact_create(
        program=portfolio.program_a, phones=[PhoneInput("305 555 0123")], actor=SYSTEM
    )
    with pytest.raises(DuplicateOpenTask) as caught:
        task_create(contact=twin, phone=twin.phones.get(), queue=queue, origin="api", actor=SYSTEM)
    assert caught.value.existing.pk == first.pk
    assert "0123" not in str(caught.value)
    assert CallTask.objects.filter(queue=queue).count() == 1


@pytest.mark.django_db
def test_a_closed_task_makes_room_for_a_new_one(portfolio: Portfolio) -> None:
    contact = portfolio.contact_a
    phone = contact.phones.get()
    first = task_create(
        contact=contact, phone=phone, queue=portfolio.callback_a, origin="api", actor=SYSTEM
    )
    assert tasks_cancel(tasks=[first], reason="test", actor=SYSTEM) == [first.pk]
    second = task_create(
        contact=contact, phone=phone, queue=portfolio.callback_a, origin="api", actor=SYSTEM
    )
    assert second.status == TaskStatus.PENDING and second.pk != first.pk
    first.refresh_from_db()
    assert first.status == TaskStatus.CANCELLED  # the closed one stays closed, for the record


@pytest.mark.django_db
def test_a_refused_second_task_writes_nothing_and_leaves_the_callers_transaction_usable(
    portfolio: Portfolio,
) -> None:
    contact = portfolio.contact_a
    phone = contact.phones.get()
    queue = portfolio.callback_a
    with transaction.atomic():
        task_create(contact=contact, phone=phone, queue=queue, origin="api", actor=SYSTEM)
        with pytest.raises(DuplicateOpenTask):
            task_create(contact=contact, phone=phone, queue=queue, origin="api", actor=SYSTEM)
        # The same transaction goes on: nothing to roll back, no event for the refused one.
        created = AuditEvent.objects.filter(action="task.created", object_type="call_task")
        assert created.count() == 1
