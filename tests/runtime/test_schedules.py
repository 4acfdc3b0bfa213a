"""Planning schedules: one per queue in beat's tables, edited by managers of its program only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import pytz
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from audit.models import AuditEvent
from campaigns.models import Queue
from config.celery import app as celery_app
from dialer.runtime.schedules import (
    PLAN_TASK,
    SYSTEM,
    ScheduleError,
    queue_schedule_of,
    queue_schedule_update,
    schedule_name,
    schedules_sync,
)
from tests.conftest import Portfolio, make_queue
from tests.runtime.helpers import SYSTEM as ACTOR

ADMIN = "/admin/django_celery_beat/periodictask/"
NEW_YORK = pytz.timezone("America/New_York")


def _schedule(queue: Queue) -> PeriodicTask:
    task = queue_schedule_of(queue_id=queue.pk)
    assert task is not None
    return task


def _new_york(*args: int) -> datetime:
    return NEW_YORK.localize(datetime(*args))  # type: ignore[arg-type]


@pytest.mark.django_db
def test_sync_creates_one_schedule_per_queue_and_the_system_ones(portfolio: Portfolio) -> None:
    schedules_sync()
    for queue in (portfolio.callback_a, portfolio.reactivation_a, portfolio.callback_b):
        task = _schedule(queue)
        assert task.task == PLAN_TASK
        assert task.kwargs == f'{{"queue_id": {queue.pk}}}'
        assert task.enabled
        assert task.crontab is not None
        assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("*", "*", "*")
        assert str(task.crontab.timezone) == queue.program.timezone
    assert str(_schedule(portfolio.callback_b).crontab.timezone) == "America/Phoenix"
    assert set(SYSTEM) <= set(PeriodicTask.objects.values_list("name", flat=True))
    assert schedules_sync() == 0  # idempotent


@pytest.mark.django_db
def test_sync_keeps_what_managers_changed_and_removes_retired_and_orphaned_rows(
    portfolio: Portfolio,
) -> None:
    schedules_sync()
    queue_schedule_update(
        queue_id=portfolio.callback_a.pk, actor=ACTOR, days=range(5), hour_start=9, hour_end=17
    )
    every = _schedule(portfolio.callback_b).crontab
    PeriodicTask.objects.create(name="plan due tasks", task="dialer.bulk_plan_tick", crontab=every)
    PeriodicTask.objects.create(name=schedule_name(987654), task=PLAN_TASK, crontab=every)
    newcomer = make_queue(portfolio.program_a, "reminder", slug="reminders")

    assert schedules_sync() == 1
    assert _schedule(portfolio.callback_a).crontab.hour == "9-16"
    assert _schedule(newcomer).enabled
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert "plan due tasks" not in names
    assert schedule_name(987654) not in names


@pytest.mark.django_db
def test_an_update_points_at_a_crontab_in_the_programs_zone_and_is_audited(
    portfolio: Portfolio,
) -> None:
    schedules_sync()
    shared = _schedule(portfolio.reactivation_a).crontab
    assert shared == _schedule(portfolio.callback_a).crontab  # same values, same row
    queue_schedule_update(
        queue_id=portfolio.callback_a.pk,
        actor=ACTOR,
        days=[0, 1, 2, 3, 4, 5],
        hour_start=8,
        hour_end=18,
        enabled=False,
    )
    task = _schedule(portfolio.callback_a)
    assert task.crontab is not None
    assert (task.crontab.hour, task.crontab.day_of_week) == ("8-17", "1,2,3,4,5,6")
    assert str(task.crontab.timezone) == "America/New_York"
    assert not task.enabled
    # The other queue, which shared the old crontab row, did not change.
    other = _schedule(portfolio.reactivation_a)
    assert other.crontab == shared and other.enabled
    assert CrontabSchedule.objects.get(pk=shared.pk).hour == "*"
    event = AuditEvent.objects.get(action="queue.schedule_changed")
    assert event.object_id == str(portfolio.callback_a.pk)
    assert event.program_id == portfolio.program_a.pk
    assert event.data["before"] == {"schedule": "every day, 00:00-24:00", "enabled": True}
    assert event.data["after"] == {
        "schedule": "mon, tue, wed, thu, fri, sat, 08:00-18:00",
        "enabled": False,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"days": []}, "days"),
        ({"days": [7]}, "days"),
        ({"hour_start": 17, "hour_end": 9}, "hour_end"),
        ({"hour_start": 0, "hour_end": 25}, "hour_end"),
    ],
)
def test_an_impossible_schedule_is_refused_and_changes_nothing(
    portfolio: Portfolio, change: dict[str, Any], field: str
) -> None:
    schedules_sync()
    before = _schedule(portfolio.callback_a).crontab
    with pytest.raises(ScheduleError) as refused:
        queue_schedule_update(queue_id=portfolio.callback_a.pk, actor=ACTOR, **change)
    assert refused.value.field == field
    assert _schedule(portfolio.callback_a).crontab == before
    assert not AuditEvent.objects.filter(action="queue.schedule_changed").exists()


def _due(task: PeriodicTask, at: datetime) -> bool:
    """Would beat send this schedule's task at `at`, having last sent it a minute before?"""
    with time_machine.travel(at):
        return bool(task.schedule.is_due(at - timedelta(seconds=61))[0])


