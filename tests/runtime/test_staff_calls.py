"""Staff add a call from a contact's page: a callback or a reminder, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytz
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Purpose, Queue
from dialer.models import Appointment, CallTask
from tests.conftest import Portfolio, make_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def reminders(portfolio: Portfolio) -> Queue:
    return make_queue(portfolio.program_a, Purpose.REMINDER, script="A reminder of your visit.")


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _local(portfolio: Portfolio, days: float) -> str:
    zone = pytz.timezone(portfolio.program_a.timezone)
    return (timezone.now() + timedelta(days=days)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _url(portfolio: Portfolio) -> str:
    return f"/admin/dialer/calltask/add-for-contact/{portfolio.contact_a.pk}/"


class TestStaffAddACall:
    def test_the_contact_page_links_to_it(self, portfolio: Portfolio) -> None:
        page = _client(portfolio.staff_a).get(
            f"/admin/campaigns/contact/{portfolio.contact_a.pk}/change/"
        )
        assert page.status_code == 200 and _url(portfolio) in page.content.decode()

    def test_staff_add_a_reminder_with_its_appointment(
        self, portfolio: Portfolio, reminders: Queue
    ) -> None:
        client = _client(portfolio.staff_a)
        form = client.get(_url(portfolio))
        assert form.status_code == 200
        phone = portfolio.contact_a.phones.get()
        response = client.post(
            _url(portfolio),
            {
                "kind": "reminder",
                "queue": reminders.pk,
                "phone": phone.pk,
                "starts_at": _local(portfolio, 3),
                "external_id": "EMR-9",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        appointment = Appointment.objects.get()
        task = CallTask.objects.get(queue=reminders)
        assert appointment.task_id == task.pk and task.origin == "admin"
        assert task.appointment_at is not None
        assert abs(task.appointment_at - (timezone.now() + timedelta(days=3))) < timedelta(
            minutes=2
        )
        actor = AuditEvent.objects.get(action="appointment.created").actor
        assert "staff-a" in actor or str(portfolio.staff_a.pk) in actor

    def test_staff_add_a_callback_with_the_day_the_person_asked(self, portfolio: Portfolio) -> None:
        response = _client(portfolio.staff_a).post(
            _url(portfolio),
            {
                "kind": "callback",
                "queue": portfolio.callback_a.pk,
                "phone": portfolio.contact_a.phones.get().pk,
                "requested_at": _local(portfolio, -1),
            },
        )
        assert response.status_code == 302
        task = CallTask.objects.get(queue=portfolio.callback_a)
        assert task.origin == "admin" and task.requested_at is not None
        assert timedelta(hours=23) < timezone.now() - task.requested_at < timedelta(hours=25)
        assert AuditEvent.objects.filter(action="task.created", object_id=str(task.pk)).exists()

    def test_a_reminder_without_its_appointment_is_refused(
        self, portfolio: Portfolio, reminders: Queue
    ) -> None:
        response = _client(portfolio.staff_a).post(
            _url(portfolio),
            {
                "kind": "reminder",
                "queue": reminders.pk,
                "phone": portfolio.contact_a.phones.get().pk,
            },
        )
        assert response.status_code == 200 and "appointment" in response.content.decode()
        assert CallTask.objects.count() == 0

    def test_staff_of_another_program_cannot(self, portfolio: Portfolio, reminders: Queue) -> None:
        response = _client(portfolio.staff_b).post(
            _url(portfolio),
            {
                "kind": "callback",
                "queue": portfolio.callback_a.pk,
                "phone": portfolio.contact_a.phones.get().pk,
            },
        )
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert CallTask.objects.count() == 0

    def test_a_manager_without_the_permission_cannot(self, portfolio: Portfolio) -> None:
        assert _client(portfolio.manager_a).get(_url(portfolio)).status_code == 403


class TestManagersReviewReminderScripts:
    def test_a_manager_marks_a_script_promotional_and_staff_cannot(
        self, portfolio: Portfolio, reminders: Queue
    ) -> None:
        script = reminders.current_script
        assert script is not None
        body = {"action": "mark_promotional", "_selected_action": [script.pk]}
        _client(portfolio.staff_a).post("/admin/campaigns/script/", body)
        script.refresh_from_db()
        assert script.promotional is False
        _client(portfolio.manager_a).post("/admin/campaigns/script/", body)
        script.refresh_from_db()
        assert script.promotional is True
        assert AuditEvent.objects.filter(
            action="script.marked_promotional", object_id=str(script.pk)
        ).exists()
