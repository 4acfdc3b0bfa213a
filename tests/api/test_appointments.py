"""POST /appointments/ and POST /appointments/{external_id}/cancel/: the reminder follows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.actors import actor_system
from audit.models import AuditEvent
from campaigns.models import Purpose, Queue
from campaigns.services import PhoneInput, contact_create, script_mark_promotional
from dialer.models import Appointment, CallTask
from tests.api.conftest import api_client, error_fields, get, post
from tests.conftest import Portfolio, make_queue

pytestmark = pytest.mark.django_db

SYSTEM = actor_system("tests")


@pytest.fixture
def reminders(portfolio: Portfolio) -> Queue:
    return make_queue(
        portfolio.program_a,
        Purpose.REMINDER,
        script="Hello, a reminder of your appointment tomorrow.",
        max_attempts=10,
    )


def _iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


def _when(days: float) -> datetime:
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0)


def _body(portfolio: Portfolio, starts_at: datetime, **extra: Any) -> dict[str, Any]:
    body = {
        "external_id": "EMR-77",
        "contact": portfolio.contact_a.pk,
        "starts_at": _iso(starts_at),
        "queue": "reminder",
    }
    body.update(extra)
    return body


def _at(text: str | None) -> datetime | None:
    return parse_datetime(text) if text else None


class TestReminders:
    def test_a_reminder_is_created_moved_and_cancelled_with_its_task(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        starts = _when(3)
        created = post(tokens["crm_a"], "appointments/", _body(portfolio, starts))
        assert created.status_code == 201, created.json()
        body = created.json()
        task_id = body["task"]["id"]
        assert body["appointment"]["task"] == task_id and body["detail"] == ""
        task = CallTask.objects.get(pk=task_id)
        assert task.appointment_at == starts and task.status == "pending"
        # Due 24 hours before (the queue's default), or when the window first opens after.
        assert starts - timedelta(hours=24) <= task.next_attempt_at < starts
        assert _at(body["task"]["appointment_at"]) == starts

        moved_to = _when(5)
        moved = post(tokens["crm_a"], "appointments/", _body(portfolio, moved_to))
        assert moved.status_code == 200, moved.json()
        assert moved.json()["task"]["id"] == task_id  # the same task, moved: no second one
        task.refresh_from_db()
        assert task.appointment_at == moved_to
        assert moved_to - timedelta(hours=24) <= task.next_attempt_at < moved_to
        assert CallTask.objects.filter(queue=reminders).count() == 1
        assert Appointment.objects.count() == 1

        cancelled = post(tokens["crm_a"], "appointments/EMR-77/cancel/", {})
        assert cancelled.status_code == 200, cancelled.json()
        assert cancelled.json()["status"] == "cancelled"
        task.refresh_from_db()
        assert task.status == "cancelled" and task.closed_reason == "appointment_cancelled"
        assert AuditEvent.objects.filter(action="appointment.cancelled").count() == 1

    def test_the_lead_time_is_the_queues(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        response = api_client(tokens["manager_a"]).patch(
            "/api/v1/queues/reminder/", {"remind_before_hours": 48}, content_type="application/json"
        )
        assert response.status_code == 200 and response.json()["remind_before_hours"] == 48
        starts = _when(4)
        body = post(tokens["crm_a"], "appointments/", _body(portfolio, starts)).json()
        due = _at(body["task"]["next_attempt_at"])
        assert due is not None and starts - timedelta(hours=48) <= due < starts - timedelta(
            hours=24
        )

    def test_a_past_appointment_or_passed_reminder_time_queues_nothing_and_says_so(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        past = post(tokens["crm_a"], "appointments/", _body(portfolio, _when(-1)))
        assert past.status_code == 201 and past.json()["task"] is None
        assert "passed" in past.json()["detail"]
        soon = post(
            tokens["crm_a"], "appointments/", _body(portfolio, _when(0.5), external_id="EMR-78")
        )
        assert soon.status_code == 201 and soon.json()["task"] is None
        assert "reminder time" in soon.json()["detail"]
        assert CallTask.objects.count() == 0

    def test_moving_an_appointment_into_the_past_cancels_its_reminder(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        task_id = post(tokens["crm_a"], "appointments/", _body(portfolio, _when(3))).json()["task"][
            "id"
        ]
        moved = post(tokens["crm_a"], "appointments/", _body(portfolio, _when(0.2)))
        assert moved.status_code == 200 and moved.json()["task"] is None
        assert CallTask.objects.get(pk=task_id).status == "cancelled"

    def test_a_number_the_patient_did_not_provide_is_refused(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        contact = contact_create(
            program=portfolio.program_a,
            state="FL",
            phones=[PhoneInput("305-555-0181", line_type="mobile", provided_by_patient=False)],
            actor=SYSTEM,
        )
        response = post(
            tokens["crm_a"],
            "appointments/",
            _body(portfolio, _when(3), contact=contact.pk, phone="(305) 555-0181"),
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["task"] is None and "consent_missing" in body["detail"]
        reasons = {r["code"]: r["detail"] for r in body["decision"]["reasons"]}
        assert "not provided by the patient" in reasons["consent_missing"]
        assert "64.1200(a)(9)" in reasons["consent_missing"]  # the cited rule
        assert CallTask.objects.count() == 0

    def test_a_number_not_the_contacts_is_bad_input(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        response = post(
            tokens["crm_a"], "appointments/", _body(portfolio, _when(3), phone="305-555-0999")
        )
        assert response.status_code == 400 and error_fields(response) == {"phone"}
        assert "0999" not in response.content.decode()
        assert Appointment.objects.count() == 0

    def test_a_promotional_script_refuses_the_reminder(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        assert reminders.current_script is not None
        script_mark_promotional(script=reminders.current_script, promotional=True, actor=SYSTEM)
        body = post(tokens["crm_a"], "appointments/", _body(portfolio, _when(3))).json()
        assert body["task"] is None
        detail = {r["code"]: r["detail"] for r in body["decision"]["reasons"]}["consent_missing"]
        assert "promotional" in detail
        queue = get(tokens["crm_a"], "queues/reminder/").json()
        assert queue["script_promotional"] is True

    def test_an_opt_out_cites_the_exemption_and_cancels_at_once(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        task_id = post(tokens["crm_a"], "appointments/", _body(portfolio, _when(3))).json()["task"][
            "id"
        ]
        post(tokens["crm_a"], "dnc/", {"number": "305-555-0123", "source": "call"})
        assert CallTask.objects.get(pk=task_id).status == "cancelled"
        decision = post(
            tokens["crm_a"],
            "eligibility/",
            {"queue": "reminder", "contact": portfolio.contact_a.pk},
        ).json()
        detail = {r["code"]: r["detail"] for r in decision["reasons"]}["internal_dnc"]
        assert "takes effect at once" in detail and "64.1200(a)(9)" in detail

    def test_the_daily_and_weekly_caps(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        task_id = post(tokens["crm_a"], "appointments/", _body(portfolio, _when(6))).json()["task"][
            "id"
        ]
        now = timezone.now().replace(microsecond=0)

        def attempt(ago: timedelta) -> None:
            recorded = post(
                tokens["crm_a"],
                "attempts/",
                {"task": task_id, "started_at": _iso(now - ago), "outcome": "no_answer"},
            )
            assert recorded.status_code == 201, recorded.json()

        def cap_details() -> list[str]:
            decision = post(
                tokens["crm_a"],
                "eligibility/",
                {"queue": "reminder", "contact": portfolio.contact_a.pk, "at": _iso(now)},
            ).json()
            return [
                r["detail"]
                for r in decision["reasons"]
                if r["code"] == "frequency_cap" and "retry spacing" not in r["detail"]
            ]

        attempt(timedelta(hours=5))
        daily = cap_details()
        assert len(daily) == 1 and "in the last 24 h" in daily[0] and "allows 1" in daily[0]
        assert "healthcare" in daily[0]

        attempt(timedelta(days=3))
        attempt(timedelta(days=2))
        both = cap_details()
        assert any("in the last 168 h" in d and "allows 3" in d for d in both), both

    def test_another_programs_objects_answer_404_or_unknown(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        post(tokens["crm_a"], "appointments/", _body(portfolio, _when(3)))
        assert post(tokens["crm_b"], "appointments/EMR-77/cancel/", {}).status_code == 404
        assert post(tokens["crm_a"], "appointments/NOPE/cancel/", {}).status_code == 404
        other = post(
            tokens["crm_b"],
            "appointments/",
            _body(portfolio, _when(3), contact=portfolio.contact_a.pk),
        )
        assert other.status_code == 400 and error_fields(other) == {"queue"}
        assert Appointment.objects.get().status == "scheduled"

    def test_bad_input_names_the_field_and_changes_nothing(
        self, portfolio: Portfolio, reminders: Queue, tokens: dict[str, str]
    ) -> None:
        naive = post(
            tokens["crm_a"],
            "appointments/",
            {**_body(portfolio, _when(3)), "starts_at": _when(3).replace(tzinfo=None).isoformat()},
        )
        assert naive.status_code == 400 and error_fields(naive) == {"starts_at"}
        wrong_queue = post(
            tokens["crm_a"], "appointments/", _body(portfolio, _when(3), queue="callback")
        )
        assert wrong_queue.status_code == 400 and error_fields(wrong_queue) == {"queue"}
        far = post(tokens["crm_a"], "appointments/", _body(portfolio, _when(365 * 5)))
        assert far.status_code == 400 and error_fields(far) == {"starts_at"}
        assert Appointment.objects.count() == 0 and CallTask.objects.count() == 0