@pytest.mark.django_db
def test_beat_plans_a_queue_only_in_its_days_and_hours_and_never_when_paused(
    portfolio: Portfolio,
) -> None:
    schedules_sync()
    queue_schedule_update(
        queue_id=portfolio.callback_a.pk, actor=ACTOR, days=range(5), hour_start=9, hour_end=17
    )
    task = _schedule(portfolio.callback_a)
    assert _due(task, _new_york(2026, 11, 30, 9, 0, 30))  # Monday 09:00 in New York
    assert _due(task, _new_york(2026, 11, 30, 16, 59, 30))
    assert not _due(task, _new_york(2026, 11, 30, 17, 0, 30))
    assert not _due(task, _new_york(2026, 11, 30, 8, 59, 30))
    assert not _due(task, _new_york(2026, 12, 5, 10, 0, 30))  # Saturday

    with time_machine.travel(_new_york(2026, 11, 30, 10, 0, 30)):
        entries = DatabaseScheduler(app=celery_app, lazy=True).all_as_schedule()
        entry = entries[schedule_name(portfolio.callback_a.pk)]
        assert entry.task == PLAN_TASK
        assert entry.kwargs == {"queue_id": portfolio.callback_a.pk}
        queue_schedule_update(queue_id=portfolio.callback_a.pk, actor=ACTOR, enabled=False)
        entries = DatabaseScheduler(app=celery_app, lazy=True).all_as_schedule()
        assert schedule_name(portfolio.callback_a.pk) not in entries
        assert schedule_name(portfolio.callback_b.pk) in entries
    route = celery_app.amqp.router.route({}, PLAN_TASK)
    assert route["queue"].name == "bulk"


# --- The admin ------------------------------------------------------------------------------


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_manager_sees_and_edits_only_their_programs_queue_schedules(
    portfolio: Portfolio,
) -> None:
    schedules_sync()
    manager = _client(portfolio.manager_a)
    listing = manager.get(ADMIN)
    assert listing.status_code == 200
    shown = {task.pk for task in listing.context["cl"].result_list}
    assert shown == {
        _schedule(portfolio.callback_a).pk,
        _schedule(portfolio.reactivation_a).pk,
    }
    html = listing.content.decode()
    assert "prog-a/callback" in html and "prog-b" not in html
    assert "0.0% (0 of 0 answered)" in html  # the abandonment rate is shown per queue

    theirs = _schedule(portfolio.callback_b)
    assert manager.get(f"{ADMIN}{theirs.pk}/change/").status_code == 302  # "does not exist"
    heartbeat = PeriodicTask.objects.get(name="beat heartbeat")
    assert manager.get(f"{ADMIN}{heartbeat.pk}/change/").status_code == 302

    mine = _schedule(portfolio.callback_a)
    form = manager.get(f"{ADMIN}{mine.pk}/change/")
    assert form.status_code == 200
    assert set(form.context["adminform"].form.fields) == {
        "enabled",
        "days",
        "hour_start",
        "hour_end",
    }
    saved = manager.post(
        f"{ADMIN}{mine.pk}/change/",
        {"days": ["0", "2", "4"], "hour_start": "10", "hour_end": "16", "enabled": "on"},
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    mine.refresh_from_db()
    assert mine.crontab is not None
    assert (mine.crontab.hour, mine.crontab.day_of_week) == ("10-15", "1,3,5")
    event = AuditEvent.objects.get(action="queue.schedule_changed")
    assert event.actor == f"user:{portfolio.manager_a.pk}"

    refused = manager.post(
        f"{ADMIN}{mine.pk}/change/", {"days": ["0"], "hour_start": "16", "hour_end": "10"}
    )
    assert refused.status_code == 200  # the form again, with the error
    mine.refresh_from_db()
    assert mine.crontab.hour == "10-15"


@pytest.mark.django_db
def test_a_manager_pauses_and_resumes_with_actions_but_cannot_add_delete_or_touch_crontabs(
    portfolio: Portfolio,
) -> None:
    schedules_sync()
    manager = _client(portfolio.manager_a)
    mine, theirs = _schedule(portfolio.callback_a), _schedule(portfolio.callback_b)
    manager.post(
        ADMIN, {"action": "pause_schedules", "_selected_action": [str(mine.pk), str(theirs.pk)]}
    )
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.enabled, theirs.enabled) == (False, True)  # another program's row is untouched
    manager.post(ADMIN, {"action": "resume_schedules", "_selected_action": [str(mine.pk)]})
    mine.refresh_from_db()
    assert mine.enabled
    assert AuditEvent.objects.filter(action="queue.schedule_changed").count() == 2

    manager.post(ADMIN, {"action": "disable_tasks", "_selected_action": [str(mine.pk)]})
    mine.refresh_from_db()
    assert mine.enabled  # beat's own bulk actions are operators' only
    assert manager.get(f"{ADMIN}add/").status_code == 403
    assert manager.get(f"{ADMIN}{mine.pk}/delete/").status_code == 403
    assert manager.get("/admin/django_celery_beat/crontabschedule/").status_code == 403
    assert _client(portfolio.staff_a).get(ADMIN).status_code == 403


@pytest.mark.django_db
def test_an_operator_keeps_django_celery_beats_full_admin(portfolio: Portfolio) -> None:
    schedules_sync()
    operator = User.objects.create_superuser("operator", password="pw-123456")
    listing = _client(operator).get(ADMIN)
    assert listing.status_code == 200
    assert len(listing.context["cl"].result_list) == PeriodicTask.objects.count()
    heartbeat = PeriodicTask.objects.get(name="beat heartbeat")
    form = _client(operator).get(f"{ADMIN}{heartbeat.pk}/change/")
    assert "crontab" in form.context["adminform"].form.fields
